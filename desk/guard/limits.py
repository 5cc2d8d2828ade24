"""Rate-limit counters behind one small interface: in this process, or in Redis shared by every desk replica.

A limit is "at most N hits of a key per window" (fixed windows on the one clock, so replicas agree on
the window). `make_counters(redis_url)` picks the backend: Redis when HELPDESK_REDIS_URL is set, else
memory. When Redis cannot be reached the hit is allowed and a warning is logged (at most once a
minute): the limits protect against floods, and a Redis outage must not lock students and staff out.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from knowledge_base import clock

logger = logging.getLogger(__name__)
WARN_EVERY = 60.0


class Counters(Protocol):
    """Counts hits of a key in the current window."""

    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one hit of `key`; how many hits the key has in the current window, this one included."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _bucket(window_seconds: int) -> int:
    return int(clock.now().timestamp() // max(1, window_seconds))


class MemoryCounters:
    """Counters of this process (the embedded default: one desk)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}

    async def hit(self, key: str, window_seconds: int) -> int:
        bucket = _bucket(window_seconds)
        if len(self._counts) > 10_000:  # drop the windows that have passed
            self._counts = {k: v for k, v in self._counts.items() if k[2] == _bucket(k[1])}
        slot = (key, window_seconds, bucket)
        self._counts[slot] = self._counts.get(slot, 0) + 1
        return self._counts[slot]

    async def close(self) -> None:
        return None


class RedisCounters:
    """Counters in Redis (INCR + EXPIRE of one key per window), shared by every desk replica."""

    def __init__(self, url: str, prefix: str = "helpdesk") -> None:
        from redis import asyncio as aioredis  # imported only when Redis is configured

        self._prefix = f"{prefix}:rl:"  # HELPDESK_REDIS_PREFIX, shared with desk/fanout
        self._redis = aioredis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._warned = 0.0

    async def hit(self, key: str, window_seconds: int) -> int:
        name = f"{self._prefix}{key}:{window_seconds}:{_bucket(window_seconds)}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds + 5)
                count, _ = await pipe.execute()
            return int(count)
        except Exception as exc:  # redis.RedisError, OSError, timeouts: fail open
            if time.monotonic() - self._warned > WARN_EVERY:
                self._warned = time.monotonic()
                logger.warning(
                    "rate-limit counters unavailable (Redis: %s); requests are not limited", type(exc).__name__
                )
            return 0

    async def close(self) -> None:
        await self._redis.aclose()


def make_counters(redis_url: str, prefix: str = "helpdesk") -> Counters:
    """Redis counters when a URL is configured, else this process's memory."""
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()


async def allow(counters: Counters, key: str, limit: int, window_seconds: int) -> bool:
    """Whether one more hit of `key` stays within `limit` per `window_seconds` (the hit is counted)."""
    return await counters.hit(key, window_seconds) <= limit

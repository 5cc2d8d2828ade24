"""State the desk replicas share in Redis when HELPDESK_REDIS_URL is set: WeChat's nonces and access token.

- Nonces (`RedisNonces`): a WeChat push's (timestamp, nonce) pair is accepted once across every desk
  (`SET key NX EX`), for twice the freshness window, so a captured push replayed to another replica is
  still refused. In-process (`LocalNonces`, over connectors.wechat.ReplayGuard) otherwise.
- Access token (`RedisTokenStore`): WeChat invalidates the previous access token when a new one is
  fetched, so replicas fetching their own would knock each other's out. The token is kept in Redis
  with its expiry, and one desk at a time refreshes it under a Redis lock
  (connectors.wechat_api.WeChatApiClient's `shared` store).

Message dedupe (Telegram's update_id, WeChat's MsgId, the web chat's client id) needs nothing here: it
is the `messages` table's unique constraint, atomic across every desk on the shared database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis import asyncio as aioredis

from connectors.wechat import ReplayGuard

LOCK_SECONDS = 15.0


class LocalNonces:
    """The embedded default: this process's replay guard."""

    def __init__(self, guard: ReplayGuard | None = None) -> None:
        self.guard = guard or ReplayGuard()

    async def first_use(self, timestamp: str, nonce: str) -> bool:
        return self.guard.first_use(timestamp, nonce)


class RedisNonces:
    """(timestamp, nonce) pairs seen by any desk, expiring after twice the freshness window."""

    def __init__(self, redis: aioredis.Redis, prefix: str, window: float) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:wechat:nonce:"
        self._ttl = max(1, int(2 * window))

    async def first_use(self, timestamp: str, nonce: str) -> bool:
        """True for the first desk that records the pair, False for a replay (any desk)."""
        return bool(await self._redis.set(f"{self._prefix}{timestamp}:{nonce}", b"1", nx=True, ex=self._ttl))


class RedisTokenStore:
    """WeChat's access token shared by the desks, refreshed by one of them at a time."""

    def __init__(self, redis: aioredis.Redis, prefix: str, appid: str) -> None:
        self._redis = redis
        self._key = f"{prefix}:wechat:token:{appid}"

    async def get(self) -> tuple[str, float] | None:
        """The shared token and its seconds left, or None."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key)
            pipe.pttl(self._key)
            token, ttl_ms = await pipe.execute()
        if not token or ttl_ms is None or ttl_ms <= 0:
            return None
        return (token.decode() if isinstance(token, bytes) else str(token)), ttl_ms / 1000.0

    async def put(self, token: str, seconds: float) -> None:
        await self._redis.set(self._key, token.encode(), px=max(1000, int(seconds * 1000)))

    @asynccontextmanager
    async def refreshing(self) -> AsyncIterator[None]:
        """Hold the refresh lock: the other desks wait, then read the new token."""
        async with self._redis.lock(f"{self._key}:lock", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS):
            yield

"""The desks' event bus: what one desk publishes, every desk's local listeners receive.

A student's websocket and a staff console may be connected to different desk replicas. Events that
must reach sockets (a stored message for a web chat, a ticket change or a ticket's message for the
consoles) are published on a topic of the bus; each desk subscribes its own socket hubs.

- `LocalBus` (the embedded default): the publisher's own listeners, called in order. One process.
- `RedisBus` (when HELPDESK_REDIS_URL is set): the publisher's listeners first, at once, exactly as
  `LocalBus` does, then a Redis PUBLISH on `<prefix>:bus:<topic>`; every other desk's subscriber task
  hands the event to its listeners (a desk skips its own events by their origin id). Redis pub/sub
  keeps the order of one publisher's events. It is fire-and-forget: a desk cut off from Redis misses
  what was published meanwhile, which is why nothing is only on the bus: every message is stored first,
  and a web chat page or a console that reconnects reloads from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
RECONNECT_SECONDS = 1.0


class Bus(Protocol):
    """Publish events on topics; every desk's subscribers of the topic receive them."""

    def subscribe(self, topic: str, handler: Handler) -> None: ...  # pragma: no cover

    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...  # pragma: no cover

    async def start(self) -> None: ...  # pragma: no cover

    async def stop(self) -> None: ...  # pragma: no cover


class LocalBus:
    """Events stay in this process: the listeners of the topic are called in order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    @property
    def topics(self) -> list[str]:
        return list(self._handlers)

    async def deliver(self, topic: str, event: dict[str, Any]) -> None:
        """Call this process's listeners; a failing one does not stop the others."""
        for handler in list(self._handlers.get(topic, ())):
            try:
                await handler(event)
            except Exception:
                logger.exception("bus listener failed on topic %s", topic)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self.deliver(topic, event)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBus(LocalBus):
    """Local listeners at once, and the other desks through Redis pub/sub."""

    def __init__(self, url: str, prefix: str = "helpdesk", client: aioredis.Redis | None = None) -> None:
        super().__init__()
        self.redis = client or aioredis.Redis.from_url(url)
        self._prefix = f"{prefix}:bus:"
        self.origin = uuid.uuid4().hex  # this desk process
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def channel(self, topic: str) -> str:
        return f"{self._prefix}{topic}"

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self.deliver(topic, event)
        data = json.dumps({"origin": self.origin, "event": event}, ensure_ascii=False, default=str)
        try:
            await self.redis.publish(self.channel(topic), data)
        except (RedisError, OSError) as exc:  # the local sockets have it; the others reload from the database
            logger.error("bus: event on %s not published to the other desks: %s", topic, type(exc).__name__)

    async def _dispatch(self, raw: dict[str, Any]) -> None:
        if raw.get("type") != "message":
            return
        channel = raw["channel"].decode() if isinstance(raw["channel"], bytes) else str(raw["channel"])
        try:
            envelope = json.loads(raw["data"])
        except (TypeError, ValueError):
            logger.warning("bus: an event that is not JSON on %s was ignored", channel)
            return
        if envelope.get("origin") == self.origin:
            return
        await self.deliver(channel.removeprefix(self._prefix), envelope.get("event") or {})

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(*[self.channel(t) for t in self.topics])
                self._ready.set()
                async for raw in pubsub.listen():
                    await self._dispatch(raw)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._ready.clear()
                logger.error("bus: Redis subscription lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def start(self) -> None:
        """Subscribe to every topic that has listeners (subscribe them first); waits up to 5 s for Redis."""
        self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5.0)
        if not self._ready.is_set():
            logger.error("bus: Redis not reachable at start; events reach this desk's sockets only until it is")

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.redis.aclose()


def make_bus(redis_url: str, prefix: str) -> LocalBus:
    """RedisBus when a Redis URL is configured, else the in-process LocalBus."""
    return RedisBus(redis_url, prefix) if redis_url else LocalBus()

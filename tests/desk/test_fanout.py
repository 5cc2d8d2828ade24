"""What desk replicas share: the bus (in-process and Redis pub/sub), WeChat nonces and the access token in Redis.

Against the machine's Redis (127.0.0.1:6379, HELPDESK_TEST_REDIS_URL), in a dedicated database number and
under a key prefix of its own, removed afterwards; skipped without Redis, failed in CI (tests/stack.py).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis import asyncio as aioredis

from connectors.wechat_api import WeChatApiClient
from desk.fanout.bus import LocalBus, RedisBus, make_bus
from desk.fanout.shared_state import RedisNonces, RedisTokenStore
from tests.stack import missing

REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the test Redis database; its keys are deleted afterwards."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        missing(f"no Redis at {REDIS_URL}: {type(exc).__name__}: {exc}")
    prefix = f"hdtest{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class Received:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait(self, n: int) -> None:
        async def until() -> None:
            while len(self.events) < n:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), timeout=5)


async def test_the_local_bus_delivers_in_order_and_survives_a_failing_listener() -> None:
    bus = make_bus("", "x")
    assert type(bus) is LocalBus
    got = Received()

    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("a closed socket")

    bus.subscribe("t", broken)
    bus.subscribe("t", got)
    for i in range(3):
        await bus.publish("t", {"n": i})
    assert [e["n"] for e in got.events] == [0, 1, 2]


async def test_an_event_published_on_one_desk_reaches_every_desk_once_in_order(redis_prefix: str) -> None:
    desk_a, desk_b = RedisBus(REDIS_URL, redis_prefix), RedisBus(REDIS_URL, redis_prefix)
    got_a, got_b, other_topic = Received(), Received(), Received()
    desk_a.subscribe("console", got_a)
    desk_b.subscribe("console", got_b)
    desk_b.subscribe("webchat", other_topic)
    await desk_a.start()
    await desk_b.start()
    try:
        for i in range(20):
            await desk_a.publish("console", {"type": "message", "n": i, "text": "学生的消息"})
        await got_b.wait(20)
        await asyncio.sleep(0.2)  # nothing more arrives: the publishing desk does not get its own event twice
        assert [e["n"] for e in got_a.events] == list(range(20))
        assert [e["n"] for e in got_b.events] == list(range(20))
        assert got_b.events[0]["text"] == "学生的消息" and not other_topic.events
        assert await desk_a.ping()
    finally:
        await desk_a.stop()
        await desk_b.stop()


async def test_a_desk_without_redis_still_serves_its_own_sockets() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", "nowhere")  # nothing listens on port 1
    got = Received()
    bus.subscribe("webchat", got)
    await bus.start()
    try:
        await bus.publish("webchat", {"n": 1})
        assert got.events == [{"n": 1}] and not await bus.ping()
    finally:
        await bus.stop()


async def test_a_wechat_nonce_is_accepted_once_across_desks(redis_prefix: str) -> None:
    redis_a, redis_b = aioredis.Redis.from_url(REDIS_URL), aioredis.Redis.from_url(REDIS_URL)
    try:
        desk_a, desk_b = RedisNonces(redis_a, redis_prefix, 300), RedisNonces(redis_b, redis_prefix, 300)
        assert await desk_a.first_use("1764550800", "abc123")
        assert not await desk_b.first_use("1764550800", "abc123")  # the replay reached the other replica
        assert await desk_b.first_use("1764550800", "other")
        assert 0 < await redis_a.ttl(f"{redis_prefix}:wechat:nonce:1764550800:abc123") <= 600
    finally:
        await redis_a.aclose()
        await redis_b.aclose()


async def test_desks_share_one_wechat_access_token_and_one_refresh(redis_prefix: str) -> None:
    fetched: list[str] = []
    valid: set[str] = set()
    sent: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            token = f"token-{len(fetched) + 1}"
            fetched.append(token)
            valid.clear()  # WeChat: a new token invalidates the old one
            valid.add(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": 7200})
        token = request.url.params["access_token"]
        if token not in valid:
            return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
        sent.append(token)
        return httpx.Response(200, json={"errcode": 0})

    http = httpx.AsyncClient(transport=httpx.MockTransport(api))
    redis_a, redis_b = aioredis.Redis.from_url(REDIS_URL), aioredis.Redis.from_url(REDIS_URL)
    try:
        stores = [RedisTokenStore(r, redis_prefix, "wxapp") for r in (redis_a, redis_b)]
        desks = [WeChatApiClient("wxapp", "secret", http, "https://api.test", shared=s) for s in stores]
        await asyncio.gather(*(d.send_text("openid", f"第{i}条") for i in range(4) for d in desks))
        assert fetched == ["token-1"] and sent == ["token-1"] * 8  # one fetch for both replicas
        valid.clear()  # WeChat expired it early: the first desk to notice refreshes, the other reads it
        await desks[0].send_text("openid", "过期后")
        await desks[1].send_text("openid", "过期后")
        assert fetched == ["token-1", "token-2"] and sent[-2:] == ["token-2", "token-2"]
    finally:
        await http.aclose()
        await redis_a.aclose()
        await redis_b.aclose()

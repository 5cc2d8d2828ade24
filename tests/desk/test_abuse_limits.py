"""Abuse limits and browser protections through the real app (issue #11, point 4): the web chat's
Origin check, rate limits keyed on the real client address behind trusted proxies only, a crisis
message never limited, security headers on every response, no query string in the access log, and
the Redis counters shared by desk replicas."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from desk.guard.http import DropQueryString
from desk.guard.limits import MemoryCounters, RedisCounters, allow
from desk.main import create_app
from desk.ops import supervisor
from desk.settings import Settings
from desk.staff import accounts
from tests.stack import missing

REDIS_URL = "redis://127.0.0.1:6379/0"


def send(ws, text: str, client_id: str) -> None:  # type: ignore[no-untyped-def]
    ws.send_text(json.dumps({"type": "message", "text": text, "client_id": client_id}, ensure_ascii=False))


def until_idle(ws) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    frames = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "typing" and frame["on"] is False:
            return frames
        if frame["type"] != "typing":
            frames.append(frame)


def test_a_foreign_origin_is_refused_before_the_web_chat_socket_opens(settings: Settings) -> None:
    app = create_app(
        settings.updated(
            public_url="https://chat.example.edu.cn", security_allowed_origins="https://portal.example.edu.cn"
        )
    )
    with TestClient(app, base_url="https://testserver") as client:  # https: the cookie is Secure
        assert client.post("/api/webchat/session").status_code == 200
        for origin in ("https://evil.example.com", "https://chat.example.edu.cn.evil.com", "null"):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("wss://testserver/ws/webchat", headers={"origin": origin}),
            ):
                pass
            assert refused.value.code == 4403, origin
        for origin in ("https://chat.example.edu.cn", "https://portal.example.edu.cn", "http://testserver", None):
            headers = {"origin": origin} if origin else {}  # no Origin: a non-browser client (docs/security.md)
            with client.websocket_connect("wss://testserver/ws/webchat", headers=headers) as ws:
                send(ws, f"你好{origin}", f"c-{origin}")
                assert until_idle(ws)[0]["message"]["text"] == f"你好{origin}"


def new_chat(client: TestClient, forwarded_for: str | None = None) -> int:
    client.cookies.clear()  # a new browser each time: a new conversation
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return client.post("/api/webchat/session", headers=headers).status_code


def test_new_chats_are_limited_per_address_and_forwarded_for_counts_only_behind_a_trusted_proxy(
    settings: Settings,
) -> None:
    untrusted = settings.updated(security_new_chats_per_hour=2)
    with TestClient(create_app(untrusted)) as client:  # the peer is no trusted proxy: its header is ignored
        assert [new_chat(client, f"10.0.0.{i}") for i in range(3)] == [200, 200, 429]
        refused = client.post("/api/webchat/session")
        assert refused.status_code == 429 and "12356" in refused.json()["detail"]  # still shown the hotlines
    trusted = settings.updated(security_new_chats_per_hour=2, security_trusted_proxies="testclient")
    with TestClient(create_app(trusted)) as client:  # behind the proxy: each student has their own limit
        assert [new_chat(client, f"10.0.0.{i}") for i in range(5)] == [200] * 5
        assert [new_chat(client, "10.0.0.9") for _ in range(3)] == [200, 200, 429]
        assert new_chat(client, "10.0.0.10") == 200  # one student's flood never blocks the others
        assert new_chat(client, "10.0.0.11, 10.0.0.9") == 429  # the client is the right-most untrusted hop
        client.cookies.clear()
        assert client.post("/api/webchat/session").status_code == 200  # the proxy's own address: its own key


def test_helpdesk_run_gives_uvicorn_the_same_trusted_proxies(tmp_path: Path) -> None:
    base = Settings(var_dir=tmp_path, rasa_token="t" * 32, secret_key="s" * 32)
    for settings, expected in (
        (base, ["--no-proxy-headers"]),  # nobody trusted: uvicorn's default would trust 127.0.0.1
        (
            base.updated(security_trusted_proxies="10.0.0.5, 10.0.1.0/24"),
            ["--proxy-headers", "--forwarded-allow-ips", "10.0.0.5,10.0.1.0/24"],
        ),
    ):
        [desk] = [c for c in supervisor.build_children(settings, tmp_path / "model.tar.gz") if c.name == "desk"]
        assert " ".join(expected) in " ".join(desk.argv)
        assert desk.argv.count("--forwarded-allow-ips") == (1 if len(expected) > 1 else 0)


def login(client: TestClient, forwarded_for: str, password: str = "wrong-password") -> int:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)  # type: ignore[union-attr]
    data = {"username": "li", "password": password, "csrf_token": token}
    return client.post(
        "/staff/login", data=data, headers={"x-forwarded-for": forwarded_for}, follow_redirects=False
    ).status_code


def test_logins_are_limited_per_real_client_address(settings: Settings, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        _, password = accounts.create_user(session, "li", departments=["campus_card"])
    limited = settings.updated(security_logins_per_minute=3, security_trusted_proxies="testclient")
    with TestClient(create_app(limited)) as client:
        assert [login(client, "10.1.1.1") for _ in range(4)] == [401, 401, 401, 429]
        assert login(client, "10.1.1.1", password) == 429  # that address waits
        assert login(client, "10.2.2.2", password) == 303  # the teacher on another address is not locked out


def test_a_crisis_message_passes_the_per_conversation_limit(client: TestClient) -> None:
    client.post("/api/webchat/session")
    with client.websocket_connect("/ws/webchat") as ws:
        for i in range(5):  # the test settings allow 5 messages a minute
            send(ws, f"问题{i}", f"c-{i}")
            until_idle(ws)
        send(ws, "再来一个", "c-5")
        assert ws.receive_json() == {"type": "error", "text": "发送太频繁，请稍后再试。", "client_id": "c-5"}
        send(ws, "我真的不想活了", "c-6")
        frames = until_idle(ws)
    texts = [f["message"]["text"] for f in frames if f["type"] == "message"]
    assert "我真的不想活了" in texts and any("12356" in t for t in texts)


HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def test_every_response_carries_the_security_headers(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        responses = [
            client.get("/"),
            client.get("/staff/login"),
            client.get("/staff/", follow_redirects=False),
            client.get("/api/staff/me"),
            client.post("/api/webchat/session"),
            client.get("/static/webchat.js"),
            client.get("/no/such/page"),
            client.get("/healthz"),
        ]
    for resp in responses:
        missing_headers = [h for h in HEADERS if h not in resp.headers]
        assert not missing_headers, (resp.request.url, missing_headers)
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self';" in resp.headers["content-security-policy"]
        assert "strict-transport-security" not in resp.headers  # plain http
    staff_page, chat_page = responses[1], responses[0]
    assert "frame-ancestors 'none'" in staff_page.headers["content-security-policy"]
    assert staff_page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'self'" in chat_page.headers["content-security-policy"]
    https = settings.updated(public_url="https://helpdesk.example.edu.cn")
    with TestClient(create_app(https), base_url="https://testserver") as client:
        assert client.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_the_access_log_keeps_no_query_string(settings: Settings) -> None:
    create_app(settings)  # installs the filter on uvicorn's access logger
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, DropQueryString) for f in access.filters)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.1:5000", "POST", "/wechat?signature=s&timestamp=1&nonce=2&openid=oABCDEF123", "1.1", 200), None,
    )  # fmt: skip
    assert access.filter(record)
    assert record.getMessage() == '10.0.0.1:5000 - "POST /wechat HTTP/1.1" 200'


def test_memory_counters_count_per_key_and_window() -> None:
    async def run() -> list[bool]:
        counters = MemoryCounters()
        return [await allow(counters, key, 2, 60) for key in ("a", "a", "b", "a")]

    assert asyncio.run(run()) == [True, True, True, False]


def test_redis_counters_are_shared_by_desk_replicas() -> None:
    async def run() -> tuple[list[bool], int]:
        first, second = RedisCounters(REDIS_URL), RedisCounters(REDIS_URL)  # two desks, one Redis
        try:
            await first._redis.ping()
        except Exception as exc:
            await first.close()
            await second.close()
            missing(f"no Redis at {REDIS_URL} ({type(exc).__name__}): the shared rate-limit counters are not tested")
        key = f"test:{uuid.uuid4().hex}"
        try:
            allowed = [await allow(replica, key, 3, 60) for replica in (first, second, first, second)]
            ttl = int(await first._redis.ttl(next(iter(await first._redis.keys(f"helpdesk:rl:{key}:*")))))
        finally:
            await first.close()
            await second.close()
        return allowed, ttl

    allowed, ttl = asyncio.run(run())
    assert allowed == [True, True, True, False]
    assert 0 < ttl <= 65  # counters expire with their window


def test_the_desk_uses_redis_when_configured(settings: Settings) -> None:
    probe = RedisCounters(REDIS_URL)
    try:
        asyncio.run(probe._redis.ping())
    except Exception as exc:
        missing(f"no Redis at {REDIS_URL} ({type(exc).__name__}): the desk's Redis counters are not tested")
    shared = settings.updated(redis_url=REDIS_URL, security_new_chats_per_hour=2, security_trusted_proxies="testclient")
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with TestClient(create_app(shared)) as one, TestClient(create_app(shared)) as two:  # two replicas
        assert isinstance(one.app.state.counters, RedisCounters)  # type: ignore[attr-defined]
        assert [new_chat(c, address) for c in (one, two, one)] == [200, 200, 429]

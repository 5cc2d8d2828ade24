"""Scale-out on loopback: two desks, two Rasa servers and one action server on the machine's PostgreSQL and Redis.

Fresh PostgreSQL databases (the app's, Rasa's tracker store) are created and dropped per run; Redis is used
in a dedicated database number under a key prefix of the run's own, deleted afterwards. Skipped where
PostgreSQL or Redis is absent, failed in CI (tests/stack.py `missing`).

What a university would notice if scale-out were wrong, checked here: students on both desks are each
answered exactly once, also after one Rasa replica is killed in the middle of their conversations (the
next replica on the ring takes over, with the conversation's tracker from PostgreSQL); a staff console on
desk B sees at once a student's handoff and messages that arrived at desk A; two staff members on
different desks claiming the same ticket: exactly one wins; a reply sent on desk B reaches the student's
socket on desk A; nothing is lost (the database holds exactly what the sockets showed).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import websockets
from redis import Redis
from sqlalchemy import create_engine, func, select, text

from desk.chat.gateway import BOT_UNAVAILABLE_TEXT
from desk.chat.replicas import HashRing
from desk.models import HandoffRequest, Message, PendingReply
from desk.staff import accounts
from tests.desk.handoff_helpers import make_staff
from tests.e2e.conftest import ChatClient
from tests.stack import E2E_NOW, Stack, launch_replicas, missing

ADMIN_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "password-1234"  # make_staff's
STUDENTS_PER_DESK = 3


@contextmanager
def fresh_databases(names: list[str]) -> Iterator[list[str]]:
    """Fresh PostgreSQL databases for this run (psycopg 3 URLs), dropped afterwards."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        missing(f"no PostgreSQL at {ADMIN_URL}: {type(exc).__name__}: {exc}")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = ADMIN_URL.rsplit("/", 1)[0].replace("+psycopg2", "+psycopg")  # the app on psycopg 3
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def desks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Stack]]:
    """Two desks, two Rasa servers, one action server, on a fresh PostgreSQL and a Redis prefix of their own."""
    redis = Redis.from_url(REDIS_URL)
    try:
        redis.ping()
    except Exception as exc:
        redis.close()
        missing(f"no Redis at {REDIS_URL}: {type(exc).__name__}: {exc}")
    run = uuid.uuid4().hex[:8]
    prefix = f"hdreplicas{run}"  # letters and digits: Rasa's lock store takes no other key prefix
    try:
        with fresh_databases([f"helpdesk_replicas_{run}", f"helpdesk_replicas_{run}_rasa"]) as (app_url, tracker):
            yield from launch_replicas(
                tmp_path_factory,
                E2E_NOW,
                database_url=app_url,
                tracker_url=tracker,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
            )
    finally:
        keys = list(redis.scan_iter(f"{prefix}*"))
        if keys:
            redis.delete(*keys)
        redis.close()


class Console:
    """A staff member's browser on one desk: logged in through the form, the console's websocket open."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = httpx.AsyncClient(base_url=stack.base_url, timeout=30)
        self.csrf = ""
        self.ws: Any = None
        self.events: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None

    async def log_in(self, username: str) -> Console:
        page = await self.http.get("/staff/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        resp = await self.http.post("/staff/login", data={"username": username, "password": PASSWORD,
                                                          "csrf_token": token})  # fmt: skip
        assert resp.status_code == 303, resp.text
        console = await self.http.get("/staff/")
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', console.text).group(1)  # type: ignore[union-attr]
        return self

    def on(self, other: Stack) -> Console:
        """The same person's session used on another desk (the session is shared by the replicas)."""
        twin = Console(other)
        twin.http.cookies.update(self.http.cookies)
        twin.csrf = self.csrf
        return twin

    async def open_socket(self) -> None:
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        url = self.stack.base_url.replace("http://", "ws://") + "/ws/staff"
        self.ws = await websockets.connect(url, extra_headers={"Cookie": cookie, "Origin": self.stack.base_url},
                                           open_timeout=10)  # fmt: skip

        async def read() -> None:
            async for raw in self.ws:
                self.events.append(json.loads(raw))

        self._reader = asyncio.create_task(read())

    async def wait_for(self, match: Any, timeout: float = 10) -> dict[str, Any]:
        async def until() -> dict[str, Any]:
            while True:
                for event in self.events:
                    if match(event):
                        return event
                await asyncio.sleep(0.05)

        try:
            return await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the console did not get the event; it got {self.events}") from None

    async def post(self, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()


def bot_texts(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in replies if r["role"] == "bot"]


async def test_two_desks_two_rasa_one_consistent_help_desk(desks: list[Stack]) -> None:
    desk_a, desk_b = desks
    sessions = desk_a.sessions()
    make_staff(sessions)
    with sessions() as session, session.begin():  # a second administrator: both may claim any ticket
        accounts.create_user(session, "admin2", PASSWORD, display_name="管理员乙", is_admin=True, departments=[])
    # a replica is killed below: a "暂时无法回复" notice must be seen, not waited past
    students = [
        await ChatClient(d, wait_past_notice=False).open() for d in (desk_a, desk_b) for _ in range(STUDENTS_PER_DESK)
    ]
    consoles: list[Console] = []
    try:
        # staff on desk B watch the queue
        admin_b = await Console(desk_b).log_in("admin")
        other_b = await Console(desk_b).log_in("admin2")
        consoles += [admin_b, other_b]
        await admin_b.open_socket()

        # every student, on both desks, is answered by the bot
        first = await asyncio.gather(*(s.ask("校园卡丢了怎么办") for s in students))
        for replies in first:
            assert any("挂失" in t for t in bot_texts(replies)), replies

        # the Rasa replica of desk A's first student dies mid-conversation: the next one on the ring answers
        student = students[0]
        rasa_urls = desk_a.settings.rasa.replica_urls
        ring = HashRing(rasa_urls)
        home = ring.node(student.conversation_id)
        victim = desk_a.child(f"rasa-{rasa_urls.index(home) + 1}")
        assert victim.proc is not None
        os.killpg(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(timeout=10)
        second = await asyncio.gather(*(s.ask("图书馆几点开门几点关门") for s in students))
        for replies in second:
            assert bot_texts(replies) and all(r["text"] != BOT_UNAVAILABLE_TEXT for r in replies), replies
        health = httpx.get(f"{desk_a.base_url}/healthz", timeout=10).json()
        assert health["checks"]["rasa"]["replicas_up"] == "1/2" and health["checks"]["redis"]["ok"]

        # the student of desk A whose replica died asks for a person
        handover = await student.ask("转人工")
        assert any("转接" in t for t in bot_texts(handover)), handover
        event = await admin_b.wait_for(lambda e: e["type"] == "ticket" and e["ticket"]["status"] == "queued")
        ticket_id = event["ticket"]["id"]
        assert event["ticket"]["conversation_id"] == student.conversation_id
        assert event["ticket"]["last_text"] == "转人工"
        # and the queue notice the student got on desk A
        await admin_b.wait_for(lambda e: e["type"] == "message" and e.get("ticket_id") == ticket_id
                            and e["message"]["role"] == "system")  # fmt: skip

        # two staff members claim it on different desks at once: exactly one wins
        admin_a = admin_b.on(desk_a)
        consoles.append(admin_a)
        claims = await asyncio.gather(
            admin_a.post(f"/api/staff/tickets/{ticket_id}/claim"), other_b.post(f"/api/staff/tickets/{ticket_id}/claim")
        )
        assert sorted(r.status_code for r in claims) == [200, 409], [r.text for r in claims]
        winner = admin_b if claims[0].status_code == 200 else other_b  # the winner, on desk B
        with desk_a.sessions()() as session:
            ticket = session.get(HandoffRequest, ticket_id)
            assert ticket is not None and ticket.status == "claimed"

        # the winner replies on desk B: the student's socket on desk A gets it
        notice = await student.read_until(lambda m: m["role"] == "system")
        assert "接入" in notice["text"]
        resp = await winner.post(f"/api/staff/tickets/{ticket_id}/reply", {"text": "同学你好，我来帮你办理挂失。"})
        assert resp.status_code == 200, resp.text
        reply = await student.read_until(lambda m: m["role"] == "staff")
        assert reply["text"] == "同学你好，我来帮你办理挂失。"
        # while the person has the chat the bot stays out; the console on desk B sees the student
        assert await student.ask("好的，谢谢老师") == []
        await admin_b.wait_for(lambda e: e["type"] == "message" and e["message"]["text"] == "好的，谢谢老师")

        # nothing lost, nothing twice: the database holds exactly what the sockets showed, each message once
        with desk_a.sessions()() as session:
            for s in students:
                stored = session.scalars(select(Message).where(Message.conversation_id == s.conversation_id)).all()
                seen = [m["id"] for m in s.seen]
                assert len(seen) == len(set(seen)), "a message reached the socket twice"
                assert {m.id for m in stored} == {m["id"] for m in s.history} | set(seen), "a message was lost"
                answers = [m for m in stored if m.role == "bot"]
                assert len({(m.text, m.created_at) for m in answers}) == len(answers)
            waiting = session.scalar(
                select(func.count()).select_from(PendingReply).where(PendingReply.status == "waiting")
            )
            assert waiting == 0
    finally:
        for s in students:
            await s.close()
        for c in consoles:
            await c.close()

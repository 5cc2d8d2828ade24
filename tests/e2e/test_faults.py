"""Faults with the real processes: what a student sees when a part of the help desk breaks.

The tests share one supervised stack of their own (children restarted as under `helpdesk run`), with a
Telegram bot in webhook mode against the loopback fake; the database test runs a lone desk process.
The session `stack` of the other e2e tests is never touched. Each test leaves its stack healthy.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desk.chat.gateway import BOT_UNAVAILABLE_TEXT
from desk.ops import supervisor
from desk.settings import Settings
from knowledge_base import repository
from tests.e2e.conftest import ChatClient
from tests.fake_telegram import TOKEN, FakeTelegram, message_update
from tests.loopback import wait_until
from tests.stack import E2E_NOW, Stack, free_port, launch

pytestmark = pytest.mark.e2e

SECRET = "faults-webhook-secret_0123456789"
HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
CARD, LIBRARY = "校园卡丢了怎么办", "图书馆几点开门几点关门"


@pytest.fixture(scope="module")
def fake_tg() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, fake_tg: FakeTelegram) -> Iterator[Stack]:
    yield from launch(
        tmp_path_factory,
        E2E_NOW,
        supervised=True,
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=SECRET,
        telegram_api_base=fake_tg.api_base,
        outbox_retry_base_seconds=0.5,
        supervisor_backoff_seconds=0.5,
        pending_poll_seconds=1.0,
        pending_adopt_after_seconds=3.0,
    )


def answer(stack: Stack, faq_id: str) -> str:
    with stack.sessions()() as session:
        return repository.get_faq(session, faq_id).answer.strip()


def healthy(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.base_url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def ready(faulty: Stack) -> Stack:
    """The stack, healthy again after the previous test's fault."""
    wait_until(lambda: healthy(faulty), timeout=90, interval=0.5)
    return faulty


async def next_reply(chat: ChatClient, timeout: float) -> dict[str, Any]:
    """The next bot or system message pushed to the student's open chat (a late answer)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await asyncio.wait_for(chat.ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        got = json.loads(frame)
        if got["type"] == "message" and got["message"]["role"] != "student":
            return got["message"]


class HealthWatch:
    """Polls the desk's /healthz twice a second, noting every status and every failure to answer."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                try:
                    self.statuses.append((await http.get(f"{self.stack.base_url}/healthz")).status_code)
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)
                await asyncio.sleep(0.5)

    def __enter__(self) -> HealthWatch:
        self._task = asyncio.get_running_loop().create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def kill(stack: Stack, name: str, sig: int) -> int:
    child = stack.child(name)
    assert child.proc is not None
    pid = child.proc.pid
    os.killpg(pid, sig)
    return pid


async def test_rasa_killed_mid_conversation_is_restarted_and_the_kept_message_answered(ready: Stack) -> None:
    chat = await ChatClient(ready, wait_past_notice=False).open()
    try:
        assert [r["text"] for r in await chat.ask(CARD)] == [answer(ready, "card_report_loss")]
        with HealthWatch(ready) as watch:
            killed_at = time.monotonic()
            old_pid = kill(ready, "rasa", signal.SIGKILL)
            notice = await chat.ask(LIBRARY)
            notice_seconds = time.monotonic() - killed_at
            assert [r["text"] for r in notice] == [BOT_UNAVAILABLE_TEXT]  # "稍后回复", not silence
            late = await next_reply(chat, timeout=110)  # the kept question, once Rasa is back
            back_seconds = time.monotonic() - killed_at
        print(f"\nRasa kill -9: notice after {notice_seconds:.2f} s, correct answer again after {back_seconds:.1f} s")
        assert notice_seconds <= 3.0
        assert late["text"] == answer(ready, "library_hours")
        assert back_seconds <= 60.0
        assert watch.failures == [] and 503 in watch.statuses  # the desk answered /healthz throughout
        assert ready.child("rasa").proc.pid != old_pid  # type: ignore[union-attr]
        assert [r["text"] for r in await chat.ask(CARD)] == [answer(ready, "card_report_loss")]
    finally:
        await chat.close()


async def test_desk_killed_while_rasa_thinks_answers_the_message_after_its_restart(ready: Stack) -> None:
    chat = await ChatClient(ready, wait_past_notice=False).open()
    try:
        assert [r["text"] for r in await chat.ask(CARD)] == [answer(ready, "card_report_loss")]
        rasa_pid = kill(ready, "rasa", signal.SIGSTOP)  # Rasa is "thinking" about the next message
        try:
            frame = {"type": "message", "text": LIBRARY, "client_id": "killed-desk-1"}
            await chat.ws.send(json.dumps(frame, ensure_ascii=False))
            await asyncio.sleep(1.5)  # stored, and the desk waits for Rasa
            old_desk = kill(ready, "desk", signal.SIGKILL)
        finally:
            os.killpg(rasa_pid, signal.SIGCONT)
        killed_at = time.monotonic()
        await asyncio.to_thread(lambda: wait_until(lambda: healthy(ready), timeout=90, interval=0.5))
        assert ready.child("desk").proc.pid != old_desk  # type: ignore[union-attr]

        async def answers() -> list[dict[str, Any]]:  # the student opens the page again (same cookie)
            messages = (await chat.http.post("/api/webchat/session")).json()["messages"]
            [asked] = [n for n, m in enumerate(messages) if m["role"] == "student" and m["text"] == LIBRARY]
            return [m for m in messages[asked + 1 :] if m["role"] != "student"]

        deadline = time.monotonic() + 60
        while not await answers():
            assert time.monotonic() < deadline, "the message the killed desk had in hand was never answered"
            await asyncio.sleep(1)
        print(f"\ndesk kill -9 while Rasa was thinking: answered {time.monotonic() - killed_at:.1f} s after the kill")
        await asyncio.sleep(4)  # a second look finds nothing more to answer
        assert [m["text"] for m in await answers()] == [answer(ready, "library_hours")]  # once, not lost, not twice
    finally:
        await chat.close()


async def test_action_server_killed_gives_a_reply_never_silence(ready: Stack) -> None:
    chat = await ChatClient(ready, wait_past_notice=False).open()
    try:
        kill(ready, "actions", signal.SIGKILL)
        started = time.monotonic()
        replies = await chat.ask(LIBRARY)
        assert replies and all(r["text"] for r in replies)
        assert time.monotonic() - started <= 5.0
        if replies[-1]["text"] == BOT_UNAVAILABLE_TEXT:  # kept: answered once the action server is back
            late = await next_reply(chat, timeout=90)
            assert late["text"] == answer(ready, "library_hours")
    finally:
        await chat.close()


def post_update(stack: Stack, update: dict[str, Any]) -> int:
    return httpx.post(f"{stack.base_url}/telegram/webhook", json=update, headers=HEADER, timeout=30).status_code


def texts_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [str(p.get("text", "")) for p in fake.sent(chat_id)]


def test_a_channel_api_down_is_retried_and_nothing_is_duplicated(ready: Stack, fake_tg: FakeTelegram) -> None:
    chat_id = 7001
    for _ in range(3):
        fake_tg.fail_next("sendMessage", 502, "Bad Gateway")
    assert post_update(ready, message_update(71001, chat_id, CARD)) == 200
    [text] = wait_until(lambda: texts_to(fake_tg, chat_id), timeout=60, interval=0.2)
    assert answer(ready, "card_report_loss")[:30] in text
    time.sleep(3)  # a late retry would show up here
    assert len(texts_to(fake_tg, chat_id)) == 1
    tries = [c for c in fake_tg.calls_of("sendMessage") if c.params.get("chat_id") == chat_id]
    assert len(tries) == 4  # three failures, one delivery


def test_sigterm_during_work_finishes_in_flight_messages_and_loses_nothing(ready: Stack, fake_tg: FakeTelegram) -> None:
    questions = {7101: CARD, 7102: LIBRARY, 7103: CARD, 7104: LIBRARY, 7105: CARD}
    # Telegram floods: an answer waits 8 s, so it is still in the outbox when the desk stops
    fake_tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 8", retry_after=8)
    for n, (chat_id, question) in enumerate(questions.items()):
        assert post_update(ready, message_update(72000 + n, chat_id, question)) == 200  # stored, acknowledged
    old_desk = ready.child("desk").proc
    assert old_desk is not None
    old_pid = kill(ready, "desk", signal.SIGTERM)
    stopped_at = wait_until(lambda: old_desk.poll() is not None and time.monotonic(), timeout=60, interval=0.02)
    expected = {CARD: answer(ready, "card_report_loss")[:30], LIBRARY: answer(ready, "library_hours")[:30]}
    wait_until(lambda: all(texts_to(fake_tg, c) for c in questions), timeout=100, interval=0.5)
    time.sleep(3)
    for chat_id, question in questions.items():
        [text] = texts_to(fake_tg, chat_id)  # exactly one answer each
        assert expected[question] in text
    assert ready.child("desk").proc.pid != old_pid  # type: ignore[union-attr]
    after_restart = [
        c for c in fake_tg.calls_of("sendMessage")
        if c.params.get("_ok") and c.params.get("chat_id") in questions and c.at > stopped_at
    ]  # fmt: skip
    assert after_restart  # the outbox resumed in the new desk process
    log = ready.child("desk").log.read_text(errors="replace")
    assert "Waiting for application shutdown" in log or "Shutting down" in log


def test_database_unreachable_fails_readiness_fast_and_acknowledges_nothing(
    tmp_path: Path, fake_tg: FakeTelegram
) -> None:
    closed = free_port()  # nothing listens: PostgreSQL is "down"
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"postgresql+psycopg2://helpdesk:x@127.0.0.1:{closed}/helpdesk",
        port=free_port(),
        rasa_url=f"http://127.0.0.1:{free_port()}",
        action_server_url=f"http://127.0.0.1:{free_port()}",
        rasa_token="t" * 32,
        secret_key="s" * 32,
        booking_key="",
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=SECRET,
        telegram_api_base=fake_tg.api_base,
    )
    [desk] = [c for c in supervisor.build_children(settings, tmp_path / "unused.tar.gz") if c.name == "desk"]
    supervisor.start(desk)
    base = f"http://127.0.0.1:{settings.port}"
    try:

        def answering() -> httpx.Response | None:
            try:
                return httpx.get(f"{base}/healthz", timeout=10)
            except httpx.HTTPError:
                assert desk.proc is not None and desk.proc.poll() is None, desk.log.read_text(errors="replace")
                return None

        wait_until(answering, timeout=60, interval=0.3)
        started = time.monotonic()
        resp = httpx.get(f"{base}/healthz", timeout=10)
        assert time.monotonic() - started <= 5.0
        assert resp.status_code == 503 and resp.json()["checks"]["database"]["ok"] is False
        started = time.monotonic()
        update = message_update(73001, 7301, CARD)
        status = httpx.post(f"{base}/telegram/webhook", json=update, headers=HEADER, timeout=40).status_code
        assert status == 503  # not stored, so not acknowledged: Telegram delivers it again
        assert time.monotonic() - started <= 10.0
        assert fake_tg.sent(7301) == []
    finally:
        supervisor.stop([desk], timeout=10)
    assert desk.proc is not None and desk.proc.returncode is not None

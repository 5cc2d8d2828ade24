"""Appointment reminders on a frozen clock: due at the lead time, sent once (two workers, restarts, failures),
into the student's own conversation (web chat socket, Telegram through the outbox)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from desk.chat.gateway import Gateway, log_id
from desk.delivery.reminders import ReminderWorker, reminder_text
from desk.main import create_app
from desk.models import Conversation, Message, OutboxItem
from desk.settings import Settings
from knowledge_base.booking import models as bm
from knowledge_base.booking.reminders import Reminders
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.types import BookingView, Reminder
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.privacy import ContactCipher
from tests.conftest import seeded
from tests.desk.test_telegram_channel import CHAT, tg_settings
from tests.knowledge_base.booking_helpers import NOW, at, student
from tests.knowledge_base.conftest import pg_url  # noqa: F401  (the PostgreSQL fixture, for two processes)
from tests.loopback import wait_until

KEY = ContactCipher.generate_key()
CIPHER = ContactCipher(KEY)
LEAD = timedelta(hours=2)


class Clock:
    """A frozen clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_worker(sessions: sessionmaker, clock: Clock, gateway: Gateway | None = None, **kw: Any) -> ReminderWorker:
    """A worker as one desk process has it (the reminder path never asks Rasa: no client needed)."""
    gateway = gateway or Gateway(sessions, None)  # type: ignore[arg-type]
    return ReminderWorker(Reminders(sessions, CIPHER, LEAD), gateway, clock=clock, **kw)


def book(sessions: sessionmaker, service: str, start: datetime, key: str, i: int) -> BookingView:
    return BookingService(sessions, CIPHER).book(service, start, student_key=key, contact=student(i), now=NOW)


def start(client: TestClient) -> dict[str, Any]:
    """Open (or reopen) the browser's web chat: its conversation id and history."""
    resp = client.post("/api/webchat/session")
    assert resp.status_code == 200
    return resp.json()


def texts(sessions: sessionmaker, conversation_id: str) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(select(Message.text).where(Message.conversation_id == conversation_id).order_by(Message.id))
        )


async def test_a_reminder_goes_out_once_at_the_lead_time_and_not_before(sessions: sessionmaker) -> None:
    made = book(sessions, "counseling", at(1, 14), "web:r1", 1)
    clock = Clock(at(1, 11, 59))
    worker = make_worker(sessions, clock)
    assert await worker.tick() == 0 and texts(sessions, "web:r1") == []

    clock.now = at(1, 12, 0)
    assert await worker.tick() == 1
    [text] = texts(sessions, "web:r1")
    assert text.startswith("【预约提醒】你预约的「心理咨询」将于今天 12月1日（周二）14:00-14:50 开始。")
    assert "地点：大学生活动中心3楼 个体咨询室" in text and f"预约码：{made.code}" in text
    assert "如需取消，请回复“取消预约”" in text and "张三" not in text and "13800000001" not in text
    with sessions() as session:
        message = session.scalars(select(Message).where(Message.conversation_id == "web:r1")).one()
        assert message.role == "bot" and {"title": "取消预约", "payload": "取消预约"} in message.buttons
        assert session.scalar(select(bm.Booking.reminded_at).where(bm.Booking.code == made.code)) is not None

    clock.now = at(1, 12, 30)
    assert await worker.tick() == 0
    restarted = make_worker(sessions, clock)  # a new process on the same database
    assert await restarted.tick() == 0
    assert len(texts(sessions, "web:r1")) == 1


def test_the_text_says_tomorrow_and_online() -> None:
    reminder = Reminder(
        code="ABCD2345", student_key="web:x", service_name="职业规划咨询", department_name="就业指导中心",
        location="图文信息中心A座205室", start=at(2, 9), end=at(2, 9, 50), mode="online", staff_name=None,
    )  # fmt: skip
    text = reminder_text(reminder, now=at(1, 20))
    assert "将于明天 12月2日（周三）09:00-09:50 开始" in text
    assert "方式：线上" in text and "地点" not in text and "老师/窗口" not in text


@pytest.fixture(params=["sqlite", "postgresql"])
def two_processes(request: pytest.FixtureRequest, db_url: str, seed_kb) -> Iterator[tuple[sessionmaker, sessionmaker]]:  # type: ignore[no-untyped-def]
    """Two engines on one database, as two desk processes have them."""
    url = db_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    first, second = make_engine(url), make_engine(url)
    try:
        yield seeded(first, seed_kb), make_session_factory(second)
    finally:
        first.dispose()
        second.dispose()


async def test_two_workers_send_each_reminder_once(two_processes: tuple[sessionmaker, sessionmaker]) -> None:
    one, two = two_processes
    made = [
        book(one, "counseling", at(1, 14), "web:s1", 1),
        book(one, "counseling", at(1, 14), "tg:2", 2),
        book(one, "counseling", at(1, 15), "web:s3", 3),
        book(one, "counseling", at(1, 15), "wx:o4", 4),
        book(one, "certificate_issuing", at(1, 14, 30), "web:s5", 5),
    ]
    clock = Clock(at(1, 13, 30))
    a, b = make_worker(one, clock), make_worker(two, clock)
    sent = await asyncio.gather(a.tick(), b.tick(), a.tick(), b.tick())
    assert sum(sent) == len(made)
    for key in ("web:s1", "tg:2", "web:s3", "wx:o4", "web:s5"):
        [text] = texts(one, key)
        assert "【预约提醒】" in text
    with one() as session:
        channels = dict(session.execute(select(Conversation.id, Conversation.channel)).all())
    assert (channels["tg:2"], channels["wx:o4"], channels["web:s1"]) == ("tg", "wx", "web")


class FlakyGateway(Gateway):
    """Stores fail `failures` times with a database error that quotes the statement's parameters."""

    def __init__(self, sessions: sessionmaker, failures: int) -> None:
        super().__init__(sessions, None)  # type: ignore[arg-type]
        self.failures = failures

    async def store_bot_messages(self, conversation_id: str, channel: str, replies: list[dict[str, Any]]) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT INTO messages", {"conversation_id": conversation_id}, Exception("locked"))
        return await super().store_bot_messages(conversation_id, channel, replies)


class SlowGateway(Gateway):
    """The first store fails; later stores wait until `release` is set (a slow database)."""

    def __init__(self, sessions: sessionmaker) -> None:
        super().__init__(sessions, None)  # type: ignore[arg-type]
        self.release = asyncio.Event()
        self.calls = 0

    async def store_bot_messages(self, conversation_id: str, channel: str, replies: list[dict[str, Any]]) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise OperationalError("INSERT INTO messages", {}, Exception("locked"))
        await self.release.wait()
        return await super().store_bot_messages(conversation_id, channel, replies)


async def test_overlapping_ticks_of_one_worker_store_a_kept_reminder_once(sessions: sessionmaker) -> None:
    book(sessions, "counseling", at(1, 14), "web:slow", 1)
    gateway = SlowGateway(sessions)
    worker = make_worker(sessions, Clock(at(1, 12, 5)), gateway)
    assert await worker.tick() == 0  # marked, but the store failed: kept for the next tick
    first = asyncio.create_task(worker.tick())  # retries the kept reminder, slowly
    await asyncio.sleep(0.05)
    second = asyncio.create_task(worker.tick())  # overlaps the first: must not store it again
    await asyncio.sleep(0.05)
    gateway.release.set()
    assert sorted(await asyncio.gather(first, second)) == [0, 1]
    assert gateway.calls == 2  # the failed store and one retry: the overlapping tick left it alone
    [text] = texts(sessions, "web:slow")
    assert "【预约提醒】" in text


async def test_a_failed_store_is_retried_next_tick_and_logs_no_student_data(
    sessions: sessionmaker, caplog: pytest.LogCaptureFixture
) -> None:
    made = book(sessions, "counseling", at(1, 14), "web:secret-conversation", 1)
    clock = Clock(at(1, 12, 5))
    worker = make_worker(sessions, clock, FlakyGateway(sessions, failures=2))
    with caplog.at_level(logging.INFO):
        assert await worker.tick() == 0  # marked (no other worker may send it now), not stored
        clock.now = at(1, 12, 6)
        assert await worker.tick() == 0
        clock.now = at(1, 12, 7)
        assert await worker.tick() == 1
        assert await worker.tick() == 0
    assert len(texts(sessions, "web:secret-conversation")) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"booking {made.code}: reminder to conversation {log_id('web:secret-conversation')} not stored" in logged
    assert "OperationalError" in logged
    assert "secret-conversation" not in logged and "13800000001" not in logged and "张三" not in logged


async def test_an_unsent_reminder_is_dropped_once_the_visit_has_started(sessions: sessionmaker) -> None:
    book(sessions, "counseling", at(1, 14), "web:late", 1)
    clock = Clock(at(1, 12, 5))
    worker = make_worker(sessions, clock, FlakyGateway(sessions, failures=1))
    assert await worker.tick() == 0
    clock.now = at(1, 14, 0)
    assert await worker.tick() == 0
    assert texts(sessions, "web:late") == []  # a reminder after the start would only confuse


class FlakyReminders(Reminders):
    """The database is down for the first `outages` polls."""

    def __init__(self, sessions: sessionmaker, outages: int) -> None:
        super().__init__(sessions, CIPHER, LEAD)
        self.outages = outages

    def due(self, *, now: datetime, limit: int = 100) -> list[Reminder]:
        if self.outages > 0:
            self.outages -= 1
            raise OperationalError("SELECT bookings", {}, Exception("connection refused"))
        return super().due(now=now, limit=limit)


async def test_a_database_outage_does_not_stop_the_loop(
    sessions: sessionmaker, caplog: pytest.LogCaptureFixture
) -> None:
    book(sessions, "counseling", at(1, 14), "web:outage", 1)
    worker = ReminderWorker(
        FlakyReminders(sessions, outages=2),
        Gateway(sessions, None),
        poll_seconds=0.05,
        clock=Clock(at(1, 13)),  # type: ignore[arg-type]
    )
    with caplog.at_level(logging.INFO):
        worker.start()
        try:
            for _ in range(200):
                if texts(sessions, "web:outage"):
                    break
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()
    assert len(texts(sessions, "web:outage")) == 1
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reminder poll failed")]
    assert failures == ["reminder poll failed: OperationalError"] * 2


@pytest.fixture
def desk_settings(settings: Settings) -> Settings:
    return settings.updated(booking_key=KEY, reminder_poll_seconds=3600)


def test_the_reminder_arrives_on_the_open_web_chat(desk_settings: Settings, sessions: sessionmaker) -> None:
    app = create_app(desk_settings)
    with TestClient(app) as client:
        conversation = start(client)["conversation_id"]
        made = book(sessions, "counseling", at(1, 14), conversation, 1)
        worker: ReminderWorker = app.state.reminders
        worker.clock = Clock(at(1, 12, 10))
        with client.websocket_connect("/ws/webchat") as ws:
            assert client.portal.call(worker.tick) == 1  # type: ignore[union-attr]
            frame = ws.receive_json()
        assert frame["type"] == "message" and frame["message"]["role"] == "bot"
        assert "【预约提醒】" in frame["message"]["text"] and made.code in frame["message"]["text"]
        history = start(client)["messages"]  # the student reopening the page sees it too
        assert [m["text"] for m in history][-1] == frame["message"]["text"]
        assert client.portal.call(worker.tick) == 0  # type: ignore[union-attr]
    with TestClient(create_app(desk_settings)) as again:  # the desk restarted: nothing is sent twice
        again.app.state.reminders.clock = Clock(at(1, 12, 40))  # type: ignore[attr-defined]
        assert again.portal.call(again.app.state.reminders.tick) == 0  # type: ignore[attr-defined,union-attr]
    assert sum("【预约提醒】" in t for t in texts(sessions, conversation)) == 1


def test_a_telegram_student_gets_it_through_the_outbox(desk_settings: Settings, sessions, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    conversation = f"tg:{CHAT}"
    made = book(sessions, "certificate_issuing", at(1, 14), conversation, 1)
    app = create_app(tg_settings(desk_settings, fake_telegram))
    with TestClient(app) as client:
        app.state.reminders.clock = Clock(at(1, 13))
        assert client.portal.call(app.state.reminders.tick) == 1  # type: ignore[union-attr]
        [sent] = wait_until(lambda: fake_telegram.sent(CHAT))

        def outbox() -> list[OutboxItem]:
            with sessions() as session:
                rows = session.scalars(select(OutboxItem).where(OutboxItem.conversation_id == conversation)).all()
                return list(rows) if rows and all(r.status == "sent" for r in rows) else []

        [item] = wait_until(outbox)  # the worker records the delivery just after the Bot API answered
    assert sent["text"].startswith("【预约提醒】你预约的「在读证明与成绩单开具」将于今天") and made.code in sent["text"]
    assert "一站式学生社区服务大厅6号窗口" in sent["text"]
    assert (item.channel, item.delivered_via, item.attempts) == ("tg", "api", 0)


def test_the_desk_runs_the_worker_with_the_configured_lead(desk_settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = create_app(desk_settings.updated(booking_reminder_lead_minutes=30))
    with TestClient(app):
        worker: ReminderWorker = app.state.reminders
        assert worker.reminders.lead == timedelta(minutes=30)
        task = worker._task
        assert task is not None and not task.done()
    assert task.done()
    monkeypatch.setenv("HELPDESK_BOOKING_REMINDER_LEAD_MINUTES", "45")  # the name the booking core reads too
    assert Settings(_env_file=None).booking.reminder_lead_minutes == 45  # type: ignore[call-arg]

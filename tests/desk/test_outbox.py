"""The outbox and its delivery worker, with the real Telegram sender against the fake Bot API.

Messages are stored through the real gateway (its Rasa is a dead port; these tests store bot and
staff messages directly), exactly as the Telegram and WeChat routes and a future console do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage, OutboundMessage
from connectors.telegram import TelegramSender, make_bot
from connectors.text import utf16_len
from desk.chat.gateway import Gateway
from desk.chat.rasa_client import RasaClient
from desk.delivery.outbox import Outbox
from desk.delivery.worker import DeliveryWorker
from desk.models import Message, OutboxItem
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.stack import free_port


def make_gateway(sessions: sessionmaker) -> Gateway:
    return Gateway(sessions, RasaClient(f"http://127.0.0.1:{free_port()}", "t", 1.0))


class Desk:
    """A gateway with the outbox listening and a worker delivering to the fake Telegram."""

    def __init__(self, sessions: sessionmaker, fake: FakeTelegram, **worker: Any) -> None:
        self.gateway = make_gateway(sessions)
        self.outbox = Outbox(sessions, hold_seconds=30)
        self.gateway.add_listener(self.outbox.on_message)
        self.bot = make_bot(TOKEN, fake.api_base)
        options = {"retry_base_seconds": 0.05, "poll_seconds": 0.05, **worker}
        self.worker = DeliveryWorker(self.outbox, {"tg": TelegramSender(self.bot)}, **options)

    async def say(self, chat: int, *texts: str, role: str = "bot") -> list[dict[str, Any]]:
        return await self.gateway.store_bot_messages(f"tg:{chat}", "tg", [{"role": role, "text": t} for t in texts])


@pytest.fixture
async def desk(sessions: sessionmaker, fake_telegram: FakeTelegram) -> AsyncIterator[Desk]:
    d = Desk(sessions, fake_telegram)
    d.worker.start()
    yield d
    await d.worker.stop()
    await d.bot.shutdown()


async def eventually(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def rows(sessions: sessionmaker) -> list[OutboxItem]:
    with sessions() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in fake.sent(chat)]


async def test_order_is_kept_per_conversation_through_failures(desk: Desk, fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    fake_telegram.fail_next("sendMessage", 502, "Bad Gateway")
    await desk.say(1, "一", "二", "三")
    await desk.say(2, "甲", "乙", "丙")
    await eventually(lambda: len(fake_telegram.sent()) == 6)
    assert texts(fake_telegram, 1) == ["一", "二", "三"]
    assert texts(fake_telegram, 2) == ["甲", "乙", "丙"]


async def test_a_part_already_sent_is_not_sent_again(desk: Desk, fake_telegram: FakeTelegram, sessions) -> None:  # type: ignore[no-untyped-def]
    long_text = "教务处的老师会在三个工作日内审核你的申请。" * 400  # three parts
    parts = TelegramSender(desk.bot).parts(OutboundMessage("tg:3", long_text))
    assert len(parts) == 3
    fake_telegram.fail_next("sendMessage", 502, "Bad Gateway", after=1)  # part 2 fails once
    await desk.say(3, long_text)
    await eventually(lambda: rows(sessions)[0].status == "sent")
    assert texts(fake_telegram, 3) == [p.text for p in parts]
    assert all(utf16_len(t) <= 4096 for t in texts(fake_telegram, 3))
    assert len(fake_telegram.calls_of("sendMessage")) == 4
    assert (rows(sessions)[0].parts_sent, rows(sessions)[0].attempts) == (3, 1)


async def test_it_gives_up_after_the_last_attempt_and_records_why(sessions, fake_telegram: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    d = Desk(sessions, fake_telegram, max_attempts=3)
    for _ in range(5):
        fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    d.worker.start()
    try:
        await d.say(4, "你好")
        [item] = await eventually(lambda: [r for r in rows(sessions) if r.status == "failed"])
    finally:
        await d.worker.stop()
        await d.bot.shutdown()
    assert item.attempts == 3 and "Internal Server Error" in (item.last_error or "")
    assert len(fake_telegram.calls_of("sendMessage")) == 3


async def test_held_messages_wait_for_the_passive_window(desk: Desk, fake_telegram: FakeTelegram) -> None:
    desk.outbox.hold("tg:5")
    await desk.say(5, "稍等")
    await asyncio.sleep(0.4)
    assert fake_telegram.sent(5) == []
    await desk.outbox.unhold("tg:5")
    await eventually(lambda: texts(fake_telegram, 5) == ["稍等"])


async def test_a_passive_reply_may_not_overtake_an_earlier_message(desk: Desk, sessions) -> None:  # type: ignore[no-untyped-def]
    await desk.worker.stop()  # nothing is delivered: the first message stays pending
    [first] = await desk.say(6, "第一条")
    desk.outbox.hold("tg:6")
    [second] = await desk.say(6, "第二条")
    assert await desk.outbox.mark_passive("tg:6", [second["id"]]) is False
    await desk.outbox.unhold("tg:6")
    assert [(r.message_id, r.status) for r in rows(sessions)] == [(first["id"], "pending"), (second["id"], "pending")]


async def test_a_message_stored_without_its_outbox_row_is_delivered_after_a_restart(
    sessions, fake_telegram: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    await make_gateway(sessions).store_bot_messages("tg:7", "tg", [{"role": "staff", "text": "老师的回复"}])
    assert rows(sessions) == []  # the process died before the outbox saw it
    d = Desk(sessions, fake_telegram)
    d.worker.start()
    try:
        await eventually(lambda: texts(fake_telegram, 7) == ["老师的回复"])
    finally:
        await d.worker.stop()
        await d.bot.shutdown()


async def test_web_chat_and_student_messages_never_enter_the_outbox(desk: Desk, sessions) -> None:  # type: ignore[no-untyped-def]
    await desk.gateway.store_bot_messages("web:abc", "web", [{"role": "bot", "text": "欢迎"}])
    await desk.gateway.record(InboundMessage("tg", "8", "/start", external_id="1"), [])
    assert rows(sessions) == []


async def test_two_desk_processes_send_each_message_once(sessions, fake_telegram: FakeTelegram) -> None:  # type: ignore[no-untyped-def]
    a, b = Desk(sessions, fake_telegram), Desk(sessions, fake_telegram)
    a.worker.start()
    b.worker.start()
    try:
        for i in range(4):
            await a.say(9, f"A{i}")
            await b.say(10, f"B{i}")
        await eventually(lambda: len(fake_telegram.sent()) >= 8)
        await asyncio.sleep(0.3)
    finally:
        for d in (a, b):
            await d.worker.stop()
            await d.bot.shutdown()
    assert texts(fake_telegram, 9) == ["A0", "A1", "A2", "A3"]
    assert texts(fake_telegram, 10) == ["B0", "B1", "B2", "B3"]


async def test_concurrent_retries_of_one_push_are_stored_once_across_processes(sessions) -> None:  # type: ignore[no-untyped-def]
    one, two = make_gateway(sessions), make_gateway(sessions)  # two desk processes: no shared lock
    msg = InboundMessage("wx", "oRetry", "宿舍空调坏了", external_id="5566")
    results = await asyncio.gather(*(g.record(msg, [{"role": "bot", "text": "收到"}]) for g in (one, two, one, two)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    with sessions() as session:
        stored = session.scalars(select(Message).where(Message.conversation_id == "wx:oRetry")).all()
    assert [m.role for m in stored] == ["student", "bot"]

"""The Telegram adapter: update parsing, the secret check, sending and polling with the real PTB client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, Update

from connectors.base import DeliveryError, OutboundMessage
from connectors.telegram import TelegramPoller, TelegramSender, make_bot, parse_update, secret_matches
from tests.fake_telegram import TOKEN, FakeTelegram, callback_update, message_update

BOT = Bot(TOKEN)


def parse(data: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_update(Update.de_json(data, BOT))


def test_a_text_message_becomes_the_inbound_message() -> None:
    event = parse(message_update(11, 42, "  校园卡丢了怎么办 "))
    assert event.kind == "message"
    assert event.inbound is not None
    assert (event.inbound.conversation_id, event.inbound.text, event.inbound.external_id) == (
        "tg:42",
        "校园卡丢了怎么办",
        "11",
    )


@pytest.mark.parametrize(
    ("text", "command"),
    [("/start", "start"), ("/Start@campus_helpdesk_bot", "start"), ("/help", "help"), ("/menu", "help")],
)
def test_commands(text: str, command: str) -> None:
    event = parse(message_update(1, 42, text))
    assert (event.kind, event.command) == ("command", command)


def test_human_is_a_message_with_the_request_human_payload() -> None:
    event = parse(message_update(2, 42, "/human"))
    assert event.kind == "message" and event.inbound is not None
    assert (event.inbound.text, event.inbound.payload) == ("/human", "/request_human")


def test_buttons_carry_the_stored_message_and_index() -> None:
    assert parse(callback_update(3, 42, "b:1234:2")).button == (1234, 2)
    forged = parse(callback_update(4, 42, '/choose_faq{"faq_id":"x"}'))
    assert (forged.kind, forged.button, forged.callback_query_id) == ("button", None, "cq-4")


def test_what_is_not_served() -> None:
    sticker = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1}
    sticker |= {"is_animated": False, "is_video": False}
    assert parse(message_update(5, 42, None, sticker=sticker)).kind == "unsupported"
    assert parse({"update_id": 6, "edited_message": message_update(6, 42, "x")["message"]}).kind == "ignored"
    group = message_update(7, -1, "群消息")
    group["message"]["chat"] = {"id": -1, "type": "supergroup"}
    assert parse(group).kind == "ignored"
    channel = {"update_id": 8, "channel_post": {"message_id": 1, "date": 0, "chat": {"id": -2, "type": "channel"}}}
    assert parse(channel).kind == "ignored"


def test_secret_token_check() -> None:
    assert secret_matches("abcDEF_123-xyz0000", "abcDEF_123-xyz0000")
    assert not secret_matches("abcDEF_123-xyz0000", "abcDEF_123-xyz0001")
    assert not secret_matches("abcDEF_123-xyz0000", None)
    assert not secret_matches("", "")


def test_the_keyboard_goes_under_the_last_part_and_fits_callback_data() -> None:
    sender = TelegramSender(BOT)
    buttons = [{"title": "转人工", "payload": "/request_human"}, {"title": "长" * 100, "payload": "x"}]
    parts = sender.parts(OutboundMessage("tg:42", "答" * 5000, buttons=buttons, message_id=987654321))
    assert [bool(p.buttons) for p in parts] == [False, True]
    keyboard = sender.keyboard(parts[1])
    assert keyboard is not None
    data = [row[0].callback_data for row in keyboard.inline_keyboard]
    assert data == ["b:987654321:0", "b:987654321:1"]
    assert all(len(str(d).encode()) <= 64 for d in data)
    only_buttons = sender.parts(OutboundMessage("tg:42", "", buttons=buttons, message_id=1))
    assert [p.text for p in only_buttons] == ["请选择："]


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    b = make_bot(TOKEN, fake_telegram.api_base)
    yield b
    await b.shutdown()


async def test_sending_maps_telegram_errors(bot: Bot, fake_telegram: FakeTelegram) -> None:
    sender = TelegramSender(bot)
    [part] = sender.parts(
        OutboundMessage("tg:42", "你好", buttons=[{"title": "转人工", "payload": "/x"}], message_id=5)
    )
    await sender.send("42", part)
    [sent] = fake_telegram.sent(42)
    assert sent["text"] == "你好"
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "转人工", "callback_data": "b:5:0"}]]}

    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    with pytest.raises(DeliveryError) as flood:
        await sender.send("42", part)
    assert (flood.value.permanent, flood.value.retry_after) == (False, 2.0)

    fake_telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryError) as blocked:
        await sender.send("42", part)
    assert blocked.value.permanent

    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    with pytest.raises(DeliveryError) as server:
        await sender.send("42", part)
    assert not server.value.permanent and server.value.retry_after is None


async def test_polling_confirms_an_update_only_after_it_was_handled(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.queue_update(message_update(100, 42, "一"))
    fake_telegram.queue_update(message_update(101, 42, "二"))
    seen: list[int] = []
    failed_once: set[int] = set()

    async def handle(update: Update) -> None:
        if update.update_id == 101 and 101 not in failed_once:
            failed_once.add(101)
            raise RuntimeError("database is locked")
        seen.append(update.update_id)

    poller = TelegramPoller(bot, handle, timeout=0, max_backoff=0.05)
    task = asyncio.create_task(poller.run())
    try:
        for _ in range(200):
            if seen == [100, 101]:
                break
            await asyncio.sleep(0.02)
    finally:
        poller.stop()
        task.cancel()
    assert seen == [100, 101]
    offsets = [c.params.get("offset") for c in fake_telegram.calls_of("getUpdates")]
    assert offsets[0] is None and 101 in offsets  # 101 was asked for again after the failure
    assert fake_telegram.calls_of("deleteWebhook")

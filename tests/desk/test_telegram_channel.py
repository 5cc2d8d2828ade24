"""Telegram as a student sees it: the real python-telegram-bot client against a fake Bot API on loopback.

Rasa is down in these tests (see conftest), so an ordinary question is answered with the
"暂时无法回复" notice and a crisis message with the hotlines: both are real outbound messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from connectors.text import utf16_len
from desk.chat.gateway import log_id
from desk.main import create_app
from desk.models import Message, OutboxItem
from desk.settings import Settings
from tests.fake_telegram import TOKEN, FakeTelegram, callback_update, message_update
from tests.loopback import wait_until

SECRET = "tg-webhook-secret_0123456789abcdef"
HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
CHAT = 4242


def tg_settings(settings: Settings, fake: FakeTelegram, **extra: Any) -> Settings:
    values = settings.model_dump()
    values.update(
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=SECRET,
        telegram_api_base=fake.api_base,
        outbox_retry_base_seconds=0.2,
        outbox_max_attempts=4,
    )
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def tg(settings: Settings, fake_telegram: FakeTelegram) -> Iterator[TestClient]:
    with TestClient(create_app(tg_settings(settings, fake_telegram))) as client:
        yield client


def post(client: TestClient, update: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    return client.post("/telegram/webhook", json=update, headers=HEADER if headers is None else headers).status_code


def stored(sessions, conversation_id: str = f"tg:{CHAT}") -> list[Message]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(
            session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
        )


def test_a_question_is_stored_and_the_answer_arrives_in_the_chat(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, message_update(1, CHAT, "校园卡丢了怎么办")) == 200
    student = stored(sessions)[0]
    assert (student.role, student.text, student.external_id) == ("student", "校园卡丢了怎么办", "1")
    [reply] = wait_until(lambda: fake_telegram.sent(CHAT))
    assert "暂时无法回复" in reply["text"]

    def delivered() -> OutboxItem | None:
        with sessions() as session:
            return session.scalars(select(OutboxItem).where(OutboxItem.status == "sent")).one_or_none()

    item = wait_until(delivered)
    assert (item.delivered_via, item.attempts, item.parts_sent) == ("api", 0, 1)


def test_a_crisis_message_gets_the_hotlines_with_rasa_down(tg, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, message_update(1, CHAT, "我真的不想活了")) == 200
    [reply] = wait_until(lambda: fake_telegram.sent(CHAT))
    assert "12356" in reply["text"] and "400-161-9995" in reply["text"]


def test_a_forged_or_missing_secret_is_refused_and_nothing_is_stored(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    update = message_update(1, CHAT, "你好")
    assert post(tg, update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "X"}) == 403
    assert post(tg, update, headers={}) == 403
    time.sleep(0.3)
    assert stored(sessions) == []
    assert fake_telegram.sent() == []


def test_a_replayed_update_is_stored_and_answered_once(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    update = message_update(7, CHAT, "图书馆几点关门")
    assert post(tg, update) == 200
    wait_until(lambda: fake_telegram.sent(CHAT))
    assert post(tg, update) == 200
    time.sleep(0.5)
    assert [m.role for m in stored(sessions)] == ["student", "system"]
    assert len(fake_telegram.sent(CHAT)) == 1


def test_start_shows_the_menu_as_buttons_and_a_pressed_button_is_handled(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, message_update(1, CHAT, "/start")) == 200
    [welcome] = wait_until(lambda: fake_telegram.sent(CHAT))
    assert "智能助手" in welcome["text"]
    rows = welcome["reply_markup"]["inline_keyboard"]
    titles = [row[0]["text"] for row in rows]
    assert titles == ["校园卡丢了怎么办", "怎么开在读证明", "心理咨询怎么预约", "转人工"]
    human = rows[3][0]["callback_data"]

    assert post(tg, callback_update(2, CHAT, human)) == 200
    [answered] = fake_telegram.calls_of("answerCallbackQuery")
    assert answered.params["callback_query_id"] == "cq-2"
    [pressed] = [m for m in stored(sessions) if m.external_id == "2"]
    assert (pressed.role, pressed.text, pressed.payload) == ("student", "转人工", "/request_human")
    sent = wait_until(lambda: fake_telegram.sent(CHAT)[1:])
    assert "暂时无法回复" in sent[0]["text"]


def test_a_forged_button_is_answered_but_does_nothing(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, callback_update(3, CHAT, "b:999999:0")) == 200
    assert post(tg, callback_update(4, CHAT, '/choose_faq{"faq_id":"x"}')) == 200
    assert len(fake_telegram.calls_of("answerCallbackQuery")) == 2
    assert stored(sessions) == []


def test_help_and_human_commands(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, message_update(1, CHAT, "/help")) == 200
    [menu] = wait_until(lambda: fake_telegram.sent(CHAT))
    assert "直接用文字告诉我" in menu["text"] and menu["reply_markup"]["inline_keyboard"]
    assert post(tg, message_update(2, CHAT, "/human@campus_helpdesk_bot")) == 200
    human = [m for m in stored(sessions) if m.role == "student"][-1]
    assert (human.text, human.payload) == ("/human", "/request_human")


def test_flood_control_429_is_waited_out_and_order_is_kept(tg, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    assert post(tg, message_update(1, CHAT, "我真的不想活了")) == 200
    assert post(tg, message_update(2, CHAT, "宿舍报修找谁")) == 200
    first, second = wait_until(lambda: fake_telegram.sent(CHAT)[1:] and fake_telegram.sent(CHAT), timeout=15)
    assert "12356" in first["text"]
    assert "值班老师会尽快" in second["text"]  # the crisis queued the chat for a person: a reminder, not Rasa
    calls = fake_telegram.calls_of("sendMessage")
    assert calls[0].params.get("_ok") is None  # the refused one
    assert calls[1].at - calls[0].at >= 2.0  # retry_after honoured (the worker polls every second)
    assert calls[1].params["text"] == calls[0].params["text"]  # the same message again, first


def test_a_long_answer_is_split_at_4096_without_breaking_characters(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    sentence = "请携带学生证和身份证原件到一站式学生社区服务大厅办理，工作人员会当场审核材料。😀"
    text = sentence * 150  # about 6300 UTF-16 units
    gateway = tg.app.state.gateway
    tg.portal.call(gateway.store_bot_messages, f"tg:{CHAT}", "tg", [{"role": "staff", "text": text}])
    parts = wait_until(lambda: fake_telegram.sent(CHAT))
    time.sleep(0.3)
    parts = fake_telegram.sent(CHAT)
    assert len(parts) == 2
    assert all(utf16_len(p["text"]) <= 4096 for p in parts)
    assert parts[0]["text"].endswith("😀") or parts[0]["text"].endswith("。")
    assert "".join(p["text"] for p in parts) == text


def test_a_blocked_bot_is_recorded_as_undelivered(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    fake_telegram.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    assert post(tg, message_update(1, CHAT, "你好")) == 200

    def failed() -> OutboxItem | None:
        with sessions() as session:
            return session.scalars(select(OutboxItem).where(OutboxItem.status == "failed")).first()

    item = wait_until(failed)
    assert "blocked" in (item.last_error or "")
    time.sleep(0.5)
    assert len(fake_telegram.calls_of("sendMessage")) == 1  # not retried


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 5, "edited_message": message_update(5, CHAT, "改过的")["message"]},
        {
            "update_id": 6,
            "my_chat_member": {
                "chat": {"id": CHAT, "type": "private"},
                "from": {"id": CHAT, "is_bot": False, "first_name": "同学"},
                "date": 0,
                "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "b"}},
                "new_chat_member": {
                    "status": "kicked",
                    "user": {"id": 1, "is_bot": True, "first_name": "b"},
                    "until_date": 0,
                },
            },
        },
        {
            "update_id": 8,
            "message": {**message_update(8, -100, "群里的消息")["message"], "chat": {"id": -100, "type": "group"}},
        },
    ],
)
def test_updates_the_desk_does_not_serve_get_200_and_nothing_else(tg, fake_telegram, sessions, update) -> None:  # type: ignore[no-untyped-def]
    assert post(tg, update) == 200
    time.sleep(0.3)
    assert fake_telegram.sent() == []
    with sessions() as session:
        assert session.scalars(select(Message)).all() == []


def test_a_sticker_gets_a_polite_text(tg, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    sticker = {
        "file_id": "f",
        "file_unique_id": "u",
        "type": "regular",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
    }
    assert post(tg, message_update(9, CHAT, None, sticker=sticker)) == 200
    [reply] = wait_until(lambda: fake_telegram.sent(CHAT))
    assert "只能看懂文字" in reply["text"]


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"update_id": "x"}', b'{"update_id": 1, "message": {"chat": 5}}']
)
def test_malformed_bodies_are_400_never_500(tg, body: bytes) -> None:  # type: ignore[no-untyped-def]
    resp = tg.post("/telegram/webhook", content=body, headers={**HEADER, "Content-Type": "application/json"})
    assert resp.status_code == 400


def test_the_webhook_is_registered_with_the_secret_at_start(settings, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    app = create_app(tg_settings(settings, fake_telegram, public_url="https://helpdesk.example.edu.cn"))
    with TestClient(app):
        [call] = wait_until(lambda: fake_telegram.calls_of("setWebhook"))
    assert call.params["url"] == "https://helpdesk.example.edu.cn/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]


def test_the_webhook_refuses_to_start_without_a_secret(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="HELPDESK_TELEGRAM_SECRET"):
        Settings(**{**settings.model_dump(), "telegram_mode": "webhook", "telegram_token": TOKEN})
    with pytest.raises(ValidationError, match="HELPDESK_TELEGRAM_SECRET"):
        Settings(
            **{**settings.model_dump(), "telegram_mode": "webhook", "telegram_token": TOKEN, "telegram_secret": "short"}
        )


def test_long_polling_receives_and_answers(settings, fake_telegram, sessions) -> None:  # type: ignore[no-untyped-def]
    app = create_app(tg_settings(settings, fake_telegram, telegram_mode="polling", telegram_poll_timeout_seconds=1))
    fake_telegram.queue_update(message_update(30, CHAT, "我真的不想活了"))
    with TestClient(app) as client:
        [reply] = wait_until(lambda: fake_telegram.sent(CHAT))
        assert "12356" in reply["text"]
        wait_until(lambda: any(c.params.get("offset") == 31 for c in fake_telegram.calls_of("getUpdates")))
        assert client.post("/telegram/webhook", json=message_update(31, CHAT, "x"), headers=HEADER).status_code == 404
    assert fake_telegram.calls_of("deleteWebhook")
    assert [m.external_id for m in stored(sessions) if m.role == "student"] == ["30"]


def test_with_no_channel_configured_the_routes_are_absent(client: TestClient) -> None:
    assert client.post("/telegram/webhook", json=message_update(1, CHAT, "x"), headers=HEADER).status_code == 404
    assert client.get("/wechat/callback").status_code == 404


def test_logs_name_no_chat_id_no_text_and_no_token(tg, fake_telegram, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    assert post(tg, message_update(1, CHAT, "我的学号是2023123456")) == 200
    wait_until(lambda: fake_telegram.sent(CHAT))
    assert log_id(f"tg:{CHAT}") in caplog.text  # the conversation is named by its pseudonym
    for secret in (str(CHAT), "2023123456", TOKEN, TOKEN.split(":")[1], SECRET):
        assert secret not in caplog.text

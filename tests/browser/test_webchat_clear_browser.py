"""结束并清除本次对话 in a real browser: a student on a shared PC ends the conversation and leaves no trace."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from desk.models import Conversation, Message, PrivacyAudit
from tests.stack import Stack

pytestmark = pytest.mark.browser
PHONE = "13711112222"


def conversation_id(page: Any) -> str:
    return str(page.evaluate("window.webchat.conversationId"))


def test_clear_button_erases_the_conversation_and_starts_afresh(stack: Stack, phone: Any) -> None:
    page = phone
    page.goto(stack.base_url + "/")
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    first = conversation_id(page)

    page.fill("#chat-input", f"我的手机号是{PHONE}")
    page.keyboard.press("Enter")
    mine = page.locator('.msg[data-role="student"][data-id]', has_text="137****2222")
    mine.first.wait_for(timeout=30_000)  # the echo shows what is stored: masked
    assert PHONE not in page.content()
    page.wait_for_function("document.querySelectorAll('.msg[data-role=\"bot\"]').length > 1", timeout=30_000)

    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#chat-clear")  # "cancel" in the confirm: nothing happens
    page.wait_for_timeout(500)
    assert dialogs and "结束并清除本次对话" in dialogs[0]
    assert conversation_id(page) == first and mine.count() == 1

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation(timeout=15_000):
        page.click("#chat-clear")
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    second = conversation_id(page)
    assert second != first
    assert page.locator('.msg[data-role="student"]').count() == 0  # a fresh conversation: only the welcome
    assert "智能助手" in page.locator('.msg[data-role="bot"]').first.inner_text()

    with stack.sessions()() as session:
        assert session.get(Conversation, first) is None
        assert not session.scalars(select(Message).where(Message.conversation_id == first)).all()
        assert session.scalars(select(PrivacyAudit.action).where(PrivacyAudit.actor == "student")).all()

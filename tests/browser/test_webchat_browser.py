"""The web chat in a real browser against the real stack: ask, tap a chip, reload."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import screenshot_path
from tests.stack import Stack

pytestmark = pytest.mark.browser


def bot_messages(page: Any) -> Any:
    return page.locator('.msg[data-role="bot"]')


def test_student_asks_taps_a_chip_and_reloads(stack: Stack, phone: Any) -> None:
    page = phone
    page.goto(stack.base_url + "/")
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    welcome = bot_messages(page).first
    assert "智能助手" in welcome.inner_text()

    page.fill("#chat-input", "校园卡丢了怎么办")
    page.keyboard.press("Enter")
    answer = page.locator('.msg[data-role="bot"]', has_text="挂失")
    answer.first.wait_for(timeout=30_000)
    assert page.locator('.msg[data-role="student"]', has_text="校园卡丢了怎么办").count() == 1
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot_path("webchat-answer.png")))

    page.fill("#chat-input", "开在读证明要带什么材料")
    page.click("#chat-send")
    card = page.locator('.msg[data-role="bot"]', has_text="一次性告知")
    card.first.wait_for(timeout=30_000)
    assert re.search(r"需要材料", card.first.inner_text())

    answered = bot_messages(page).count()
    page.locator("button.chip", has_text="怎么开在读证明").first.click()
    page.wait_for_function(f"document.querySelectorAll('.msg[data-role=\"bot\"]').length > {answered}", timeout=30_000)
    assert "在读证明" in bot_messages(page).last.inner_text()
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot_path("webchat-card.png")))

    before = page.locator(".msg[data-id]").count()
    page.reload()
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    page.locator('.msg[data-role="bot"]', has_text="一次性告知").first.wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    assert page.locator(".msg[data-id]").count() == before


def test_student_text_is_never_rendered_as_html(stack: Stack, phone: Any) -> None:
    page = phone
    page.goto(stack.base_url + "/")
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    page.fill("#chat-input", '<img src=x onerror="window.__pwned=1">')
    page.click("#chat-send")
    page.locator('.msg[data-role="student"]:not([data-pending])').last.wait_for(timeout=30_000)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator(".msg img").count() == 0


def test_the_chat_reconnects_and_sends_what_was_typed_while_offline(stack: Stack, phone: Any) -> None:
    """The desk restarts under an open page: the page says so, reconnects, and loses no message."""
    from desk.ops import supervisor

    page = phone
    page.goto(stack.base_url + "/")
    page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    desk = stack.child("desk")
    assert desk.proc is not None
    desk.proc.terminate()
    desk.proc.wait(timeout=30)
    page.wait_for_function("!window.webchat.connected()", timeout=15_000)
    page.locator("#conn-status").wait_for(state="visible", timeout=10_000)
    page.fill("#chat-input", "图书馆几点开门")
    page.click("#chat-send")
    assert page.locator('.msg[data-role="student"][data-pending]').count() == 1
    supervisor.start(desk)
    assert supervisor.wait_ready(stack.settings, stack.children, timeout=120)
    page.wait_for_function("window.webchat.connected()", timeout=30_000)
    page.locator('.msg[data-role="bot"]', has_text="图书馆").last.wait_for(timeout=30_000)
    assert page.locator('.msg[data-role="student"]', has_text="图书馆几点开门").count() == 1
    assert page.locator("#conn-status").is_hidden()

"""The pages work under the desk's real Content-Security-Policy (no bypass): the web chat answers and
the console logs in and connects, and Chromium reports no CSP violation (docs/security.md)."""

from __future__ import annotations

import uuid
from typing import Any

from desk.staff import accounts
from tests.browser.conftest import log_in
from tests.stack import Stack

PASSWORD = "csp-test-password"


def test_the_web_chat_and_the_console_run_under_the_real_csp(stack: Stack, strict_page: tuple[Any, list[str]]) -> None:
    page, complaints = strict_page
    page.goto(stack.base_url + "/")
    page.locator('.msg[data-role="bot"]').first.wait_for(timeout=15_000)  # the welcome: script and fetch ran
    page.fill("#chat-input", "校园卡丢了怎么办")
    page.keyboard.press("Enter")
    page.locator('.msg[data-role="bot"]', has_text="挂失").first.wait_for(timeout=30_000)  # the websocket works

    username = f"csp{uuid.uuid4().hex[:6]}"
    with stack.sessions()() as session, session.begin():
        accounts.create_user(session, username, PASSWORD, display_name="陈老师", departments=["community"])
    log_in(page, stack, username, PASSWORD)
    page.locator("text=陈老师").first.wait_for(timeout=15_000)
    page.wait_for_timeout(1500)  # console.js loads the queue and opens its socket
    assert page.evaluate("window.staffConsole && window.staffConsole.connected()")  # CDP evaluate: not the page's CSP
    assert complaints == []

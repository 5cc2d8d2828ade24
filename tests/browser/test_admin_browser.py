"""An admin fixes an answer in the FAQ editor of a real browser, checks it in the 试一试 box, publishes,
and the web chat's next answer is the edited one; then rolls it back with one click.
Screenshots of the editor and the 试一试 box: conftest.screenshot_path (the README's with
HELPDESK_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import ensure_admin, log_in, open_page, screenshot_path
from tests.stack import Stack

pytestmark = pytest.mark.browser
PASSWORD = "admin-browser-pass"
QUESTION = "图书馆几点开门几点关门"
ADDED = "考试周（12月21日起）延长开放至24:00。"


@pytest.fixture
def admin_user(stack: Stack) -> str:
    return ensure_admin(stack, "kb_admin_browser", PASSWORD, "知识库管理员")


@pytest.fixture
def wide(browser: Any) -> Iterator[Any]:
    with open_page(browser) as (page, _):  # wait_for_function evaluates strings; CSP: test_csp_browser.py
        yield page


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    with open_page(browser, 390, 844) as (page, _):
        yield page


def ask(page: Any, text: str) -> str:
    """Send a web-chat message; the text of the bot's next message."""
    before = page.locator('.msg[data-role="bot"]').count()
    page.fill("#chat-input", text)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('.msg[data-role=\"bot\"]').length > {before}", timeout=30_000)
    return str(page.locator('.msg[data-role="bot"]').nth(before).inner_text())


def test_admin_edits_an_answer_and_the_web_chat_answers_with_it(
    stack: Stack, wide: Any, phone_page: Any, admin_user: str
) -> None:
    admin, student = wide, phone_page
    log_in(admin, stack, admin_user, PASSWORD, via="/admin/faqs")  # not logged in: the login page first

    # Find the entry by searching the list, open it.
    admin.goto(stack.base_url + "/admin/faqs")
    admin.fill('input[name="q"]', "图书馆")
    admin.click("#filters button[type=submit]")
    admin.locator("#rows a", has_text="图书馆").first.wait_for(timeout=10_000)
    admin.goto(stack.base_url + "/admin/faqs/library_hours")
    answer_box = admin.locator('textarea[name="answer"]')
    admin.wait_for_function("document.querySelector('textarea[name=answer]').value.length > 5", timeout=10_000)
    original = answer_box.input_value()
    first = ask_first(student, stack)
    assert original.strip()[:30] in first and ADDED not in first

    # Edit, compare in 试一试, publish.
    answer_box.fill(original.strip() + ADDED)
    admin.fill('#try-form input[name="question"]', QUESTION)
    admin.click("#try-form button[type=submit]")
    admin.locator("#try-draft .answer", has_text=ADDED).wait_for(timeout=30_000)
    assert ADDED not in admin.locator("#try-live").inner_text()
    assert "直接回答" in admin.locator("#try-live").inner_text()
    assert len(re.findall(r"\d\.\d{3}", admin.locator("#try-live .top3").inner_text())) == 3
    admin.locator(".tryit").screenshot(path=str(screenshot_path("admin-tryit.png")))
    admin.click("#publish")
    admin.locator("#toast", has_text="已发布").wait_for(timeout=10_000)
    admin.locator("#history li", has_text="回滚到这一版").first.wait_for(timeout=10_000)
    admin.wait_for_timeout(300)
    admin.screenshot(path=str(screenshot_path("admin-editor.png")), full_page=True)

    # The student's next question gets the edit: no restart, no retraining.
    assert (original.strip() + ADDED) in ask(student, QUESTION)

    # One click rolls it back; the chat answers as before.
    admin.locator("#history .rollback").first.click()
    admin.locator("#toast", has_text="已回滚").wait_for(timeout=10_000)
    again = ask(student, QUESTION)
    assert original.strip()[:30] in again and ADDED not in again


def ask_first(student: Any, stack: Stack) -> str:
    student.goto(stack.base_url + "/")
    student.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    return ask(student, QUESTION).strip()

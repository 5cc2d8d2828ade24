"""An admin moves a department's office hours (人工服务时间) and enters a holiday in /admin/db of a real
browser, and a student's next request for a person of that department in the web chat says so: first
the library's own hours (closed now, though the global hours say open), then the holiday that skips its
next opening. The stack's clock is Tuesday 1 December 2026, 10:00 (tests/stack.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from knowledge_base.calendar_days import REFRESH_SECONDS
from knowledge_base.models import CalendarDay, Department
from tests.browser.conftest import ensure_admin, log_in, open_page
from tests.stack import Stack

pytestmark = pytest.mark.browser
PASSWORD = "hours-admin-browser-pass"
LIBRARY_HOURS = "wed: 09:00-12:00"
HOLIDAY = date(2026, 12, 2)  # the Wednesday after the stack's Tuesday


@pytest.fixture
def admin_user(stack: Stack) -> Iterator[str]:
    yield ensure_admin(stack, "hours_admin_browser", PASSWORD, "部门管理员")
    with stack.sessions()() as session, session.begin():  # leave the shared stack as it was
        session.get(Department, "library").office_hours = ""
        holiday = session.get(CalendarDay, HOLIDAY)
        if holiday is not None:
            session.delete(holiday)


@pytest.fixture
def wide(browser: Any) -> Iterator[Any]:
    with open_page(browser) as (page, _):
        yield page


def leave_a_message(browser: Any, stack: Stack) -> str:
    """A new student asks about the library, then for a person: the system notice they read."""
    with open_page(browser, 390, 844) as (page, _):
        page.goto(stack.base_url + "/")
        page.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
        for text in ("借的书快到期了怎么续借", "转人工"):
            before = page.locator(".msg[data-role=bot]").count()
            page.fill("#chat-input", text)
            page.keyboard.press("Enter")
            page.wait_for_function(
                f"document.querySelectorAll('.msg[data-role=\"bot\"]').length > {before}", timeout=30_000
            )
        notice = page.locator(".msg[data-role=system]", has_text="留言").first
        notice.wait_for(timeout=30_000)
        return str(notice.inner_text())


def test_an_admin_moves_office_hours_and_enters_a_holiday_and_the_chat_follows(
    stack: Stack, wide: Any, browser: Any, admin_user: str
) -> None:
    admin = wide
    log_in(admin, stack, admin_user, PASSWORD, via="/admin/db/department/edit/library")

    # A typo is refused on the form, in Chinese; then the library's own hours are saved.
    admin.goto(stack.base_url + "/admin/db/department/edit/library")
    admin.fill("#office_hours", "周三 9点到12点")
    admin.click("input[type=submit][value=Save]")
    admin.get_by_text("人工服务时间格式不对").first.wait_for(timeout=10_000)
    admin.fill("#office_hours", LIBRARY_HOURS)
    admin.click("input[type=submit][value=Save]")
    admin.wait_for_url(re.compile(r"/admin/db/department/list"))

    admin.wait_for_timeout(REFRESH_SECONDS * 1000 + 500)  # every desk replica re-reads the hours within 5 s
    first = leave_a_message(browser, stack)
    assert "人工服务时间：周三 9:00-12:00" in first and "老师预计明天 9:00后回复" in first

    # Wednesday becomes a holiday: the next opening is the Wednesday after.
    admin.goto(stack.base_url + "/admin/db/calendar-day/create")
    admin.fill("#day", HOLIDAY.isoformat())
    admin.fill("#name", "校庆日")
    admin.click("input[type=submit][value=Save]")
    admin.wait_for_url(re.compile(r"/admin/db/calendar-day/list"))

    admin.wait_for_timeout(REFRESH_SECONDS * 1000 + 500)
    second = leave_a_message(browser, stack)
    assert "老师预计12月9日（周三）9:00后回复" in second

"""In a real browser an admin changes a service's weekly hours and enters a closure day (a typo is shown
at its field first), previews and saves, and the booking core offers the new slots at once; then creates
a staff account, whose one-time password is shown once and logs in. Screenshots:
conftest.screenshot_path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from desk.staff import accounts
from knowledge_base.booking.service import BookingService
from knowledge_base.privacy import ContactCipher
from knowledge_base.timeexpr import TZ
from tests.browser.conftest import ensure_admin, log_in, open_page, screenshot_path
from tests.stack import Stack

pytestmark = pytest.mark.browser
PASSWORD = "schedule-browser-pass"
SERVICE = "enrollment_status"  # 学籍异动办理: no other browser or e2e test books it
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)  # the stack's clock (tests/stack.py E2E_NOW)


@pytest.fixture
def admin_user(stack: Stack) -> str:
    return ensure_admin(stack, "schedule_admin_browser", PASSWORD, "教务处管理员")


@pytest.fixture
def wide(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page under the desk's real CSP (no bypass: nothing here evaluates strings), and its CSP complaints."""
    with open_page(browser, 1366, real_csp=True) as opened:
        yield opened


def starts(slots: list) -> list[str]:  # type: ignore[type-arg]
    return [s.start.strftime("%m-%d %H:%M") for s in slots]


def test_admin_changes_hours_adds_a_closure_and_creates_an_account(
    stack: Stack, wide: tuple[Any, list[str]], admin_user: str
) -> None:
    page, complaints = wide
    log_in(page, stack, admin_user, PASSWORD, via="/admin/schedules")

    page.goto(stack.base_url + "/admin/schedules")
    page.locator("#schedule-rows a", has_text="学籍异动办理").click()
    page.wait_for_url(re.compile(rf"/admin/services/{SERVICE}/schedule$"))
    wednesday = page.locator('[data-field="hours.wed"]')
    wednesday.wait_for(timeout=10_000)
    assert wednesday.input_value() == "08:30-11:30, 14:00-17:30"
    page.locator("#slots-now li").first.wait_for(timeout=10_000)

    # A typo is shown at its field, nothing is saved.
    page.fill('[data-field="hours.thu"]', "25:00-26:00")
    page.click("#save")
    page.locator(".field-error", has_text="不是有效的时间").wait_for(timeout=10_000)
    assert "周四" in page.locator("#errors").inner_text()

    # Wednesdays only 09:00-10:00 now, Thursday back to normal, and closed on Wednesday 2 December.
    page.fill('[data-field="hours.thu"]', "08:30-11:30, 14:00-17:30")
    page.fill('[data-field="hours.wed"]', "09:00-10:00")
    page.click("#add-exception")
    row = page.locator("#exception-rows tr").last
    row.locator(".exc-first").fill("2026-12-02")
    row.locator(".exc-reason").fill("学籍系统升级")
    page.click("#preview")
    page.locator("#slots-preview li", has_text="12月3日").wait_for(timeout=10_000)
    preview = page.locator("#slots-preview").inner_text()  # one line per day: the next 7 days with free slots
    assert "12月2日" not in preview and "12月3日" in preview
    assert "12月9日周三：09:00、09:20、09:40\n" in preview + "\n"
    assert "12月9日周三：08:30、08:50" in page.locator("#slots-now").inner_text()  # the saved hours, until the save
    page.click("#save")
    page.locator("#toast", has_text="已保存").wait_for(timeout=10_000)
    assert page.locator("#slots-now").inner_text() == preview  # saved: what the bot offers now
    page.screenshot(path=str(screenshot_path("admin-schedule.png")), full_page=True)

    booking = BookingService(stack.sessions(), ContactCipher(ContactCipher.generate_key()))
    assert booking.free_slots(SERVICE, date(2026, 12, 2), now=NOW) == []  # the closure
    assert starts(booking.free_slots(SERVICE, date(2026, 12, 9), now=NOW)) == [
        "12-09 09:00",
        "12-09 09:20",
        "12-09 09:40",
    ]

    # A staff account: the one-time password is shown once and is the account's password.
    page.goto(stack.base_url + "/admin/staff")
    page.locator("#account-rows tr").first.wait_for(timeout=10_000)
    page.fill('#account-form input[name="username"]', "xueji_browser")
    page.fill('#account-form input[name="display_name"]', "学籍科小孙")
    page.check('#account-form input[name="departments"][value="academic_affairs"]')
    page.check('#account-form input[name="editor_departments"][value="academic_affairs"]')
    page.click("#account-submit")
    page.locator("#password-box").wait_for(state="visible", timeout=10_000)
    password = page.locator("#new-password").inner_text().strip()
    assert len(password) >= accounts.MIN_PASSWORD_LENGTH
    page.locator("#account-rows tr", has_text="xueji_browser").wait_for(timeout=10_000)
    page.screenshot(path=str(screenshot_path("admin-staff.png")), full_page=True)
    with stack.sessions()() as session:
        user = session.scalars(select(accounts.StaffUser).where(accounts.StaffUser.username == "xueji_browser")).one()
        assert user.departments == ["academic_affairs"] and PasswordHasher().verify(user.password_hash, password)
    page.click("#password-done")
    assert page.locator("#new-password").inner_text() == ""
    assert complaints == []  # the pages' scripts are files under static/: the CSP refuses nothing

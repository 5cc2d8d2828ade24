"""Staff appointments pages as staff and admins see them: masked contacts, departments, marks, reveal, CSV."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from desk.admin import audit
from desk.deps import get_clock
from desk.main import create_app
from desk.settings import Settings
from desk.staff import accounts
from knowledge_base.booking import models as bm
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.types import BookingView
from knowledge_base.privacy import Contact, ContactCipher
from tests.knowledge_base.booking_helpers import NOW, at, student

KEY = ContactCipher.generate_key()


class Clock:
    """The pages' clock, set by each test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(at(1, 9))  # Tuesday 1 December 2026, 09:00 in Shanghai


@pytest.fixture
def desk(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    app = create_app(settings.updated(booking_key=KEY, reminder_poll_seconds=3600))
    app.dependency_overrides[get_clock] = lambda: clock
    with TestClient(app) as client:
        yield client


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        _, admin_pw = accounts.create_user(session, "admin", is_admin=True)
        _, psy_pw = accounts.create_user(session, "wang", display_name="王老师", departments=["mental_health"])
        _, card_pw = accounts.create_user(session, "li", display_name="李老师", departments=["campus_card"])
    return {"admin": admin_pw, "wang": psy_pw, "li": card_pw}


@pytest.fixture
def bookings(sessions) -> dict[str, BookingView]:  # type: ignore[no-untyped-def]
    service = BookingService(sessions, ContactCipher(KEY))
    return {
        "counseling": service.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW),
        "later": service.book(
            "counseling",
            at(4, 15),
            student_key="web:b",
            contact=Contact("欧阳娜娜", "2023123456", "13912345678"),
            now=NOW,
        ),
        "certificate": service.book("certificate_issuing", at(1, 10), student_key="tg:7", contact=student(3), now=NOW),
    }


def log_in(client: TestClient, username: str, password: str) -> None:
    form = client.get("/staff/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    resp = client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.history and resp.history[0].status_code == 303  # logged in, sent on to the console


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def rows(page: str) -> list[str]:
    """The codes of the table's rows, in order."""
    return re.findall(r'<tr class="[^"]*" data-code="([^"]+)"', page)


def status_of(sessions, code: str) -> str:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(bm.Booking.status).where(bm.Booking.code == code))


def test_staff_see_their_department_today_with_masked_contacts(desk: TestClient, people, bookings) -> None:  # type: ignore[no-untyped-def]
    log_in(desk, "wang", people["wang"])
    page = desk.get("/staff/appointments")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "2026年12月1日（周二）" in text and 'href="/staff/"' in text
    assert rows(text) == [bookings["counseling"].code]  # today only, and not the 社区 certificate
    assert "心理咨询" in text and "14:00-14:50" in text
    assert "张*" in text and "20******01" in text and "138****0001" in text
    assert "13800000001" not in text and "2023000001" not in text and "张三" not in text
    assert "在读证明" not in text and bookings["certificate"].code not in text
    assert "开始后可标记" in text  # 09:00: the 14:00 visit has not started
    assert "导出 CSV" not in text  # admins only


def test_week_view_and_navigation(desk: TestClient, people, bookings) -> None:  # type: ignore[no-untyped-def]
    log_in(desk, "wang", people["wang"])
    page = desk.get("/staff/appointments", params={"view": "week", "day": "2026-12-02"}).text
    assert "2026年11月30日（周一） 至 2026年12月6日（周日）" in page
    assert rows(page) == [bookings["counseling"].code, bookings["later"].code]
    assert "12月4日 周五 15:00-15:50" in page and "欧***" in page
    assert 'href="/staff/appointments?day=2026-11-25&amp;view=week"' in page  # 上一周
    assert 'href="/staff/appointments?day=2026-12-09&amp;view=week"' in page  # 下一周
    next_day = desk.get("/staff/appointments", params={"day": "2026-12-02"}).text
    assert rows(next_day) == [] and "这一天没有预约" in next_day
    assert 'href="/staff/appointments?day=2026-12-01&amp;view=day"' in next_day  # 今天 (the clock's day)


def test_a_bad_date_is_explained_and_today_is_shown(desk: TestClient, people, bookings) -> None:  # type: ignore[no-untyped-def]
    log_in(desk, "wang", people["wang"])
    page = desk.get("/staff/appointments", params={"day": "12/01/2026"})
    assert page.status_code == 400
    assert "日期格式不对" in page.text and rows(page.text) == [bookings["counseling"].code]


def test_other_departments_staff_neither_see_nor_change_it(desk: TestClient, people, bookings) -> None:  # type: ignore[no-untyped-def]
    code = bookings["counseling"].code
    log_in(desk, "li", people["li"])
    page = desk.get("/staff/appointments", params={"view": "week"}).text
    assert rows(page) == [] and code not in page
    assert desk.get("/staff/appointments", params={"department": "mental_health"}).status_code == 403
    assert desk.get("/staff/appointments", params={"department": "no_such_office"}).status_code == 404
    assert desk.get("/api/staff/appointments", params={"department": "mental_health"}).status_code == 403
    token = csrf(page)
    mark = desk.post(f"/staff/appointments/{code}/mark", data={"csrf_token": token, "status": "attended"})
    assert mark.status_code == 404
    reveal = desk.post(f"/staff/appointments/{code}/contact", data={"csrf_token": token})
    assert reveal.status_code == 404 and "13800000001" not in reveal.text
    assert desk.get("/staff/appointments.csv").status_code == 403


def test_marking_attended_and_no_show_needs_csrf_and_a_started_visit(  # type: ignore[no-untyped-def]
    desk: TestClient, people, bookings, sessions, clock: Clock
) -> None:
    code = bookings["counseling"].code
    log_in(desk, "wang", people["wang"])
    token = csrf(desk.get("/staff/appointments").text)
    early = desk.post(f"/staff/appointments/{code}/mark", data={"csrf_token": token, "status": "attended"})
    assert "预约还没开始" in early.text and status_of(sessions, code) == "booked"

    clock.now = at(1, 14, 10)
    form = {"status": "attended", "day": "2026-12-01", "view": "day"}
    assert desk.post(f"/staff/appointments/{code}/mark", data=form).status_code == 403  # no CSRF token
    assert desk.post(f"/staff/appointments/{code}/mark", data={**form, "csrf_token": "forged"}).status_code == 403
    assert status_of(sessions, code) == "booked"
    done = desk.post(f"/staff/appointments/{code}/mark", data={**form, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/staff/appointments?day=2026-12-01")
    page = desk.get(done.headers["location"]).text
    assert "已标记为“已到”" in page and '<span class="status attended">已到</span>' in page
    assert status_of(sessions, code) == "attended"

    changed = desk.post(f"/staff/appointments/{code}/mark", data={**form, "status": "no_show", "csrf_token": token})
    assert "已标记为“未到”" in changed.text and status_of(sessions, code) == "no_show"

    api_early = desk.post(
        f"/api/staff/appointments/{bookings['later'].code}/mark", json={"status": "attended"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert api_early.status_code == 409 and api_early.json()["detail"].startswith("预约还没开始")
    wrong = desk.post(f"/api/staff/appointments/{code}/mark", json={"status": "done"}, headers={"X-CSRF-Token": token})
    assert wrong.status_code == 400 and wrong.json()["detail"] == "status 只能是 attended 或 no_show"
    api = desk.post(
        f"/api/staff/appointments/{code}/mark", json={"status": "attended"}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 200 and api.json()["status_label"] == "已到" and api.json()["phone"] == "138****0001"
    assert desk.post(f"/api/staff/appointments/{code}/mark", json={"status": "attended"}).status_code == 403
    with sessions() as session:  # every mark in the audit, one row each (the refused ones none)
        marks = audit.query(session, audit.AuditFilter(action="booking.", entity_id=code))
        trail = [(e.actor, e.action, e.before, e.after) for e in reversed(marks)]
    assert trail == [
        ("wang", "booking.mark", {"status": "booked"}, {"status": "attended"}),
        ("wang", "booking.mark", {"status": "attended"}, {"status": "no_show"}),
        ("wang", "booking.mark", {"status": "no_show"}, {"status": "attended"}),
    ]


def test_reveal_shows_one_contact_and_is_audited_without_the_data(  # type: ignore[no-untyped-def]
    desk: TestClient, people, bookings, caplog: pytest.LogCaptureFixture
) -> None:
    code = bookings["later"].code
    log_in(desk, "wang", people["wang"])
    page = desk.get("/staff/appointments", params={"view": "week"}).text
    assert "13912345678" not in page and "显示联系方式" in page
    form = {"day": "2026-12-01", "view": "week"}
    assert desk.post(f"/staff/appointments/{code}/contact", data=form).status_code == 403
    with caplog.at_level(logging.INFO, logger="desk.access"):
        shown = desk.post(f"/staff/appointments/{code}/contact", data={**form, "csrf_token": csrf(page)})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert "欧阳娜娜" in shown.text and "2023123456" in shown.text and "13912345678" in shown.text
    assert "13800000001" not in shown.text and "138****0001" in shown.text  # the other row stays masked
    audit = [r.getMessage() for r in caplog.records if r.name == "desk.access"]
    assert audit == [f"staff user 2 (wang) viewed the contact of booking {code} (mental_health)"]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "13912345678" not in everything and "欧阳" not in everything and "2023123456" not in everything

    api = desk.post(f"/api/staff/appointments/{code}/contact", headers={"X-CSRF-Token": csrf(page)})
    assert api.json() == {"code": code, "name": "欧阳娜娜", "student_number": "2023123456", "phone": "13912345678"}


def test_admin_sees_every_department_and_exports_csv(  # type: ignore[no-untyped-def]
    desk: TestClient, people, bookings, caplog: pytest.LogCaptureFixture
) -> None:
    log_in(desk, "admin", people["admin"])
    page = desk.get("/staff/appointments").text
    assert rows(page) == [bookings["certificate"].code, bookings["counseling"].code]
    assert re.search(r'<option value="community"\s*>一站式学生社区服务中心</option>', page) and "导出 CSV" in page
    only = desk.get("/staff/appointments", params={"department": "community"}).text
    assert rows(only) == [bookings["certificate"].code]
    api = desk.get("/api/staff/appointments", params={"view": "week"}).json()
    assert [(a["department_id"], a["phone"]) for a in api["appointments"]] == [
        ("community", "138****0003"),
        ("mental_health", "138****0001"),
        ("mental_health", "139****5678"),
    ]

    resp = desk.get("/staff/appointments.csv", params={"from": "2026-12-01", "to": "2026-12-04"})
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in resp.headers["content-disposition"]
    assert resp.content.startswith("\ufeff".encode())  # Excel reads the UTF-8 text as such
    table = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["预约码", "服务", "日期"]
    assert [(r[0], r[1], r[2], r[9]) for r in table[1:]] == [
        (bookings["certificate"].code, "在读证明与成绩单开具", "2026-12-01", "138****0003"),
        (bookings["counseling"].code, "心理咨询", "2026-12-01", "138****0001"),
        (bookings["later"].code, "心理咨询", "2026-12-04", "139****5678"),
    ]
    one_day = desk.get("/staff/appointments.csv", params={"from": "2026-12-04", "to": "2026-12-04"})
    assert len(list(csv.reader(io.StringIO(one_day.content.decode("utf-8-sig"))))) == 2

    wanted = {"from": "2026-12-01", "to": "2026-12-01", "department": "mental_health", "contacts": "full"}
    by_link = desk.get("/staff/appointments.csv", params=wanted)  # full contacts never by a GET (a link, an <img>)
    assert by_link.status_code == 405 and "13800000001" not in by_link.text
    assert desk.post("/staff/appointments.csv", data=wanted).status_code == 403  # without the page's CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', desk.get("/staff/appointments").text).group(1)  # type: ignore[union-attr]
    with caplog.at_level(logging.INFO, logger="desk.access"):
        full = desk.post("/staff/appointments.csv", data={**wanted, "csrf_token": token})
    assert (
        full.status_code == 200
        and "13800000001" in full.text
        and "张三" in full.text
        and "13800000003" not in full.text
    )
    assert any("exported the full contacts of 1 bookings" in r.getMessage() for r in caplog.records)
    assert desk.get("/staff/appointments.csv", params={"from": "2026-12-05", "to": "2026-12-01"}).status_code == 400
    assert desk.get("/staff/appointments.csv", params={"from": "昨天"}).status_code == 400


def test_the_api_explains_a_bad_date(desk: TestClient, people, bookings) -> None:  # type: ignore[no-untyped-def]
    log_in(desk, "wang", people["wang"])
    bad = desk.get("/api/staff/appointments", params={"day": "12/01/2026"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("日期格式不对")
    listed = desk.get("/api/staff/appointments", params={"day": "2026-12-01", "view": "no_such_view"}).json()
    assert listed["view"] == "day" and [a["code"] for a in listed["appointments"]] == [bookings["counseling"].code]


def test_a_wrong_booking_key_is_explained_not_a_crash(settings: Settings, people, bookings) -> None:  # type: ignore[no-untyped-def]
    other_key = ContactCipher.generate_key()
    app = create_app(settings.model_copy(update={"booking_key": other_key, "reminder_poll_seconds": 3600}))
    with TestClient(app) as client:
        log_in(client, "wang", people["wang"])
        page = client.get("/staff/appointments")
        assert page.status_code == 500 and "预约密钥（HELPDESK_BOOKING_KEY）" in page.json()["detail"]


def test_pages_need_a_session(desk: TestClient) -> None:
    assert desk.get("/staff/appointments").status_code == 401
    assert desk.get("/api/staff/appointments").status_code == 401
    assert desk.get("/staff/appointments.csv").status_code == 401

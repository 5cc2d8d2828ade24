"""The plain table editors under /admin/db (sqladmin): admins only through the staff login, and every
change lands in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from desk.admin.models import EditorRole
from desk.main import create_app
from desk.settings import Settings
from knowledge_base.models import Department
from tests.desk.admin_helpers import Browser, make_people


@pytest.fixture
def as_(settings: Settings, sessions: sessionmaker) -> Iterator:  # type: ignore[type-arg]
    people = make_people(sessions)
    with TestClient(create_app(settings)) as client:
        yield lambda name: Browser(client, people[name] if name else None)


def test_only_admins_open_the_table_editors(as_) -> None:  # type: ignore[no-untyped-def]
    anon = as_(None).get("/admin/db/department/list", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"] == "/staff/login"
    assert as_("ed").get("/admin/db/department/list", follow_redirects=False).status_code == 403
    page = as_("boss").get("/admin/db/department/list")
    assert page.status_code == 200 and "心理" in page.text


def test_an_admin_moves_a_departments_hours_and_grants_an_editor_role(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    with sessions() as session:
        library = session.get(Department, "library")
        form = {"id": "library", "name": library.name, "aliases": '["图书馆"]', "location": library.location,
                "hours": "周一至周日 7:00-23:00", "phone": library.phone}  # fmt: skip
    saved = boss.post("/admin/db/department/edit/library", data=form, follow_redirects=False)
    assert saved.status_code in (302, 303), saved.text[:500]
    with sessions() as session:
        assert session.get(Department, "library").hours == "周一至周日 7:00-23:00"
    log = boss.get("/api/admin/audit", params={"entity_id": "library"}).json()
    assert log and log[0]["actor"] == "boss" and log[0]["after"]["hours"] == "周一至周日 7:00-23:00"
    with sessions() as session:
        from desk.staff.accounts import StaffUser

        clerk = session.query(StaffUser).filter_by(username="clerk").one()
    granted = boss.post(
        "/admin/db/editor-role/create",
        data={"staff_user": str(clerk.id), "departments": '["career"]'},
        follow_redirects=False,
    )
    assert granted.status_code in (302, 303), granted.text[:500]
    with sessions() as session:
        assert session.get(EditorRole, clerk.id).departments == ["career"]


def test_an_admin_enters_a_holiday_and_a_makeup_workday_for_booking_and_office_hours(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    from datetime import date, datetime

    from desk.handoff.office_hours import OfficeHours
    from knowledge_base.booking.availability import load_bookable
    from knowledge_base.booking.types import BookingPolicy
    from knowledge_base.calendar_days import CachedOverrides
    from knowledge_base.holidays import OfficeCalendar
    from knowledge_base.timeexpr import TZ

    boss = as_("boss")
    monday, saturday = date(2027, 1, 4), date(2027, 1, 9)  # a year chinese-calendar does not know yet
    hours = OfficeHours.parse("mon-fri: 08:30-11:30", OfficeCalendar(CachedOverrides(sessions, refresh_seconds=0)))
    assert hours.is_open(datetime(2027, 1, 4, 9, 0, tzinfo=TZ))
    assert not hours.is_open(datetime(2027, 1, 9, 9, 0, tzinfo=TZ))
    for day, workday, name in ((monday, "false", "校庆日"), (saturday, "true", "调休上班")):
        form = {"day": day.isoformat(), "name": name, **({"workday": "y"} if workday == "true" else {})}
        created = boss.post("/admin/db/calendar-day/create", data=form, follow_redirects=False)
        assert created.status_code in (302, 303), created.text[:300]
    assert not hours.is_open(datetime(2027, 1, 4, 9, 0, tzinfo=TZ))  # the desk is closed on the admin's holiday
    assert hours.is_open(datetime(2027, 1, 9, 9, 0, tzinfo=TZ))  # and open on the 调休 Saturday
    policy = BookingPolicy()
    with sessions() as session:
        _, schedule = load_bookable(session, "counseling", OfficeCalendar(), policy)
        closed = schedule.day_status(monday)
        assert (closed.closed_reason, closed.holiday) == ("holiday", "校庆日")
        times = [s.start.time() for s in schedule.slots_on(saturday)]
        assert times and times == [s.start.time() for s in schedule.slots_on(date(2027, 1, 11))]  # Monday's hours
    assert boss.get("/api/admin/audit", params={"action": "calendar-day.create"}).json()


def test_an_admin_changes_a_services_materials_and_the_card_shows_them(as_, sessions, kb) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    page = boss.get("/admin/db/service/edit/certificate_issuing")
    assert page.status_code == 200, page.text[:300]
    before = kb.service_card("certificate_issuing")
    with sessions() as session:
        from knowledge_base.models import Service

        svc = session.get(Service, "certificate_issuing")
        form = {"id": svc.id, "name": svc.name, "aliases": json.dumps(svc.aliases, ensure_ascii=False),
                "department": svc.department_id,
                "mode": svc.mode, "bookable": "y" if svc.bookable else "", "location": svc.location,
                "hours": svc.hours, "processing_time": "立等可取", "materials": '["学生证", "身份证"]',
                "notes": svc.notes, "duration_minutes": str(svc.duration_minutes or ""),
                "capacity_per_slot": str(svc.capacity_per_slot or "")}  # fmt: skip
    form = {k: v for k, v in form.items() if v != ""}
    saved = boss.post("/admin/db/service/edit/certificate_issuing", data=form, follow_redirects=False)
    assert saved.status_code in (302, 303), saved.text[:300]
    card = kb.service_card("certificate_issuing")
    assert card.materials == ["学生证", "身份证"] and card.processing_time == "立等可取"
    assert card.materials != before.materials
    assert kb.find_services("我要开在读证明") == ["certificate_issuing"]

"""The booking-schedule editor's API: permissions (admin; editor of the service's department), the weekly
grid, validation in Chinese per field, stale saves (409), bookings outside new hours (listed, confirmed,
never cancelled), the preview, the audit, and that a saved change is what the bot's booking offers next."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.admin.models import AuditEntry
from desk.deps import get_clock
from desk.main import create_app
from desk.settings import Settings
from knowledge_base.booking import models as bm
from knowledge_base.booking.service import BookingService
from knowledge_base.privacy import ContactCipher
from tests.desk.admin_helpers import Browser, Person, make_people
from tests.knowledge_base.booking_helpers import NOW, at, student

KEY = ContactCipher.generate_key()
URL = "/api/admin/services/{}/schedule"
WEEKDAYS_OFFICE = {d: "08:30-11:30, 14:00-17:30" for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def people(sessions: sessionmaker) -> dict[str, Person]:
    return make_people(sessions)


@pytest.fixture
def as_(settings: Settings, people: dict[str, Person]) -> Iterator:  # type: ignore[type-arg]
    app = create_app(settings.updated(booking_key=KEY, reminder_poll_seconds=3600))
    app.dependency_overrides[get_clock] = lambda: lambda: NOW  # Monday 30 November 2026, 09:00
    with TestClient(app) as client:
        yield lambda name: Browser(client, people[name] if name else None)


def form_of(doc: dict, **changes) -> dict:  # type: ignore[type-arg]
    keys = (
        "hours",
        "duration_minutes",
        "slot_minutes",
        "capacity_per_slot",
        "observe_holidays",
        "one_open_per_student",
    )
    out = {k: doc[k] for k in keys}
    out["staff"] = [{"id": p["id"], "name": p["name"], "hours": p["hours"]} for p in doc["staff"]]
    out["exceptions"] = [
        {k: e[k] for k in ("first_day", "last_day", "closed", "hours", "staff_id", "reason")} for e in doc["exceptions"]
    ]
    out["version"] = doc["version"]
    out.update(changes)
    return out


def starts(slots: list) -> list[str]:  # type: ignore[type-arg]
    return [
        datetime.fromisoformat(s["start"] if isinstance(s, dict) else s.start.isoformat()).strftime("%m-%d %H:%M")
        for s in slots
    ]


ENDPOINTS = [
    ("GET", "/api/admin/schedules", None),
    ("GET", URL.format("counseling"), None),
    (
        "POST",
        URL.format("counseling") + "/preview",
        {"hours": WEEKDAYS_OFFICE, "duration_minutes": 50, "capacity_per_slot": 1},
    ),
    (
        "PUT",
        URL.format("counseling"),
        {"hours": WEEKDAYS_OFFICE, "duration_minutes": 50, "capacity_per_slot": 1, "version": "x"},
    ),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_anonymous_gets_401_and_staff_without_rights_403(as_, method: str, url: str, body) -> None:  # type: ignore[no-untyped-def]
    assert as_(None).request(method, url, json=body).status_code == 401
    resp = as_("clerk").request(method, url, json=body)
    assert resp.status_code == 403 and resp.json()["detail"]


def test_an_editor_edits_only_the_services_of_their_department(as_) -> None:  # type: ignore[no-untyped-def]
    ed = as_("ed")
    assert [s["service_id"] for s in ed.get("/api/admin/schedules").json()] == ["financial_aid_consulting"]
    assert ed.get(URL.format("counseling")).status_code == 403
    doc = ed.get(URL.format("financial_aid_consulting")).json()
    saved = ed.put(URL.format("financial_aid_consulting"), json=form_of(doc, capacity_per_slot=2))
    assert saved.status_code == 200 and saved.json()["capacity_per_slot"] == 2
    boss_list = as_("boss").get("/api/admin/schedules").json()
    assert {"counseling", "career_consulting", "financial_aid_consulting"} <= {s["service_id"] for s in boss_list}
    assert as_("boss").get(URL.format("no_such_service")).status_code == 404
    assert as_("ed").get("/admin/services/financial_aid_consulting/schedule").status_code == 200
    assert as_("clerk").get("/admin/schedules").status_code == 403


def test_the_weekly_grid_staff_and_the_slots_the_bot_offers_now(as_) -> None:  # type: ignore[no-untyped-def]
    doc = as_("boss").get(URL.format("counseling")).json()
    assert doc["hours"]["mon"] == "08:30-11:30, 14:00-17:30"
    assert doc["hours"]["tue"] == "08:30-11:30, 14:00-17:30, 18:30-21:00"
    assert doc["hours"]["sat"] == ""
    assert [p["name"] for p in doc["staff"]] == ["王老师", "李老师", "陈老师"]
    assert doc["staff"][0]["hours"]["mon"] == "08:30-11:30, 14:00-17:30" and doc["staff"][0]["hours"]["tue"] == ""
    assert doc["slot_minutes"] == 60 and doc["one_open_per_student"] is True
    assert starts(doc["next_slots"])[0] == "11-30 09:30"  # now is Monday 09:00; 30 minutes' notice


def test_a_saved_change_is_what_the_booking_offers_next_and_is_audited(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    doc = boss.get(URL.format("employment_paperwork")).json()
    hours = {**{d: "" for d in doc["hours"]}, "mon": "15:00-16:00", "tue": "09:00-09:30", "sat": "10:00-10:30"}
    form = form_of(
        doc,
        hours=hours,
        observe_holidays=False,
        exceptions=[{"first_day": "2026-12-01", "closed": True, "reason": "教师培训"}],
    )
    saved = boss.put(URL.format("employment_paperwork"), json=form)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] != doc["version"]
    assert starts(saved.json()["next_slots"])[:3] == ["11-30 15:00", "11-30 15:15", "11-30 15:30"]
    booking = BookingService(sessions, ContactCipher(KEY))
    assert starts(booking.free_slots("employment_paperwork", date(2026, 11, 30), now=NOW)) == [
        "11-30 15:00", "11-30 15:15", "11-30 15:30", "11-30 15:45",
    ]  # fmt: skip
    assert booking.free_slots("employment_paperwork", date(2026, 12, 1), now=NOW) == []  # the closure
    assert starts(booking.free_slots("employment_paperwork", date(2026, 12, 5), now=NOW)) == [
        "12-05 10:00",
        "12-05 10:15",
    ]
    search = booking.find_slots("employment_paperwork", at(1, 9), "day", now=NOW)
    assert search.reason == "closed"  # what the bot says for that day, offering the nearest new slots
    assert starts(search.options) == ["11-30 15:15", "11-30 15:30", "11-30 15:45"]
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "schedule.update")).one()
    assert entry.actor == "boss" and entry.entity_id == "employment_paperwork"
    assert entry.before["hours"]["mon"] == "08:30-11:30, 14:00-17:30" and entry.after["hours"]["mon"] == "15:00-16:00"
    assert entry.after["exceptions"][0]["reason"] == "教师培训"


def test_problems_are_listed_per_field_in_chinese_and_nothing_is_saved(as_) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    doc = boss.get(URL.format("counseling")).json()
    bad = form_of(
        doc,
        hours={**doc["hours"], "mon": "8:30-25:00", "wed": "上午九点", "xyz": "09:00-10:00"},
        slot_minutes=30,
        staff=[
            {"id": "counselor_wang", "name": "", "hours": None},
            {"name": "新老师", "hours": {"mon": "17:00-16:00"}},
        ],
        exceptions=[
            {"first_day": "2026-12-10", "last_day": "2026-12-09", "closed": True},
            {"first_day": "2026-12-11", "closed": False, "hours": ""},
            {"first_day": "2026-12-12", "closed": True, "staff_id": "counselor_li"},
        ],
    )
    resp = boss.put(URL.format("counseling"), json=bad)
    assert resp.status_code == 400
    errors = {e["field"]: e["message"] for e in resp.json()["errors"]}
    assert errors == {
        "hours.mon": "「8:30-25:00」不是有效的时间",
        "hours.wed": "「上午九点」看不懂：请写成 08:30-11:30, 14:00-17:30 这样的时间段",
        "hours.xyz": "不认识的星期「xyz」（用 mon…sun）",
        "slot_minutes": "号源间隔不能短于每次时长",
        "staff.0.name": "请填写工作人员姓名",
        "staff.1.hours.mon": "「17:00-16:00」结束时间不晚于开始时间",
        "exceptions.0.last_day": "结束日期早于开始日期",
        "exceptions.1.hours": "请填写当天的时间段，或选择「关闭」",
        "exceptions.2.staff_id": "这位工作人员不在名单里（已删除？）",
    }
    assert "9 处" in resp.json()["detail"]
    preview = boss.post(URL.format("counseling") + "/preview", json={k: v for k, v in bad.items() if k != "version"})
    assert len(preview.json()["errors"]) == 9
    assert boss.get(URL.format("counseling")).json()["version"] == doc["version"]  # nothing saved
    empty = boss.put(
        URL.format("employment_paperwork"), json=form_of(boss.get(URL.format("employment_paperwork")).json(), hours={})
    )
    assert empty.json()["errors"] == [
        {"field": "hours", "message": "请至少填写一天的开放时间（或为每位工作人员填写各自的时间）"}
    ]
    zero = boss.put(URL.format("counseling"), json={**form_of(doc), "capacity_per_slot": 0, "duration_minutes": None})
    assert zero.json()["errors"] == [
        {"field": "duration_minutes", "message": "请填写每次时长"},
        {"field": "capacity_per_slot", "message": "可约人数要在 1 到 1000 之间"},
    ]


def test_a_stale_save_is_refused_with_who_saved_and_nothing_is_overwritten(as_) -> None:  # type: ignore[no-untyped-def]
    boss, ed_doc = as_("boss"), as_("boss").get(URL.format("career_consulting")).json()
    first = boss.put(URL.format("career_consulting"), json=form_of(ed_doc, capacity_per_slot=3))
    assert first.status_code == 200
    stale = boss.put(URL.format("career_consulting"), json=form_of(ed_doc, capacity_per_slot=5))
    assert stale.status_code == 409 and stale.json()["reason"] == "stale"
    assert "已被boss" in stale.json()["detail"] and "重新加载" in stale.json()["detail"]
    assert boss.get(URL.format("career_consulting")).json()["capacity_per_slot"] == 3


def test_staff_are_added_renamed_and_removed(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    doc = boss.get(URL.format("academic_tutoring")).json()
    staff = [
        {"id": "tutor_zhou", "name": "周明老师", "hours": None},
        {"name": "郑老师", "hours": {"sat": "09:00-11:00"}},
    ]
    saved = boss.put(URL.format("academic_tutoring"), json=form_of(doc, staff=staff))
    assert saved.status_code == 200, saved.text
    people = saved.json()["staff"]
    assert [(p["id"], p["name"]) for p in people] == [("tutor_zhou", "周明老师"), ("academic_tutoring_1", "郑老师")]
    assert people[0]["hours"] is None and people[1]["hours"]["sat"] == "09:00-11:00" and people[1]["hours"]["tue"] == ""
    booking = BookingService(sessions, ContactCipher(KEY))
    tuesday = booking.free_slots("academic_tutoring", date(2026, 12, 1), now=NOW)
    assert tuesday and {s.staff for s in tuesday} == {("周明老师",)}  # 吴老师 removed; 周 now on the service's hours
    saturday = booking.free_slots("academic_tutoring", date(2026, 12, 5), now=NOW)
    assert saturday == []  # the service observes holidays and weekends: the staff's own Saturday is not open


def test_bookings_outside_new_hours_are_listed_confirmed_and_kept(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    booking = BookingService(sessions, ContactCipher(KEY)).book(
        "counseling", at(2, 14), student_key="web:a", contact=student(1), now=NOW
    )
    boss = as_("boss")
    doc = boss.get(URL.format("counseling")).json()
    closure = [{"first_day": "2026-12-02", "closed": True, "reason": "中心团体辅导"}]
    preview = boss.post(
        URL.format("counseling") + "/preview",
        json={k: v for k, v in form_of(doc, exceptions=closure).items() if k != "version"},
    )
    assert [a["code"] for a in preview.json()["affected"]] == [booking.code]
    refused = boss.put(URL.format("counseling"), json=form_of(doc, exceptions=closure))
    assert refused.status_code == 409 and refused.json()["reason"] == "affected_bookings"
    affected = refused.json()["affected"]
    assert [(a["code"], a["reason"]) for a in affected] == [(booking.code, "当天不开放")]
    assert "不会被取消" in refused.json()["detail"]
    saved = boss.put(
        URL.format("counseling"), json=form_of(doc, exceptions=closure, confirm_affected=[affected[0]["id"]])
    )
    assert saved.status_code == 200
    with sessions() as session:
        kept = session.scalars(select(bm.Booking).where(bm.Booking.code == booking.code)).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "schedule.update")).one()
    assert kept.status == bm.BOOKED
    assert entry.after["affected_bookings"] == [affected[0]["id"]]

"""Slots derived from the catalog: weekly hours, staff rosters, exceptions and the holiday calendar."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import pytest
import yaml
from sqlalchemy.orm import sessionmaker

from knowledge_base import repository
from knowledge_base.booking import schedule_store
from knowledge_base.booking.schedule import (
    DayException,
    ScheduleSpecError,
    ServiceSchedule,
    StaffSchedule,
    parse_days,
    parse_ranges,
    parse_weekly,
)
from knowledge_base.booking.service import BookingService
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.kbfile import KbValidationError, parse_kb
from knowledge_base.models import Department, Service
from tests.knowledge_base.booking_helpers import NOW, at

BOOKABLE = {
    "counseling",
    "career_consulting",
    "employment_paperwork",
    "academic_tutoring",
    "enrollment_status",
    "financial_aid_consulting",
    "certificate_issuing",
    "insurance_claim",
}


def starts(slots) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{s.start:%H:%M}" for s in slots]


def seeded(sessions: sessionmaker, service_id: str) -> ServiceSchedule:
    with sessions() as session:
        service = session.get(Service, service_id)
        assert service is not None
        found = schedule_store.load_schedule(session, service)
    assert found is not None
    return found


def test_counselling_offers_evening_sessions_on_tuesday_and_thursday_only(booking: BookingService) -> None:
    tuesday = booking.free_slots("counseling", date(2026, 12, 1), now=NOW)
    monday = booking.free_slots("counseling", date(2026, 12, 7), now=NOW)
    assert starts(tuesday) == ["08:30", "09:30", "10:30", "14:00", "15:00", "16:00", "18:30", "19:30"]
    assert starts(monday) == ["08:30", "09:30", "10:30", "14:00", "15:00", "16:00"]
    # seats follow the roster: one counsellor on Tuesday morning, two in the afternoon and evening
    assert [(s.seats_left, s.staff) for s in tuesday[:1]] == [(1, ("李老师",))]
    assert [(s.seats_left, s.staff) for s in tuesday[-1:]] == [(2, ("李老师", "陈老师"))]
    assert all(s.end - s.start == timedelta(minutes=50) for s in tuesday)


def test_every_bookable_service_has_a_schedule_matching_its_department_hours(sessions: sessionmaker) -> None:
    with sessions() as session:
        services = [s for s in session.query(Service).all() if s.bookable]
        assert {s.id for s in services} == BOOKABLE
        for service in services:
            exported = schedule_store.export_schedule(session, service.id)
            assert exported is not None, service.id
            department = session.get(Department, service.department_id)
            assert department is not None
            for ranges in exported["hours"].values():
                for text in ranges:
                    shown = re.sub(r"\b0(\d):", r"\1:", text)  # 08:30-11:30 is written 8:30-11:30
                    assert shown in department.hours, (service.id, shown, department.hours)


def test_public_holiday_closes_and_make_up_workday_opens_with_monday_hours(sessions: sessionmaker) -> None:
    counseling = seeded(sessions, "counseling")
    national_day = counseling.day_status(date(2026, 10, 1))
    assert (national_day.closed_reason, national_day.holiday) == ("holiday", "国庆节")
    assert counseling.slots_on(date(2026, 10, 5)) == []
    plain_saturday = counseling.day_status(date(2026, 10, 17))
    assert (plain_saturday.closed_reason, plain_saturday.holiday) == ("closed", None)
    makeup_saturday = counseling.slots_on(date(2026, 10, 10))  # 调休上班
    a_monday = counseling.slots_on(date(2026, 10, 12))
    assert starts(makeup_saturday) == starts(a_monday) == ["08:30", "09:30", "10:30", "14:00", "15:00", "16:00"]
    assert makeup_saturday[0].resources == ("counselor_wang",)


def test_holiday_calendar_knows_2026_and_falls_back_for_unknown_years(caplog: pytest.LogCaptureFixture) -> None:
    calendar = OfficeCalendar()
    assert calendar.day_kind(date(2026, 2, 17)).holiday_name == "春节"
    assert calendar.day_kind(date(2026, 9, 20)).makeup_workday  # a Sunday worked before National Day
    assert calendar.day_kind(date(2026, 12, 1)).workday
    with caplog.at_level(logging.WARNING, logger="knowledge_base.holidays"):
        new_year = calendar.day_kind(date(2099, 1, 1))
        calendar.day_kind(date(2099, 1, 3))
    assert (new_year.workday, new_year.holiday_name, new_year.known) == (False, "元旦", False)
    assert calendar.day_kind(date(2099, 1, 5)).workday  # a Monday
    assert not calendar.day_kind(date(2099, 1, 3)).workday  # a Saturday
    assert sum("no data for 2099" in r.message for r in caplog.records) == 1


def roster(*exceptions: DayException) -> ServiceSchedule:
    return ServiceSchedule(
        service_id="x",
        duration_minutes=30,
        capacity_per_slot=2,
        weekly=parse_weekly({"mon-fri": "09:00-10:00"}),
        staff=(StaffSchedule("a", "甲老师"), StaffSchedule("b", "乙老师")),
        exceptions=exceptions,
    )


def test_exceptions_close_days_change_hours_and_take_staff_off_duty() -> None:
    schedule = roster(
        DayException(date(2026, 12, 2), date(2026, 12, 2), closed=True, reason="培训"),
        DayException(date(2026, 12, 3), date(2026, 12, 3), closed=True, staff_id="b", reason="请假"),
        DayException(date(2026, 12, 5), date(2026, 12, 5), closed=False, ranges=parse_ranges("14:00-15:00")),
        DayException(date(2026, 12, 7), date(2026, 12, 9), closed=True),
    )
    normal = schedule.slots_on(date(2026, 12, 1))
    assert starts(normal) == ["09:00", "09:30"] and normal[0].capacity == 4
    assert schedule.slots_on(date(2026, 12, 2)) == []
    assert schedule.day_status(date(2026, 12, 2)).closed_reason == "closed"
    on_leave = schedule.slots_on(date(2026, 12, 3))
    assert on_leave[0].resources == ("a",) and on_leave[0].capacity == 2
    special_saturday = schedule.slots_on(date(2026, 12, 5))
    assert starts(special_saturday) == ["14:00", "14:30"]
    assert [schedule.slots_on(date(2026, 12, d)) for d in (7, 8, 9)] == [[], [], []]
    assert starts(schedule.slots_on(date(2026, 12, 10))) == ["09:00", "09:30"]


def test_a_slot_never_runs_past_closing_time() -> None:
    schedule = ServiceSchedule("y", 50, 1, parse_weekly({"daily": "14:00-17:30"}), step_minutes=60)
    assert starts(schedule.slots_on(date(2026, 12, 1))) == ["14:00", "15:00", "16:00"]
    assert schedule.slot_at(at(1, 17, 0)) is None
    assert schedule.slot_at(at(1, 15, 0)) is not None


def test_days_and_hours_texts() -> None:
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("tue,thu") == frozenset({1, 3})
    assert parse_days("weekends") == frozenset({5, 6})
    assert [str(r) for r in parse_ranges("8:30-11:30、14:00-17:30")] == ["08:30-11:30", "14:00-17:30"]
    assert [str(r) for r in parse_ranges(["09:00-10:00", "09:30-11:00"])] == ["09:00-11:00"]
    for bad_days in ("fri-mon", "mon-fry", ""):
        with pytest.raises(ScheduleSpecError):
            parse_days(bad_days)
    for bad_hours in ("9:00-8:00", "25:00-26:00", "9-10", "morning"):
        with pytest.raises(ScheduleSpecError):
            parse_ranges(bad_hours)


KB_WITH_SCHEDULE = """
departments:
  - {id: dep_a, name: 甲部门}
services:
  - id: svc_a
    name: 甲服务
    department: dep_a
    duration_minutes: 30
    capacity_per_slot: 1
    schedule:
      hours: {mon-fri: "9:00-11:00"}
      staff:
        - {id: teacher_a, name: 甲老师}
      exceptions:
        - {date: 2026-12-02, closed: true, reason: 培训}
        - {date: 2026-12-03, staff: teacher_a, hours: "9:00-10:00"}
  - {id: svc_b, name: 乙服务, department: dep_a, bookable: false}
"""


def test_schedule_problems_are_reported_with_entry_and_field() -> None:
    broken = (
        KB_WITH_SCHEDULE.replace("staff: teacher_a,", "staff: nobody,")
        .replace('hours: {mon-fri: "9:00-11:00"}', 'hours: {mon-fry: "9:00-11:00"}')
        .replace("bookable: false}", "bookable: false, schedule: {hours: {mon: '9:00-10:00'}}}")
    )
    with pytest.raises(KbValidationError) as err:
        parse_kb(broken, file="kb.yml")
    found = {(i.entry, i.field): i.message for i in err.value.issues}
    assert "unknown day 'mon-fry'" in found[("services[0] id=svc_a", "schedule.hours")]
    # reference checks run once the shapes are valid
    fixed = broken.replace("mon-fry", "mon-fri")
    with pytest.raises(KbValidationError) as err:
        parse_kb(fixed, file="kb.yml")
    found = {(i.entry, i.field): i.message for i in err.value.issues}
    assert found[("services[0] id=svc_a", "schedule.exceptions.1.staff")] == "unknown staff 'nobody'"
    assert found[("services[1] id=svc_b", "schedule")] == "only a bookable service has a schedule"


def test_schedules_import_export_and_update(sessions: sessionmaker) -> None:
    kb = parse_kb(KB_WITH_SCHEDULE)
    with sessions() as session, session.begin():
        repository.import_kb(session, kb)
    with sessions() as session:
        exported = repository.export_kb(session)
    entry = next(s for s in exported["services"] if s["id"] == "svc_a")
    assert entry["schedule"] == {
        "hours": {"mon-fri": ["09:00-11:00"]},
        "staff": [{"id": "teacher_a", "name": "甲老师"}],
        "exceptions": [
            {"date": date(2026, 12, 2), "closed": True, "reason": "培训"},
            {"date": date(2026, 12, 3), "hours": ["09:00-10:00"], "staff": "teacher_a"},
        ],
    }
    again = parse_kb(yaml.safe_dump(exported, allow_unicode=True))
    with sessions() as session, session.begin():
        assert repository.import_kb(session, again).updated["services"] == 0
    longer = parse_kb(KB_WITH_SCHEDULE.replace("9:00-11:00", "9:00-12:00"))
    with sessions() as session, session.begin():
        assert repository.import_kb(session, longer).updated["services"] == 1
    assert starts(seeded(sessions, "svc_a").slots_on(date(2026, 12, 1)))[-1] == "11:30"


def test_staff_can_close_a_day_or_take_a_counsellor_off(sessions: sessionmaker, booking: BookingService) -> None:
    with sessions() as session, session.begin():
        schedule_store.add_exception(session, "counseling", date(2026, 12, 1), staff_id="counselor_chen", reason="请假")
        schedule_store.add_exception(
            session, "counseling", date(2026, 12, 2), last_day=date(2026, 12, 3), reason="全员培训"
        )
        schedule_store.add_exception(session, "certificate_issuing", date(2026, 12, 4), hours="9:00-9:30")
    tuesday = booking.free_slots("counseling", date(2026, 12, 1), now=NOW)
    assert {(s.seats_left, s.staff) for s in tuesday} == {(1, ("李老师",))}
    assert booking.free_slots("counseling", date(2026, 12, 3), now=NOW) == []
    assert booking.find_slots("counseling", at(2, 14), "part_of_day", now=NOW).reason == "closed"
    assert starts(booking.free_slots("certificate_issuing", date(2026, 12, 4), now=NOW)) == ["09:00", "09:10", "09:20"]
    with sessions() as session:
        exported = schedule_store.export_schedule(session, "counseling")
    assert exported is not None
    assert {"date": date(2026, 12, 2), "until": date(2026, 12, 3), "closed": True, "reason": "全员培训"} in exported[
        "exceptions"
    ]

"""Each department's own office hours for the handoff desk (departments.office_hours, empty = the global
HELPDESK_HANDOFF_HOURS): the open/closed decision, the notices, the close-of-day sweep and transfers, on a
frozen clock; the admin's form check; what students read as the department's hours; the KB file."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from desk.handoff.department_hours import DepartmentHours
from desk.handoff.office_hours import OfficeHours
from desk.main import create_app
from knowledge_base import repository
from knowledge_base.kbfile import KbFileIn
from knowledge_base.models import Department
from knowledge_base.office_hours import check_hours, hours_for_students
from tests.desk.admin_helpers import Browser, make_people
from tests.desk.handoff_helpers import MONDAY_10AM, Clock, Desk, handoff_packet


def set_office_hours(sessions: sessionmaker, department_id: str, spec: str) -> None:
    with sessions() as session, session.begin():
        session.get(Department, department_id).office_hours = spec


def fresh(desk: Desk) -> Desk:
    """No cache between the test's writes and the desk's reads (the desk re-reads every 5 s)."""
    desk.handoffs.department_hours.specs.refresh_seconds = 0
    return desk


def test_a_department_has_its_own_hours_or_the_global_ones(sessions: sessionmaker) -> None:
    default = OfficeHours.parse("mon-fri: 08:30-11:30, 14:00-17:30")
    hours = DepartmentHours(sessions, default, refresh_seconds=0)
    set_office_hours(sessions, "campus_card", "mon-fri: 14:00-17:00")
    assert hours.of("mental_health").is_open(MONDAY_10AM)  # no hours of its own: the global ones
    assert not hours.of("campus_card").is_open(MONDAY_10AM)
    assert hours.of("campus_card").is_open(MONDAY_10AM.replace(hour=15))
    assert hours.of(None) is default and hours.of("no_such_office") is default
    set_office_hours(sessions, "campus_card", "mon: 10:00-10:30")  # saved around the form's check: fixed at once
    assert hours.of("campus_card").is_open(MONDAY_10AM)
    set_office_hours(sessions, "campus_card", "someday: 08:00-09:00")  # unreadable: the global hours, logged
    assert hours.of("campus_card") is default


def test_the_departments_hours_are_cached_for_a_few_seconds(sessions: sessionmaker) -> None:
    hours = DepartmentHours(sessions, OfficeHours.parse("mon-fri: 08:30-11:30"), refresh_seconds=3600)
    assert hours.of("campus_card").is_open(MONDAY_10AM)
    set_office_hours(sessions, "campus_card", "sat: 09:00-12:00")
    assert hours.of("campus_card").is_open(MONDAY_10AM)  # read again only when the cache is older than that


def test_office_hours_are_checked_with_a_chinese_message() -> None:
    assert check_hours("") is None and check_hours("mon-fri: 08:30-11:30; sat: 09:00-12:00") is None
    for bad in ["mon-fri 08:30-11:30", "someday: 08:30-11:30", "mon: 17:00-08:00"]:
        problem = check_hours(bad)
        assert problem is not None and problem.startswith("人工服务时间格式不对"), bad


def test_students_read_the_display_hours_or_else_the_office_hours() -> None:
    assert hours_for_students("周一至周五 8:00-17:00", "mon-fri: 08:30-11:30") == "周一至周五 8:00-17:00"
    assert hours_for_students("", "mon-fri: 08:30-11:30; sat: 09:00-12:00") == (
        "周一至周五 8:30-11:30；周六 9:00-12:00，法定节假日除外"
    )
    assert hours_for_students("", "") == "" and hours_for_students("", "someday: 1") == ""


async def test_a_department_closed_now_takes_a_message_while_others_queue(sessions: sessionmaker) -> None:
    set_office_hours(sessions, "mental_health", "mon-fri: 14:00-17:30; sat: 09:00-12:00")
    desk = fresh(Desk(sessions, Clock(MONDAY_10AM)))  # Monday 10:00: the global hours say open
    replies = await desk.say("转人工")
    assert desk.ticket().status == "message" and desk.conversation().state == "bot"
    notice = replies[-1]["text"]
    assert "现在是非工作时间（人工服务时间：周一至周五 14:00-17:30；周六 9:00-12:00，法定节假日除外）" in notice
    assert "老师预计今天 14:00后回复" in notice
    assert replies[-1]["buttons"][0]["title"] == "预约到现场办理"

    desk.rasa.packet = handoff_packet("campus_card")  # an office on the global hours: the queue
    replies = await desk.say("转人工", conv="web:card")
    assert desk.ticket("web:card").status == "queued" and "你是下一位" in replies[-1]["text"]

    desk.rasa.packet = handoff_packet("mental_health", reason="crisis", priority="urgent")  # urgent: always queued
    await desk.say("转人工", conv="web:urgent")
    assert desk.ticket("web:urgent").status == "queued"

    desk.clock.at = MONDAY_10AM.replace(hour=14, minute=5)  # the office opened: the message joins the queue
    desk.rasa.packet = handoff_packet("mental_health")
    await desk.say("转人工")
    assert desk.ticket().status == "queued"


async def test_each_office_closes_on_its_own_hours(sessions: sessionmaker, staff) -> None:  # type: ignore[no-untyped-def]
    desk = fresh(Desk(sessions, Clock(MONDAY_10AM)))
    await desk.say("转人工")  # 心理中心, on the global hours (until 11:30)
    desk.rasa.packet = handoff_packet("campus_card")
    await desk.say("转人工", conv="web:card")
    set_office_hours(sessions, "campus_card", "mon-fri: 08:00-10:15, 15:00-17:00")
    desk.clock.at = MONDAY_10AM.replace(minute=20)
    await desk.handoffs.sweep()
    assert desk.ticket().status == "queued"  # its office is still open
    assert desk.ticket("web:card").status == "message"
    assert "老师预计今天 15:00后回复" in desk.messages("web:card")[-1].text

    moved = await desk.handoffs.transfer(staff["wang"], desk.ticket().id, "campus_card", "")  # to a closed office
    assert moved["status"] == "message"
    assert "现在是非工作时间，老师预计今天 15:00后回复" in desk.messages()[-1].text


def test_the_kb_file_carries_a_departments_office_hours(sessions: sessionmaker) -> None:
    set_office_hours(sessions, "campus_card", "mon-fri: 09:00-11:00")
    with sessions() as session:
        exported = repository.export_kb(session)
    card = next(d for d in exported["departments"] if d["id"] == "campus_card")
    assert card["office_hours"] == "mon-fri: 09:00-11:00"
    card["office_hours"] = "sat: 09:00-12:00"
    without = next(d for d in exported["departments"] if d["id"] == "mental_health")
    del without["office_hours"]  # an older file: the office keeps its hours
    set_office_hours(sessions, "mental_health", "sun: 09:00-10:00")
    with sessions() as session, session.begin():
        repository.import_kb(session, KbFileIn.model_validate(exported))
    with sessions() as session:
        assert session.get(Department, "campus_card").office_hours == "sat: 09:00-12:00"
        assert session.get(Department, "mental_health").office_hours == "sun: 09:00-10:00"
    card["office_hours"] = "mon-fri 9-11"
    with pytest.raises(ValueError, match="人工服务时间格式不对"):
        KbFileIn.model_validate(exported)


def test_a_service_card_shows_the_office_hours_when_no_hours_text_is_given(kb, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    from knowledge_base.models import Service

    with sessions() as session, session.begin():
        card = session.get(Department, "campus_card")
        card.hours, card.office_hours = "", "mon-fri: 08:30-11:30, 14:00-17:00"
        session.get(Service, "campus_card_replacement").hours = ""
    assert kb.service_card("campus_card_replacement").hours == "周一至周五 8:30-11:30、14:00-17:00，法定节假日除外"


@pytest.fixture
def as_(settings, sessions: sessionmaker) -> Iterator:  # type: ignore[no-untyped-def, type-arg]
    people = make_people(sessions)
    with TestClient(create_app(settings)) as client:
        yield lambda name: Browser(client, people[name] if name else None)


def department_form(sessions: sessionmaker, department_id: str, **changes: str) -> dict[str, str]:
    with sessions() as session:
        d = session.get(Department, department_id)
        form = {"id": d.id, "name": d.name, "aliases": json.dumps(d.aliases, ensure_ascii=False),
                "location": d.location, "hours": d.hours, "phone": d.phone, "office_hours": d.office_hours}  # fmt: skip
    return {**form, **changes}


def test_an_admin_sets_office_hours_on_the_form_and_bad_ones_are_refused(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    bad = boss.post(
        "/admin/db/department/edit/campus_card",
        data=department_form(sessions, "campus_card", office_hours="周一到周五 9点-11点"),
        follow_redirects=False,
    )
    assert bad.status_code == 400 and "人工服务时间格式不对" in bad.text  # on the form, not a 500
    with sessions() as session:
        assert session.get(Department, "campus_card").office_hours == ""  # nothing saved

    good = department_form(sessions, "campus_card", office_hours="mon-fri: 09:00-11:00; sat: 09:00-12:00")
    saved = boss.post("/admin/db/department/edit/campus_card", data=good, follow_redirects=False)
    assert saved.status_code in (302, 303), saved.text[:300]
    with sessions() as session:
        assert session.get(Department, "campus_card").office_hours == "mon-fri: 09:00-11:00; sat: 09:00-12:00"
    log = boss.get("/api/admin/audit", params={"entity_id": "campus_card"}).json()
    assert log[0]["actor"] == "boss" and log[0]["after"]["office_hours"].startswith("mon-fri: 09:00")
    assert log[0]["before"]["office_hours"] == ""  # before and after, so the change can be read

    new = {"id": "graduate_school", "name": "研究生院", "aliases": "[]", "location": "行政楼301",
           "hours": "", "phone": "", "office_hours": "mon-fri: 08:00-12:00"}  # fmt: skip
    created = boss.post("/admin/db/department/create", data=new, follow_redirects=False)
    assert created.status_code in (302, 303), created.text[:300]
    with sessions() as session:
        assert session.get(Department, "graduate_school").name == "研究生院"

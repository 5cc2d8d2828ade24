"""The booking dialogue follows the schedule editor at once: an admin closes 心理咨询 for today in the
editor (desk/admin/schedule_editor.py, what PUT /api/admin/services/{id}/schedule runs), and the same
student's next 我想预约心理咨询 is offered tomorrow's first slot; nothing is restarted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import sessionmaker

from desk.admin import schedule_editor
from desk.admin.roles import Editor
from desk.admin.schedule_schemas import ScheduleSave
from desk.staff.accounts import CurrentUser
from knowledge_base.booking.types import BookingPolicy
from knowledge_base.timeexpr import TZ
from tests.actions.test_booking_dialogue import COUNSELING, Chat, booking_env, titles

__all__ = ["booking_env"]  # the dialogue tests' clock (Tuesday 1 December 2026, 10:00) and booking key
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
ADMIN = Editor(CurrentUser(1, "boss", "管理员", True, ()), frozenset())


def close_today(sessions: sessionmaker) -> None:
    with sessions() as session, session.begin():
        doc = schedule_editor.load(session, ADMIN, "counseling", BookingPolicy(), NOW).model_dump(mode="json")
        closure = {"first_day": "2026-12-01", "closed": True, "hours": "", "staff_id": None, "reason": "中心培训"}
        form = {k: v for k, v in doc.items() if k not in ("service_id", "service_name", "department", "next_slots")}
        schedule_editor.save(
            session, ADMIN, "counseling", ScheduleSave(**{**form, "exceptions": [closure]}), BookingPolicy(), NOW
        )


async def test_the_dialogue_offers_the_hours_an_admin_just_saved(sessions: sessionmaker) -> None:
    [before] = await Chat().say("我想预约心理咨询", "book_appointment", COUNSELING)
    assert titles(before)[0] == "12月1日（周二）10:30"
    close_today(sessions)
    [after] = await Chat("web:bob").say("我想预约心理咨询", "book_appointment", COUNSELING)
    assert after["response"] == "utter_booking_ask_time"
    assert titles(after)[0] == "12月2日（周三）08:30"

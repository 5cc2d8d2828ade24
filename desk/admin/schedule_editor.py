"""The booking-schedule editor: load, preview and save a bookable service's schedule, capacity and staff.

Who: admins, and the editors of the service's department (the FAQ editor's roles, desk/admin/roles.py).
A save carries the `version` the editor loaded (a hash of the schedule as stored); when someone saved in
between it is refused (409) and nothing is overwritten. Existing bookings are never cancelled by an edit:
the open bookings the new hours no longer cover are listed, and the save goes through only when the
admin confirms them (their ids in `confirm_affected`); the office then calls those students. The bot
reads schedules from the database on every request, so a saved change is live at once.

Callers own the transaction (desk/admin/access.run).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.admin import audit
from desk.admin.errors import Forbidden, NotFoundError
from desk.admin.models import AuditEntry
from desk.admin.roles import Editor
from desk.admin.schedule_form import check_form, grid_of
from desk.admin.schedule_schemas import (
    AffectedBooking,
    ExceptionOut,
    FieldError,
    PreviewOut,
    ScheduleFields,
    ScheduleOut,
    ScheduleSave,
    ScheduleSummary,
    SlotOut,
    StaffMemberOut,
)
from knowledge_base.booking import availability as av
from knowledge_base.booking.models import BOOKED, Booking, ServiceStaff
from knowledge_base.booking.schedule import DEFAULT_CALENDAR, ServiceSchedule
from knowledge_base.booking.schedule_store import StoredSchedule, read_schedule, save_schedule, schedule_of
from knowledge_base.booking.types import BookingPolicy
from knowledge_base.calendar_days import load_overrides
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.models import Service
from knowledge_base.timeexpr import TZ

PREVIEW_DAYS = 7  # the preview lists the free slots of the next 7 days that have any
ACTION = "schedule.update"
ENTITY = "service_schedule"
CONFLICT = "这个服务的排班已被{who}在你打开之后修改。请重新加载后再改，你的修改不会覆盖别人的。"


class ScheduleProblem(Exception):
    """A save the editor must see the details of: the route answers `status` with `payload()`."""

    status = 400

    def payload(self) -> dict[str, Any]:
        return {"detail": str(self)}


class ScheduleInvalid(ScheduleProblem):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"排班有 {len(errors)} 处需要修改，没有保存")
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        return {"detail": str(self), "errors": [e.model_dump() for e in self.errors]}


class StaleSchedule(ScheduleProblem):
    status = 409

    def payload(self) -> dict[str, Any]:
        return {"detail": str(self), "reason": "stale"}


class UnconfirmedBookings(ScheduleProblem):
    status = 409

    def __init__(self, affected: list[AffectedBooking]) -> None:
        super().__init__(
            f"有 {len(affected)} 个已有预约不在新的开放时间内。预约不会被取消：请确认后再保存，并通知这些同学。"
        )
        self.affected = affected

    def payload(self) -> dict[str, Any]:
        return {
            "detail": str(self),
            "reason": "affected_bookings",
            "affected": [a.model_dump(mode="json") for a in self.affected],
        }


def _calendar(session: Session) -> OfficeCalendar:
    return DEFAULT_CALENDAR.with_overrides(load_overrides(session))  # the admins' holidays and 调休, like the bot


def editable_service(session: Session, editor: Editor, service_id: str, lock: bool = False) -> Service:
    """A bookable service the person may edit; 404 / 403 otherwise."""
    query = select(Service).where(Service.id == service_id)
    service = session.scalar(query.with_for_update() if lock else query)
    if service is None or not service.bookable:
        raise NotFoundError("没有这个可预约的服务")
    if not editor.may_edit(service.department_id):
        raise Forbidden("只能修改本部门服务的排班")
    return service


def stored_doc(session: Session, service: Service, stored: StoredSchedule | None = None) -> dict[str, Any]:
    """The editable schedule as stored (the audit's before/after; its hash is the version)."""
    stored = stored or read_schedule(session, service.id)
    row = stored.row
    return {
        "hours": grid_of(row.hours if row else {}),
        "duration_minutes": service.duration_minutes or 30,
        "slot_minutes": row.slot_minutes if row else None,
        "capacity_per_slot": service.capacity_per_slot or 1,
        "observe_holidays": row.observe_holidays if row else True,
        "one_open_per_student": row.one_open_per_student if row else False,
        "staff": [
            {"id": p.id, "name": p.name, "hours": grid_of(p.hours) if p.hours is not None else None}
            for p in stored.staff
        ],
        "exceptions": [
            {
                "first_day": e.first_day.isoformat(),
                "last_day": e.last_day.isoformat(),
                "closed": e.closed,
                "hours": ", ".join(e.hours or []),
                "staff_id": e.staff_id,
                "reason": e.reason,
            }
            for e in stored.exceptions
        ],
        "has_schedule": row is not None,
    }


def version_of(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _slots(session: Session, schedule: ServiceSchedule | None, policy: BookingPolicy, now: datetime) -> list[SlotOut]:
    if schedule is None:
        return []
    days: list[date] = []
    free = []
    for slot in av.free_in_window(session, schedule, now, policy):  # every free slot of the first open days
        day = slot.start.date()
        if day not in days:
            if len(days) == PREVIEW_DAYS:
                break
            days.append(day)
        free.append(slot)
    return [SlotOut(start=s.start, end=s.end, seats_left=s.seats_left, staff=list(s.staff)) for s in free]


def affected_bookings(
    session: Session, service_id: str, schedule: ServiceSchedule, now: datetime
) -> list[AffectedBooking]:
    """Open future bookings of the service that the schedule no longer offers (time, or their staff)."""
    query = select(ServiceStaff.id, ServiceStaff.name).where(ServiceStaff.service_id == service_id)
    names: dict[str, str] = {pid: name for pid, name in session.execute(query)}
    rows = session.scalars(
        select(Booking)
        .where(Booking.service_id == service_id, Booking.status == BOOKED, Booking.starts_at >= now)
        .order_by(Booking.starts_at)
    ).all()
    out = []
    for b in rows:
        start = b.starts_at.astimezone(TZ)
        spec = schedule.slot_at(start)
        if spec is not None and b.resource in spec.resources:
            continue
        status = schedule.day_status(start.date())
        if status.closed_reason == "holiday":
            reason = f"当天放假（{status.holiday}）"
        elif status.closed_reason:
            reason = "当天不开放"
        elif spec is None:
            reason = "不在新的开放时间内"
        else:
            reason = "这位工作人员这时不值班（或已删除）"
        staff = (
            schedule.staff_name(b.resource)
            or names.get(b.resource, "")
            or ("窗口" if b.resource == "desk" else b.resource)
        )
        out.append(AffectedBooking(id=b.id, code=b.code, starts_at=start, staff=staff, reason=reason))
    return out


def _out(
    session: Session,
    service: Service,
    policy: BookingPolicy,
    now: datetime,
    calendar: OfficeCalendar | None = None,
    stored: StoredSchedule | None = None,
) -> ScheduleOut:
    stored = stored or read_schedule(session, service.id)  # one read for the form and the bot's slots
    doc = stored_doc(session, service, stored)
    schedule = schedule_of(service, stored, calendar or _calendar(session), policy.makeup_weekday)
    return ScheduleOut(
        service_id=service.id,
        service_name=service.name,
        department=service.department_id,
        version=version_of(doc),
        hours=doc["hours"],
        duration_minutes=doc["duration_minutes"],
        slot_minutes=doc["slot_minutes"],
        capacity_per_slot=doc["capacity_per_slot"],
        observe_holidays=doc["observe_holidays"],
        one_open_per_student=doc["one_open_per_student"],
        staff=[StaffMemberOut(**p) for p in doc["staff"]],
        exceptions=[ExceptionOut(**e) for e in doc["exceptions"]],
        next_slots=_slots(session, schedule, policy, now),
    )


def list_schedules(session: Session, editor: Editor) -> list[ScheduleSummary]:
    """The bookable services the person may edit, with a summary of their schedules."""
    out = []
    for service in session.scalars(select(Service).where(Service.bookable.is_(True)).order_by(Service.id)):
        if not editor.may_edit(service.department_id):
            continue
        doc = stored_doc(session, service)
        out.append(
            ScheduleSummary(
                service_id=service.id,
                service_name=service.name,
                department=service.department_id,
                has_schedule=doc["has_schedule"],
                hours=doc["hours"],
                staff=len(doc["staff"]),
                exceptions=len(doc["exceptions"]),
            )
        )
    return out


def load(session: Session, editor: Editor, service_id: str, policy: BookingPolicy, now: datetime) -> ScheduleOut:
    """The schedule as the editor shows it, with the next free slots the bot offers now."""
    return _out(session, editable_service(session, editor, service_id), policy, now)


def preview(
    session: Session, editor: Editor, service_id: str, form: ScheduleFields, policy: BookingPolicy, now: datetime
) -> PreviewOut:
    """What the form would do, nothing saved: its problems, the next free slots, the bookings left out."""
    editable_service(session, editor, service_id)
    checked = check_form(session, service_id, form, _calendar(session), policy.makeup_weekday)
    if checked.schedule is None:
        return PreviewOut(errors=checked.errors, next_slots=[], affected=[])
    return PreviewOut(
        errors=[],
        next_slots=_slots(session, checked.schedule, policy, now),
        affected=affected_bookings(session, service_id, checked.schedule, now),
    )


def save(
    session: Session, editor: Editor, service_id: str, body: ScheduleSave, policy: BookingPolicy, now: datetime
) -> ScheduleOut:
    """Save the form: checked, on the loaded version, with every left-out booking confirmed; audited."""
    service = editable_service(session, editor, service_id, lock=True)
    before = stored_doc(session, service)
    if version_of(before) != body.version:
        raise StaleSchedule(_stale_message(session, service_id))
    calendar = _calendar(session)
    checked = check_form(session, service_id, body, calendar, policy.makeup_weekday)
    if checked.schedule is None or checked.stored is None:
        raise ScheduleInvalid(checked.errors)
    affected = affected_bookings(session, service_id, checked.schedule, now)
    confirmed = set(body.confirm_affected)
    if any(a.id not in confirmed for a in affected):
        raise UnconfirmedBookings(affected)
    service.duration_minutes = checked.schedule.duration_minutes
    service.capacity_per_slot = checked.schedule.capacity_per_slot
    save_schedule(session, service_id, checked.stored)
    session.flush()
    stored = read_schedule(session, service_id)
    after = stored_doc(session, service, stored)
    if after != before:
        after_logged = {**after, "affected_bookings": [a.id for a in affected]} if affected else after
        audit.record(session, editor.name, editor.user.id, ACTION, ENTITY, service_id, before, after_logged)
    return _out(session, service, policy, now, calendar, stored)


def _stale_message(session: Session, service_id: str) -> str:
    last = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.entity == ENTITY, AuditEntry.entity_id == service_id)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if last is None:
        return CONFLICT.format(who="别人")
    at = last.at if last.at.tzinfo else last.at.replace(tzinfo=timezone.utc)
    return CONFLICT.format(who=f"{last.actor}（{at.astimezone(TZ):%m-%d %H:%M}）")

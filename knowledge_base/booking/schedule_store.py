"""Service schedules in the database: saved by the KB import, exported back, loaded for slot derivation.

Like knowledge_base/repository.py, functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from knowledge_base.booking.models import ScheduleException, ServiceScheduleRow, ServiceStaff
from knowledge_base.booking.schedule import (
    DEFAULT_CALENDAR,
    DayException,
    ServiceSchedule,
    StaffSchedule,
    parse_ranges,
    parse_weekly,
)
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.kbfile import ScheduleIn
from knowledge_base.models import Service


@dataclass(frozen=True)
class StoredSchedule:
    """A service's schedule rows as stored: the weekly row (None: no schedule), its staff in order, its
    exceptions in the order entered."""

    row: ServiceScheduleRow | None
    staff: Sequence[ServiceStaff]
    exceptions: Sequence[ScheduleException]


def read_schedule(session: Session, service_id: str) -> StoredSchedule:
    """The rows of a service's schedule (one read for the export, the slot derivation and the admin editor)."""
    staff = session.scalars(
        select(ServiceStaff).where(ServiceStaff.service_id == service_id).order_by(ServiceStaff.position)
    ).all()
    exceptions = session.scalars(
        select(ScheduleException).where(ScheduleException.service_id == service_id).order_by(ScheduleException.id)
    ).all()
    return StoredSchedule(session.get(ServiceScheduleRow, service_id), staff, exceptions)


def export_schedule(session: Session, service_id: str) -> dict[str, Any] | None:
    """A service's schedule in the KB YAML format, or None when it has none."""
    row = session.get(ServiceScheduleRow, service_id)
    if row is None:
        return None
    stored = read_schedule(session, service_id)  # the row again from the session's identity map
    out: dict[str, Any] = {"hours": dict(row.hours or {})}
    if row.slot_minutes is not None:
        out["slot_minutes"] = row.slot_minutes
    if not row.observe_holidays:
        out["observe_holidays"] = False
    if row.one_open_per_student:
        out["one_open_per_student"] = True
    if stored.staff:
        out["staff"] = [
            {"id": p.id, "name": p.name, **({"hours": dict(p.hours)} if p.hours is not None else {})}
            for p in stored.staff
        ]
    if stored.exceptions:
        out["exceptions"] = [_export_exception(e) for e in stored.exceptions]
    return out


def _export_exception(e: ScheduleException) -> dict[str, Any]:
    entry: dict[str, Any] = {"date": e.first_day}
    if e.last_day != e.first_day:
        entry["until"] = e.last_day
    if e.closed:
        entry["closed"] = True
    else:
        entry["hours"] = list(e.hours or [])
    if e.staff_id:
        entry["staff"] = e.staff_id
    if e.reason:
        entry["reason"] = e.reason
    return entry


def save_schedule(session: Session, service_id: str, schedule: ScheduleIn | None) -> bool:
    """Replace a service's schedule (None removes it); True when anything changed."""
    before = export_schedule(session, service_id)
    after = ScheduleIn.model_validate(before).model_dump() if before is not None else None
    wanted = schedule.model_dump() if schedule is not None else None
    if after == wanted:
        return False
    delete_schedule(session, service_id)
    if schedule is None:
        return True
    session.add(
        ServiceScheduleRow(
            service_id=service_id,
            hours=dict(schedule.hours),
            slot_minutes=schedule.slot_minutes,
            observe_holidays=schedule.observe_holidays,
            one_open_per_student=schedule.one_open_per_student,
        )
    )
    for position, person in enumerate(schedule.staff):
        session.add(
            ServiceStaff(id=person.id, service_id=service_id, name=person.name, hours=person.hours, position=position)
        )
    for exc in schedule.exceptions:
        session.add(
            ScheduleException(
                service_id=service_id,
                staff_id=exc.staff,
                first_day=exc.date,
                last_day=exc.until or exc.date,
                closed=exc.closed,
                hours=exc.hours,
                reason=exc.reason,
            )
        )
    session.flush()
    return True


def delete_schedule(session: Session, service_id: str) -> None:
    """Remove a service's schedule, staff and exceptions (booked appointments stay)."""
    session.execute(delete(ScheduleException).where(ScheduleException.service_id == service_id))
    session.execute(delete(ServiceStaff).where(ServiceStaff.service_id == service_id))
    session.execute(delete(ServiceScheduleRow).where(ServiceScheduleRow.service_id == service_id))
    session.flush()


def add_exception(
    session: Session,
    service_id: str,
    first_day: date,
    *,
    last_day: date | None = None,
    hours: str | list[str] | None = None,
    staff_id: str | None = None,
    reason: str = "",
) -> ScheduleException:
    """Close a service (or one staff member) on dates, or give it other hours (`hours`) there.

    Existing bookings on those dates are kept; the staff view shows them so the office can call.
    """
    ranges = [str(r) for r in parse_ranges(hours)] if hours is not None else None
    row = ScheduleException(
        service_id=service_id,
        staff_id=staff_id,
        first_day=first_day,
        last_day=last_day or first_day,
        closed=ranges is None,
        hours=ranges,
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row


def load_schedule(
    session: Session,
    service: Service,
    calendar: OfficeCalendar = DEFAULT_CALENDAR,
    makeup_weekday: int = 0,
) -> ServiceSchedule | None:
    """The derivation-ready schedule of a service, or None when it has none (not bookable online)."""
    row = session.get(ServiceScheduleRow, service.id)
    if row is None or not service.bookable or not service.duration_minutes or not service.capacity_per_slot:
        return None  # no staff or exceptions read for a service the bot cannot book
    return schedule_of(service, read_schedule(session, service.id), calendar, makeup_weekday)


def schedule_of(
    service: Service,
    stored: StoredSchedule,
    calendar: OfficeCalendar = DEFAULT_CALENDAR,
    makeup_weekday: int = 0,
) -> ServiceSchedule | None:
    """The derivation-ready schedule of a service from its rows (`read_schedule`), or None (not bookable online)."""
    row = stored.row
    if row is None or not service.bookable or not service.duration_minutes or not service.capacity_per_slot:
        return None
    return ServiceSchedule(
        service_id=service.id,
        duration_minutes=service.duration_minutes,
        capacity_per_slot=service.capacity_per_slot,
        weekly=parse_weekly(row.hours or {}),
        step_minutes=row.slot_minutes,
        staff=tuple(
            StaffSchedule(p.id, p.name, parse_weekly(p.hours) if p.hours is not None else None) for p in stored.staff
        ),
        exceptions=tuple(
            DayException(
                first_day=e.first_day,
                last_day=e.last_day,
                closed=e.closed,
                ranges=parse_ranges(e.hours) if e.hours else (),
                staff_id=e.staff_id,
                reason=e.reason,
            )
            for e in stored.exceptions
        ),
        observe_holidays=row.observe_holidays,
        one_open_per_student=row.one_open_per_student,
        calendar=calendar,
        makeup_weekday=makeup_weekday,
    )

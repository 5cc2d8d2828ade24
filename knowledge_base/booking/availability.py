"""Free slots of a service: derived from its schedule, minus the seats already taken.

Read-only helpers shared by the booking service: the booking window (minimum notice .. horizon), the
check that a requested time is a bookable slot (raising the specific SlotUnavailable error), free slots
of a day or part of a day, and the nearest free slots around a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge_base import timeexpr
from knowledge_base.booking.errors import (
    BeyondHorizon,
    ClosedOnHoliday,
    OutsideOpeningHours,
    ServiceNotBookable,
    SlotInPast,
    SlotUnavailable,
)
from knowledge_base.booking.models import BookingSlot
from knowledge_base.booking.schedule import ServiceSchedule, SlotSpec
from knowledge_base.booking.schedule_store import load_schedule
from knowledge_base.booking.types import BookingPolicy, Slot
from knowledge_base.calendar_days import load_overrides
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.models import Service
from knowledge_base.timeexpr import TZ

# 上午 -> morning, 下午 -> afternoon, 晚上 -> evening (the buckets of knowledge_base.timeexpr)
PART_OF_DAY = {word: timeexpr.part_of_day_bucket(hour) for word, hour in timeexpr._PART_START.items()}
PART_OF_DAY.update({bucket: bucket for bucket in ("morning", "afternoon", "evening")})


class NotASlotStart(OutsideOpeningHours):
    """The office is open that day, but no slot starts at that minute."""

    reason = "no_slot_at_time"


def aware(value: datetime) -> datetime:
    """The same instant in Asia/Shanghai; naive datetimes are refused (every caller knows its zone)."""
    if value.tzinfo is None:
        raise ValueError("pass timezone-aware datetimes (Asia/Shanghai)")
    return value.astimezone(TZ)


def load_bookable(
    session: Session, service_id: str, calendar: OfficeCalendar, policy: BookingPolicy
) -> tuple[Service, ServiceSchedule]:
    """A bookable service with its schedule, or ServiceNotBookable."""
    service = session.get(Service, service_id)
    calendar = calendar.with_overrides(load_overrides(session))  # the admins' holidays and 调休 days
    schedule = load_schedule(session, service, calendar, policy.makeup_weekday) if service is not None else None
    if service is None or schedule is None:
        raise ServiceNotBookable(service_id)
    return service, schedule


def window(policy: BookingPolicy, now: datetime) -> tuple[datetime, date]:
    """The earliest bookable start and the last bookable day."""
    now = aware(now)
    return now + policy.min_notice, now.date() + timedelta(days=policy.horizon_days)


def check_time(schedule: ServiceSchedule, start: datetime, now: datetime, policy: BookingPolicy) -> SlotSpec:
    """The slot starting at `start`, or the specific SlotUnavailable error explaining why not."""
    start = aware(start)
    earliest, last_day = window(policy, now)
    sid = schedule.service_id
    if start < earliest:
        raise SlotInPast(sid, start)
    if start.date() > last_day:
        raise BeyondHorizon(sid, start, f"more than {policy.horizon_days} days ahead")
    status = schedule.day_status(start.date())
    if status.closed_reason == "holiday":
        raise ClosedOnHoliday(sid, start, status.holiday or "")
    if status.closed_reason:
        raise OutsideOpeningHours(sid, start, "the office is closed that day")
    spec = schedule.slot_at(start)
    if spec is None:
        if not schedule.slots_on(start.date()):
            raise OutsideOpeningHours(sid, start, "no slots that day")
        raise NotASlotStart(sid, start, "no slot starts at that time")
    return spec


def taken_seats(session: Session, service_id: str, first: datetime, last: datetime) -> dict[tuple[str, datetime], int]:
    """Seats taken per (resource, start) for starts in [first, last]."""
    rows = session.execute(
        select(BookingSlot.resource, BookingSlot.starts_at, BookingSlot.taken).where(
            BookingSlot.service_id == service_id, BookingSlot.starts_at >= first, BookingSlot.starts_at <= last
        )
    )
    return {(resource, start.astimezone(TZ)): taken for resource, start, taken in rows}


def free(schedule: ServiceSchedule, specs: Iterable[SlotSpec], taken: dict[tuple[str, datetime], int]) -> list[Slot]:
    """The slots among `specs` with at least one free seat."""
    out: list[Slot] = []
    for spec in specs:
        left = {r: max(0, spec.seats_per_resource - taken.get((r, spec.start), 0)) for r in spec.resources}
        seats = sum(left.values())
        if seats:
            names = tuple(n for r, n in ((r, schedule.staff_name(r)) for r in spec.resources) if n and left[r])
            out.append(Slot(schedule.service_id, spec.start, spec.end, seats, spec.capacity, names))
    return out


def free_in_window(
    session: Session,
    schedule: ServiceSchedule,
    now: datetime,
    policy: BookingPolicy,
    days: Iterable[date] | None = None,
) -> list[Slot]:
    """Free slots of the given days (default: the whole booking window) that can still be booked."""
    earliest, last_day = window(policy, now)
    if days is None:
        span = (last_day - earliest.date()).days
        days = [earliest.date() + timedelta(days=i) for i in range(span + 1)]
    days = [d for d in days if earliest.date() <= d <= last_day]
    if not days:
        return []
    specs = [spec for d in days for spec in schedule.slots_on(d) if spec.start >= earliest]
    if not specs:
        return []
    taken = taken_seats(session, schedule.service_id, specs[0].start, specs[-1].start)
    return free(schedule, specs, taken)


def nearest(slots: list[Slot], around: datetime, limit: int) -> list[Slot]:
    """The `limit` slots closest to `around` (ties: the later one), in time order."""
    around = aware(around)
    closest = sorted(slots, key=lambda s: (abs((s.start - around).total_seconds()), s.start < around))[:limit]
    return sorted(closest, key=lambda s: s.start)


def day_reason(
    schedule: ServiceSchedule, day: date, now: datetime, policy: BookingPolicy, bucket: str | None = None
) -> tuple[str, str | None]:
    """Why a day (or its morning/afternoon/evening `bucket`) offers no free slot: (reason, holiday name)."""
    earliest, last_day = window(policy, now)
    if day < earliest.date():
        return SlotInPast.reason, None
    if day > last_day:
        return BeyondHorizon.reason, None
    status = schedule.day_status(day)
    if status.closed_reason:
        return status.closed_reason, status.holiday
    specs = [s for s in schedule.slots_on(day) if bucket is None or timeexpr.part_of_day_bucket(s.start.hour) == bucket]
    if not specs:
        return OutsideOpeningHours.reason, None
    if all(s.start < earliest for s in specs):
        return SlotInPast.reason, None
    return "full", None


def unavailable_reason(exc: SlotUnavailable) -> tuple[str, str | None]:
    """(reason, holiday name) of an unavailability error."""
    return exc.reason, getattr(exc, "holiday", None)

"""What the booking functions return, and the booking policy (limits that a deployment may change)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class BookingPolicy:
    """Booking limits (a deployment changes them with HELPDESK_BOOKING_*: knowledge_base.settings)."""

    horizon_days: int = 14  # how far ahead a student may book
    min_notice: timedelta = timedelta(minutes=30)  # a slot starting sooner counts as past
    max_open_per_student: int = 5  # open bookings a student may hold across services
    reminder_lead: timedelta = timedelta(hours=2)  # how long before the start a reminder is due
    makeup_weekday: int = 0  # a make-up workday (调休) follows this weekday's hours (0 = Monday)


@dataclass(frozen=True)
class Slot:
    """A bookable time of a service, as a student sees it (times in Asia/Shanghai)."""

    service_id: str
    start: datetime
    end: datetime
    seats_left: int
    capacity: int
    staff: tuple[str, ...] = ()  # names of staff members with a free seat (empty for a desk)


@dataclass(frozen=True)
class SlotSearch:
    """The answer to "when can I come?" for a time the student gave.

    `exact` is the free slot starting at the requested minute (grain hour/minute), `options` the free
    slots to offer (that day or part of the day for a vague time, else the nearest ones), and `reason`
    why the requested time itself is not possible (full, holiday, closed, past, beyond_horizon,
    no_slot_at_time), or None.
    """

    requested: datetime
    grain: str
    exact: Slot | None = None
    options: list[Slot] = field(default_factory=list)
    reason: str | None = None
    holiday: str | None = None


@dataclass(frozen=True)
class BookingView:
    """A booking as its student sees it."""

    code: str
    service_id: str
    service_name: str
    department_name: str
    location: str
    start: datetime
    end: datetime
    mode: str
    status: str
    staff_name: str | None
    phone_masked: str


@dataclass(frozen=True)
class StaffBookingRow:
    """A booking in the staff view: contact masked unless revealed on purpose."""

    code: str
    service_id: str
    service_name: str
    start: datetime
    end: datetime
    staff_name: str | None
    mode: str
    status: str
    name: str
    student_number: str
    phone: str


@dataclass(frozen=True)
class Reminder:
    """A due reminder: where to send it (the student key, e.g. the conversation id) and what to say."""

    code: str
    student_key: str
    service_name: str
    department_name: str
    location: str
    start: datetime
    end: datetime
    mode: str
    staff_name: str | None

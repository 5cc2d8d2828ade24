"""SQLAlchemy models of appointments: service schedules, staff, exceptions, seat counters and bookings.

Slots are not stored as an inventory: they are derived from the schedule (knowledge_base/booking/schedule.py).
A `booking_slots` row is the seat counter of one (service, resource, start) and exists from the first
booking of that slot on; the database keeps `0 <= taken <= capacity`, and a seat is taken only by the
conditional `UPDATE ... SET taken = taken + 1 WHERE taken < capacity`, so no slot is ever over-booked.
Contact details are one Fernet token (`bookings.contact`); students are found by a keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from knowledge_base.db import Base

# Booking states.
BOOKED = "booked"
CANCELLED = "cancelled"
ATTENDED = "attended"
NO_SHOW = "no_show"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class ServiceScheduleRow(Base):
    """How a bookable service opens: weekly hours and the options of its schedule."""

    __tablename__ = "service_schedules"

    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), primary_key=True)
    # {"mon-fri": ["08:30-11:30", "14:00-17:30"], "tue,thu": ["18:30-21:00"]}
    hours: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    slot_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    observe_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    one_open_per_student: Mapped[bool] = mapped_column(Boolean, default=False)


class ServiceStaff(Base):
    """A staff member (counsellor, advisor) who serves one service; `hours` None = the service's hours."""

    __tablename__ = "service_staff"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    hours: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ScheduleException(Base):
    """A dated change of a service's (or one staff member's) hours: closed, or other hours."""

    __tablename__ = "schedule_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"), index=True)
    staff_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=True)
    hours: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")


class BookingSlot(Base):
    """The seat counter of one slot of one resource (a staff member or the service's desk)."""

    __tablename__ = "booking_slots"
    __table_args__ = (
        UniqueConstraint("service_id", "resource", "starts_at", name="uq_booking_slots_seat"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="ck_booking_slots_taken"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    resource: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    """A student's appointment. The code is what the student keeps; the contact is encrypted."""

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("code", name="uq_bookings_code"),
        UniqueConstraint("exclusive_key", name="uq_bookings_exclusive_key"),
        Index("ix_bookings_service_start", "service_id", "starts_at"),
        Index("ix_bookings_status_start", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("booking_slots.id"), index=True)
    resource: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    mode: Mapped[str] = mapped_column(String(16), default="offline")
    status: Mapped[str] = mapped_column(String(16), default=BOOKED)
    # keyed hash of the student key (conversation id): finds "my bookings" without storing it in clear
    student_ref: Mapped[str] = mapped_column(String(64), index=True)
    # set while a one-open-per-student booking is open: "<service>:<keyed hash of the student>"
    exclusive_key: Mapped[str | None] = mapped_column(String(160), nullable=True)
    contact: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    slot_booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    marked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)


class StudentContact(Base):
    """A student's remembered contact details (asked once per student): one Fernet token per
    student, found by the keyed hash of the student key (the conversation id), like bookings."""

    __tablename__ = "student_contacts"

    student_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

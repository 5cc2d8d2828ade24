"""Appointments with campus offices, for students: find free slots, book, list, reschedule, cancel.

`BookingService` is what the bot's actions call (in a thread: it is synchronous). Every function
that depends on the time takes `now` (timezone-aware), so tests run on a frozen clock.

Double booking is impossible in the database itself: a seat is taken only by
`UPDATE booking_slots SET taken = taken + 1 WHERE ... AND taken < capacity` (one row per slot and
resource, created with INSERT ... ON CONFLICT DO NOTHING), a CHECK keeps `taken <= capacity`, and a
unique key allows one open 心理咨询 booking per student (knowledge_base/booking/seats.py). The per-student
rules that read before they write (no two bookings at once, at most N open) are serialised too: on
SQLite every write transaction starts with BEGIN IMMEDIATE (knowledge_base.db.write_session), on
PostgreSQL a transaction-scoped advisory lock per student is taken first, and a change of one
booking locks its row (SELECT ... FOR UPDATE) before anything else.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import date, datetime

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from knowledge_base.booking import availability as av
from knowledge_base.booking import models as bm  # also registers the booking tables on the metadata
from knowledge_base.booking import seats
from knowledge_base.booking.errors import (
    AlreadyBooked,
    BookingNotChangeable,
    BookingNotFound,
    InvalidMode,
    OverlappingBooking,
    SlotUnavailable,
    TooManyBookings,
)
from knowledge_base.booking.schedule import DEFAULT_CALENDAR, ServiceSchedule, SlotSpec
from knowledge_base.booking.types import BookingPolicy, BookingView, Slot, SlotSearch
from knowledge_base.db import write_session
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.models import Service
from knowledge_base.privacy import Contact, ContactCipher, mask_phone, validate_contact
from knowledge_base.timeexpr import TZ, part_of_day_bucket

log = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CODE_LENGTH = 8


def new_code() -> str:
    """A random booking code: 8 characters a student can read out without ambiguity."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a student typed ('abcd-efgh ', 'ABCD EFGH') -> the stored form."""
    return re.sub(r"[\s\-_]", "", text or "").upper()


class BookingService:
    """Student-facing booking operations over a session factory and a contact cipher."""

    def __init__(
        self,
        sessions: sessionmaker,
        cipher: ContactCipher,
        policy: BookingPolicy | None = None,
        calendar: OfficeCalendar | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self.policy = policy or BookingPolicy()
        self._calendar = calendar or DEFAULT_CALENDAR

    # ------------------------------------------------------------------ availability

    def _load(self, session: Session, service_id: str) -> tuple[Service, ServiceSchedule]:
        return av.load_bookable(session, service_id, self._calendar, self.policy)

    def free_slots(self, service_id: str, day: date, *, now: datetime, part_of_day: str | None = None) -> list[Slot]:
        """Free slots of a day that can still be booked; `part_of_day` (上午/下午/晚上 or morning/...) narrows."""
        bucket = av.PART_OF_DAY.get(part_of_day) if part_of_day else None
        if part_of_day and bucket is None:
            raise ValueError(f"unknown part of day '{part_of_day}'")
        with self._sessions() as session:
            _, schedule = self._load(session, service_id)
            slots = av.free_in_window(session, schedule, now, self.policy, [day])
        return [s for s in slots if bucket is None or part_of_day_bucket(s.start.hour) == bucket]

    def nearest_free_slots(self, service_id: str, around: datetime, *, now: datetime, limit: int = 3) -> list[Slot]:
        """The free slots closest to a time (within the booking window), in time order."""
        with self._sessions() as session:
            _, schedule = self._load(session, service_id)
            slots = av.free_in_window(session, schedule, now, self.policy)
        return av.nearest(slots, around, limit)

    def find_slots(self, service_id: str, when: datetime, grain: str, *, now: datetime, limit: int = 3) -> SlotSearch:
        """Answer a time the student gave (knowledge_base.timeexpr's start and grain).

        A day or a part of the day returns its free slots (all of them); an hour or minute returns the
        slot starting then when it is free. When nothing fits, `reason` says why and `options` holds the
        `limit` nearest free slots.
        """
        when = av.aware(when)
        with self._sessions() as session:
            _, schedule = self._load(session, service_id)
            if grain in ("day", "part_of_day"):
                bucket = part_of_day_bucket(when.hour) if grain == "part_of_day" else None
                day_slots = av.free_in_window(session, schedule, now, self.policy, [when.date()])
                options = [s for s in day_slots if bucket is None or part_of_day_bucket(s.start.hour) == bucket]
                if options:
                    return SlotSearch(when, grain, options=options)
                reason, holiday = av.day_reason(schedule, when.date(), now, self.policy, bucket)
            else:
                try:
                    spec = av.check_time(schedule, when, now, self.policy)
                    taken = av.taken_seats(session, service_id, spec.start, spec.start)
                    exact = av.free(schedule, [spec], taken)
                    if exact:
                        return SlotSearch(when, grain, exact=exact[0])
                    reason, holiday = "full", None
                except SlotUnavailable as exc:
                    reason, holiday = av.unavailable_reason(exc)
            everything = av.free_in_window(session, schedule, now, self.policy)
        return SlotSearch(when, grain, options=av.nearest(everything, when, limit), reason=reason, holiday=holiday)

    # ------------------------------------------------------------------ booking

    def book(
        self,
        service_id: str,
        start: datetime,
        *,
        student_key: str,
        contact: Contact,
        now: datetime,
        mode: str | None = None,
        staff_id: str | None = None,
    ) -> BookingView:
        """Book the slot starting at `start`; returns the booking with its code.

        Raises SlotUnavailable subclasses (with `alternatives`), AlreadyBooked, OverlappingBooking,
        TooManyBookings, InvalidContact, InvalidMode or ServiceNotBookable.
        """
        contact = validate_contact(contact.name, contact.student_number, contact.phone)
        start, now = av.aware(start), av.aware(now)
        ref = self._cipher.ref("student_key", student_key)
        try:
            with write_session(self._sessions) as session:
                _lock_student(session, ref)
                service, schedule = self._load(session, service_id)
                chosen_mode = _mode(service, mode)
                spec = av.check_time(schedule, start, now, self.policy)
                exclusive = self._check_student(session, schedule, ref, contact, spec, now)
                slot_id, resource = seats.take_seat(session, service_id, spec, staff_id)
                booking = bm.Booking(
                    code=self._unused_code(session),
                    service_id=service_id,
                    slot_id=slot_id,
                    resource=resource,
                    starts_at=spec.start,
                    ends_at=spec.end,
                    mode=chosen_mode,
                    status=bm.BOOKED,
                    student_ref=ref,
                    exclusive_key=exclusive,
                    contact=self._cipher.seal(contact, student_key),
                    created_at=now,
                    slot_booked_at=now,
                    updated_at=now,
                )
                session.add(booking)
                session.flush()
                view = self._view(session, booking, service)
        except IntegrityError as exc:  # a concurrent booking of the same student took the unique key
            if "exclusive" in str(exc.orig):
                raise AlreadyBooked(service_id, None) from exc
            raise
        except SlotUnavailable as exc:
            exc.alternatives = self.nearest_free_slots(service_id, start, now=now)
            raise
        log.info("booking %s: %s at %s booked", view.code, service_id, view.start.isoformat())
        return view

    def _check_student(
        self,
        session: Session,
        schedule: ServiceSchedule,
        ref: str,
        contact: Contact,
        spec: SlotSpec,
        now: datetime,
    ) -> str | None:
        """Apply the per-student limits; returns the exclusive key of a one-at-a-time service."""
        open_bookings = session.scalars(
            select(bm.Booking).where(
                bm.Booking.student_ref == ref, bm.Booking.status == bm.BOOKED, bm.Booking.ends_at > now
            )
        ).all()
        exclusive = None
        if schedule.one_open_per_student:
            exclusive = f"{schedule.service_id}:{self._cipher.ref('student_number', contact.student_number)}"
            session.execute(  # a past booking nobody marked is no longer open
                update(bm.Booking)
                .where(bm.Booking.exclusive_key == exclusive, bm.Booking.ends_at <= now)
                .values(exclusive_key=None)
                .execution_options(synchronize_session=False)
            )
            holder = session.scalar(select(bm.Booking.code).where(bm.Booking.exclusive_key == exclusive))
            same = [b.code for b in open_bookings if b.service_id == schedule.service_id]
            if holder or same:
                raise AlreadyBooked(schedule.service_id, holder or same[0])
        for b in open_bookings:
            if b.starts_at < spec.end and b.ends_at > spec.start:
                raise OverlappingBooking(b.code)
        if len(open_bookings) >= self.policy.max_open_per_student:
            raise TooManyBookings(self.policy.max_open_per_student)
        return exclusive

    @staticmethod
    def _unused_code(session: Session) -> str:
        while True:  # 32**8 codes: a collision is rare; the unique constraint is the last word
            code = new_code()
            if session.scalar(select(bm.Booking.id).where(bm.Booking.code == code)) is None:
                return code

    # ------------------------------------------------------------------ the student's bookings

    def my_bookings(self, student_key: str, *, now: datetime, include_past: bool = False) -> list[BookingView]:
        """The student's upcoming bookings in time order (with `include_past`, every booking ever)."""
        ref = self._cipher.ref("student_key", student_key)
        query = select(bm.Booking).where(bm.Booking.student_ref == ref).order_by(bm.Booking.starts_at)
        if not include_past:
            query = query.where(bm.Booking.status == bm.BOOKED, bm.Booking.ends_at > av.aware(now))
        with self._sessions() as session:
            return [self._view(session, b) for b in session.scalars(query).all()]

    def get_booking(self, code: str, *, student_key: str) -> BookingView:
        """One of the student's bookings by code; BookingNotFound for anybody else's."""
        with self._sessions() as session:
            return self._view(session, self._owned(session, code, student_key))

    def cancel(self, code: str, *, student_key: str, now: datetime) -> BookingView:
        """Cancel an upcoming booking and free its seat."""
        now = av.aware(now)
        with write_session(self._sessions) as session:
            booking = self._owned(session, code, student_key, lock=True)
            _ensure_open(booking, now)
            result = session.execute(
                update(bm.Booking)
                .where(bm.Booking.id == booking.id, bm.Booking.status == bm.BOOKED)
                .values(status=bm.CANCELLED, cancelled_at=now, updated_at=now, exclusive_key=None)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise BookingNotChangeable(booking.code, bm.CANCELLED)
            seats.release_seat(session, booking.slot_id)
            session.refresh(booking)
            view = self._view(session, booking)
        log.info("booking %s: cancelled", view.code)
        return view

    def reschedule(self, code: str, new_start: datetime, *, student_key: str, now: datetime) -> BookingView:
        """Move a booking to another slot of its service, atomically.

        The new seat is taken before the old one is released, in one transaction: if the new slot is
        unavailable (SlotUnavailable with `alternatives`), the booking stays as it was.
        """
        new_start, now = av.aware(new_start), av.aware(now)
        ref = self._cipher.ref("student_key", student_key)
        service_id = ""
        try:
            with write_session(self._sessions) as session:
                _lock_student(session, ref)
                booking = self._owned(session, code, student_key, lock=True)
                service_id = booking.service_id
                _ensure_open(booking, now)
                service, schedule = self._load(session, booking.service_id)
                if new_start == booking.starts_at.astimezone(TZ):
                    return self._view(session, booking, service)
                spec = av.check_time(schedule, new_start, now, self.policy)
                others = session.scalars(
                    select(bm.Booking).where(
                        bm.Booking.student_ref == ref,
                        bm.Booking.status == bm.BOOKED,
                        bm.Booking.id != booking.id,
                        bm.Booking.starts_at < spec.end,
                        bm.Booking.ends_at > spec.start,
                    )
                ).first()
                if others is not None:
                    raise OverlappingBooking(others.code)
                seats.lock_counters(session, booking.service_id, spec, also=[booking.slot_id])
                old_slot_id = booking.slot_id
                slot_id, resource = seats.take_seat(session, booking.service_id, spec)
                session.execute(
                    update(bm.Booking)
                    .where(bm.Booking.id == booking.id)
                    .values(
                        slot_id=slot_id,
                        resource=resource,
                        starts_at=spec.start,
                        ends_at=spec.end,
                        slot_booked_at=now,
                        updated_at=now,
                        reminded_at=None,
                        reschedule_count=bm.Booking.reschedule_count + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                seats.release_seat(session, old_slot_id)
                session.refresh(booking)
                view = self._view(session, booking, service)
        except SlotUnavailable as exc:
            exc.alternatives = self.nearest_free_slots(service_id, new_start, now=now)
            raise
        log.info("booking %s: moved to %s", view.code, view.start.isoformat())
        return view

    # ------------------------------------------------------------------ helpers

    def _owned(self, session: Session, code: str, student_key: str, lock: bool = False) -> bm.Booking:
        query = select(bm.Booking).where(
            bm.Booking.code == normalize_code(code),
            bm.Booking.student_ref == self._cipher.ref("student_key", student_key),
        )
        if lock:
            query = query.with_for_update()
        booking = session.scalars(query).first()
        if booking is None:
            raise BookingNotFound(normalize_code(code))
        return booking

    def _view(self, session: Session, booking: bm.Booking, service: Service | None = None) -> BookingView:
        service = service or session.get(Service, booking.service_id)
        assert service is not None
        contact, _ = self._cipher.open(booking.contact)
        staff = session.get(bm.ServiceStaff, booking.resource)
        return BookingView(
            code=booking.code,
            service_id=service.id,
            service_name=service.name,
            department_name=service.department.name,
            location=service.location,
            start=booking.starts_at.astimezone(TZ),
            end=booking.ends_at.astimezone(TZ),
            mode=booking.mode,
            status=booking.status,
            staff_name=staff.name if staff is not None else None,
            phone_masked=mask_phone(contact.phone),
        )


def _lock_student(session: Session, ref: str) -> None:
    """Serialise one student's bookings and moves (overlap and limit checks read, then write).

    PostgreSQL: a transaction-scoped advisory lock on the student's keyed hash, taken before any row
    lock. SQLite needs none: its write transaction (BEGIN IMMEDIATE) already runs alone.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(ref[:15], 16)})


def _mode(service: Service, wanted: str | None) -> str:
    offered = {"offline": {"offline"}, "online": {"online"}}.get(service.mode, {"offline", "online"})
    if wanted is None:
        return "offline" if "offline" in offered else "online"
    if wanted not in offered:
        raise InvalidMode(service.id, wanted)
    return wanted


def _ensure_open(booking: bm.Booking, now: datetime) -> None:
    if booking.status != bm.BOOKED:
        raise BookingNotChangeable(booking.code, booking.status)
    if booking.starts_at <= now:
        raise BookingNotChangeable(booking.code, "started")

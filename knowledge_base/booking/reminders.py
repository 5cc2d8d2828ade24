"""Reminders of upcoming appointments (data only): which are due, and marking one sent exactly once.

A reminder is due from `lead` before the start until the start, for a booking still open and not yet
reminded. A booking made (or moved) less than `lead` before its start gets none: the confirmation was
the reminder. `mark_reminded` is a conditional UPDATE, so when two workers pick the same reminder only
one of them gets True and sends it (at most once: mark first, then hand it to the outbox).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking import models as bm
from knowledge_base.booking.availability import aware
from knowledge_base.booking.service import normalize_code
from knowledge_base.booking.types import BookingPolicy, Reminder
from knowledge_base.db import write_session
from knowledge_base.models import Service
from knowledge_base.privacy import ContactCipher
from knowledge_base.timeexpr import TZ

log = logging.getLogger(__name__)


class Reminders:
    """Due reminders and their once-only marking."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher, lead: timedelta | None = None) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self.lead = lead if lead is not None else BookingPolicy().reminder_lead

    def due(self, *, now: datetime, limit: int = 100) -> list[Reminder]:
        """Reminders to send now, earliest appointment first."""
        now = aware(now)
        query = (
            select(bm.Booking, Service)
            .join(Service, Service.id == bm.Booking.service_id)
            .where(
                bm.Booking.status == bm.BOOKED,
                bm.Booking.reminded_at.is_(None),
                bm.Booking.starts_at > now,
                bm.Booking.starts_at <= now + self.lead,
            )
            .order_by(bm.Booking.starts_at, bm.Booking.id)
        )
        out: list[Reminder] = []
        with self._sessions() as session:
            for booking, service in session.execute(query):
                if booking.slot_booked_at > booking.starts_at - self.lead:
                    continue  # booked inside the reminder window: the confirmation is enough
                _, student_key = self._cipher.open(booking.contact)
                staff = session.get(bm.ServiceStaff, booking.resource)
                out.append(
                    Reminder(
                        code=booking.code,
                        student_key=student_key,
                        service_name=service.name,
                        department_name=service.department.name,
                        location=service.location,
                        start=booking.starts_at.astimezone(TZ),
                        end=booking.ends_at.astimezone(TZ),
                        mode=booking.mode,
                        staff_name=staff.name if staff is not None else None,
                    )
                )
                if len(out) >= limit:
                    break
        return out

    def mark_reminded(self, code: str, *, now: datetime) -> bool:
        """Record that the reminder went out; True only for the first caller (and only while it is open)."""
        with write_session(self._sessions) as session:
            result = session.execute(
                update(bm.Booking)
                .where(
                    bm.Booking.code == normalize_code(code),
                    bm.Booking.reminded_at.is_(None),
                    bm.Booking.status == bm.BOOKED,
                )
                .values(reminded_at=aware(now))
                .execution_options(synchronize_session=False)
            )
            won = result.rowcount == 1  # type: ignore[attr-defined]
        if won:
            log.info("booking %s: reminder marked sent", normalize_code(code))
        return won

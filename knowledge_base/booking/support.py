"""What the chat's booking dialogue needs besides BookingService: remembered contacts and bookable services.

A student gives name, student number and phone once; they are kept in `student_contacts` as one Fernet
token, found by the keyed hash of the student key (the conversation id), the same way bookings are. The
bot asks again only when nothing is remembered. Synchronous like BookingService: call it in a thread.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking.errors import ContactKeyError
from knowledge_base.booking.models import ServiceScheduleRow, StudentContact
from knowledge_base.db import write_session
from knowledge_base.models import Service
from knowledge_base.privacy import Contact, ContactCipher, validate_contact

log = logging.getLogger(__name__)


class ContactBook:
    """Students' remembered contact details, encrypted at rest."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher) -> None:
        self._sessions = sessions
        self._cipher = cipher

    def _ref(self, student_key: str) -> str:
        return self._cipher.ref("student_key", student_key)

    def recall(self, student_key: str) -> Contact | None:
        """The student's remembered contact, or None (also when it cannot be decrypted any more)."""
        with self._sessions() as session:
            row = session.get(StudentContact, self._ref(student_key))
            token = row.contact if row is not None else None
        if token is None:
            return None
        try:
            contact, _ = self._cipher.open(token)
        except ContactKeyError:
            log.error("a remembered contact cannot be decrypted with the configured booking key")
            return None
        return contact

    def remember(self, student_key: str, contact: Contact, *, now: datetime) -> Contact:
        """Validate and store (or replace) the student's contact; returns the normalised contact."""
        contact = validate_contact(contact.name, contact.student_number, contact.phone)
        token = self._cipher.seal(contact, student_key)
        ref = self._ref(student_key)
        with write_session(self._sessions) as session:
            row = session.get(StudentContact, ref)
            if row is None:
                session.add(StudentContact(student_ref=ref, contact=token, updated_at=now))
            else:
                row.contact, row.updated_at = token, now
        return contact

    def forget(self, student_key: str) -> bool:
        """Remove the student's remembered contact; True if there was one."""
        with write_session(self._sessions) as session:
            row = session.get(StudentContact, self._ref(student_key))
            if row is None:
                return False
            session.delete(row)
        return True


def bookable_services(sessions: sessionmaker) -> dict[str, str]:
    """Services that can be booked online (bookable, with a schedule): id -> name, ordered by id."""
    with sessions() as session:
        rows = session.execute(
            select(Service.id, Service.name)
            .join(ServiceScheduleRow, ServiceScheduleRow.service_id == Service.id)
            .where(Service.bookable.is_(True), Service.duration_minutes.is_not(None))
            .order_by(Service.id)
        ).all()
    return {sid: name for sid, name in rows}


def one_at_a_time_services(sessions: sessionmaker) -> set[str]:
    """Services a student may hold only one open booking of (心理咨询), so the bot can say so at once."""
    with sessions() as session:
        return set(
            session.scalars(
                select(ServiceScheduleRow.service_id).where(ServiceScheduleRow.one_open_per_student.is_(True))
            )
        )

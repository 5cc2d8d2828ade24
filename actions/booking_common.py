"""Shared pieces of the booking dialogue: short slot names (from knowledge_base.names), the booking back end, the clock.

The back end is built on first use (the action server imports every module of actions/ at start)
from the configured database and booking key, and rebuilt when either changes (tests switch them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import sessionmaker

from actions.kb import session_factory
from knowledge_base import names, settings, timeexpr
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.support import ContactBook
from knowledge_base.privacy import ContactCipher

FORM = names.FORM_APPOINTMENT

# slots of the appointment form, short names for the booking modules (all unfeaturized: the rules do not
# look at them; contact slots hold Fernet tokens, never clear text)
OP = names.SLOT_APPOINTMENT_OP  # book | reschedule | cancel | None (nothing to do)
SERVICE = names.SLOT_BOOKING_SERVICE
CODE = names.SLOT_BOOKING_CODE
TIME = names.SLOT_BOOKING_TIME
OFFER = names.SLOT_BOOKING_OFFER
NAME = names.SLOT_CONTACT_NAME
STUDENT_NUMBER = names.SLOT_CONTACT_STUDENT_NUMBER
PHONE = names.SLOT_CONTACT_PHONE
CONFIRM = names.SLOT_BOOKING_CONFIRM
REQUESTED = names.SLOT_REQUESTED

CONTACT_SLOTS = (NAME, STUDENT_NUMBER, PHONE)
FORM_SLOTS = (OP, SERVICE, CODE, TIME, OFFER, NAME, STUDENT_NUMBER, PHONE, CONFIRM)

BOOK, RESCHEDULE, CANCEL = "book", "reschedule", "cancel"

OP_BY_INTENT = {names.INTENT_BOOK: BOOK, names.INTENT_RESCHEDULE: RESCHEDULE, names.INTENT_CANCEL: CANCEL}


@dataclass(frozen=True)
class Backend:
    """The booking service and the contact book over one database and key."""

    bookings: BookingService
    contacts: ContactBook
    cipher: ContactCipher
    sessions: sessionmaker


@lru_cache(maxsize=2)
def _backend(url: str, key: str) -> Backend:
    sessions = session_factory(url)  # the action server's one engine for this database
    cipher = ContactCipher(key)
    bookings = BookingService(sessions, cipher, settings.load_settings().booking.policy())
    return Backend(bookings, ContactBook(sessions, cipher), cipher, sessions)


def backend() -> Backend:
    """The process-wide booking back end for the configured database and booking key."""
    return _backend(settings.database_url(), settings.booking_key())


def now() -> datetime:
    """The current time in Shanghai (HELPDESK_NOW freezes it for tests, like the Rasa time extractor)."""
    return timeexpr.now()

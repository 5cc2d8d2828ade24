"""Shared pieces of the booking dialogue: slot and intent names, the booking back end, the clock.

The back end is built on first use (the action server imports every module of actions/ at start)
from the configured database and booking key, and rebuilt when either changes (tests switch them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy.orm import sessionmaker

from knowledge_base import config, timeexpr
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.support import ContactBook
from knowledge_base.booking.types import BookingPolicy
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.privacy import ContactCipher

FORM = "appointment_form"

# slots of the appointment form (all unfeaturized: the rules do not look at them)
OP = "appointment_op"  # book | reschedule | cancel | None (nothing to do)
SERVICE = "booking_service"
CODE = "booking_code"
TIME = "booking_time"  # ISO start of a free slot
OFFER = "booking_offer"  # what the time question shows next: {"kind", "options": [ISO...], ...}
NAME = "contact_name"  # contact slots hold Fernet tokens, never clear text
STUDENT_NUMBER = "contact_student_number"
PHONE = "contact_phone"
CONFIRM = "booking_confirm"
REQUESTED = "requested_slot"

CONTACT_SLOTS = (NAME, STUDENT_NUMBER, PHONE)
FORM_SLOTS = (OP, SERVICE, CODE, TIME, OFFER, NAME, STUDENT_NUMBER, PHONE, CONFIRM)

BOOK, RESCHEDULE, CANCEL = "book", "reschedule", "cancel"

# intents and entities of the dialogue
INTENT_BOOK = "book_appointment"
INTENT_RESCHEDULE = "reschedule_appointment"
INTENT_CANCEL = "cancel_appointment"
INTENT_LIST = "list_appointments"
INTENT_CHOOSE_TIME = "choose_time"
INTENT_AFFIRM = "affirm"
INTENT_DENY = "deny"
INTENT_GOODBYE = "goodbye"
ENTITY_SERVICE = "service"
ENTITY_TIME = "time"
ENTITY_CODE = "booking_code"

OP_BY_INTENT = {INTENT_BOOK: BOOK, INTENT_RESCHEDULE: RESCHEDULE, INTENT_CANCEL: CANCEL}


@dataclass(frozen=True)
class Backend:
    """The booking service and the contact book over one database and key."""

    bookings: BookingService
    contacts: ContactBook
    cipher: ContactCipher
    sessions: sessionmaker


@lru_cache(maxsize=2)
def _backend(url: str, key: str) -> Backend:
    sessions = make_session_factory(make_engine(url))
    cipher = ContactCipher(key)
    bookings = BookingService(sessions, cipher, BookingPolicy.from_env())
    return Backend(bookings, ContactBook(sessions, cipher), cipher, sessions)


def backend() -> Backend:
    """The process-wide booking back end for the configured database and booking key."""
    return _backend(config.database_url(), config.booking_key())


def now() -> datetime:
    """The current time in Shanghai (HELPDESK_NOW freezes it for tests, like the Rasa time extractor)."""
    return timeexpr.now()

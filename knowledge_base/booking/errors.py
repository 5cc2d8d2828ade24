"""Typed booking errors: each says what the student asked that cannot be done, with a stable `reason`.

Callers translate: the bot turns an error into a specific reply (and offers `alternatives` as buttons
when a time is unavailable), a desk route into an HTTP status. Messages are English and hold no
personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from knowledge_base.repository import KnowledgeBaseError, NotFound

if TYPE_CHECKING:
    from knowledge_base.booking.types import Slot


class BookingError(KnowledgeBaseError):
    """Base class of booking errors; `reason` is a short code callers can switch on."""

    reason = "booking_error"


class ServiceNotBookable(BookingError):
    """The service does not exist, is not bookable, or has no schedule to book online."""

    reason = "not_bookable"

    def __init__(self, service_id: str) -> None:
        self.service_id = service_id
        super().__init__(f"service '{service_id}' cannot be booked online")


class SlotUnavailable(BookingError):
    """The requested time cannot be booked; `alternatives` are the nearest free slots (maybe none)."""

    reason = "unavailable"

    def __init__(self, service_id: str, start: datetime, detail: str = "") -> None:
        self.service_id = service_id
        self.start = start
        self.alternatives: list[Slot] = []
        super().__init__(f"{service_id} at {start.isoformat()}: {detail or self.reason}")


class SlotInPast(SlotUnavailable):
    """The time has passed, or starts sooner than the minimum notice."""

    reason = "past"


class BeyondHorizon(SlotUnavailable):
    """The time is further ahead than the booking horizon."""

    reason = "beyond_horizon"


class ClosedOnHoliday(SlotUnavailable):
    """The office is closed for a public holiday that day; `holiday` is its Chinese name."""

    reason = "holiday"

    def __init__(self, service_id: str, start: datetime, holiday: str) -> None:
        self.holiday = holiday
        super().__init__(service_id, start, f"closed for a public holiday ({holiday})")


class OutsideOpeningHours(SlotUnavailable):
    """The office is closed then, or no slot starts at that time."""

    reason = "closed"


class StaffUnavailable(SlotUnavailable):
    """The staff member asked for does not work at that time."""

    reason = "staff_unavailable"


class SlotFull(SlotUnavailable):
    """Every seat of the slot is taken."""

    reason = "full"


class AlreadyBooked(BookingError):
    """The student already has an open booking of a one-at-a-time service (心理咨询); `code` is it."""

    reason = "already_booked"

    def __init__(self, service_id: str, code: str | None) -> None:
        self.service_id = service_id
        self.code = code
        super().__init__(f"the student already has an open booking of '{service_id}'")


class OverlappingBooking(BookingError):
    """The student already has another booking at that time; `code` is it."""

    reason = "overlap"

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"the student already has booking {code} at that time")


class TooManyBookings(BookingError):
    """The student holds the maximum number of open bookings."""

    reason = "too_many"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"a student may hold at most {limit} open bookings")


class BookingNotFound(BookingError, NotFound):
    """No booking with that code belongs to this student (or to this department, for staff)."""

    reason = "not_found"

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"no booking '{code}'")


class BookingNotChangeable(BookingError):
    """The booking cannot be changed: `reason` is cancelled, started, attended, no_show or not_started."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"booking {code} cannot be changed: {reason}")


class InvalidContact(BookingError):
    """A contact detail is missing or malformed; `field` is name, student_number or phone."""

    reason = "invalid_contact"

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"invalid or missing {field}")


class InvalidMode(BookingError):
    """The service is not offered in the requested mode (online / offline)."""

    reason = "invalid_mode"

    def __init__(self, service_id: str, mode: str) -> None:
        self.service_id = service_id
        self.mode = mode
        super().__init__(f"service '{service_id}' is not offered {mode}")


class ContactKeyError(BookingError):
    """Stored contact details cannot be decrypted with the configured key (a configuration error)."""

    reason = "key_error"

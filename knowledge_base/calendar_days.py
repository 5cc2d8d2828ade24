"""Admin-entered calendar dates (holidays and 调休 workdays) read from the database for the calendars.

Booking reads them in its own session (`load_overrides`); long-lived calendars (the handoff desk's office
hours) use `CachedOverrides`, re-read at most every few seconds, so an admin's new holiday counts at once.
"""

from __future__ import annotations

import threading
import time
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from knowledge_base.holidays import DayOverride
from knowledge_base.models import CalendarDay

REFRESH_SECONDS = 5.0


def load_overrides(session: Session) -> dict[date, DayOverride]:
    """Every admin-entered date."""
    return {row.day: DayOverride(bool(row.workday), row.name or "") for row in session.scalars(select(CalendarDay))}


class CachedOverrides:
    """A callable for OfficeCalendar(overrides=...): the dates from the database, refreshed every few seconds."""

    def __init__(self, sessions: sessionmaker, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._sessions = sessions
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._value: dict[date, DayOverride] = {}
        self._lock = threading.Lock()

    def __call__(self) -> dict[date, DayOverride]:
        # a cache age, not business time: the monotonic clock is right here
        if time.monotonic() - self._loaded_at >= self._refresh:
            with self._lock, self._sessions() as session:
                self._value = load_overrides(session)
                self._loaded_at = time.monotonic()
        return self._value

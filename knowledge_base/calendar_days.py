"""Admin-entered calendar dates (holidays and 调休 workdays) read from the database for the calendars.

Booking reads them in its own session (`load_overrides`); long-lived calendars (the handoff desk's office
hours) use `CachedOverrides`, re-read at most every few seconds, so an admin's new holiday counts at once.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from knowledge_base.holidays import DayOverride
from knowledge_base.models import CalendarDay
from knowledge_base.refreshed import REFRESH_SECONDS, Refreshed

__all__ = ["REFRESH_SECONDS", "CachedOverrides", "load_overrides"]


def load_overrides(session: Session) -> dict[date, DayOverride]:
    """Every admin-entered date."""
    return {row.day: DayOverride(bool(row.workday), row.name or "") for row in session.scalars(select(CalendarDay))}


class CachedOverrides(Refreshed[dict[date, DayOverride]]):
    """A callable for OfficeCalendar(overrides=...): the dates from the database, refreshed every few seconds."""

    def __init__(self, sessions: sessionmaker, refresh_seconds: float = REFRESH_SECONDS) -> None:
        super().__init__(sessions, load_overrides, {}, refresh_seconds)

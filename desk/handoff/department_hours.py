"""Each department's office hours for the handoff desk: its own (`departments.office_hours`, edited at
/admin/db) or, when empty, the desk's global `HELPDESK_HANDOFF_HOURS`.

The departments' texts are re-read from the database at most every few seconds (like the admin-entered
holidays of `knowledge_base.calendar_days.CachedOverrides`), so an admin's change reaches every desk
replica within that time and without a restart. All departments share the one holiday calendar. A text
that does not parse (saved around the form's check, e.g. by SQL) falls back to the global hours, logged.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.handoff.office_hours import OfficeHours
from knowledge_base.booking.schedule import ScheduleSpecError
from knowledge_base.calendar_days import REFRESH_SECONDS
from knowledge_base.models import Department
from knowledge_base.office_hours import parse_hours

logger = logging.getLogger(__name__)


class DepartmentHours:
    """`of(department_id)`: the OfficeHours that decide whether that department's staff are at their desks."""

    def __init__(self, sessions: sessionmaker, default: OfficeHours, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._sessions = sessions
        self.default = default
        self._refresh = refresh_seconds
        self._loaded_at = float("-inf")
        self._specs: dict[str, str] = {}
        self._parsed: dict[str, OfficeHours] = {}
        self._lock = threading.Lock()

    def _department_specs(self) -> dict[str, str]:
        # a cache age, not business time: the monotonic clock is right here
        if time.monotonic() - self._loaded_at >= self._refresh:
            with self._lock, self._sessions() as session:
                rows = session.execute(select(Department.id, Department.office_hours)).all()
                self._specs = {dep: spec.strip() for dep, spec in rows if spec and spec.strip()}
                self._loaded_at = time.monotonic()
        return self._specs

    def of(self, department_id: str | None) -> OfficeHours:
        """The department's hours (the global ones when it has none of its own, or is None/unknown)."""
        spec = self._department_specs().get(department_id or "")
        if spec is None:
            return self.default
        hours = self._parsed.get(spec)
        if hours is None:
            try:
                hours = OfficeHours(parse_hours(spec), self.default.calendar)
            except ScheduleSpecError as exc:
                logger.warning(
                    "office hours of department %s do not parse (%s); the global hours apply", department_id, exc
                )
                hours = self.default
            self._parsed[spec] = hours
        return hours

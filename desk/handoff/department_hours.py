"""Each department's office hours for the handoff desk: its own (`departments.office_hours`, edited at
/admin/db) or, when empty, the desk's global `HELPDESK_HANDOFF_HOURS`.

The departments' texts are re-read from the database at most every few seconds (`knowledge_base.refreshed`,
the cache of the admin-entered holidays too), so an admin's change reaches every desk replica within that
time and without a restart. All departments share the one holiday calendar. A text
that does not parse (saved around the form's check, e.g. by SQL) falls back to the global hours, logged.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desk.handoff.office_hours import OfficeHours
from knowledge_base.booking.schedule import ScheduleSpecError
from knowledge_base.models import Department
from knowledge_base.refreshed import REFRESH_SECONDS, Refreshed

logger = logging.getLogger(__name__)


def department_specs(session: Session) -> dict[str, str]:
    """Department id -> its own office hours text (the departments that have one)."""
    rows = session.execute(select(Department.id, Department.office_hours)).all()
    return {dep: spec.strip() for dep, spec in rows if spec and spec.strip()}


class DepartmentHours:
    """`of(department_id)`: the OfficeHours that decide whether that department's staff are at their desks."""

    def __init__(self, sessions: sessionmaker, default: OfficeHours, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.default = default
        self.specs: Refreshed[dict[str, str]] = Refreshed(sessions, department_specs, {}, refresh_seconds)
        self._parsed: dict[str, OfficeHours] = {}  # by text: parsed (and a bad one logged) once per process

    def of(self, department_id: str | None) -> OfficeHours:
        """The department's hours (the global ones when it has none of its own, or is None/unknown)."""
        spec = self.specs().get(department_id or "")
        if spec is None:
            return self.default
        hours = self._parsed.get(spec)
        if hours is None:
            try:
                hours = OfficeHours.parse(spec, self.default.calendar)
            except ScheduleSpecError as exc:
                logger.warning(
                    "office hours of department %s do not parse (%s); the global hours apply", department_id, exc
                )
                hours = self.default
            self._parsed[spec] = hours
        return hours

"""When staff are at their desks: weekly hours on workdays of the Chinese holiday calendar.

`HELPDESK_HANDOFF_HOURS` (every department) and a department's own `office_hours` are written like a
service's hours in the catalog, one `days: ranges` group per `;` or line (`mon-fri: 08:30-11:30,
14:00-17:30; sat: 09:00-12:00`), parsed by knowledge_base.office_hours; department_hours.py picks a
ticket's hours. A public holiday closes the desk even on a weekday;
a make-up workday (调休上班) has Monday's hours; a plain weekend day has the hours given for it, if any.
Times are Beijing time (Asia/Shanghai) whatever the server's clock zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from knowledge_base.booking.schedule import TimeRange, Weekly
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.office_hours import parse_hours
from knowledge_base.timeexpr import TZ, WEEKDAYS_ZH

MAX_DAYS_AHEAD = 60  # a desk closed longer than this is treated as never opening again


def _clock(t: datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def describe_opening(opening: datetime, now: datetime) -> str:
    """How a student reads the next opening: 今天 14:00, 明天 8:30, 周一 8:30, 10月8日 8:30."""
    opening, now = opening.astimezone(TZ), now.astimezone(TZ)
    days = (opening.date() - now.date()).days
    if days == 0:
        return f"今天 {_clock(opening)}"
    if days == 1:
        return f"明天 {_clock(opening)}"
    if days < 7:
        return f"{WEEKDAYS_ZH[opening.weekday()]} {_clock(opening)}"
    return f"{opening.month}月{opening.day}日（{WEEKDAYS_ZH[opening.weekday()]}）{_clock(opening)}"


@dataclass(frozen=True)
class OfficeHours:
    """The desk's opening hours and the holiday calendar they follow."""

    weekly: Weekly
    calendar: OfficeCalendar = field(default_factory=OfficeCalendar, compare=False)

    @classmethod
    def parse(cls, spec: str, calendar: OfficeCalendar | None = None) -> OfficeHours:
        return cls(parse_hours(spec), calendar or OfficeCalendar())

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """The opening ranges of a date (empty when the desk is closed that day)."""
        kind = self.calendar.day_kind(day)
        if kind.holiday:
            return ()
        if kind.makeup_workday:
            return self.weekly.get(0, ())
        return self.weekly.get(day.weekday(), ())

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(TZ)
        now = local.time().replace(tzinfo=None)
        return any(r.start <= now < r.end for r in self.ranges_on(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The start of the next opening range after `at` (Beijing time), or None if none is near."""
        local = at.astimezone(TZ)
        for offset in range(MAX_DAYS_AHEAD + 1):
            day = local.date() + timedelta(days=offset)
            for r in self.ranges_on(day):
                start = datetime.combine(day, r.start, tzinfo=TZ)
                if start > local:
                    return start
        return None

    def last_closing(self, at: datetime) -> datetime | None:
        """The end of the latest opening range that ended by `at` (Beijing time), or None if none is near."""
        local = at.astimezone(TZ)
        for offset in range(MAX_DAYS_AHEAD + 1):
            day = local.date() - timedelta(days=offset)
            for r in reversed(self.ranges_on(day)):
                end = datetime.combine(day, r.end, tzinfo=TZ)
                if end <= local:
                    return end
        return None

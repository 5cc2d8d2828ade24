"""When staff are at their desks: weekly hours on workdays of the Chinese holiday calendar.

`HELPDESK_HANDOFF_HOURS` is written like a service's hours in the catalog, one `days: ranges` group
per `;` or line (`mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00`) and read with the booking
schedule's parsers, so both accept the same texts. A public holiday closes the desk even on a weekday;
a make-up workday (调休上班) has Monday's hours; a plain weekend day has the hours given for it, if any.
Times are Beijing time (Asia/Shanghai) whatever the server's clock zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from knowledge_base.booking.schedule import ScheduleSpecError, TimeRange, Weekly, parse_weekly
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.timeexpr import TZ

DEFAULT_HOURS = "mon-fri: 08:30-11:30, 14:00-17:30"
WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_GROUP = re.compile(r"^\s*([a-z][a-z,\s-]*?)\s*[:：]\s*(.+?)\s*$")
MAX_DAYS_AHEAD = 60  # a desk closed longer than this is treated as never opening again


def parse_hours(spec: str) -> Weekly:
    """'mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00' -> weekday -> ranges (ScheduleSpecError)."""
    mapping: dict[str, str] = {}
    for group in re.split(r"[;；\n]+", spec.strip().lower()):
        if not group.strip():
            continue
        match = _GROUP.match(group)
        if match is None:
            raise ScheduleSpecError(f"'{group.strip()}' is not 'days: HH:MM-HH:MM, ...' (e.g. {DEFAULT_HOURS})")
        days, ranges = match.groups()
        mapping[days] = f"{mapping[days]}, {ranges}" if days in mapping else ranges
    if not mapping:
        raise ScheduleSpecError(f"no office hours given (e.g. {DEFAULT_HOURS})")
    return parse_weekly(mapping)


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
        return f"{WEEKDAY_ZH[opening.weekday()]} {_clock(opening)}"
    return f"{opening.month}月{opening.day}日（{WEEKDAY_ZH[opening.weekday()]}）{_clock(opening)}"


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

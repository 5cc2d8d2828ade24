"""The Chinese public-holiday calendar for office opening: holidays, weekends and make-up workdays (调休).

The State Council's calendar comes from the maintained `chinese-calendar` package (updated each year
when the next year's schedule is published). For a year the package does not know yet, the office
calendar falls back to weekends plus the fixed-date holidays (元旦, 劳动节, 国庆节 1-3 Oct) and logs a
warning once, so booking a few weeks into January never breaks; admins can still close days by hand with
schedule exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import chinese_calendar

log = logging.getLogger(__name__)

# chinese_calendar.Holiday member names -> the names students know.
HOLIDAY_NAMES_ZH = {
    "new_years_day": "元旦",
    "spring_festival": "春节",
    "tomb_sweeping_day": "清明节",
    "labour_day": "劳动节",
    "dragon_boat_festival": "端午节",
    "national_day": "国庆节",
    "mid_autumn_festival": "中秋节",
    "anti_fascist_70th_day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
_FIXED_HOLIDAYS = {(1, 1): "new_years_day", (5, 1): "labour_day", (10, 1): "national_day"}
_FIXED_HOLIDAYS.update({(10, 2): "national_day", (10, 3): "national_day"})
_BY_ENGLISH_NAME = {member.value: member.name for member in chinese_calendar.Holiday}


@dataclass(frozen=True)
class DayKind:
    """What kind of day a date is for an office."""

    workday: bool
    holiday: str | None = None  # a public holiday's code (national_day, ...), None for a plain weekend
    makeup_workday: bool = False  # a weekend day that is a workday (调休上班)
    known: bool = True  # False when the package has no data for that year (fallback rules)

    @property
    def holiday_name(self) -> str | None:
        """The holiday's Chinese name (国庆节), or None."""
        return HOLIDAY_NAMES_ZH.get(self.holiday, self.holiday) if self.holiday else None


@dataclass(frozen=True)
class DayOverride:
    """An admin's setting for one date: a workday (调休上班) or a holiday with its name."""

    workday: bool
    name: str = ""


Overrides = Callable[[], Mapping[date, DayOverride]]


class OfficeCalendar:
    """Workdays, public holidays and make-up workdays of mainland China, with the admins' own dates first."""

    def __init__(self, overrides: Overrides | None = None) -> None:
        self._warned_years: set[int] = set()
        self._overrides = overrides

    def with_overrides(self, overrides: Mapping[date, DayOverride]) -> OfficeCalendar:
        """This calendar with these admin-entered dates taking precedence."""
        return OfficeCalendar(lambda: overrides)

    def day_kind(self, day: date) -> DayKind:
        """Classify a date; never raises for years the package does not know."""
        own = self._overrides().get(day) if self._overrides is not None else None
        if own is not None:
            if own.workday:
                return DayKind(workday=True, makeup_workday=day.weekday() >= 5)
            return DayKind(workday=False, holiday=own.name or "休息日")
        try:
            workday = chinese_calendar.is_workday(day)
            _, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return self._fallback(day)
        code = _BY_ENGLISH_NAME.get(name, name) if name else None
        weekend = day.weekday() >= 5
        if workday:
            return DayKind(workday=True, makeup_workday=weekend)
        return DayKind(workday=False, holiday=code)

    def _fallback(self, day: date) -> DayKind:
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            log.warning(
                "chinese-calendar has no data for %d yet: using weekends and fixed-date holidays; "
                "upgrade the package when the State Council publishes the schedule",
                day.year,
            )
        code = _FIXED_HOLIDAYS.get((day.month, day.day))
        if code:
            return DayKind(workday=False, holiday=code, known=False)
        return DayKind(workday=day.weekday() < 5, known=False)

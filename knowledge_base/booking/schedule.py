"""Slots derived from a service's weekly hours, its staff, exceptions and the holiday calendar.

Pure Python, no database: `ServiceSchedule.slots_on(day)` lists the appointments a service offers on a
date, each with the resources (staff members, or the service's single desk) that can take a student.

Rules, in order, for one date:
1. A service-wide exception for the date wins: `closed` shuts the day, `hours` replace that day's hours
   (even on a holiday: an office may open on a special day).
2. Otherwise, when the service observes holidays (the default), a public holiday or a plain weekend
   closes it, and a make-up workday (调休) follows the weekly hours of `makeup_weekday` (Monday unless
   the caller says otherwise).
3. Slots start at each opening range's start and repeat every `step` minutes (the duration unless the
   schedule gives `slot_minutes`); a slot must end within its range.
4. With staff, a slot is offered when at least one staff member covers it: each has the service's
   hours unless given their own, is absent on a `closed` staff exception, and works the exception's
   hours on a staff exception with `hours`. Seats = `capacity_per_slot` per staff member on duty. A
   service without staff has one desk with `capacity_per_slot` seats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from knowledge_base.holidays import OfficeCalendar
from knowledge_base.timeexpr import TZ

DEFAULT_CALENDAR = OfficeCalendar()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DESK = "desk"  # the resource of a service that names no staff
_DAY_ALIASES = {"daily": "mon-sun", "weekdays": "mon-fri", "weekends": "sat-sun"}
_RANGE_ANYWHERE = re.compile(r"(\d{1,2}):(\d{2})\s*[-–~～]\s*(\d{1,2}):(\d{2})")
_SPLIT = re.compile(r"[,，、;；\s]+")


class ScheduleSpecError(ValueError):
    """A days or hours text in a schedule cannot be read; `zh` says why in Chinese (for the admin pages)."""

    def __init__(self, message: str, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh or message


@dataclass(frozen=True, order=True)
class TimeRange:
    """An opening range within one day, [start, end)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def covers(self, start: time, end: time) -> bool:
        return self.start <= start and end <= self.end


def parse_days(spec: str) -> frozenset[int]:
    """'mon-fri', 'tue,thu', 'sat', 'daily', 'weekdays' -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for token in _SPLIT.split(spec.strip().lower()):
        if not token:
            continue
        token = _DAY_ALIASES.get(token, token)
        first, _, last = token.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ScheduleSpecError(
                f"unknown day '{token}' (use mon..sun, ranges like mon-fri, or daily)", f"不认识的星期「{token}」"
            )
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if b < a:
            raise ScheduleSpecError(f"day range '{token}' runs backwards", f"星期范围「{token}」前后颠倒")
        days.update(range(a, b + 1))
    if not days:
        raise ScheduleSpecError("no days given", "没有填写星期")
    return frozenset(days)


def parse_ranges(spec: str | Sequence[str]) -> tuple[TimeRange, ...]:
    """'8:30-11:30, 14:00-17:30' (or a list of such texts) -> sorted, merged time ranges."""
    texts: list[object] = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    ranges: list[TimeRange] = []
    for text in texts:
        if not isinstance(text, str):
            raise ScheduleSpecError(
                f"write times as quoted 'HH:MM-HH:MM' texts, got {text!r}", "时间要写成 08:30-11:30 这样的文字"
            )
        leftover = _RANGE_ANYWHERE.sub(" ", text)
        if _SPLIT.sub("", leftover):
            raise ScheduleSpecError(
                f"'{text.strip()}' is not a list of time ranges like 08:30-11:30, 14:00-17:30",
                f"「{text.strip()}」看不懂：请写成 08:30-11:30, 14:00-17:30 这样的时间段",
            )
        for m in _RANGE_ANYWHERE.finditer(text):
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            token = m.group(0)
            if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
                raise ScheduleSpecError(f"'{token}' is not a valid time of day", f"「{token}」不是有效的时间")
            if (h2, m2) <= (h1, m1):
                raise ScheduleSpecError(f"'{token}' ends before it starts", f"「{token}」结束时间不晚于开始时间")
            ranges.append(TimeRange(time(h1, m1), time(h2, m2)))
    if not ranges:
        raise ScheduleSpecError("no time ranges given", "没有填写时间段")
    return _merge(ranges)


def _merge(ranges: Iterable[TimeRange]) -> tuple[TimeRange, ...]:
    merged: list[TimeRange] = []
    for r in sorted(ranges):
        if merged and r.start <= merged[-1].end:
            if r.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return tuple(merged)


Weekly = dict[int, tuple[TimeRange, ...]]


def parse_weekly(mapping: Mapping[str, str | Sequence[str]]) -> Weekly:
    """{'mon-fri': '8:30-11:30, 14:00-17:30', 'tue,thu': '18:30-21:00'} -> weekday -> ranges."""
    collected: dict[int, list[TimeRange]] = {}
    for days_spec, ranges_spec in mapping.items():
        ranges = parse_ranges(ranges_spec)
        for day in parse_days(days_spec):
            collected.setdefault(day, []).extend(ranges)
    return {day: _merge(ranges) for day, ranges in sorted(collected.items())}


HOURS_EXAMPLE = "mon-fri: 08:30-11:30, 14:00-17:30"
_HOURS_GROUP = re.compile(r"^\s*([a-z][a-z,\s-]*?)\s*[:：]\s*(.+?)\s*$")


def parse_hours_text(spec: str) -> Weekly:
    """Weekly hours written as one line, `days: ranges` groups split by `;` or new lines
    ('mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00'), as office hours are (ScheduleSpecError)."""
    mapping: dict[str, str] = {}
    for group in re.split(r"[;；\n]+", spec.strip().lower()):
        if not group.strip():
            continue
        match = _HOURS_GROUP.match(group)
        if match is None:
            raise ScheduleSpecError(
                f"'{group.strip()}' is not 'days: HH:MM-HH:MM, ...' (e.g. {HOURS_EXAMPLE})",
                f"「{group.strip()}」不是“星期: 时间段”的写法",
            )
        days, ranges = match.groups()
        mapping[days] = f"{mapping[days]}, {ranges}" if days in mapping else ranges
    if not mapping:
        raise ScheduleSpecError(f"no office hours given (e.g. {HOURS_EXAMPLE})", "没有填写时间")
    return parse_weekly(mapping)


def canonical_hours(mapping: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    """The same mapping with normalised keys and 'HH:MM-HH:MM' texts (what is stored and exported)."""
    out: dict[str, list[str]] = {}
    for key, value in mapping.items():
        parse_days(key)
        out[key.strip().lower()] = [str(r) for r in parse_ranges(value)]
    return out


@dataclass(frozen=True)
class StaffSchedule:
    """A staff member who serves the service; `weekly` None means all of the service's hours."""

    id: str
    name: str
    weekly: Weekly | None = None


@dataclass(frozen=True)
class DayException:
    """A dated change: closed, or other hours, for the whole service or one staff member."""

    first_day: date
    last_day: date
    closed: bool
    ranges: tuple[TimeRange, ...] = ()
    staff_id: str | None = None
    reason: str = ""

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class SlotSpec:
    """A derived appointment time and who can take it."""

    start: datetime
    end: datetime
    resources: tuple[str, ...]
    seats_per_resource: int

    @property
    def capacity(self) -> int:
        return self.seats_per_resource * len(self.resources)


@dataclass(frozen=True)
class DayStatus:
    """Why a service is open or closed on a date."""

    ranges: tuple[TimeRange, ...]
    closed_reason: str | None = None  # holiday | closed | None when open
    holiday: str | None = None  # the holiday's Chinese name
    weekday: int = 0  # the weekly hours that apply (a make-up workday borrows another weekday's)


@dataclass(frozen=True)
class ServiceSchedule:
    """Everything needed to derive a bookable service's slots."""

    service_id: str
    duration_minutes: int
    capacity_per_slot: int
    weekly: Weekly
    step_minutes: int | None = None
    staff: tuple[StaffSchedule, ...] = ()
    exceptions: tuple[DayException, ...] = ()
    observe_holidays: bool = True
    one_open_per_student: bool = False
    calendar: OfficeCalendar = field(default=DEFAULT_CALENDAR, compare=False)
    makeup_weekday: int = 0

    @property
    def step(self) -> int:
        return self.step_minutes or self.duration_minutes

    def _exception(self, day: date, staff_id: str | None) -> DayException | None:
        found = [e for e in self.exceptions if e.staff_id == staff_id and e.covers(day)]
        return found[-1] if found else None  # the last one listed wins

    def day_status(self, day: date) -> DayStatus:
        """The service-wide opening of a date (before staff are considered)."""
        weekday = day.weekday()
        special = self._exception(day, None)
        if special is not None:
            if special.closed:
                return DayStatus((), "closed", weekday=weekday)
            return DayStatus(special.ranges, weekday=weekday)
        if self.observe_holidays:
            kind = self.calendar.day_kind(day)
            if not kind.workday:
                if kind.holiday:
                    return DayStatus((), "holiday", kind.holiday_name, weekday)
                return DayStatus((), "closed", weekday=weekday)
            if kind.makeup_workday:
                weekday = self.makeup_weekday
        ranges = self.weekly.get(weekday, ())
        if not ranges and self.weekly:
            return DayStatus((), "closed", weekday=weekday)
        return DayStatus(ranges, weekday=weekday)

    def _staff_ranges(self, person: StaffSchedule, day: date, status: DayStatus) -> tuple[TimeRange, ...]:
        own = self._exception(day, person.id)
        if own is not None:
            return () if own.closed else own.ranges
        if person.weekly is None:
            return status.ranges
        return person.weekly.get(status.weekday, ())

    def slots_on(self, day: date) -> list[SlotSpec]:
        """Every slot of the date (free or not), in time order."""
        status = self.day_status(day)
        if status.closed_reason:
            return []
        staff_ranges = {p.id: self._staff_ranges(p, day, status) for p in self.staff}
        opening = status.ranges
        if not self.weekly and self._exception(day, None) is None:  # hours come from the staff alone
            opening = _merge(r for ranges in staff_ranges.values() for r in ranges)
        duration, step = timedelta(minutes=self.duration_minutes), timedelta(minutes=self.step)
        slots: list[SlotSpec] = []
        for opening_range in opening:
            start = datetime.combine(day, opening_range.start, tzinfo=TZ)
            close = datetime.combine(day, opening_range.end, tzinfo=TZ)
            while start + duration <= close:
                end = start + duration
                if self.staff:
                    on_duty = tuple(
                        pid
                        for pid, ranges in staff_ranges.items()
                        if any(r.covers(start.time(), end.time()) for r in ranges)
                    )
                else:
                    on_duty = (DESK,)
                if on_duty:
                    slots.append(SlotSpec(start, end, on_duty, self.capacity_per_slot))
                start += step
        return slots

    def slot_at(self, start: datetime) -> SlotSpec | None:
        """The slot that starts exactly at `start`, or None."""
        start = start.astimezone(TZ)
        for spec in self.slots_on(start.date()):
            if spec.start == start:
                return spec
        return None

    def staff_name(self, resource: str) -> str | None:
        """The display name of a resource (None for the desk or an unknown id)."""
        for person in self.staff:
            if person.id == resource:
                return person.name
        return None

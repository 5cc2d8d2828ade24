"""The schedule editor's form ↔ the stored schedule: the per-weekday grid, and the check of a submitted
form that lists every problem with its field in Chinese (the parsers of knowledge_base/booking/schedule.py).

A valid form becomes the KB format (`knowledge_base.kbfile.ScheduleIn`, what `save_schedule` stores) and a
derivation-ready `ServiceSchedule` (for the preview of the slots the bot would offer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.admin.schedule_schemas import WEEKDAY_KEYS, FieldError, ScheduleFields, WeekGrid
from knowledge_base.booking.models import ServiceStaff
from knowledge_base.booking.schedule import (
    DayException,
    ScheduleSpecError,
    ServiceSchedule,
    StaffSchedule,
    TimeRange,
    parse_ranges,
    parse_weekly,
)
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.kbfile import ScheduleIn

MAX_EXCEPTION_DAYS = 366
STAFF_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def grid_of(mapping: Mapping[str, str | Sequence[str]] | None) -> WeekGrid:
    """Stored weekly hours ({'mon-fri': [...], 'tue,thu': [...]}) → one text per weekday ('' = closed)."""
    weekly = parse_weekly(mapping or {})
    return {key: ", ".join(str(r) for r in weekly.get(i, ())) for i, key in enumerate(WEEKDAY_KEYS)}


def mapping_of(grid: Mapping[str, tuple[TimeRange, ...]]) -> dict[str, list[str]]:
    """Parsed weekday ranges → the stored form, days with the same hours grouped ('mon-fri', 'mon,wed')."""
    by_hours: dict[tuple[str, ...], list[int]] = {}
    for i, key in enumerate(WEEKDAY_KEYS):
        ranges = grid.get(key, ())
        if ranges:
            by_hours.setdefault(tuple(str(r) for r in ranges), []).append(i)
    out: dict[str, list[str]] = {}
    for texts, days in by_hours.items():
        runs: list[list[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        key = ",".join(
            WEEKDAY_KEYS[r[0]] if len(r) == 1 else f"{WEEKDAY_KEYS[r[0]]}-{WEEKDAY_KEYS[r[-1]]}" for r in runs
        )
        out[key] = list(texts)
    return out


@dataclass
class CheckedForm:
    """The outcome of checking a form: its problems, or the KB form and the schedule it gives
    (with the checked duration and capacity)."""

    errors: list[FieldError]
    stored: ScheduleIn | None = None
    schedule: ServiceSchedule | None = None


class _Checker:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def error(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field=field, message=message))

    def ranges(self, field: str, text: str) -> tuple[TimeRange, ...]:
        if not text.strip():
            return ()
        try:
            return parse_ranges(text)
        except ScheduleSpecError as exc:
            self.error(field, exc.zh)
            return ()

    def number(self, field: str, value: int | None, most: int, name: str) -> int:
        if value is None:
            self.error(field, f"请填写{name}")
            return 0
        if not 1 <= value <= most:
            self.error(field, f"{name}要在 1 到 {most} 之间")
            return 0
        return value

    def grid(self, field: str, grid: WeekGrid) -> dict[str, tuple[TimeRange, ...]]:
        out: dict[str, tuple[TimeRange, ...]] = {}
        for key, text in grid.items():
            if key not in WEEKDAY_KEYS:
                self.error(f"{field}.{key}", f"不认识的星期「{key}」（用 mon…sun）")
                continue
            out[key] = self.ranges(f"{field}.{key}", text)
        return out


def check_form(
    session: Session,
    service_id: str,
    form: ScheduleFields,
    calendar: OfficeCalendar,
    makeup_weekday: int = 0,
) -> CheckedForm:
    """Check a submitted form against the rules of schedule.py and the catalog; new staff get ids."""
    c = _Checker()
    weekly = c.grid("hours", form.hours)
    duration = c.number("duration_minutes", form.duration_minutes, 480, "每次时长")
    capacity = c.number("capacity_per_slot", form.capacity_per_slot, 1000, "可约人数")
    if form.slot_minutes is not None:
        if not 1 <= form.slot_minutes <= 480:
            c.error("slot_minutes", "号源间隔要在 1 到 480 分钟之间（留空＝每次时长）")
        elif form.slot_minutes < duration:
            c.error("slot_minutes", "号源间隔不能短于每次时长")
    own_ids = set(session.scalars(select(ServiceStaff.id).where(ServiceStaff.service_id == service_id)))
    taken_ids = set(session.scalars(select(ServiceStaff.id))) - own_ids
    staff: list[tuple[str, str, dict[str, tuple[TimeRange, ...]] | None]] = []
    seen: set[str] = set()
    for j, person in enumerate(form.staff):
        field = f"staff.{j}"
        if not person.name:
            c.error(f"{field}.name", "请填写工作人员姓名")
        pid = person.id or ""
        if pid and (set(pid) - STAFF_ID_CHARS):
            c.error(f"{field}.id", "编号只能用小写字母、数字和下划线")
        elif pid in taken_ids:
            c.error(f"{field}.id", f"编号「{pid}」已被其他服务的工作人员使用")
        elif pid in seen:
            c.error(f"{field}.id", f"编号「{pid}」重复")
        seen.add(pid)
        own = c.grid(f"{field}.hours", person.hours) if person.hours is not None else None
        if own is not None and not any(own.values()) and not [e for e in c.errors if e.field.startswith(field)]:
            c.error(f"{field}.hours", "本人的时间一天也没有填写；不单独设置请选择「按服务时间」")
        staff.append((pid, person.name, own))
    staff = _with_new_ids(service_id, staff, taken_ids | own_ids | seen)
    if not any(weekly.values()) and (not staff or any(p[2] is None for p in staff)):
        c.error("hours", "请至少填写一天的开放时间（或为每位工作人员填写各自的时间）")
    exceptions = _exceptions(c, form, {p[0] for p in staff})
    if c.errors:
        return CheckedForm(c.errors)
    stored = ScheduleIn.model_validate(
        {
            "hours": mapping_of(weekly),
            "slot_minutes": form.slot_minutes,
            "observe_holidays": form.observe_holidays,
            "one_open_per_student": form.one_open_per_student,
            "staff": [{"id": i, "name": n, "hours": mapping_of(h) if h is not None else None} for i, n, h in staff],
            "exceptions": [
                {
                    "date": e.first_day,
                    "until": e.last_day if e.last_day != e.first_day else None,
                    "closed": e.closed,
                    "hours": [str(r) for r in e.ranges] if not e.closed else None,
                    "staff": e.staff_id,
                    "reason": e.reason,
                }
                for e in exceptions
            ],
        }
    )
    schedule = ServiceSchedule(
        service_id=service_id,
        duration_minutes=duration,
        capacity_per_slot=capacity,
        weekly=parse_weekly(stored.hours),
        step_minutes=form.slot_minutes,
        staff=tuple(StaffSchedule(p.id, p.name, parse_weekly(p.hours) if p.hours else None) for p in stored.staff),
        exceptions=tuple(exceptions),
        observe_holidays=form.observe_holidays,
        one_open_per_student=form.one_open_per_student,
        calendar=calendar,
        makeup_weekday=makeup_weekday,
    )
    return CheckedForm([], stored, schedule)


def _with_new_ids(
    service_id: str, staff: list[tuple[str, str, dict[str, tuple[TimeRange, ...]] | None]], used: set[str]
) -> list[tuple[str, str, dict[str, tuple[TimeRange, ...]] | None]]:
    out = []
    n = 1
    for pid, name, hours in staff:
        if not pid:
            while (pid := f"{service_id[:56]}_{n}") in used:
                n += 1
            used.add(pid)
        out.append((pid, name, hours))
    return out


def _exceptions(c: _Checker, form: ScheduleFields, staff_ids: set[str]) -> list[DayException]:
    out: list[DayException] = []
    for k, exc in enumerate(form.exceptions):
        field = f"exceptions.{k}"
        if exc.first_day is None:
            c.error(f"{field}.first_day", "请填写开始日期")
            continue
        last = exc.last_day or exc.first_day
        if last < exc.first_day:
            c.error(f"{field}.last_day", "结束日期早于开始日期")
        elif last - exc.first_day > timedelta(days=MAX_EXCEPTION_DAYS):
            c.error(f"{field}.last_day", f"一条例外最长{MAX_EXCEPTION_DAYS}天")
        if exc.staff_id is not None and exc.staff_id not in staff_ids:
            c.error(f"{field}.staff_id", "这位工作人员不在名单里（已删除？）")
        ranges: tuple[TimeRange, ...] = ()
        if not exc.closed:
            ranges = c.ranges(f"{field}.hours", exc.hours)
            if not exc.hours.strip():
                c.error(f"{field}.hours", "请填写当天的时间段，或选择「关闭」")
        out.append(DayException(exc.first_day, last, exc.closed, ranges, exc.staff_id, exc.reason))
    return out

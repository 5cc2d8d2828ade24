"""Office hours written as text (`mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00`): parse, describe.

The same `days: ranges` texts serve the handoff desk's global hours (`HELPDESK_HANDOFF_HOURS`) and a
department's own office hours (`departments.office_hours`, edited at /admin/db), read with the booking
schedule's parsers. `hours_for_students` decides what a student reads as a department's hours: the
display text the admin wrote, or else the office hours in Chinese (docs/admin.md).
"""

from __future__ import annotations

from knowledge_base.booking.schedule import HOURS_EXAMPLE, ScheduleSpecError, Weekly, parse_hours_text
from knowledge_base.timeexpr import WEEKDAYS_ZH

DEFAULT_HOURS = HOURS_EXAMPLE


def parse_hours(spec: str) -> Weekly:
    """'mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00' -> weekday -> ranges (ScheduleSpecError)."""
    return parse_hours_text(spec)


def check_hours(spec: str) -> str | None:
    """None when `spec` is empty or valid office hours, else what is wrong, in Chinese (for the admin form)."""
    if not (spec or "").strip():
        return None
    try:
        parse_hours(spec)
    except ScheduleSpecError as exc:
        return hours_error(exc)
    return None


def hours_error(exc: ScheduleSpecError) -> str:
    """What an admin reads when office hours do not parse (all in Chinese: the parser's `zh` reason)."""
    return f"人工服务时间格式不对（{exc.zh}）。请按“星期: 开始-结束”填写，例如 {DEFAULT_HOURS}; sat: 09:00-12:00"


def describe_weekly(weekly: Weekly) -> str:
    """'周一至周五 8:30-11:30、14:00-17:30，法定节假日除外' from parsed weekly hours."""
    groups: list[tuple[list[int], str]] = []
    for day in range(7):
        ranges = weekly.get(day)
        if not ranges:
            continue
        text = "、".join(f"{r.start.hour}:{r.start.minute:02d}-{r.end.hour}:{r.end.minute:02d}" for r in ranges)
        if groups and groups[-1][1] == text and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], text))
    parts = []
    for days, text in groups:
        label = WEEKDAYS_ZH[days[0]] if len(days) == 1 else f"{WEEKDAYS_ZH[days[0]]}至{WEEKDAYS_ZH[days[-1]]}"
        parts.append(f"{label} {text}")
    return "；".join(parts) + "，法定节假日除外" if parts else "另行通知"


def hours_for_students(display: str, office_hours: str) -> str:
    """A department's hours as students read them: the admin's display text when there is one, else its
    office hours in Chinese (so a department with only office hours set never shows none), else ''."""
    if (display or "").strip():
        return display
    if not (office_hours or "").strip():
        return ""
    try:
        return describe_weekly(parse_hours(office_hours))
    except ScheduleSpecError:  # saved around the form's check: no hours rather than an error
        return ""

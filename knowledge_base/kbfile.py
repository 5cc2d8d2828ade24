"""The knowledge-base YAML format (the benchmark's kb.yml, plus optional fields): parse and validate.

Validation never stops at the first problem: it returns every issue with the file, the entry (its id,
or its position when it has none) and the field, so an admin can fix a whole file in one pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge_base.booking.schedule import (
    HOURS_EXAMPLE,
    ScheduleSpecError,
    canonical_hours,
    parse_hours_text,
    parse_ranges,
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("aliases", "similar", "tags", "materials", mode="before", check_fields=False)
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        """An empty YAML key (`similar:`) means an empty list."""
        return [] if value is None else value


class DepartmentIn(_Entry):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = []
    location: str = ""
    hours: str = ""
    phone: str = ""
    # the handoff desk's hours for this office (`mon-fri: 08:30-11:30`); absent = keep, "" = the global setting
    office_hours: str | None = Field(default=None, max_length=500)

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, value: str | None) -> str | None:
        if value and value.strip():
            try:
                parse_hours_text(value)
            except ScheduleSpecError as exc:  # as knowledge_base.office_hours.hours_error (which would be a cycle)
                raise ValueError(f"人工服务时间格式不对（{exc.zh}），例如 {HOURS_EXAMPLE}") from exc
        return value


def _hours(value: Any) -> dict[str, list[str]] | None:
    """Validate and normalise a weekly-hours mapping ({'mon-fri': '8:30-11:30, 14:00-17:30'})."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("hours must map days (mon-fri, tue,thu, sat, daily) to time ranges")
    try:
        return canonical_hours({str(k): v for k, v in value.items()})
    except ScheduleSpecError as exc:
        raise ValueError(str(exc)) from exc


class StaffIn(_Entry):
    """A staff member who serves the service; without `hours` they work all of the service's hours."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=100)
    hours: dict[str, list[str]] | None = None

    @field_validator("hours", mode="before")
    @classmethod
    def _weekly(cls, value: Any) -> dict[str, list[str]] | None:
        return _hours(value)


class ScheduleExceptionIn(_Entry):
    """A dated change: `closed: true`, or other `hours` (replacing the day's), for the service or one staff."""

    date: dt.date
    until: dt.date | None = None
    closed: bool = False
    hours: list[str] | None = None
    staff: str | None = None
    reason: str = Field(default="", max_length=200)

    @field_validator("hours", mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> list[str] | None:
        if value is None:
            return None
        try:
            return [str(r) for r in parse_ranges(value)]
        except ScheduleSpecError as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _closed_or_hours(self) -> ScheduleExceptionIn:
        if self.closed == (self.hours is not None):
            raise ValueError("an exception either has closed: true or gives hours, not both")
        if self.until is not None and self.until < self.date:
            raise ValueError("until is before date")
        return self


class ScheduleIn(_Entry):
    """When a bookable service takes appointments; slots are derived from this, never typed in."""

    hours: dict[str, list[str]] = {}
    slot_minutes: int | None = Field(default=None, gt=0, le=480)
    observe_holidays: bool = True
    one_open_per_student: bool = False
    staff: list[StaffIn] = []
    exceptions: list[ScheduleExceptionIn] = []

    @field_validator("hours", mode="before")
    @classmethod
    def _weekly(cls, value: Any) -> dict[str, list[str]]:
        return _hours(value) or {}

    @model_validator(mode="after")
    def _has_hours(self) -> ScheduleIn:
        if not self.hours and (not self.staff or any(p.hours is None for p in self.staff)):
            raise ValueError("give the service's hours, or hours for every staff member")
        return self


class ServiceIn(_Entry):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    name: str = Field(min_length=1, max_length=200)
    aliases: list[str] = []
    department: str = Field(min_length=1)
    mode: Literal["offline", "online", "offline_or_online"] = "offline"
    bookable: bool = True
    duration_minutes: int | None = Field(default=None, gt=0, le=480)
    capacity_per_slot: int | None = Field(default=None, gt=0, le=1000)
    location: str = ""
    hours: str = ""
    processing_time: str = ""
    materials: list[str] = []
    notes: str = ""
    schedule: ScheduleIn | None = None


class FaqIn(_Entry):
    id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    department: str | None = None
    question: str = Field(min_length=2, max_length=500)
    similar: list[str] = []
    answer: str = Field(min_length=2)
    tags: list[str] = []
    service: str | None = None
    published: bool = True
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> FaqIn:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class KbFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    university: str = ""
    timezone: str = "Asia/Shanghai"
    departments: list[DepartmentIn] = []
    services: list[ServiceIn] = []
    faqs: list[FaqIn] = []
    synonyms: dict[str, list[str]] = {}


@dataclass(frozen=True)
class KbIssue:
    """One problem found in a KB file."""

    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.entry}: {self.field}: {self.message}"


class KbValidationError(Exception):
    """A KB file has problems; nothing was imported."""

    def __init__(self, issues: list[KbIssue]) -> None:
        self.issues = issues
        super().__init__(f"{len(issues)} problem(s) in the knowledge-base file")


def _entry_label(raw: Any, section: str, index: int) -> str:
    items = raw.get(section) if isinstance(raw, dict) else None
    if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
        entry_id = items[index].get("id")
        if entry_id:
            return f"{section}[{index}] id={entry_id}"
    return f"{section}[{index}]"


def parse_kb(text: str, file: str = "<kb>") -> KbFileIn:
    """Parse and fully validate KB YAML text; raise KbValidationError listing every issue."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise KbValidationError([KbIssue(file, where, "-", f"not valid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise KbValidationError([KbIssue(file, "-", "-", "the file must be a mapping with departments/services/faqs")])

    issues: list[KbIssue] = []
    try:
        kb = KbFileIn.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and isinstance(loc[1], int):
                entry = _entry_label(raw, str(loc[0]), loc[1])
                field = ".".join(str(p) for p in loc[2:]) or "-"
            else:
                entry = "-"
                field = ".".join(str(p) for p in loc) or "-"
            issues.append(KbIssue(file, entry, field, err["msg"]))
        raise KbValidationError(issues) from exc

    issues.extend(_check_references(kb, file))
    if issues:
        raise KbValidationError(issues)
    return kb


def _duplicates(ids: list[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for i in ids:
        (dup if i in seen else seen).add(i)
    return dup


def _check_references(kb: KbFileIn, file: str) -> list[KbIssue]:
    issues: list[KbIssue] = []
    for section, items in (("departments", kb.departments), ("services", kb.services), ("faqs", kb.faqs)):
        for dup in sorted(_duplicates([it.id for it in items])):
            issues.append(KbIssue(file, f"{section} id={dup}", "id", "duplicate id"))
    departments = {d.id for d in kb.departments}
    services = {s.id for s in kb.services}
    for i, svc in enumerate(kb.services):
        if svc.department not in departments:
            issues.append(
                KbIssue(file, f"services[{i}] id={svc.id}", "department", f"unknown department '{svc.department}'")
            )
        if svc.bookable and not (svc.duration_minutes and svc.capacity_per_slot):
            issues.append(
                KbIssue(
                    file,
                    f"services[{i}] id={svc.id}",
                    "duration_minutes",
                    "a bookable service needs duration_minutes and capacity_per_slot",
                )
            )
    issues.extend(_check_schedules(kb, file))
    for i, faq in enumerate(kb.faqs):
        label = f"faqs[{i}] id={faq.id}"
        if faq.department is not None and faq.department not in departments:
            issues.append(KbIssue(file, label, "department", f"unknown department '{faq.department}'"))
        if faq.service is not None and faq.service not in services:
            issues.append(KbIssue(file, label, "service", f"unknown service '{faq.service}'"))
    return issues


def _check_schedules(kb: KbFileIn, file: str) -> list[KbIssue]:
    issues: list[KbIssue] = []
    staff_owner: dict[str, str] = {}
    for i, svc in enumerate(kb.services):
        sched = svc.schedule
        if sched is None:
            continue
        label = f"services[{i}] id={svc.id}"
        if not svc.bookable:
            issues.append(KbIssue(file, label, "schedule", "only a bookable service has a schedule"))
        step = sched.slot_minutes or svc.duration_minutes
        if svc.duration_minutes and step and step < svc.duration_minutes:
            issues.append(KbIssue(file, label, "schedule.slot_minutes", "shorter than the service's duration"))
        ids = {p.id for p in sched.staff}
        for j, person in enumerate(sched.staff):
            if person.id in staff_owner:
                issues.append(
                    KbIssue(
                        file,
                        label,
                        f"schedule.staff.{j}.id",
                        f"staff '{person.id}' already serves '{staff_owner[person.id]}'",
                    )
                )
            staff_owner.setdefault(person.id, svc.id)
        for j, exc in enumerate(sched.exceptions):
            if exc.staff is not None and exc.staff not in ids:
                issues.append(KbIssue(file, label, f"schedule.exceptions.{j}.staff", f"unknown staff '{exc.staff}'"))
    return issues


def load_kb_file(path: str | Path) -> KbFileIn:
    """Read and validate a KB YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KbValidationError([KbIssue(str(p), "-", "-", f"cannot read file: {exc}")]) from exc
    return parse_kb(text, file=str(p))

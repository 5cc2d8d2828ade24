"""JSON shapes of the booking-schedule editor (/api/admin/services/{id}/schedule).

Weekly hours are a per-weekday grid: `{"mon": "08:30-11:30, 14:00-17:30", "tue": "", ...}` (a missing or
empty day is closed). Staff without `hours` work the service's hours. The texts are checked by the
service layer (desk/admin/schedule_editor.py), which reports every problem with its field in Chinese.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WeekGrid = dict[str, str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StaffMemberIn(_In):
    """A staff member: `id` of an existing one (keep it to rename), none for a new one."""

    id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=100)
    hours: WeekGrid | None = Field(default=None, description="本人的每周时间；不填 = 按服务的时间")


class ExceptionIn(_In):
    """A dated change: closed, or other hours, for the whole service or one staff member."""

    first_day: dt.date | None = Field(default=None, description="必填；缺了在 errors 中说明")
    last_day: dt.date | None = None
    closed: bool = True
    hours: str = Field(default="", max_length=200, description="closed 为 false 时当天的时间段")
    staff_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=200)


class ScheduleFields(_In):
    """Everything the editor changes about a bookable service's booking."""

    hours: WeekGrid = Field(default_factory=dict, description="mon..sun → '08:30-11:30, 14:00-17:30'")
    # numbers are checked by the service layer, so a missing or out-of-range one is a field error in Chinese
    duration_minutes: int | None = Field(default=None, description="每次预约的时长，1–480 分钟（必填）")
    slot_minutes: int | None = Field(default=None, description="号源间隔，不短于时长，最多 480；不填 = 时长")
    capacity_per_slot: int | None = Field(default=None, description="每个号源（每位工作人员）可约人数，1–1000（必填）")
    observe_holidays: bool = True
    one_open_per_student: bool = False
    staff: list[StaffMemberIn] = Field(default_factory=list, max_length=100)
    exceptions: list[ExceptionIn] = Field(default_factory=list, max_length=500)


class ScheduleSave(ScheduleFields):
    """A save: `version` is the one the editor loaded (stale → 409); `confirm_affected` lists the ids
    of the existing bookings the admin has seen outside the new hours (they are kept, not cancelled)."""

    version: str = Field(max_length=64)
    confirm_affected: list[int] = Field(default_factory=list, max_length=1000)


class StaffMemberOut(BaseModel):
    id: str
    name: str
    hours: WeekGrid | None


class ExceptionOut(BaseModel):
    first_day: dt.date
    last_day: dt.date
    closed: bool
    hours: str
    staff_id: str | None
    reason: str


class SlotOut(BaseModel):
    """A free slot as the bot would offer it."""

    start: dt.datetime
    end: dt.datetime
    seats_left: int
    staff: list[str]


class AffectedBooking(BaseModel):
    """An open booking that the new schedule no longer covers (kept; the office should call the student)."""

    id: int
    code: str
    starts_at: dt.datetime
    staff: str
    reason: str


class FieldError(BaseModel):
    field: str
    message: str


class ScheduleOut(BaseModel):
    """A service's schedule as the editor shows it; `version` goes back with the save."""

    service_id: str
    service_name: str
    department: str
    version: str
    hours: WeekGrid
    duration_minutes: int
    slot_minutes: int | None
    capacity_per_slot: int
    observe_holidays: bool
    one_open_per_student: bool
    staff: list[StaffMemberOut]
    exceptions: list[ExceptionOut]
    next_slots: list[SlotOut] = Field(description="机器人现在会提供的空闲号源（最近 7 个有空位的日子）")


class PreviewOut(BaseModel):
    """What a draft would do: its problems, the slots the bot would offer, the bookings it leaves out."""

    errors: list[FieldError]
    next_slots: list[SlotOut]
    affected: list[AffectedBooking]


class ScheduleSummary(BaseModel):
    service_id: str
    service_name: str
    department: str
    has_schedule: bool
    hours: WeekGrid
    staff: int
    exceptions: int

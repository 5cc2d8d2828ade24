"""Request and response schemas of the staff console and the appointments pages (pydantic).

Inputs derive from `FormModel`: a malformed body or query comes back as one Chinese sentence built
from the field's `title` ("请填写回复内容", "回复内容最长2000个字…", "部门格式错误"), or from the field's
own `invalid` text, which `desk.errors` answers as 400 `{"detail": "<sentence>"}`, the shape the
console shows as is. Outputs (`…Public`) are what the JSON API returns.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

MALFORMED = "请求格式错误，请刷新页面后重试"
INPUT_ERROR = "desk_input"  # the pydantic error type whose message is already the Chinese sentence
MAX_REPLY_LENGTH = 2000
MAX_NOTE_LENGTH = 2000
MAX_TITLE_LENGTH = 50
BAD_DATE = "日期格式不对，请用 年-月-日（例如 2026-12-01）。"


def _none_is_empty(value: Any) -> Any:
    return "" if value is None else value


def _empty_is_none(value: Any) -> Any:
    return value or None


def _day_or_week(value: Any) -> Any:
    return value if value in ("day", "week") else "day"


def _field_sentence(model: type[BaseModel], error: ErrorDetails) -> str:
    """One Chinese sentence for the first thing wrong with a `model` input."""
    loc = error.get("loc") or ()
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    field = fields.get(str(loc[0])) if loc else None
    if field is None:  # not an object at all, or an unknown place
        return MALFORMED
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if isinstance(extra.get("invalid"), str):
        return str(extra["invalid"])
    label = field.title or str(loc[0])
    kind = error["type"]
    if kind in ("missing", "string_too_short", "too_short"):
        return f"请填写{label}"
    if kind in ("string_too_long", "too_long"):
        return f"{label}最长{(error.get('ctx') or {}).get('max_length')}个字，请精简后再发送"
    return f"{label}格式错误"


class FormModel(BaseModel):
    """An input whose validation error is one Chinese sentence (type `desk_input`)."""

    model_config = ConfigDict(validate_default=True)

    @model_validator(mode="wrap")
    @classmethod
    def _one_chinese_sentence(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            raise PydanticCustomError(INPUT_ERROR, _field_sentence(cls, exc.errors()[0])) from None


NoneIsEmpty = BeforeValidator(_none_is_empty)  # listed last in Annotated, so it runs before the constraints


def _stripped(limit: int, *, required: bool = True) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1 if required else 0, max_length=limit)


# Stripped strings of at most N characters (`null` reads as empty); empty is refused unless optional.
ReplyText = Annotated[str, _stripped(MAX_REPLY_LENGTH), NoneIsEmpty]
NoteText = Annotated[str, _stripped(MAX_NOTE_LENGTH), NoneIsEmpty]
OptionalNote = Annotated[str, _stripped(MAX_NOTE_LENGTH, required=False), NoneIsEmpty]
TitleText = Annotated[str, _stripped(MAX_TITLE_LENGTH), NoneIsEmpty]
DepartmentId = Annotated[str, _stripped(64), NoneIsEmpty]
View = Annotated[Literal["day", "week"], BeforeValidator(_day_or_week)]

# -- staff ------------------------------------------------------------------------------------------


class LoginForm(BaseModel):
    """The login page's form (a missing field reads as empty and fails the login, not the request)."""

    username: str = ""
    password: str = ""
    csrf_token: str = ""


class StaffPublic(BaseModel):
    """`GET /api/staff/me`: who is logged in."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    departments: list[str]


# -- the console ------------------------------------------------------------------------------------


class ReplyIn(FormModel):
    """`POST /api/staff/tickets/{id}/reply`: a message to the student."""

    text: ReplyText = Field("", title="回复内容")


class NoteIn(FormModel):
    """`POST /api/staff/tickets/{id}/note`: an internal note, never sent to the student."""

    text: NoteText = Field("", title="备注内容")


class TransferIn(FormModel):
    """`POST /api/staff/tickets/{id}/transfer`: move the ticket to another department's queue."""

    department_id: DepartmentId = Field("", title="转接部门")
    note: OptionalNote = Field("", title="转接说明")


class CloseIn(FormModel):
    """`POST /api/staff/tickets/{id}/close`: what was done."""

    resolution: NoteText = Field("", title="处理结果")


class CannedCreate(FormModel):
    """`POST /api/staff/canned` (admins): a quick reply, for one department or (no department) everyone."""

    department_id: Annotated[str | None, BeforeValidator(_empty_is_none)] = Field(None, title="部门")
    title: TitleText = Field("", title="快捷回复标题")
    text: ReplyText = Field("", title="快捷回复内容")


class CannedDeleted(BaseModel):
    deleted: int


class DepartmentPublic(BaseModel):
    id: str
    name: str


# -- appointments -----------------------------------------------------------------------------------


class AppointmentsQuery(FormModel):
    """`GET /api/staff/appointments`: which day or week, which department (none: all of the person's)."""

    day: Annotated[str | None, BeforeValidator(_empty_is_none)] = Field(None, title="日期")
    view: View = Field("day", title="视图")
    department: str = Field("", title="部门")
    cancelled: bool = Field(False, title="显示已取消")


class AppointmentsPageQuery(AppointmentsQuery):
    """The page's query: the list's, and what the last form did (keys of the page's notices and errors)."""

    notice: str = ""
    error: str = ""


class AppointmentsApiQuery(AppointmentsQuery):
    """The JSON list's query: the day must be a date (the page instead explains and shows today)."""

    day: Annotated[dt.date | None, BeforeValidator(_empty_is_none)] = Field(  # type: ignore[assignment]
        None, title="日期", json_schema_extra={"invalid": BAD_DATE}
    )


class ExportQuery(FormModel):
    """`GET /staff/appointments.csv` (admins): from `from` to `to` (inclusive; default: this week)."""

    first: Annotated[dt.date | None, BeforeValidator(_empty_is_none)] = Field(
        None, alias="from", title="开始日期", json_schema_extra={"invalid": BAD_DATE}
    )
    last: Annotated[dt.date | None, BeforeValidator(_empty_is_none)] = Field(
        None, alias="to", title="结束日期", json_schema_extra={"invalid": BAD_DATE}
    )
    department: str = Field("", title="部门")
    contacts: str = Field("masked", title="联系方式", description="full: 完整（记入访问日志），其他: 打码")


class MarkIn(FormModel):
    """`POST /api/staff/appointments/{code}/mark`."""

    status: Literal["attended", "no_show"] = Field(
        ..., title="状态", json_schema_extra={"invalid": "status 只能是 attended 或 no_show"}
    )


class MarkForm(AppointmentsQuery):
    """The page's 已到 / 未到 buttons: the mark and the view to return to."""

    status: Literal["attended", "no_show"] = Field(..., json_schema_extra={"invalid": "请选择“已到”或“未到”"})


class AppointmentPublic(BaseModel):
    """One booking as staff see it (contact masked)."""

    code: str
    department_id: str
    department: str
    service_id: str
    service: str
    start: str
    end: str
    date: str
    date_label: str
    time: str
    staff_name: str
    mode: str
    status: str
    status_label: str
    name: str
    student_number: str
    phone: str
    markable: bool


class AppointmentList(BaseModel):
    """A day or week of the departments' bookings, and the departments the person may pick."""

    day: str
    view: str
    first: str
    last: str
    department: str
    departments: list[DepartmentPublic]
    cancelled: bool
    appointments: list[AppointmentPublic]


class ContactPublic(BaseModel):
    """One booking's full contact (the person asked on purpose; audited)."""

    code: str
    name: str
    student_number: str
    phone: str


class PasswordForm(BaseModel):
    """`POST /staff/password`: the current password and the new one twice (missing fields read as empty)."""

    current_password: str = ""
    new_password: str = ""
    repeat: str = ""
    csrf_token: str = ""


class AccessLogQuery(FormModel):
    """`GET /staff/access-log` (admins): one staff member's reads and/or one day's, a page of them."""

    user: str = Field("", title="用户名", max_length=64)
    day: Annotated[dt.date | None, BeforeValidator(_empty_is_none)] = Field(
        None, title="日期", json_schema_extra={"invalid": BAD_DATE}
    )
    page: int = Field(1, ge=1, le=100_000, title="页码")

"""Staff appointments: a department's bookings for a day or a week, attendance, contacts on demand, CSV.

Staff see the departments they belong to, admins every department. Contacts are masked (张*,
20******12, 138****1234); "显示联系方式" is a POST (CSRF) that shows one booking's full contact and
writes an access event (who, which booking; never the data) to the `desk.access` log. A booking of a
department the person does not belong to is answered 404, as if it did not exist; asking for such a
department's list is 403. Pages are rendered on the server (forms post back and redirect), and the
same operations are offered as JSON under /api/staff/appointments for the console.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.staff.accounts import CurrentUser
from desk.staff.security import AdminDep, StaffDep
from knowledge_base.booking import models as bm
from knowledge_base.booking.errors import BookingNotChangeable, BookingNotFound, ContactKeyError
from knowledge_base.booking.service import normalize_code
from knowledge_base.booking.staff import MODE_ZH, STATUS_ZH, StaffBookings, export_csv
from knowledge_base.booking.types import StaffBookingRow
from knowledge_base.models import Department, Service, utcnow
from knowledge_base.privacy import Contact, ContactCipher
from knowledge_base.timeexpr import TZ

logger = logging.getLogger(__name__)
access_log = logging.getLogger("desk.access")  # who looked at which student's contact (never the contact)

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

Clock = Callable[[], datetime]
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MARKS = {"attended": "已到", "no_show": "未到"}
NOTICES = {"attended": "已标记为“已到”。", "no_show": "已标记为“未到”。"}
ERRORS = {
    "not_started": "预约还没开始，开始后才能标记已到/未到。",
    "cancelled": "这个预约已被学生取消，不能标记。",
    "bad_date": "日期格式不对，请用 年-月-日（例如 2026-12-01）。",
}
KEY_ERROR = "无法解密学生联系方式：预约密钥（HELPDESK_BOOKING_KEY）与预约时使用的不一致，请联系管理员。"
CODE = re.compile(r"^[0-9A-Z]{4,16}$")
MAX_EXPORT_DAYS = 366
NO_STORE = {"Cache-Control": "no-store"}


def get_clock() -> Clock:
    """The clock of these pages (tests override this dependency with a frozen one)."""
    return utcnow


ClockDep = Annotated[Clock, Depends(get_clock)]


# -- data (sync, run in a worker thread) ---------------------------------------------------------------


def allowed_departments(sessions: sessionmaker, user: CurrentUser) -> dict[str, str]:
    """Departments this person may look at, id -> name: an admin's are those with bookable services."""
    with sessions() as session:
        names = {d.id: d.name for d in session.scalars(select(Department).order_by(Department.id))}
        if user.is_admin:
            bookable = set(session.scalars(select(Service.department_id).join(bm.ServiceScheduleRow)))
            return {dep: name for dep, name in names.items() if dep in bookable}
    return {dep: names[dep] for dep in sorted(user.departments) if dep in names}


def department_of(sessions: sessionmaker, code: str) -> str | None:
    """The department a booking belongs to, or None when there is no such booking."""
    with sessions() as session:
        return session.scalar(
            select(Service.department_id)
            .join(bm.Booking, bm.Booking.service_id == Service.id)
            .where(bm.Booking.code == code)
        )


def contact_of(sessions: sessionmaker, cipher: ContactCipher, code: str) -> Contact | None:
    """The full contact of one booking (decrypted here, for one person who asked on purpose)."""
    with sessions() as session:
        token = session.scalar(select(bm.Booking.contact).where(bm.Booking.code == code))
    return None if token is None else cipher.open(token)[0]


def rows_between(
    staff: StaffBookings, departments: list[str], first: date, last: date, *, reveal: bool, cancelled: bool
) -> list[tuple[str, StaffBookingRow]]:
    """(department id, row) of the departments' bookings from `first` to `last` (inclusive), in time order."""
    out: list[tuple[str, StaffBookingRow]] = []
    for dep in departments:
        monday = first - timedelta(days=first.weekday())
        while monday <= last:
            for row in staff.for_week(dep, monday, reveal=reveal, include_cancelled=cancelled):
                if first <= row.start.date() <= last:
                    out.append((dep, row))
            monday += timedelta(days=7)
    out.sort(key=lambda pair: (pair[1].start, pair[1].code))
    return out


# -- request helpers -----------------------------------------------------------------------------------


def _today(clock: Clock) -> date:
    return clock().astimezone(TZ).date()


def _parse_day(raw: str | None, today: date) -> date | None:
    if not raw:
        return today
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _range(day: date, view: str) -> tuple[date, date]:
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


def _day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_ZH[day.weekday()]}）"


async def _scope(request: Request, user: CurrentUser, department: str) -> tuple[dict[str, str], list[str]]:
    """(departments the user may pick, departments shown): 404 for an unknown id, 403 for another's."""
    allowed = await to_thread.run_sync(allowed_departments, request.app.state.sessions, user)
    if not department:
        return allowed, list(allowed)
    if department in allowed:
        return allowed, [department]
    if user.is_admin:  # a department without online booking: an empty list, not an error
        exists = await to_thread.run_sync(_department_exists, request.app.state.sessions, department)
        if exists:
            return allowed, [department]
    elif await to_thread.run_sync(_department_exists, request.app.state.sessions, department):
        raise HTTPException(status_code=403, detail="你没有查看该部门预约的权限")
    raise HTTPException(status_code=404, detail="没有这个部门")


def _department_exists(sessions: sessionmaker, department: str) -> bool:
    with sessions() as session:
        return session.get(Department, department) is not None


async def _visible_booking(request: Request, user: CurrentUser, code: str) -> tuple[str, str]:
    """(normalised code, department) of a booking this person may act on; 404 otherwise."""
    code = normalize_code(code)
    department = await to_thread.run_sync(department_of, request.app.state.sessions, code) if CODE.match(code) else None
    if department is None or not (user.is_admin or department in user.departments):
        raise HTTPException(status_code=404, detail="没有找到这个预约")
    return code, department


def _staff(request: Request) -> StaffBookings:
    return StaffBookings(request.app.state.sessions, request.app.state.cipher)


def _public(dep: str, row: StaffBookingRow, names: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "code": row.code,
        "department_id": dep,
        "department": names.get(dep, dep),
        "service_id": row.service_id,
        "service": row.service_name,
        "start": row.start.isoformat(),
        "end": row.end.isoformat(),
        "date": row.start.date().isoformat(),
        "date_label": f"{row.start.month}月{row.start.day}日 {WEEKDAYS_ZH[row.start.weekday()]}",
        "time": f"{row.start:%H:%M}-{row.end:%H:%M}",
        "staff_name": row.staff_name or "",
        "mode": MODE_ZH.get(row.mode, row.mode),
        "status": row.status,
        "status_label": STATUS_ZH.get(row.status, row.status),
        "name": row.name,
        "student_number": row.student_number,
        "phone": row.phone,
        "markable": row.status != bm.CANCELLED and row.start <= now,
    }


async def _listing(
    request: Request, user: CurrentUser, day: date, view: str, department: str, cancelled: bool, now: datetime
) -> dict[str, Any]:
    allowed, shown = await _scope(request, user, department)
    first, last = _range(day, view)
    try:
        pairs = await to_thread.run_sync(
            lambda: rows_between(_staff(request), shown, first, last, reveal=False, cancelled=cancelled)
        )
    except ContactKeyError:
        logger.error("appointments page: contacts cannot be decrypted with the configured booking key")
        raise HTTPException(status_code=500, detail=KEY_ERROR) from None
    names = dict(allowed)
    return {
        "day": day.isoformat(),
        "view": view,
        "first": first.isoformat(),
        "last": last.isoformat(),
        "department": department,
        "departments": [{"id": k, "name": v} for k, v in allowed.items()],
        "cancelled": cancelled,
        "appointments": [_public(dep, row, names, now) for dep, row in pairs],
    }


def _page_url(day: str, view: str, department: str, cancelled: bool, **extra: str) -> str:
    params = {"day": day, "view": view if view in ("day", "week") else "day"}
    if department:
        params["department"] = department
    if cancelled:
        params["cancelled"] = "1"
    params.update(extra)
    return "/staff/appointments?" + urlencode(params)


async def _render(
    request: Request,
    user: CurrentUser,
    clock: Clock,
    *,
    day: str | None,
    view: str,
    department: str,
    cancelled: bool,
    notice: str = "",
    error: str = "",
    revealed: tuple[str, Contact] | None = None,
) -> HTMLResponse:
    now = clock()
    today = _today(clock)
    view = view if view in ("day", "week") else "day"
    parsed = _parse_day(day, today)
    status = 200
    if parsed is None:
        parsed, error, status = today, ERRORS["bad_date"], 400
    data = await _listing(request, user, parsed, view, department, cancelled, now)
    step = timedelta(days=7 if view == "week" else 1)
    first, last = date.fromisoformat(data["first"]), date.fromisoformat(data["last"])
    context = {
        **data,
        "user": user,
        "csrf_token": request.state.csrf_token,
        "title": _day_label(first) if view == "day" else f"{_day_label(first)} 至 {_day_label(last)}",
        "prev_url": _page_url((parsed - step).isoformat(), view, department, cancelled),
        "next_url": _page_url((parsed + step).isoformat(), view, department, cancelled),
        "today_url": _page_url(today.isoformat(), view, department, cancelled),
        "day_url": _page_url(parsed.isoformat(), "day", department, cancelled),
        "week_url": _page_url(parsed.isoformat(), "week", department, cancelled),
        "notice": notice,
        "error": error,
        "revealed": {"code": revealed[0], "contact": revealed[1]} if revealed else None,
        "export_from": first.isoformat(),
        "export_to": last.isoformat(),
        "marks": MARKS,
    }
    return templates.TemplateResponse(request, "staff_appointments.html", context, status_code=status, headers=NO_STORE)


# -- pages ---------------------------------------------------------------------------------------------


@router.get("/staff/appointments", response_class=HTMLResponse)
async def appointments_page(
    request: Request,
    user: StaffDep,
    clock: ClockDep,
    day: str | None = None,
    view: str = "day",
    department: str = "",
    cancelled: bool = False,
    notice: str = "",
    error: str = "",
) -> HTMLResponse:
    """The appointments of the person's departments for a day (default: today in Shanghai) or a week."""
    return await _render(
        request, user, clock, day=day, view=view, department=department, cancelled=cancelled,
        notice=NOTICES.get(notice, ""), error=ERRORS.get(error, ""),
    )  # fmt: skip


@router.post("/staff/appointments/{code}/mark")
async def mark_form(
    request: Request,
    code: str,
    user: StaffDep,
    clock: ClockDep,
    status: str = Form(""),
    day: str = Form(""),
    view: str = Form("day"),
    department: str = Form(""),
    cancelled: bool = Form(False),
) -> Response:
    """已到 / 未到 from the page; back to the same view with a notice."""
    if status not in MARKS:
        raise HTTPException(status_code=400, detail="请选择“已到”或“未到”")
    outcome = await _mark(request, user, code, status, clock())
    if isinstance(outcome, str):
        url = _page_url(day, view, department, cancelled, error=outcome)
    else:
        url = _page_url(day, view, department, cancelled, notice=status)
    return RedirectResponse(url, status_code=303)


@router.post("/staff/appointments/{code}/contact", response_class=HTMLResponse)
async def reveal_form(
    request: Request,
    code: str,
    user: StaffDep,
    clock: ClockDep,
    day: str = Form(""),
    view: str = Form("day"),
    department: str = Form(""),
    cancelled: bool = Form(False),
) -> HTMLResponse:
    """The same page with one booking's full contact shown (not cached, not in the URL, audited)."""
    code, contact = await _reveal(request, user, code)
    return await _render(
        request, user, clock, day=day or None, view=view, department=department, cancelled=cancelled,
        revealed=(code, contact),
    )  # fmt: skip


@router.get("/staff/appointments.csv")
async def export(
    request: Request,
    user: AdminDep,
    clock: ClockDep,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
    department: str = "",
    contacts: str = "masked",
) -> Response:
    """Admins: the bookings from `from` to `to` (inclusive; default this week), cancelled ones included."""
    today = _today(clock)
    start = _parse_day(first, today - timedelta(days=today.weekday()))
    if start is None or (end := _parse_day(last, start + timedelta(days=6))) is None:
        raise HTTPException(status_code=400, detail=ERRORS["bad_date"])
    if end < start or (end - start).days >= MAX_EXPORT_DAYS:
        raise HTTPException(status_code=400, detail=f"导出范围需从早到晚，且不超过{MAX_EXPORT_DAYS}天")
    _, shown = await _scope(request, user, department)
    reveal = contacts == "full"
    try:
        pairs = await to_thread.run_sync(
            lambda: rows_between(_staff(request), shown, start, end, reveal=reveal, cancelled=True)
        )
    except ContactKeyError:
        raise HTTPException(status_code=500, detail=KEY_ERROR) from None
    if reveal:
        access_log.info(
            "staff user %d (%s) exported the full contacts of %d bookings (%s, %s to %s)",
            user.id, user.username, len(pairs), department or "all departments", start, end,
        )  # fmt: skip
    name = f"appointments_{department or 'all'}_{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return Response(
        export_csv(row for _, row in pairs).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


# -- actions shared by the pages and the JSON API ------------------------------------------------------


async def _mark(
    request: Request, user: CurrentUser, code: str, status: str, now: datetime
) -> tuple[str, StaffBookingRow] | str:
    """Mark a visible booking; returns (department, row), or an error key of ERRORS (not started, cancelled)."""
    code, department = await _visible_booking(request, user, code)
    staff = _staff(request)
    mark = staff.mark_attended if status == "attended" else staff.mark_no_show
    try:
        row = await to_thread.run_sync(lambda: mark(department, code, now=now))
    except BookingNotFound:
        raise HTTPException(status_code=404, detail="没有找到这个预约") from None
    except BookingNotChangeable as exc:
        return "cancelled" if exc.reason == bm.CANCELLED else "not_started"
    except ContactKeyError:
        raise HTTPException(status_code=500, detail=KEY_ERROR) from None
    logger.info("staff user %d marked booking %s %s", user.id, code, status)
    return department, row


async def _reveal(request: Request, user: CurrentUser, code: str) -> tuple[str, Contact]:
    code, department = await _visible_booking(request, user, code)
    try:
        contact = await to_thread.run_sync(contact_of, request.app.state.sessions, request.app.state.cipher, code)
    except ContactKeyError:
        raise HTTPException(status_code=500, detail=KEY_ERROR) from None
    if contact is None:
        raise HTTPException(status_code=404, detail="没有找到这个预约")
    access_log.info(
        "staff user %d (%s) viewed the contact of booking %s (%s)", user.id, user.username, code, department
    )
    return code, contact


# -- JSON API ------------------------------------------------------------------------------------------


class MarkIn(BaseModel):
    status: str


@router.get("/api/staff/appointments")
async def appointments_api(
    request: Request,
    user: StaffDep,
    clock: ClockDep,
    day: str | None = None,
    view: str = "day",
    department: str = "",
    cancelled: bool = False,
) -> dict[str, Any]:
    """The same list as the page, contacts masked."""
    parsed = _parse_day(day, _today(clock))
    if parsed is None:
        raise HTTPException(status_code=400, detail=ERRORS["bad_date"])
    view = view if view in ("day", "week") else "day"
    return await _listing(request, user, parsed, view, department, cancelled, clock())


@router.post("/api/staff/appointments/{code}/mark")
async def mark_api(request: Request, code: str, body: MarkIn, user: StaffDep, clock: ClockDep) -> dict[str, Any]:
    """Body {"status": "attended" | "no_show"}; 409 with a Chinese detail when not possible yet."""
    if body.status not in MARKS:
        raise HTTPException(status_code=422, detail="status 只能是 attended 或 no_show")
    now = clock()
    outcome = await _mark(request, user, code, body.status, now)
    if isinstance(outcome, str):
        raise HTTPException(status_code=409, detail=ERRORS[outcome])
    department, row = outcome
    names = await to_thread.run_sync(allowed_departments, request.app.state.sessions, user)
    return _public(department, row, names, now)


@router.post("/api/staff/appointments/{code}/contact")
async def reveal_api(request: Request, code: str, user: StaffDep) -> dict[str, str]:
    """One booking's full contact (audited)."""
    code, contact = await _reveal(request, user, code)
    return {"code": code, "name": contact.name, "student_number": contact.student_number, "phone": contact.phone}

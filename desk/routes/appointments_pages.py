"""Staff appointments pages: a department's bookings for a day or a week, marks, one contact, the CSV.

Rendered on the server (forms post back and redirect); the data, access rules and audit are in
desk/staff/appointments_view.py, the errors' HTTP answers in desk/errors.py, the same operations as
JSON in appointments_api.py. Contacts are masked (张*, 20******12, 138****1234); "显示联系方式" is a
POST (CSRF) that shows one booking's full contact, never cached and never in the URL. The CSV is a GET
with masked contacts; with full contacts it is a POST (CSRF), so another site cannot make an admin's
browser download it, and the export is written to the access log.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import AppointmentsDep, ClockDep
from desk.errors import NOT_CHANGEABLE
from desk.staff.accounts import CurrentUser
from desk.staff.appointments_view import StaffAppointments, day_label, today
from desk.staff.schemas import (
    BAD_DATE,
    AppointmentsPageQuery,
    AppointmentsQuery,
    ContactPublic,
    ExportQuery,
    MarkForm,
)
from desk.staff.security import AdminDep, StaffDep
from knowledge_base.booking import models as bm
from knowledge_base.booking.errors import BookingNotChangeable

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

MARKS = {"attended": "已到", "no_show": "未到"}
NOTICES = {"attended": "已标记为“已到”。", "no_show": "已标记为“未到”。"}
ERRORS = {**NOT_CHANGEABLE, "bad_date": BAD_DATE}  # ?error= keys: not_started, cancelled, bad_date
MAX_EXPORT_DAYS = 366
NO_STORE = {"Cache-Control": "no-store"}


def _page_url(query: AppointmentsQuery, day: str | None = None, view: str | None = None, **extra: str) -> str:
    params = {"day": (query.day or "") if day is None else day, "view": view or query.view}
    if query.department:
        params["department"] = query.department
    if query.cancelled:
        params["cancelled"] = "1"
    params.update(extra)
    return "/staff/appointments?" + urlencode(params)


async def _render(
    request: Request,
    user: CurrentUser,
    appointments: StaffAppointments,
    now: datetime,
    query: AppointmentsQuery,
    *,
    notice: str = "",
    error: str = "",
    revealed: ContactPublic | None = None,
) -> HTMLResponse:
    """The page for the query's day or week; a day that is not a date shows today, explained, with 400."""
    current = today(now)
    status = 200
    try:
        day = date.fromisoformat(query.day.strip()) if query.day else current
    except ValueError:
        day, error, status = current, ERRORS["bad_date"], 400
    data = await to_thread.run_sync(appointments.listing, user, day, query.view, query.department, query.cancelled, now)
    step = timedelta(days=7 if query.view == "week" else 1)
    first, last = date.fromisoformat(data.first), date.fromisoformat(data.last)
    context = {
        **data.model_dump(),
        "user": user,
        "csrf_token": request.state.csrf_token,
        "title": day_label(first) if query.view == "day" else f"{day_label(first)} 至 {day_label(last)}",
        "prev_url": _page_url(query, (day - step).isoformat()),
        "next_url": _page_url(query, (day + step).isoformat()),
        "today_url": _page_url(query, current.isoformat()),
        "day_url": _page_url(query, day.isoformat(), "day"),
        "week_url": _page_url(query, day.isoformat(), "week"),
        "notice": notice,
        "error": error,
        "revealed": {"code": revealed.code, "contact": revealed} if revealed else None,
        "export_from": first.isoformat(),
        "export_to": last.isoformat(),
        "marks": MARKS,
    }
    return templates.TemplateResponse(request, "staff_appointments.html", context, status_code=status, headers=NO_STORE)


@router.get("/staff/appointments", response_class=HTMLResponse)
async def appointments_page(
    request: Request,
    user: StaffDep,
    appointments: AppointmentsDep,
    clock: ClockDep,
    query: Annotated[AppointmentsPageQuery, Query()],
) -> HTMLResponse:
    """The appointments of the person's departments for a day (default: today in Shanghai) or a week."""
    notice, error = NOTICES.get(query.notice, ""), ERRORS.get(query.error, "")
    return await _render(request, user, appointments, clock(), query, notice=notice, error=error)


@router.post("/staff/appointments/{code}/mark")
async def mark_form(
    code: str,
    user: StaffDep,
    appointments: AppointmentsDep,
    clock: ClockDep,
    form: Annotated[MarkForm, Form()],
) -> Response:
    """已到 / 未到 from the page; back to the same view with a notice (or why it cannot be marked yet); audited."""
    try:
        await to_thread.run_sync(appointments.mark, user, code, form.status, clock())
    except BookingNotChangeable as exc:
        outcome = {"error": bm.CANCELLED if exc.reason == bm.CANCELLED else "not_started"}
    else:
        outcome = {"notice": form.status}
    return RedirectResponse(_page_url(form, **outcome), status_code=303)


@router.post("/staff/appointments/{code}/contact", response_class=HTMLResponse)
async def reveal_form(
    request: Request,
    code: str,
    user: StaffDep,
    appointments: AppointmentsDep,
    clock: ClockDep,
    form: Annotated[AppointmentsQuery, Form()],
) -> HTMLResponse:
    """The same page with one booking's full contact shown (not cached, not in the URL, audited)."""
    contact = await to_thread.run_sync(appointments.reveal, user, code)
    return await _render(request, user, appointments, clock(), form, revealed=contact)


@router.get("/staff/appointments.csv")
async def export(
    user: AdminDep, appointments: AppointmentsDep, clock: ClockDep, query: Annotated[ExportQuery, Query()]
) -> Response:
    """Admins: the bookings from `from` to `to` (inclusive; default this week), contacts masked."""
    if query.contacts == "full":
        raise HTTPException(status_code=405, detail="完整联系方式请在预约管理页面用“下载”按钮导出（POST）")
    return await _csv(user, appointments, clock, query)


@router.post("/staff/appointments.csv")
async def export_form(
    user: AdminDep, appointments: AppointmentsDep, clock: ClockDep, form: Annotated[ExportQuery, Form()]
) -> Response:
    """Admins, from the page's form (CSRF): the CSV, with full contacts when asked (written to the access log)."""
    return await _csv(user, appointments, clock, form)


async def _csv(user: CurrentUser, appointments: StaffAppointments, clock: ClockDep, query: ExportQuery) -> Response:
    """The CSV of the query's range (default this week), cancelled bookings included."""
    current = today(clock())
    start = query.first or current - timedelta(days=current.weekday())
    end = query.last or start + timedelta(days=6)
    if end < start or (end - start).days >= MAX_EXPORT_DAYS:
        raise HTTPException(status_code=400, detail=f"导出范围需从早到晚，且不超过{MAX_EXPORT_DAYS}天")
    full = query.contacts == "full"
    text = await to_thread.run_sync(lambda: appointments.export(user, start, end, query.department, full=full))
    name = f"appointments_{query.department or 'all'}_{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )

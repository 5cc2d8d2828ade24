"""Staff appointments as JSON, for the console: the list, 已到 / 未到, one contact (docs/booking.md).

The same data and rules as the pages (desk/staff/appointments_view.py); errors are answered by
desk/errors.py (403 another department's list, 404 a booking the person may not see, 409 not yet
markable, 400 a malformed query or body). POSTs carry the session's CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query

from desk.deps import AppointmentsDep, ClockDep
from desk.staff.appointments_view import today
from desk.staff.schemas import AppointmentList, AppointmentPublic, AppointmentsApiQuery, ContactPublic, MarkIn
from desk.staff.security import StaffDep

router = APIRouter(prefix="/api/staff/appointments")


@router.get("")
async def appointments_list(
    user: StaffDep, appointments: AppointmentsDep, clock: ClockDep, query: Annotated[AppointmentsApiQuery, Query()]
) -> AppointmentList:
    """The same list as the page, contacts masked."""
    now = clock()
    day = query.day or today(now)
    return await to_thread.run_sync(appointments.listing, user, day, query.view, query.department, query.cancelled, now)


@router.post("/{code}/mark")
async def mark(
    code: str, body: MarkIn, user: StaffDep, appointments: AppointmentsDep, clock: ClockDep
) -> AppointmentPublic:
    """Body {"status": "attended" | "no_show"}; 409 with a Chinese detail when not possible yet (audited)."""
    return await to_thread.run_sync(appointments.mark, user, code, body.status, clock())


@router.post("/{code}/contact")
async def reveal(code: str, user: StaffDep, appointments: AppointmentsDep) -> ContactPublic:
    """One booking's full contact (audited)."""
    return await to_thread.run_sync(appointments.reveal, user, code)

"""The insight dashboard: `GET /staff/insight` (the page), its JSON and each chart's CSV.

Admins see every department (and may pick one); staff see only their departments' figures, and
asking for another department is refused (403). The work is in desk/insight/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import ClockDep, SessionsDep
from desk.insight.export import chart_csv
from desk.insight.scope import Filters, ScopeError
from desk.insight.service import dashboard, one_chart, parse_filters
from desk.staff.accounts import CurrentUser
from desk.staff.security import StaffDep, current_staff

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
NO_STORE = {"Cache-Control": "no-store"}


def _filters(user: CurrentUser, now_clock: ClockDep, first: str | None, last: str | None,
             channel: str | None, department: str | None) -> Filters:  # fmt: skip
    try:
        return parse_filters(user, now_clock(), first, last, channel, department)
    except ScopeError as exc:
        raise HTTPException(status_code=403 if exc.forbidden else 400, detail=str(exc)) from None


@router.get("/staff/insight", response_class=HTMLResponse)
async def insight_page(request: Request) -> Response:
    """The dashboard's shell; insight.js loads the charts from the JSON API."""
    try:
        user = await current_staff(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/staff/login", status_code=303)
        raise
    context = {"user": user, "csrf_token": request.state.csrf_token, "static_version": request.app.version}
    return templates.TemplateResponse(request, "insight.html", context, headers=NO_STORE)


@router.get("/api/insight/dashboard")
async def insight_data(
    user: StaffDep,
    sessions: SessionsDep,
    clock: ClockDep,
    first: Annotated[str | None, Query(alias="from")] = None,
    last: Annotated[str | None, Query(alias="to")] = None,
    channel: str | None = None,
    department: str | None = None,
) -> Response:
    """Every chart's data for the filters (JSON)."""
    filters = _filters(user, clock, first, last, channel, department)
    data = await to_thread.run_sync(dashboard, sessions, filters)
    return JSONResponse(data, headers=NO_STORE)


@router.get("/api/insight/charts/{name}.csv")
async def insight_csv(
    name: str,
    user: StaffDep,
    sessions: SessionsDep,
    clock: ClockDep,
    first: Annotated[str | None, Query(alias="from")] = None,
    last: Annotated[str | None, Query(alias="to")] = None,
    channel: str | None = None,
    department: str | None = None,
) -> Response:
    """One chart's data as CSV, with the same filters as the page."""
    filters = _filters(user, clock, first, last, channel, department)
    try:
        chart = await to_thread.run_sync(one_chart, sessions, name, filters)
    except ScopeError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    filename = f"{name}_{filters.first:%Y%m%d}-{filters.last:%Y%m%d}.csv"
    return Response(
        chart_csv(chart),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )

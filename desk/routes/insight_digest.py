"""The weekly digest page, `GET /staff/insight/digest?week=YYYY-MM-DD&department=…` (desk/insight/digest.py):
staff see their departments' digest, admins every department's or one's."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import ClockDep, SessionsDep
from desk.insight.digest import week_of, weekly
from desk.insight.scope import local_today
from desk.staff.security import current_staff

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/staff/insight/digest", response_class=HTMLResponse)
async def digest_page(
    request: Request, sessions: SessionsDep, clock: ClockDep, week: str | None = None, department: str | None = None
) -> Response:
    """A week's digest: new question clusters, the worst-rated handoffs, the longest waits."""
    try:
        user = await current_staff(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/staff/login", status_code=303)
        raise
    try:
        day = date.fromisoformat(week) if week else local_today(clock()) - timedelta(days=7)
    except ValueError:
        raise HTTPException(status_code=400, detail="日期格式应为 YYYY-MM-DD") from None
    if department and not user.is_admin and department not in user.departments:
        raise HTTPException(status_code=403, detail="无权查看其他部门的数据")
    departments = (department,) if department else (None if user.is_admin else tuple(user.departments))
    span = week_of(day)
    data = await to_thread.run_sync(weekly, sessions, span, departments)
    context = {
        "user": user,
        "csrf_token": request.state.csrf_token,
        "static_version": request.app.version,
        "digest": data,
        "prev_week": (span.first - timedelta(days=7)).isoformat(),
        "next_week": (span.first + timedelta(days=7)).isoformat(),
        "department": department or "",
    }
    return templates.TemplateResponse(request, "insight_digest.html", context, headers={"Cache-Control": "no-store"})

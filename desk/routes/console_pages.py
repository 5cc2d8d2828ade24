"""The staff console's page, `GET /staff/`: the shell that console.js fills from the JSON API (console_api.py)."""

from __future__ import annotations

from pathlib import Path

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import SessionsDep
from desk.staff.security import current_staff
from desk.staff.undelivered import undelivered

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/staff/", response_class=HTMLResponse)
async def console_page(request: Request, sessions: SessionsDep) -> Response:
    """The live console; the queue and tickets are loaded by console.js from the API.
    A browser without a valid session is sent to the login page rather than shown a JSON error."""
    try:
        user = await current_staff(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/staff/login", status_code=303)
        raise
    failed = await to_thread.run_sync(undelivered, sessions, user)
    return templates.TemplateResponse(
        request,
        "console.html",
        {
            "user": user,
            "undelivered": failed,
            "csrf_token": request.state.csrf_token,
            "static_version": request.app.version,
        },
    )

"""A staff member's own password (`/staff/password`) and the admins' access log (`/staff/access-log`).

Changing the password needs the current one and a new one that passes the account rules (WeakPassword);
every other session of the person ends. The access log lists who read which transcript or contact,
newest first, filtered by username and day (docs/security.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from desk.admin import audit
from desk.deps import SessionsDep
from desk.staff import access_log, accounts
from desk.staff.schemas import AccessLogQuery, PasswordForm
from desk.staff.security import AdminDep, StaffDep

logger = logging.getLogger(__name__)
router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
NO_STORE = {"Cache-Control": "no-store"}


def _password_page(request: Request, user: accounts.CurrentUser, *, error: str = "", done: bool = False,
                   status_code: int = 200) -> HTMLResponse:  # fmt: skip
    context = {"user": user, "csrf_token": request.state.csrf_token, "error": error, "done": done,
               "min_length": accounts.MIN_PASSWORD_LENGTH}  # fmt: skip
    return templates.TemplateResponse(
        request, "staff_password.html", context, status_code=status_code, headers=NO_STORE
    )


@router.get("/staff/password", response_class=HTMLResponse)
async def password_page(request: Request, user: StaffDep) -> HTMLResponse:
    """The form: current password, new password twice."""
    return _password_page(request, user)


@router.post("/staff/password", response_class=HTMLResponse)
async def change_password(
    request: Request, user: StaffDep, sessions: SessionsDep, form: Annotated[PasswordForm, Form()]
) -> HTMLResponse:
    """Change the password; this browser stays logged in, every other session of the person ends."""
    if form.new_password != form.repeat:
        return _password_page(request, user, error="两次输入的新密码不一致。", status_code=400)
    keep = request.state.session_hash

    def change() -> None:
        with sessions() as session, session.begin():
            accounts.change_password(session, user.id, form.current_password, form.new_password, keep)
            changed = {"password": "changed", "other_sessions": "ended"}  # never the password or its hash
            audit.record(session, user.username, user.id, "account.password", "staff_user", str(user.id), None, changed)

    try:
        await to_thread.run_sync(change)
    except accounts.InvalidCredentials:
        return _password_page(request, user, error="当前密码不正确。", status_code=400)
    except accounts.WeakPassword:
        error = f"新密码至少需要{accounts.MIN_PASSWORD_LENGTH}个字符，且不能与当前密码相同。"
        return _password_page(request, user, error=error, status_code=400)
    return _password_page(request, user, done=True)


@router.get("/staff/access-log", response_class=HTMLResponse)
async def access_log_page(
    request: Request, user: AdminDep, sessions: SessionsDep, query: Annotated[AccessLogQuery, Query()]
) -> HTMLResponse:
    """Admins: who read which transcript or contact, newest first; by username and day, 50 a page."""
    found = await to_thread.run_sync(
        lambda: access_log.page(sessions, username=query.user, day=query.day, number=query.page)
    )
    day = query.day.isoformat() if query.day else ""
    base = {"user": query.user, "day": day}

    def link(number: int) -> str:
        return "/staff/access-log?" + urlencode({**base, "page": number})

    context = {
        "user": user,
        "csrf_token": request.state.csrf_token,
        "found": found,
        "filter_user": query.user,
        "filter_day": day,
        "prev_url": link(found.page - 1) if found.page > 1 else "",
        "next_url": link(found.page + 1) if found.page < found.pages else "",
    }
    return templates.TemplateResponse(request, "staff_access_log.html", context, headers=NO_STORE)

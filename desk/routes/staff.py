"""Staff login and logout, who is logged in, and the undelivered messages (the console: console_pages.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import SessionsDep
from desk.guard.http import client_address
from desk.guard.limits import allow
from desk.staff import accounts
from desk.staff.schemas import LoginForm, StaffPublic
from desk.staff.security import (
    StaffDep,
    check_login_csrf,
    end_session,
    new_login_csrf,
    set_login_csrf_cookie,
    start_session,
)
from desk.staff.undelivered import undelivered
from knowledge_base.models import utcnow

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def _login_page(request: Request, error: str = "", status_code: int = 200) -> HTMLResponse:
    token, signed = new_login_csrf(request)
    response = templates.TemplateResponse(
        request, "staff_login.html", {"error": error, "csrf_token": token}, status_code=status_code
    )
    set_login_csrf_cookie(request, response, signed)
    return response


@router.get("/staff/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/staff/login")
async def login(request: Request, sessions: SessionsDep, form: Annotated[LoginForm, Form()]) -> Response:
    if not check_login_csrf(request, form.csrf_token):
        return _login_page(request, "页面已过期，请重新登录。", 403)
    address = client_address(request)  # the real client behind the trusted proxies, never the proxy
    per_minute = request.app.state.settings.security.logins_per_minute
    if not await allow(request.app.state.counters, f"login:{address}", per_minute, 60):
        return _login_page(request, "登录尝试过于频繁，请稍后再试。", 429)
    try:
        user = await to_thread.run_sync(accounts.log_in, sessions, form.username, form.password, address, utcnow())
    except accounts.LoginThrottled:
        return _login_page(request, "登录失败次数过多，请15分钟后再试。", 429)
    except accounts.InvalidCredentials:
        return _login_page(request, "用户名或密码错误。", 401)
    # a one-time password from an admin (/admin/staff) is replaced first
    response = RedirectResponse("/staff/password" if user.must_change_password else "/staff/", status_code=303)
    await start_session(request, response, user)
    return response


@router.post("/staff/logout")
async def logout(request: Request, user: StaffDep) -> Response:
    """End the session on the server (a kept copy of the cookie opens nothing) and drop the cookie."""
    response = RedirectResponse("/staff/login", status_code=303)
    await end_session(request, response)
    return response


@router.get("/api/staff/undelivered")
async def undelivered_api(sessions: SessionsDep, user: StaffDep) -> list[dict[str, Any]]:
    return await to_thread.run_sync(undelivered, sessions, user)


@router.get("/api/staff/me")
async def me(user: StaffDep) -> StaffPublic:
    return StaffPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        departments=list(user.departments),
    )

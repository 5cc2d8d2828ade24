"""Staff sessions and CSRF protection.

The session cookie (HttpOnly, SameSite=Lax, Secure whenever the public URL is https) holds a random id;
the server keeps its hash, the account and a per-session CSRF token in `staff_sessions`
(desk/staff/sessions.py), so logout, a password change and a disabled account end it at once, and it
ends after the idle timeout and the absolute lifetime (HELPDESK_SECURITY_SESSION_*). Every
state-changing staff request must echo the token (form field `csrf_token` or header `X-CSRF-Token`).
The login form itself is protected by a pre-login token in its own cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from desk.staff import accounts
from desk.staff import sessions as staff_sessions
from knowledge_base.models import utcnow
from knowledge_base.security_settings import https_on

STAFF_COOKIE = "helpdesk_staff"
LOGIN_CSRF_COOKIE = "helpdesk_login_csrf"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PASSWORD_PATHS = {"/staff/password", "/staff/logout"}
CHANGE_FIRST = "请先修改管理员给你的一次性密码（/staff/password）"


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt=salt)


def lifetime(conn: HTTPConnection) -> staff_sessions.Lifetime:
    """The session lifetime the settings give."""
    sec = conn.app.state.settings.security
    return staff_sessions.Lifetime(timedelta(minutes=sec.session_idle_minutes), timedelta(hours=sec.session_max_hours))


async def start_session(request: Request, response: Response, user: accounts.CurrentUser) -> str:
    """Open a server-side session and set its cookie; returns the session's CSRF token."""
    life, sessions = lifetime(request), request.app.state.sessions

    def create() -> tuple[str, str]:
        with sessions() as session, session.begin():
            return staff_sessions.create(session, user.id, utcnow(), life)

    token, csrf = await to_thread.run_sync(create)
    response.set_cookie(
        STAFF_COOKIE, token, max_age=int(life.max_age.total_seconds()), httponly=True, samesite="lax",
        secure=https_on(request.app.state.settings), path="/",
    )  # fmt: skip
    return csrf


async def end_session(request: Request, response: Response) -> None:
    """Logout: the session's row is deleted (a copy of the cookie opens nothing) and the cookie dropped."""
    token, sessions = request.cookies.get(STAFF_COOKIE), request.app.state.sessions
    if token:

        def revoke() -> None:
            with sessions() as session, session.begin():
                staff_sessions.revoke(session, token)

        await to_thread.run_sync(revoke)
    response.delete_cookie(
        STAFF_COOKIE, path="/", httponly=True, samesite="lax", secure=https_on(request.app.state.settings)
    )


async def session_user(conn: HTTPConnection) -> tuple[accounts.CurrentUser, staff_sessions.OpenSession] | None:
    """The active account and open session behind the connection's cookie (a request or a websocket), else None."""
    token = conn.cookies.get(STAFF_COOKIE)
    if not token:
        return None
    life, sessions = lifetime(conn), conn.app.state.sessions

    def load() -> tuple[accounts.CurrentUser, staff_sessions.OpenSession] | None:
        with sessions() as session, session.begin():
            found = staff_sessions.lookup(session, token, utcnow(), life)
            user = accounts.load_user(session, found.user_id) if found else None
            return (user, found) if user is not None and found is not None else None

    return await to_thread.run_sync(load)


def new_login_csrf(request: Request) -> tuple[str, str]:
    """A pre-login CSRF token for the login form, and its signed cookie value."""
    token = secrets.token_urlsafe(24)
    return token, _serializer(request, "login-csrf").dumps(token)


def set_login_csrf_cookie(request: Request, response: Response, signed: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, signed, max_age=3600, httponly=True, samesite="strict",
                        secure=https_on(request.app.state.settings), path="/staff")  # fmt: skip


def check_login_csrf(request: Request, submitted: str) -> bool:
    raw = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not raw or not submitted:
        return False
    try:
        expected = _serializer(request, "login-csrf").loads(raw, max_age=3600)
    except BadSignature:
        return False
    return hmac.compare_digest(str(expected), submitted)


async def current_staff(request: Request) -> accounts.CurrentUser:
    """The logged-in staff member; 401 without a valid session, 403 on a missing or wrong CSRF token."""
    found = await session_user(request)
    if found is None:
        raise HTTPException(status_code=401, detail="请先登录（登录已过期、已退出或账号已停用）")
    user, open_session = found
    if user.must_change_password and request.url.path not in PASSWORD_PATHS:
        # a one-time password from an admin: nothing else until the person has chosen their own
        if request.method == "GET" and not request.url.path.startswith("/api/"):
            raise HTTPException(status_code=303, headers={"Location": "/staff/password"})
        raise HTTPException(status_code=403, detail=CHANGE_FIRST)
    if request.method in UNSAFE_METHODS:
        submitted = request.headers.get("x-csrf-token", "")
        if not submitted and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            submitted = str((await request.form()).get("csrf_token", ""))
        if not hmac.compare_digest(submitted, open_session.csrf):
            raise HTTPException(status_code=403, detail="页面已过期，请刷新后重试（CSRF）")
    request.state.csrf_token = open_session.csrf
    request.state.session_hash = open_session.id_hash
    return user


async def current_admin(user: Annotated[accounts.CurrentUser, Depends(current_staff)]) -> accounts.CurrentUser:
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="需要管理员权限")
    return user


StaffDep = Annotated[accounts.CurrentUser, Depends(current_staff)]
AdminDep = Annotated[accounts.CurrentUser, Depends(current_admin)]

"""Staff sessions and CSRF protection.

The session is a signed, HttpOnly, SameSite=Lax cookie (itsdangerous) carrying the account id and a
per-session CSRF token; it expires after `SESSION_MAX_AGE`. Every state-changing staff request must
echo the token (form field `csrf_token` or header `X-CSRF-Token`). The login form itself is protected
by a pre-login token in its own cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from anyio import to_thread
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from desk.staff import accounts

STAFF_COOKIE = "helpdesk_staff"
LOGIN_CSRF_COOKIE = "helpdesk_login_csrf"
SESSION_MAX_AGE = 12 * 3600
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt=salt)


def start_session(request: Request, response: Response, user: accounts.CurrentUser) -> str:
    """Set the session cookie; returns the session's CSRF token."""
    csrf = secrets.token_urlsafe(24)
    token = _serializer(request, "staff-session").dumps({"uid": user.id, "csrf": csrf})
    response.set_cookie(
        STAFF_COOKIE, token, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
        secure=request.app.state.settings.cookie_secure, path="/",
    )  # fmt: skip
    return csrf


def end_session(response: Response) -> None:
    response.delete_cookie(STAFF_COOKIE, path="/")


def read_session(request: Request) -> dict[str, Any] | None:
    """The session's data from a valid cookie, else None."""
    raw = request.cookies.get(STAFF_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request, "staff-session").loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and "uid" in data and "csrf" in data else None


def new_login_csrf(request: Request) -> tuple[str, str]:
    """A pre-login CSRF token for the login form, and its signed cookie value."""
    token = secrets.token_urlsafe(24)
    return token, _serializer(request, "login-csrf").dumps(token)


def set_login_csrf_cookie(request: Request, response: Response, signed: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, signed, max_age=3600, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/staff")  # fmt: skip


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
    data = read_session(request)
    if data is None:
        raise HTTPException(status_code=401, detail="请先登录")
    sessions = request.app.state.sessions

    def load() -> accounts.CurrentUser | None:
        with sessions() as session:
            return accounts.load_user(session, int(data["uid"]))

    user = await to_thread.run_sync(load)
    if user is None:
        raise HTTPException(status_code=401, detail="账号已停用或不存在，请重新登录")
    if request.method in UNSAFE_METHODS:
        submitted = request.headers.get("x-csrf-token", "")
        if not submitted and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            submitted = str((await request.form()).get("csrf_token", ""))
        if not hmac.compare_digest(submitted, str(data["csrf"])):
            raise HTTPException(status_code=403, detail="页面已过期，请刷新后重试（CSRF）")
    request.state.csrf_token = data["csrf"]
    return user


async def current_admin(user: Annotated[accounts.CurrentUser, Depends(current_staff)]) -> accounts.CurrentUser:
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="需要管理员权限")
    return user


StaffDep = Annotated[accounts.CurrentUser, Depends(current_staff)]
AdminDep = Annotated[accounts.CurrentUser, Depends(current_admin)]

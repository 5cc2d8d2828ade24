"""Domain errors and malformed requests answered as HTTP, once for the whole desk (see `register`).

Every answer is `{"detail": "<one Chinese sentence>"}`, which the console and the pages show as is:

| error | status |
|---|---|
| a malformed body, query or form (`RequestValidationError`) | 400, the schema's sentence (desk/staff/schemas.py) |
| `HandoffError` (desk/handoff/tickets.py) | its `status_code`: 404 NotFound, 403 Forbidden, 409 the others |
| `BookingNotFound` | 404 |
| `BookingNotChangeable` | 409 (not started yet, or cancelled by the student) |
| `DepartmentNotAllowed` / `UnknownDepartment` | 403 / 404 |
| `ContactKeyError` (the booking key does not open the stored contacts) | 500, logged |

A service message written in Chinese is shown as it is ("已被王老师接入"); an English one (ids, for the
logs) is replaced by the route's own text for that status (`responses={404: {"description": ...}}`),
else by the error's default text below.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from desk.handoff.tickets import Conflict, Forbidden, HandoffError, IllegalTransition, NotFound
from desk.staff.appointments_view import DepartmentNotAllowed, UnknownDepartment
from desk.staff.schemas import INPUT_ERROR, MALFORMED
from knowledge_base.booking import models as bm
from knowledge_base.booking.errors import BookingNotChangeable, BookingNotFound, ContactKeyError

logger = logging.getLogger(__name__)

TICKET_NOT_FOUND = "找不到这个工单，或你没有查看它的权限"
HANDOFF_TEXTS: dict[type[HandoffError], str] = {
    NotFound: TICKET_NOT_FOUND,
    Forbidden: "你没有权限进行这个操作",
    Conflict: "工单已被他人处理",
    IllegalTransition: "工单状态已变化，无法进行这个操作，请刷新",
}
BOOKING_NOT_FOUND = "没有找到这个预约"
NOT_CHANGEABLE = {
    bm.CANCELLED: "这个预约已被学生取消，不能标记。",
    "not_started": "预约还没开始，开始后才能标记已到/未到。",
}
KEY_ERROR = "无法解密学生联系方式：预约密钥（HELPDESK_BOOKING_KEY）与预约时使用的不一致，请联系管理员。"


def not_changeable_text(exc: BookingNotChangeable) -> str:
    """Why a booking cannot be marked, as staff read it."""
    return NOT_CHANGEABLE[bm.CANCELLED] if exc.reason == bm.CANCELLED else NOT_CHANGEABLE["not_started"]


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _route_text(request: Request, status: int) -> str | None:
    """The matched route's own description of `status` (its `responses=`), if it has one."""
    responses = getattr(request.scope.get("route"), "responses", None) or {}
    described = responses.get(status) or responses.get(str(status)) or {}
    return described.get("description") if isinstance(described, dict) else None


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    detail = str(first.get("msg")) if first.get("type") == INPUT_ERROR else MALFORMED
    return _answer(400, detail)


async def _handoff(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HandoffError)
    message = str(exc)
    if not _has_cjk(message):
        default = next((text for kind, text in HANDOFF_TEXTS.items() if isinstance(exc, kind)), MALFORMED)
        message = _route_text(request, exc.status_code) or default
    return _answer(exc.status_code, message)


async def _booking_not_found(request: Request, exc: Exception) -> JSONResponse:
    return _answer(404, BOOKING_NOT_FOUND)


async def _not_changeable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BookingNotChangeable)
    return _answer(409, not_changeable_text(exc))


async def _department_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    return _answer(403, "你没有查看该部门预约的权限")


async def _unknown_department(request: Request, exc: Exception) -> JSONResponse:
    return _answer(404, "没有这个部门")


async def _contact_key(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s %s: contacts cannot be decrypted with the booking key", request.method, request.url.path)
    return _answer(500, KEY_ERROR)


def register(app: FastAPI) -> None:
    """Install the handlers on the app (called once by `create_app`)."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(HandoffError, _handoff)
    app.add_exception_handler(BookingNotFound, _booking_not_found)
    app.add_exception_handler(BookingNotChangeable, _not_changeable)
    app.add_exception_handler(DepartmentNotAllowed, _department_not_allowed)
    app.add_exception_handler(UnknownDepartment, _unknown_department)
    app.add_exception_handler(ContactKeyError, _contact_key)

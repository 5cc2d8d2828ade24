"""Admins: one student's data exported or erased (PIPL), and the privacy audit (docs/privacy.md).

`/staff/privacy` is the page (admins only: 403 for other staff, 401 without a session), with forms
that POST the session's CSRF token; the same operations are JSON under `/api/admin/students/*` and
`/api/admin/privacy/audit`. A phone number travels in a POST body, never in a URL (access logs).
Every export and erasure is written to the append-only audit by desk/privacy/students.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from desk.deps import ClockDep, SessionsDep
from desk.privacy import audit
from desk.privacy.students import StudentData, StudentNotFound, Subject
from desk.staff.accounts import CurrentUser
from desk.staff.security import AdminDep

router = APIRouter()
MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have (SQLite and PostgreSQL BIGINT)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
NO_STORE = {"Cache-Control": "no-store"}
NOT_FOUND = "没有找到这位学生的数据"
NOTICES = {"erased": "已删除该学生的数据（统计数据已匿名保留），并记入审计日志。"}


class StudentIn(BaseModel):
    """Whom: a conversation id or a phone number (exactly one)."""

    conversation: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class EraseIn(StudentIn):
    confirm: bool = False


def _students(request: Request) -> StudentData:
    return request.app.state.students


def _subject(conversation: str | None, phone: str | None) -> Subject:
    try:
        return Subject.of(conversation=(conversation or "").strip() or None, phone=(phone or "").strip() or None)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def _actor(user: CurrentUser) -> str:
    return f"admin:{user.username}"


async def _export(request: Request, user: CurrentUser, subject: Subject, clock: ClockDep) -> dict[str, Any]:
    students = _students(request)
    try:
        return await to_thread.run_sync(lambda: students.export(subject, actor=_actor(user), now=clock()))
    except StudentNotFound as exc:
        raise HTTPException(status_code=404, detail=NOT_FOUND) from exc


async def _erase(request: Request, user: CurrentUser, subject: Subject, clock: ClockDep) -> dict[str, int]:
    students = _students(request)
    try:
        return await to_thread.run_sync(lambda: students.erase(subject, actor=_actor(user), now=clock()))
    except StudentNotFound as exc:
        raise HTTPException(status_code=404, detail=NOT_FOUND) from exc


# -- JSON -------------------------------------------------------------------------------------------
@router.post("/api/admin/students/export")
async def export_json(request: Request, body: StudentIn, user: AdminDep, clock: ClockDep) -> Response:
    """Everything held about the student (contacts decrypted), as JSON; audited."""
    data = await _export(request, user, _subject(body.conversation, body.phone), clock)
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json", headers=NO_STORE)


@router.post("/api/admin/students/erase")
async def erase_json(request: Request, body: EraseIn, user: AdminDep, clock: ClockDep) -> dict[str, Any]:
    """Delete every row that names the student ({"confirm": true} required); the counts; audited."""
    subject = _subject(body.conversation, body.phone)
    if not body.confirm:
        raise HTTPException(status_code=400, detail="删除不可恢复：请确认（confirm: true）")
    return {"erased": True, "counts": await _erase(request, user, subject, clock)}


@router.get("/api/admin/privacy/audit")
async def audit_json(
    user: AdminDep, sessions: SessionsDep, before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:  # fmt: skip
    """The newest audit rows (page with `before` = the last id seen)."""

    def load() -> tuple[list[dict[str, Any]], int]:
        with sessions() as session:
            return audit.page(session, limit=limit, before=before)

    rows, total = await to_thread.run_sync(load)
    return {"entries": rows, "total": total}


# -- the page ---------------------------------------------------------------------------------------
@router.get("/staff/privacy", response_class=HTMLResponse)
async def privacy_page(
    request: Request,
    user: AdminDep,
    sessions: SessionsDep,
    notice: str = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> HTMLResponse:
    """Export or erase one student's data; the audit, newest first."""

    def load() -> tuple[list[dict[str, Any]], int]:
        with sessions() as session:
            return audit.page(session, limit=50, before=before)

    rows, total = await to_thread.run_sync(load)
    context = {
        "user": user,
        "csrf_token": request.state.csrf_token,
        "entries": rows,
        "total": total,
        "notice": NOTICES.get(notice, ""),
        "error": "",
        "older": rows[-1]["id"] if len(rows) == 50 else None,
    }
    return templates.TemplateResponse(request, "staff_privacy.html", context, headers=NO_STORE)


@router.post("/staff/privacy/export")
async def export_form(
    request: Request, user: AdminDep, clock: ClockDep,
    conversation: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """The export as a JSON download."""
    data = await _export(request, user, _subject(conversation, phone), clock)
    headers = {**NO_STORE, "Content-Disposition": 'attachment; filename="student-data.json"'}
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json", headers=headers)


@router.post("/staff/privacy/erase")
async def erase_form(
    request: Request, user: AdminDep, clock: ClockDep,
    conversation: Annotated[str, Form()] = "", phone: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Erase, then back to the page with a notice."""
    subject = _subject(conversation, phone)
    if confirm != "yes":
        raise HTTPException(status_code=400, detail="删除不可恢复：请勾选确认")
    await _erase(request, user, subject, clock)
    return RedirectResponse("/staff/privacy?notice=erased", status_code=303)

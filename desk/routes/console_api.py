"""The staff console's JSON API over the Handoffs service (desk/handoff/service.py).

The service enforces who may see and do what; a route parses the body (desk/staff/schemas.py), calls
the service and returns its answer. Its errors become HTTP once, in desk/errors.py (`HandoffError.status_code`,
with a Chinese `detail`). POSTs and DELETEs carry the session's CSRF token in `X-CSRF-Token`
(checked by `current_staff`, 403 without). docs/handoff.md lists the routes and their answers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException

from desk.deps import HandoffsDep, SessionsDep
from desk.errors import TICKET_NOT_FOUND
from desk.staff import console_queries as queries
from desk.staff.schemas import CannedCreate, CannedDeleted, CloseIn, DepartmentPublic, NoteIn, ReplyIn, TransferIn
from desk.staff.security import AdminDep, StaffDep

router = APIRouter(prefix="/api/staff", responses={404: {"description": TICKET_NOT_FOUND}})

UNKNOWN_DEPARTMENT = "没有这个部门，请从列表中选择"


async def _run(func: Callable[..., Any], *args: Any) -> Any:
    """A Handoffs call: a sync one runs in a worker thread, an async one is awaited."""
    if inspect.iscoroutinefunction(func):
        return await func(*args)
    return await to_thread.run_sync(func, *args)


async def _known_department(sessions: SessionsDep, department_id: str) -> None:
    if not await to_thread.run_sync(queries.department_exists, sessions, department_id):
        raise HTTPException(status_code=400, detail=UNKNOWN_DEPARTMENT)


@router.get("/tickets")
async def tickets(handoffs: HandoffsDep, user: StaffDep) -> list[dict[str, Any]]:
    """The person's queue: open tickets they may see, most urgent and longest waiting first."""
    return await _run(handoffs.queue, user)


@router.get("/tickets/{ticket_id}")
async def ticket(handoffs: HandoffsDep, sessions: SessionsDep, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    """One ticket: packet (its service named as in the catalog), transcript, events, notes, canned replies."""
    out = await _run(handoffs.ticket, user, ticket_id)
    return await to_thread.run_sync(queries.with_service_name, sessions, out)


@router.post("/tickets/{ticket_id}/claim")
async def claim(handoffs: HandoffsDep, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    """Take the chat; the claimer may read it from now on (`restricted` false)."""
    return {**await _run(handoffs.claim, user, ticket_id), "restricted": False}


@router.post("/tickets/{ticket_id}/reply")
async def reply(handoffs: HandoffsDep, user: StaffDep, ticket_id: int, body: ReplyIn) -> dict[str, Any]:
    return await _run(handoffs.reply, user, ticket_id, body.text)


@router.post("/tickets/{ticket_id}/note")
async def note(handoffs: HandoffsDep, user: StaffDep, ticket_id: int, body: NoteIn) -> dict[str, Any]:
    return await _run(handoffs.note, user, ticket_id, body.text)


@router.post("/tickets/{ticket_id}/transfer")
async def transfer(
    handoffs: HandoffsDep, sessions: SessionsDep, user: StaffDep, ticket_id: int, body: TransferIn
) -> dict[str, Any]:
    await _known_department(sessions, body.department_id)
    return await _run(handoffs.transfer, user, ticket_id, body.department_id, body.note)


@router.post("/tickets/{ticket_id}/close")
async def close(handoffs: HandoffsDep, user: StaffDep, ticket_id: int, body: CloseIn) -> dict[str, Any]:
    return await _run(handoffs.close, user, ticket_id, body.resolution)


@router.get("/departments")
async def department_list(sessions: SessionsDep, user: StaffDep) -> list[DepartmentPublic]:
    return await to_thread.run_sync(queries.departments, sessions)


@router.get("/canned")
async def canned(handoffs: HandoffsDep, user: StaffDep, department_id: str | None = None) -> list[dict[str, Any]]:
    return await _run(handoffs.canned, user, department_id)


@router.post("/canned")
async def canned_add(
    handoffs: HandoffsDep, sessions: SessionsDep, user: AdminDep, body: CannedCreate
) -> dict[str, Any]:
    if body.department_id is not None:
        await _known_department(sessions, body.department_id)
    return await _run(handoffs.add_canned, user, body.department_id, body.title, body.text)


@router.delete("/canned/{canned_id}", responses={404: {"description": "这条快捷回复不存在或已被删除"}})
async def canned_delete(handoffs: HandoffsDep, user: AdminDep, canned_id: int) -> CannedDeleted:
    await _run(handoffs.delete_canned, user, canned_id)
    return CannedDeleted(deleted=canned_id)

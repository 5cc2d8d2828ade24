"""The staff console: the live page at /staff/, its JSON API over the Handoffs service, and /ws/staff.

Every action goes through `app.state.handoffs` (desk/handoff/service.py), which enforces who may see and do
what; this module only translates HTTP to calls and errors to Chinese messages. JSON POSTs and
DELETEs carry the session's CSRF token in `X-CSRF-Token` (checked by `current_staff`, 403 without).

The websocket pushes the service's events to every open console, filtered per person with the same
rule as the queue (`CurrentUser.can_see`): a staff member never receives a message of a ticket they
may not open. The socket needs the session cookie (closed with 4401 without) and an Origin equal to
the desk's host (4403 otherwise), so another site cannot open it with the staff member's cookie.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from desk.handoff import service as core
from desk.models import HandoffRequest
from desk.staff import accounts
from desk.staff.security import AdminDep, StaffDep, current_staff, read_session
from desk.staff.undelivered import undelivered
from knowledge_base.models import Department, Service

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))

MAX_REPLY_LENGTH = 2000
MAX_NOTE_LENGTH = 2000
MAX_TITLE_LENGTH = 50
OPEN_STATUSES = {"queued", "message", "claimed"}

Send = Callable[[dict[str, Any]], Awaitable[None]]


# -- the websocket hub ----------------------------------------------------------------------------
class StaffHub:
    """Open console sockets and who is behind each; forwards service events to those who may see them.

    The hub remembers each ticket's (department, priority) from the events it has seen, so that a
    message event (which names only the ticket) can be filtered, and so that a console which could
    see a ticket before a transfer learns that it left its queue (`ticket_removed`).
    """

    def __init__(self, lookup: Callable[[int], tuple[str | None, str] | None]) -> None:
        self._clients: dict[Send, accounts.CurrentUser] = {}
        self._tickets: dict[int, tuple[str | None, str]] = {}
        self._lookup = lookup  # sync, runs in a worker thread: (department_id, priority) of a ticket id

    def join(self, user: accounts.CurrentUser, send: Send) -> None:
        self._clients[send] = user

    def leave(self, send: Send) -> None:
        self._clients.pop(send, None)

    async def _send(self, send: Send, frame: dict[str, Any]) -> None:
        try:
            await send(frame)
        except Exception:  # a closed socket leaves on its own
            self.leave(send)

    async def _meta(self, ticket_id: int) -> tuple[str | None, str] | None:
        meta = self._tickets.get(ticket_id)
        if meta is None:
            meta = await to_thread.run_sync(self._lookup, ticket_id)
            if meta is not None:
                self._tickets[ticket_id] = meta
        return meta

    async def publish(self, event: dict[str, Any]) -> None:
        """Handoffs listener: one service event, fanned out to the consoles allowed to see it."""
        kind = event.get("type")
        if kind in ("ticket", "alert") and isinstance(event.get("ticket"), dict):
            ticket = event["ticket"]
            ticket_id = int(ticket["id"])
            before = self._tickets.get(ticket_id)
            now = (ticket.get("department_id"), str(ticket.get("priority", "normal")))
            self._tickets[ticket_id] = now
            if ticket.get("status") not in OPEN_STATUSES:
                self._tickets.pop(ticket_id, None)
            for send, user in list(self._clients.items()):
                if user.can_see(*now):
                    await self._send(send, event)
                elif kind == "ticket" and before is not None and user.can_see(*before):
                    await self._send(send, {"type": "ticket_removed", "id": ticket_id})
        elif kind == "message" and event.get("ticket_id") is not None:
            meta = await self._meta(int(event["ticket_id"]))
            if meta is None:
                return
            for send, user in list(self._clients.items()):
                if user.can_see(*meta):
                    await self._send(send, event)


def ticket_meta(sessions: Any, ticket_id: int) -> tuple[str | None, str] | None:
    """(department_id, priority) of a ticket, straight from the table (for filtering message events)."""
    with sessions() as session:
        row = session.get(HandoffRequest, ticket_id)
        return None if row is None else (row.department_id, row.priority)


def start_hub(state: Any) -> StaffHub:
    """Create the console hub and subscribe it to the Handoffs service (call inside the lifespan)."""
    hub = StaffHub(lambda ticket_id: ticket_meta(state.sessions, ticket_id))
    state.handoffs.add_listener(hub.publish)  # the service schedules the coroutine on the desk's loop
    state.staff_hub = hub
    return hub


def origin_allowed(origin: str | None, host: str | None, public_url: str = "") -> bool:
    """A browser's websocket Origin must be this desk (its Host header, or the configured public URL)."""
    if not origin or not host:
        return False
    netloc = urlsplit(origin).netloc.lower()
    allowed = {host.lower()}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return netloc in allowed


async def socket_user(websocket: WebSocket) -> accounts.CurrentUser | None:
    """The active account behind the socket's session cookie (still within its age), else None."""
    data = read_session(websocket)  # type: ignore[arg-type]  (reads cookies and app state only)
    if data is None:
        return None
    sessions = websocket.app.state.sessions

    def load() -> accounts.CurrentUser | None:
        with sessions() as session:
            return accounts.load_user(session, int(data["uid"]))

    return await to_thread.run_sync(load)


@router.websocket("/ws/staff")
async def staff_socket(websocket: WebSocket) -> None:
    """One console's live feed. Client frames: {"type": "ping"} -> {"type": "pong"}; nothing else."""
    state = websocket.app.state
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), state.settings.public_url):
        await websocket.close(code=4403, reason="origin")
        return
    user = await socket_user(websocket)
    if user is None:
        await websocket.close(code=4401, reason="no session")
        return
    await websocket.accept()

    async def send(frame: dict[str, Any]) -> None:
        await websocket.send_json(frame)

    hub: StaffHub = state.staff_hub
    hub.join(user, send)
    try:
        await send({"type": "hello", "user": user.display_name})
        while True:
            raw = await websocket.receive_text()
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict) and frame.get("type") == "ping":
                # Every ping re-checks the session: an expired session or a disabled account ends the
                # feed, and changed departments apply at once.
                user = await socket_user(websocket)
                if user is None:
                    await websocket.close(code=4401, reason="session ended")
                    break
                hub.join(user, send)
                await send({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(send)


# -- the page -------------------------------------------------------------------------------------
def departments(sessions: Any) -> list[dict[str, str]]:
    """Every department of the catalog (for the transfer select and canned replies)."""
    with sessions() as session:
        return [{"id": d.id, "name": d.name} for d in session.scalars(select(Department).order_by(Department.id))]


@router.get("/staff/", response_class=HTMLResponse)
async def console_page(request: Request) -> Response:
    """The live console; the queue and tickets are loaded by console.js from the API below.
    A browser without a valid session is sent to the login page rather than shown a JSON error."""
    try:
        user = await current_staff(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/staff/login", status_code=303)
        raise
    failed = await to_thread.run_sync(undelivered, request.app.state.sessions, user)
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


# -- the API --------------------------------------------------------------------------------------
def _handoffs(request: Request) -> Any:
    return request.app.state.handoffs


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def _call(func: Callable[..., Any], *args: Any, not_found: str = "找不到这个工单，或你没有查看它的权限") -> Any:
    """Run a Handoffs call (sync in a thread, async awaited) and map its errors to HTTP ones."""
    try:
        if inspect.iscoroutinefunction(func):
            return await func(*args)
        return await to_thread.run_sync(func, *args)
    except core.NotFound as exc:
        raise HTTPException(status_code=404, detail=not_found) from exc
    except core.Forbidden as exc:
        message = str(exc)
        raise HTTPException(status_code=403, detail=message if _has_cjk(message) else "你没有权限进行这个操作") from exc
    except core.Conflict as exc:
        message = str(exc)
        raise HTTPException(status_code=409, detail=message if _has_cjk(message) else "工单已被他人处理") from exc
    except core.IllegalTransition as exc:
        message = str(exc)
        raise HTTPException(
            status_code=409, detail=message if _has_cjk(message) else "工单状态已变化，无法进行这个操作，请刷新"
        ) from exc


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="请求格式错误，请刷新页面后重试") from exc
    if not isinstance(body, dict):
        raise HTTPException(status_code=400, detail="请求格式错误，请刷新页面后重试")
    return body


def _text(body: dict[str, Any], key: str, label: str, limit: int, required: bool = True) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise HTTPException(status_code=400, detail=f"{label}格式错误")
    value = value.strip()
    if required and not value:
        raise HTTPException(status_code=400, detail=f"请填写{label}")
    if len(value) > limit:
        raise HTTPException(status_code=400, detail=f"{label}最长{limit}个字，请精简后再发送")
    return value


@router.get("/api/staff/tickets")
async def tickets(request: Request, user: StaffDep) -> list[dict[str, Any]]:
    return await _call(_handoffs(request).queue, user)


def service_name(sessions: Any, service_id: str) -> str | None:
    """The catalog name of the service a packet names (staff read 在读证明开具, not certificate_issuing)."""
    with sessions() as session:
        row = session.get(Service, service_id)
        return row.name if row is not None else None


@router.get("/api/staff/tickets/{ticket_id}")
async def ticket(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    out = await _call(_handoffs(request).ticket, user, ticket_id)
    packet = out.get("packet") or {}
    if isinstance(packet.get("service"), str) and "service_name" not in packet:
        name = await to_thread.run_sync(service_name, request.app.state.sessions, packet["service"])
        out["packet"] = {**packet, "service_name": name or packet["service"]}
    return out


@router.post("/api/staff/tickets/{ticket_id}/claim")
async def claim(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    return await _call(_handoffs(request).claim, user, ticket_id)


@router.post("/api/staff/tickets/{ticket_id}/reply")
async def reply(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    text = _text(await _json(request), "text", "回复内容", MAX_REPLY_LENGTH)
    return await _call(_handoffs(request).reply, user, ticket_id, text)


@router.post("/api/staff/tickets/{ticket_id}/note")
async def note(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    text = _text(await _json(request), "text", "备注内容", MAX_NOTE_LENGTH)
    return await _call(_handoffs(request).note, user, ticket_id, text)


@router.post("/api/staff/tickets/{ticket_id}/transfer")
async def transfer(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    body = await _json(request)
    department_id = _text(body, "department_id", "转接部门", 64)
    known = {d["id"] for d in await to_thread.run_sync(departments, request.app.state.sessions)}
    if department_id not in known:
        raise HTTPException(status_code=400, detail="没有这个部门，请从列表中选择")
    text = _text(body, "note", "转接说明", MAX_NOTE_LENGTH, required=False)
    return await _call(_handoffs(request).transfer, user, ticket_id, department_id, text)


@router.post("/api/staff/tickets/{ticket_id}/close")
async def close(request: Request, user: StaffDep, ticket_id: int) -> dict[str, Any]:
    resolution = _text(await _json(request), "resolution", "处理结果", MAX_NOTE_LENGTH)
    return await _call(_handoffs(request).close, user, ticket_id, resolution)


@router.get("/api/staff/departments")
async def department_list(request: Request, user: StaffDep) -> list[dict[str, str]]:
    return await to_thread.run_sync(departments, request.app.state.sessions)


@router.get("/api/staff/canned")
async def canned(request: Request, user: StaffDep, department_id: str | None = None) -> list[dict[str, Any]]:
    return await _call(_handoffs(request).canned, user, department_id)


@router.post("/api/staff/canned")
async def canned_add(request: Request, user: AdminDep) -> dict[str, Any]:
    body = await _json(request)
    department_id = body.get("department_id") or None
    if department_id is not None:
        if not isinstance(department_id, str):
            raise HTTPException(status_code=400, detail="部门格式错误")
        known = {d["id"] for d in await to_thread.run_sync(departments, request.app.state.sessions)}
        if department_id not in known:
            raise HTTPException(status_code=400, detail="没有这个部门，请从列表中选择")
    title = _text(body, "title", "快捷回复标题", MAX_TITLE_LENGTH)
    text = _text(body, "text", "快捷回复内容", MAX_REPLY_LENGTH)
    return await _call(_handoffs(request).add_canned, user, department_id, title, text)


@router.delete("/api/staff/canned/{canned_id}")
async def canned_delete(request: Request, user: AdminDep, canned_id: int) -> dict[str, Any]:
    await _call(_handoffs(request).delete_canned, user, canned_id, not_found="这条快捷回复不存在或已被删除")
    return {"deleted": canned_id}

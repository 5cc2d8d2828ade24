"""The web chat: the page, the session (cookie + history) and the websocket.

Abuse limits (docs/security.md): new conversations per client address (HELPDESK_SECURITY_NEW_CHATS_PER_HOUR;
a refused student is still shown the crisis hotlines), messages per conversation (HELPDESK_WEBCHAT_RATE_*;
never a message that may signal a crisis), and the websocket's Origin (refused before accept).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from connectors.webchat import COOKIE_NAME, WebchatProtocolError, parse_frame
from desk.chat.gateway import log_id
from desk.chat.welcome import welcome_reply
from desk.deps import GatewayDep, SettingsDep, TokensDep
from desk.guard.http import client_address, webchat_origin_allowed
from desk.guard.limits import allow
from desk.insight import menus
from desk.privacy.students import StudentData, StudentNotFound, Subject
from knowledge_base import safety
from knowledge_base.models import utcnow
from knowledge_base.security_settings import https_on

logger = logging.getLogger(__name__)
router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


@router.get("/", response_class=HTMLResponse)
async def webchat_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The WeChat-style chat page."""
    return templates.TemplateResponse(
        request,
        "webchat.html",
        {"title": f"{settings.university_name} 一站式学生社区", "static_version": request.app.version},
    )


@router.post("/api/webchat/session")
async def webchat_session(
    request: Request,
    response: Response,
    settings: SettingsDep,
    tokens: TokensDep,
    gateway: GatewayDep,
    after: int = 0,
) -> dict[str, Any]:
    """Start or resume the browser's conversation; returns the stored history (after `after`)."""
    conversation_id = tokens.read(request.cookies.get(COOKIE_NAME))
    if conversation_id is None:
        key = f"chat:{client_address(request)}"
        if not await allow(request.app.state.counters, key, settings.security.new_chats_per_hour, 3600):
            logger.warning("new web chat conversations refused: too many from one address")
            raise HTTPException(status_code=429, detail=f"新对话太多，请稍后再试。\n{safety.hotline_text()}")
        conversation_id, token = tokens.issue()
        response.set_cookie(
            COOKIE_NAME,
            token,
            max_age=tokens.max_age_seconds,
            httponly=True,
            samesite="lax",
            secure=https_on(settings),
        )
    messages = await to_thread.run_sync(gateway.history, conversation_id, max(after, 0))
    if not messages and after == 0:
        hot = await to_thread.run_sync(menus.hot_for, request.app.state.sessions, conversation_id)
        welcome = welcome_reply(settings.university_name, hot)
        messages = await gateway.store_bot_messages(conversation_id, "web", [welcome])
    return {"conversation_id": conversation_id, "messages": messages}


class ClearIn(BaseModel):
    """The body of 结束并清除本次对话: the page's confirm dialog was answered yes."""

    confirm: bool


@router.post("/api/webchat/clear")
async def webchat_clear(
    request: Request, response: Response, body: ClearIn, settings: SettingsDep, tokens: TokensDep, gateway: GatewayDep
) -> dict[str, Any]:
    """结束并清除本次对话 (shared computers): erase this conversation's data everywhere, forget the cookie.

    A JSON body is required, so a plain cross-site form cannot trigger it; the next visit starts afresh."""
    conversation_id = tokens.read(request.cookies.get(COOKIE_NAME))
    if conversation_id is None:
        raise HTTPException(status_code=401, detail="没有进行中的对话")
    if not body.confirm:
        raise HTTPException(status_code=400, detail="请先确认要清除本次对话")
    students: StudentData = request.app.state.students
    async with gateway.conversation_lock(conversation_id):
        try:
            counts = await to_thread.run_sync(
                lambda: students.erase(
                    Subject("conversation", conversation_id), actor="student", now=utcnow(), action="clear"
                )
            )
        except StudentNotFound:
            counts = {}
    await request.app.state.hub.broadcast(conversation_id, {"type": "cleared"})  # the browser's other tabs
    response.delete_cookie(COOKIE_NAME, httponly=True, samesite="lax", secure=settings.cookie_secure)
    logger.info("web chat conversation %s cleared by the student", log_id(conversation_id))
    return {"cleared": True, "messages": int(counts.get("messages", 0))}


@router.websocket("/ws/webchat")
async def webchat_socket(websocket: WebSocket) -> None:
    """One browser tab's live connection; the cookie names the conversation."""
    state = websocket.app.state
    if not webchat_origin_allowed(websocket, state.settings):
        logger.warning("web chat websocket refused: foreign Origin")
        await websocket.close(code=4403, reason="origin")
        return
    conversation_id = state.tokens.read(websocket.cookies.get(COOKIE_NAME))
    if conversation_id is None:
        await websocket.close(code=4401, reason="no session")
        return
    await websocket.accept()

    async def send(frame: dict[str, Any]) -> None:
        await websocket.send_json(frame)

    state.hub.join(conversation_id, send)
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                inbound = parse_frame(raw, conversation_id)
            except WebchatProtocolError as exc:
                await send({"type": "error", "text": str(exc), "client_id": exc.client_id})
                continue
            # a message that may signal a crisis is never limited (nor counted): it must reach a person
            if not safety.is_crisis(inbound.text) and not state.limiter.allow(conversation_id):
                await send({"type": "error", "text": "发送太频繁，请稍后再试。", "client_id": inbound.external_id})
                continue
            await state.hub.broadcast(conversation_id, {"type": "typing", "on": True})
            try:
                await state.gateway.handle(inbound)
            except Exception:
                logger.exception("gateway failed for conversation %s", log_id(conversation_id))
                await send(
                    {
                        "type": "error",
                        "text": "抱歉，系统出了点问题，你的消息没有发送成功，请稍后重试。",
                        "client_id": inbound.external_id,
                    }
                )
            finally:
                await state.hub.broadcast(conversation_id, {"type": "typing", "on": False})
    except WebSocketDisconnect:
        pass
    finally:
        state.hub.leave(conversation_id, send)

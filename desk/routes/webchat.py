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

from connectors.webchat import COOKIE_NAME, TOKEN_MAX_AGE_SECONDS, WebchatProtocolError, parse_frame
from desk.chat.gateway import log_id
from desk.chat.welcome import welcome_reply
from desk.deps import GatewayDep, SettingsDep, TokensDep
from desk.guard.http import client_address, webchat_origin_allowed
from desk.guard.limits import allow
from knowledge_base import safety

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
            max_age=TOKEN_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=settings.https,
        )
    messages = await to_thread.run_sync(gateway.history, conversation_id, max(after, 0))
    if not messages and after == 0:
        welcome = welcome_reply(settings.university_name)
        messages = await gateway.store_bot_messages(conversation_id, "web", [welcome])
    return {"conversation_id": conversation_id, "messages": messages}


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

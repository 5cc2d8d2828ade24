"""`/ws/staff`: one staff console's live feed of the Handoffs events it may see (desk/staff/console_hub.py).

The socket needs the session cookie (closed with 4401 without) and an Origin equal to the desk's
host (4403 otherwise), so another site cannot open it with the staff member's cookie.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from desk.staff.console_hub import StaffHub, origin_allowed, socket_user

router = APIRouter()


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

"""`POST /telegram/webhook`: Telegram's updates, with the secret-token header checked first.

200 once the update is stored (or is one we do not serve); 403 for a missing or wrong secret;
400 for a body that is not an update; 413 for an oversized one; 503 when the update could not be
stored, so Telegram delivers it again. Never a 500.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from telegram import Update

from connectors.telegram import secret_matches
from desk.channels.common import NotStored, read_body
from desk.channels.telegram import WEBHOOK_PATH

logger = logging.getLogger(__name__)
router = APIRouter()

MAX_UPDATE_BYTES = 1_000_000
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def telegram_webhook(request: Request) -> Response:
    """One update from Telegram."""
    channel = request.app.state.channels.telegram
    if channel is None or channel.mode != "webhook":
        return Response(status_code=404)
    if not secret_matches(channel.secret, request.headers.get(SECRET_HEADER)):
        logger.warning("telegram webhook call with a missing or wrong secret token")
        return Response(status_code=403)
    body = await read_body(request.stream(), request.headers.get("content-length"), MAX_UPDATE_BYTES)
    if body is None:
        return Response(status_code=413)
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, channel.bot)
    except Exception:  # any shape PTB cannot read is the sender's error, not ours
        return Response(status_code=400)
    try:
        await channel.handle_update(update)
    except NotStored:
        return Response(status_code=503)
    except Exception as exc:  # logged by type: database errors quote their parameters (ids, text)
        logger.error("telegram update %s could not be handled: %s", update.update_id, type(exc).__name__)
    return Response(status_code=200)

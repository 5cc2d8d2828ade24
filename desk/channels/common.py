"""What the Telegram and WeChat channels share in the desk: stored buttons, and
running a message through the gateway in the background while the webhook waits only as long
as it must (until the message is stored, or for WeChat until the answer or its 4-second budget).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage
from desk.chat.gateway import GatewayResult, log_id
from desk.models import Message
from desk.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

MENU_LOOKBACK = 20


class NotStored(Exception):
    """The inbound message could not be stored; the channel should deliver it again."""


def stored_button(sessions: sessionmaker, conversation_id: str, message_id: int, index: int) -> dict[str, str] | None:
    """Button `index` of a stored outbound message of this conversation, or None (forged, stale)."""
    with sessions() as session:
        message = session.get(Message, message_id)
        if message is None or message.conversation_id != conversation_id or message.role == "student":
            return None
        buttons = list(message.buttons or [])
    if not 0 <= index < len(buttons):
        return None
    button = buttons[index]
    return {"title": str(button.get("title", "")), "payload": str(button.get("payload", ""))}


def current_menu(sessions: sessionmaker, conversation_id: str) -> list[dict[str, str]]:
    """The quick replies offered since the student's last message (the newest message that has any)."""
    with sessions() as session:
        recent = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(MENU_LOOKBACK)
        ).all()
    for message in recent:
        if message.role == "student":
            return []
        if message.buttons:
            return [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in message.buttons]
    return []


def from_button(inbound: InboundMessage, button: dict[str, str]) -> InboundMessage:
    """The student's message for a chosen button: its title as text, its payload."""
    return InboundMessage(
        channel=inbound.channel,
        sender=inbound.sender,
        text=button["title"] or inbound.text,
        external_id=inbound.external_id,
        payload=button["payload"] or None,
        metadata=inbound.metadata,
    )


class StoredSignal:
    """A gateway listener that tells a waiting webhook when its inbound message is stored."""

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], list[asyncio.Future[None]]] = {}

    async def on_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        if message.get("role") != "student" or not message.get("client_id"):
            return
        for future in self._waiting.get((conversation_id, str(message["client_id"])), []):
            if not future.done():
                future.set_result(None)

    def expect(self, conversation_id: str, external_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault((conversation_id, external_id), []).append(future)
        return future

    def forget(self, conversation_id: str, external_id: str, future: asyncio.Future[None]) -> None:
        key = (conversation_id, external_id)
        waiting = self._waiting.get(key, [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiting.pop(key, None)


class Runner:
    """Runs gateway work as background tasks that outlive the webhook request (kept until done)."""

    def __init__(self, signal: StoredSignal, store_timeout: float = 30.0) -> None:
        self._signal = signal
        self._store_timeout = store_timeout
        self._tasks: set[asyncio.Task[GatewayResult]] = set()

    def spawn(self, work: Coroutine[Any, Any, GatewayResult], conversation_id: str) -> asyncio.Task[GatewayResult]:
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def finished(t: asyncio.Task[GatewayResult]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                # the type only: database errors quote their parameters (ids, text)
                logger.error(
                    "gateway failed for conversation %s: %s", log_id(conversation_id), type(t.exception()).__name__
                )

        task.add_done_callback(finished)
        return task

    async def until_stored(
        self, work: Coroutine[Any, Any, GatewayResult], inbound: InboundMessage
    ) -> asyncio.Task[GatewayResult]:
        """Start `work` and return once `inbound` is stored (or was a duplicate); NotStored otherwise."""
        conv, ext = inbound.conversation_id, inbound.external_id or ""
        stored = self._signal.expect(conv, ext)
        try:
            task = self.spawn(work, conv)
            waiting: set[asyncio.Future[Any]] = {task, stored}
            done, _ = await asyncio.wait(waiting, timeout=self._store_timeout, return_when=asyncio.FIRST_COMPLETED)
            if stored in done:
                return task
            if task in done and not task.cancelled() and task.exception() is None:
                return task  # finished without the signal: a duplicate
            raise NotStored(f"message not stored for conversation {log_id(conv)}")
        finally:
            self._signal.forget(conv, ext, stored)
            if not stored.done():
                stored.cancel()

    async def drain(self, timeout: float = 5.0) -> None:
        """At shutdown: let running messages finish briefly, then cancel the rest."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        await cancel_and_wait(pending, timeout=timeout)


async def read_body(stream: AsyncIterator[bytes], declared_length: str | None, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes."""
    if declared_length and declared_length.isdigit() and int(declared_length) > limit:
        return None
    body = bytearray()
    async for chunk in stream:
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)

"""The gateway: every inbound message passes here, from every channel.

Order of work for one message: store it (dropping a replayed one), run the crisis pre-filter (hotline
answer and an urgent handoff request, without Rasa), then ask Rasa, store the replies, and publish
everything to the conversation's listeners (web chat sockets, later the staff console). Messages of
one conversation are handled one at a time, in arrival order. Rasa failures become a plain notice to
the student; nothing is lost, since the inbound message is stored first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage
from desk.models import STATE_BOT, Conversation, HandoffRequest, Message
from desk.rasa_client import RasaClient, RasaUnavailable
from knowledge_base import safety
from knowledge_base.models import utcnow

logger = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], Awaitable[None]]

BOT_UNAVAILABLE_TEXT = (
    "抱歉，智能助手暂时无法回复（系统繁忙或维护中）。你的消息已经记录，请稍后再试；"
    "如有紧急情况请拨打 110 / 120，心理援助热线 12356。"
)
MAX_TEXT_LENGTH = 1000


def log_id(conversation_id: str) -> str:
    """A short, stable pseudonym of a conversation id for logs (no student ids in clear)."""
    return hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:12]


@dataclass
class GatewayResult:
    """What handling one inbound message produced."""

    duplicate: bool = False
    inbound: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)


class Gateway:
    """Routes inbound messages to the crisis filter and Rasa, and stores everything."""

    def __init__(self, sessions: sessionmaker, rasa: RasaClient, crisis_line: str = "") -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._crisis_line = crisis_line
        self._locks: dict[str, asyncio.Lock] = {}
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(conversation_id, message)` for every stored message."""
        self._listeners.append(listener)

    async def _publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                await listener(conversation_id, message)
            except Exception:  # a broken socket must not stop the others
                logger.exception("listener failed for conversation %s", log_id(conversation_id))

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    # -- storage (sync, run in a worker thread) ----------------------------------------------------
    def _store_inbound(self, msg: InboundMessage, text: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            try:
                with session.begin():
                    conv = session.get(Conversation, msg.conversation_id)
                    if conv is None:
                        conv = Conversation(id=msg.conversation_id, channel=msg.channel, state=STATE_BOT)
                        session.add(conv)
                        session.flush()
                    conv.last_activity_at = utcnow()
                    row = Message(
                        conversation_id=msg.conversation_id,
                        role="student",
                        text=text,
                        payload=msg.payload,
                        external_id=msg.external_id,
                    )
                    session.add(row)
                    session.flush()
                    return row.public()
            except IntegrityError:
                return None  # the channel re-sent a message we already have

    def _store_replies(
        self, conversation_id: str, replies: list[dict[str, Any]], channel: str | None = None
    ) -> list[dict[str, Any]]:
        with self._sessions() as session, session.begin():
            if channel is not None and session.get(Conversation, conversation_id) is None:
                session.add(Conversation(id=conversation_id, channel=channel, state=STATE_BOT))
                session.flush()
            rows = [
                Message(
                    conversation_id=conversation_id,
                    role=r.get("role", "bot"),
                    text=r.get("text", ""),
                    buttons=r.get("buttons") or [],
                    sender_name=r.get("sender_name"),
                )
                for r in replies
            ]
            session.add_all(rows)
            session.flush()
            return [row.public() for row in rows]

    def _store_handoff(self, conversation_id: str, packet: dict[str, Any]) -> int:
        with self._sessions() as session, session.begin():
            open_request = session.scalar(
                select(HandoffRequest).where(
                    HandoffRequest.conversation_id == conversation_id, HandoffRequest.status == "open"
                )
            )
            if open_request is not None:  # one open request per conversation; raise its priority if needed
                if packet.get("priority") == "urgent":
                    open_request.priority = "urgent"
                return open_request.id
            req = HandoffRequest(
                conversation_id=conversation_id,
                department_id=packet.get("department"),
                reason=str(packet.get("reason", "request"))[:50],
                priority=packet.get("priority", "normal"),
                packet=packet,
            )
            session.add(req)
            session.flush()
            return req.id

    def history(self, conversation_id: str, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        """Stored messages of a conversation, oldest first (sync)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).all()
            return [r.public() for r in reversed(rows)]

    async def store_bot_messages(
        self, conversation_id: str, channel: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store and publish messages the desk itself sends (welcome, notices)."""
        stored = await to_thread.run_sync(self._store_replies, conversation_id, replies, channel)
        for message in stored:
            await self._publish(conversation_id, message)
        return stored

    async def record(self, msg: InboundMessage, replies: list[dict[str, Any]]) -> GatewayResult:
        """Store a message the desk answers itself (a channel command, a follow event, a picture)
        and its replies, without Rasa; a replayed message is dropped as in `handle`."""
        async with self._lock(msg.conversation_id):
            inbound = await to_thread.run_sync(self._store_inbound, msg, (msg.text or "").strip()[:MAX_TEXT_LENGTH])
            if inbound is None:
                return GatewayResult(duplicate=True)
            await self._publish(msg.conversation_id, inbound)
            stored = await to_thread.run_sync(self._store_replies, msg.conversation_id, replies)
            for message in stored:
                await self._publish(msg.conversation_id, message)
            return GatewayResult(inbound=inbound, replies=stored)

    # -- the message path --------------------------------------------------------------------------
    async def handle(self, msg: InboundMessage) -> GatewayResult:
        """Store, filter, answer and publish one inbound message."""
        text = (msg.text or "").strip()[:MAX_TEXT_LENGTH]
        async with self._lock(msg.conversation_id):
            inbound = await to_thread.run_sync(self._store_inbound, msg, text)
            if inbound is None:
                logger.info("duplicate message dropped for conversation %s", log_id(msg.conversation_id))
                return GatewayResult(duplicate=True)
            await self._publish(msg.conversation_id, inbound)
            result = GatewayResult(inbound=inbound)

            if safety.is_crisis(text):
                logger.warning("crisis pre-filter matched in conversation %s", log_id(msg.conversation_id))
                await to_thread.run_sync(
                    self._store_handoff,
                    msg.conversation_id,
                    {"reason": "crisis", "priority": "urgent", "department": "mental_health", "source": "pre-filter"},
                )
                replies = [{"text": safety.hotline_text(self._crisis_line), "role": "bot"}]
            else:
                replies = await self._ask_rasa(msg, text)

            stored = await to_thread.run_sync(self._store_replies, msg.conversation_id, replies)
            for message in stored:
                await self._publish(msg.conversation_id, message)
            result.replies = stored
            return result

    async def _ask_rasa(self, msg: InboundMessage, text: str) -> list[dict[str, Any]]:
        message = msg.payload if msg.payload and msg.payload.startswith("/") else text
        try:
            answers = await self._rasa.send(msg.conversation_id, message, {"channel": msg.channel})
        except RasaUnavailable as exc:
            logger.error("Rasa unavailable for conversation %s: %s", log_id(msg.conversation_id), exc)
            return [{"text": BOT_UNAVAILABLE_TEXT, "role": "system"}]
        replies: list[dict[str, Any]] = []
        for answer in answers:
            custom = answer.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
                await to_thread.run_sync(self._store_handoff, msg.conversation_id, custom["handoff"])
            if answer.get("text"):
                buttons = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in answer.get("buttons") or []
                    if isinstance(b, dict)
                ]
                replies.append({"text": answer["text"], "buttons": buttons, "role": "bot"})
        if not replies:
            replies.append({"text": BOT_UNAVAILABLE_TEXT, "role": "system"})
        return replies

"""Every message out, stored and then delivered: the desk's line to a student.

`Transcript` stores outbound messages (bot answers, notices, staff replies) before anything is sent,
and publishes stored messages, in order, to the conversation's listeners (web chat sockets, the
outbox of Telegram/WeChat, the handoff service's console feed). The gateway writes through it, and so
does the handoff service (it is the `desk.handoff.ports.StudentLine` the service receives), so neither
needs the other to reach a student.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desk.models import STATE_BOT, Conversation, Message
from knowledge_base import redaction
from knowledge_base.names import channel_of

logger = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], Awaitable[None]]


def log_id(conversation_id: str) -> str:
    """A short, stable pseudonym of a conversation id for logs (no student ids in clear)."""
    return hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:12]


def redact_inbound(session: Session, conversation_id: str, text: str) -> str:
    """A student's message as it may be stored: masked (knowledge_base/redaction.py), and as a whole when
    it answers the contact question the bot asked last (姓名, 学号, 手机号)."""
    last_bot = session.scalar(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.role != "student")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return redaction.redact_answer(redaction.asked_field(last_bot), text)


class Transcript:
    """Stores the conversation's messages and tells the listeners about each stored one."""

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(conversation_id, message)` for every stored message."""
        self._listeners.append(listener)

    async def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Tell every listener about one stored message; a failing listener does not stop the others."""
        for listener in self._listeners:
            try:
                await listener(conversation_id, message)
            except Exception:  # a broken socket must not stop the others
                logger.exception("listener failed for conversation %s", log_id(conversation_id))

    async def publish_all(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """Publish already stored messages, in order."""
        for message in messages:
            await self.publish(conversation_id, message)

    def store(
        self, conversation_id: str, replies: list[dict[str, Any]], channel: str | None = None
    ) -> list[dict[str, Any]]:
        """Store outbound messages (sync); their public form."""
        with self._sessions() as session, session.begin():
            if session.get(Conversation, conversation_id) is None:
                channel = channel or channel_of(conversation_id)
                session.add(Conversation(id=conversation_id, channel=channel, state=STATE_BOT))
                session.flush()
            rows = outbound_rows(conversation_id, replies)
            session.add_all(rows)
            session.flush()
            return [row.public() for row in rows]

    def store_messages(self, conversation_id: str, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store outbound messages from a worker thread (publish them with `publish_all`)."""
        return self.store(conversation_id, replies)

    async def store_bot_messages(
        self, conversation_id: str, channel: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store and publish messages the desk itself sends (welcome, notices, staff replies)."""
        stored = await to_thread.run_sync(self.store, conversation_id, replies, channel)
        await self.publish_all(conversation_id, stored)
        return stored

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


def outbound_rows(conversation_id: str, replies: list[dict[str, Any]]) -> list[Message]:
    """The `messages` rows of replies (bot, system or staff) to one conversation, not yet added."""
    return [
        Message(
            conversation_id=conversation_id,
            role=r.get("role", "bot"),
            text=r.get("text", ""),
            buttons=r.get("buttons") or [],
            sender_name=r.get("sender_name"),
        )
        for r in replies
    ]

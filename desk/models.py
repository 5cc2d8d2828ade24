"""Gateway persistence: conversations, every message in and out, and handoff requests.

A conversation id is `<channel>:<id>` (`web:<uuid>`, `tg:<chat id>`, `wx:<openid>`), the same id
Rasa sees as the sender. Messages are stored before they are acknowledged or answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.db import Base
from knowledge_base.models import utcnow

# Conversation states (the handoff state machine builds on these).
STATE_BOT = "bot"
STATE_QUEUED = "queued"
STATE_HUMAN = "human"
STATE_CLOSED = "closed"


class Conversation(Base):
    """One student's conversation on one channel."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=STATE_BOT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """A message in or out. `external_id` is the channel's id (update_id, MsgId, client id) for dedupe."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "external_id", name="uq_message_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    # student | bot | staff | system
    role: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sender_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def public(self) -> dict[str, Any]:
        """The message as the web chat and the console see it."""
        created = self.created_at
        return {
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "buttons": list(self.buttons or []),
            "sender_name": self.sender_name,
            "created_at": created.isoformat() if created else None,
            "client_id": self.external_id if self.role == "student" else None,
        }


class HandoffRequest(Base):
    """A request for a person: from the bot's handoff packet or the gateway's crisis pre-filter."""

    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    department_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(50))
    # urgent | high | normal
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    status: Mapped[str] = mapped_column(String(20), default="open")
    packet: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Outbox states.
OUTBOX_PENDING = "pending"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"


class OutboxItem(Base):
    """A stored message on its way to a student's Telegram or WeChat: one row per message.

    Rows of one conversation are delivered in id order. `parts_sent` counts the channel messages
    already out, so a retry after a failure never repeats a part. `delivered_via` is `api`, or
    `passive` for a WeChat answer given in the HTTP response itself. A `failed` row keeps the error
    for the staff console ("undelivered").
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_outbox_message"),
        Index("ix_outbox_status_conversation", "status", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=OUTBOX_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_via: Mapped[str | None] = mapped_column(String(20), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

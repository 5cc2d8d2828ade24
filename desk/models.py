"""Gateway persistence: conversations, every message in and out, and handoff requests.

A conversation id is `<channel>:<id>` (`web:<uuid>`, `tg:<chat id>`, `wx:<openid>`), the same id
Rasa sees as the sender. Messages are stored before they are acknowledged or answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

import desk.staff.accounts  # noqa: F401  (staff_users, referenced by tickets, on the same metadata)
from knowledge_base.db import Base
from knowledge_base.models import utcnow

# Conversation states (docs/handoff.md): bot -> queued -> human -> bot, or closed.
STATE_BOT = "bot"
STATE_QUEUED = "queued"
STATE_HUMAN = "human"
STATE_CLOSED = "closed"

# Ticket (handoff request) statuses.
TICKET_QUEUED = "queued"  # waiting for staff; the conversation is in `queued`
TICKET_MESSAGE = "message"  # left outside office hours; the bot keeps helping meanwhile
TICKET_CLAIMED = "claimed"  # a person has the chat; the conversation is in `human`
TICKET_CLOSED = "closed"
TICKET_CANCELLED = "cancelled"  # the student said 不用了
TICKET_RETURNED = "returned"  # no staff reply in time: back to the bot
OPEN_TICKET_STATUSES = (TICKET_QUEUED, TICKET_MESSAGE, TICKET_CLAIMED)
UNCLAIMED_STATUSES = (TICKET_QUEUED, TICKET_MESSAGE)


class Conversation(Base):
    """One student's conversation on one channel."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=STATE_BOT)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # a pending survey: None | "rating:<ticket id>" | "comment:<ticket id>"
    awaiting: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Message(Base):
    """A message in or out. `external_id` is the channel's id (update_id, MsgId, client id) for dedupe."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "external_id", name="uq_message_external"),
        # the insight dashboard's charts read student messages by time (desk/insight/queries.py); on
        # PostgreSQL the index carries the columns they group by, so they read the index only
        Index(
            "ix_messages_role_created",
            "role",
            "created_at",
            postgresql_include=["channel", "decision", "department_id", "faq_id"],
        ),
    )

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
    # on a student message: its channel, and what the bot did with it (desk/chat/decisions.py):
    # answer | suggest | none | decline | service | task | reply | handoff; the FAQ entry it answered
    # or suggested first, and the department it concerned (the entry's, or the ticket's)
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    faq_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    department_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

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
    """A ticket: a request for a person, from the bot's handoff packet or the gateway's crisis pre-filter.

    `open_key` is the conversation id while the ticket is open and NULL after; being UNIQUE, it makes
    double triggers (a button and typed text, two desk processes) end up in one ticket.
    """

    __tablename__ = "handoff_requests"
    __table_args__ = (UniqueConstraint("open_key", name="uq_handoff_requests_open_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    department_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(50))
    # urgent | high | normal
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    status: Mapped[str] = mapped_column(String(20), default=TICKET_QUEUED)
    packet: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    open_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # when it (re-)entered a queue: creation, or the last transfer
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # seconds from queued to claimed, for tickets claimed while queued (the ETA's basis)
    claim_wait_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_student_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_staff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the last queue-position notice sent to the student (at most one per 2 minutes)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TicketEvent(Base):
    """What happened to a ticket: created, claimed, note (internal), transferred, closed, cancelled,
    returned, rated, priority_raised, reopened."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CannedReply(Base):
    """A ready-made reply staff can insert; `department_id` None means every department."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)


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


PENDING_WAITING = "waiting"  # Rasa (or the action server) was down: to be answered when it is back
PENDING_ANSWERED = "answered"
PENDING_TO_STAFF = "to_staff"  # a person took the conversation meanwhile: staff see the message
PENDING_FAILED = "failed"  # Rasa came back but could not answer it: the student was told


class PendingReply(Base):
    """A student message the bot could not answer yet (desk/chat/pending.py), one row per message.

    The replies of a waiting row are stored in the same transaction that marks it answered, so a
    student gets them once, whatever restarts in between. The message goes to Rasa as the student typed
    it (`sealed_text`, emptied once answered), not as `messages` keeps it (masked).
    """

    __tablename__ = "pending_replies"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_pending_reply_message"),
        Index("ix_pending_replies_status_conversation", "status", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    status: Mapped[str] = mapped_column(String(20), default=PENDING_WAITING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # the student's real text, sealed with the booking key, while it waits (`messages` holds it masked)
    sealed_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PrivacyAudit(Base):
    """One export, erasure, clear or retention run (docs/privacy.md): append-only, never the data itself.

    `actor` is `cli:<os user>`, `admin:<username>` or `student` (the web chat's clear button), `system`
    (retention); `target` a pseudonym of what was asked for (a hash, never a phone or an id in clear);
    `counts` how many rows of which table were exported, deleted or anonymised. The database refuses
    UPDATE and DELETE on the table (triggers, migration 0008_privacy_data) and so does the ORM.
    """

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(30))  # export | erase | clear | retention
    target: Mapped[str] = mapped_column(String(120), default="")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DailyCount(Base):
    """Statistics that outlive the rows they count (retention, erasure): one number per day, metric and
    dimension (a channel, a department), e.g. (2026-12-01, messages_in, web) = 120."""

    __tablename__ = "daily_counts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, Beijing time
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    value: Mapped[int] = mapped_column(Integer, default=0)


@event.listens_for(PrivacyAudit, "before_update")
@event.listens_for(PrivacyAudit, "before_delete")
def _audit_is_append_only(mapper: Any, connection: Any, target: PrivacyAudit) -> None:
    raise ValueError("privacy_audit is append-only")

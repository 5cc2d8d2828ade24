"""Tickets, the shared part: errors, the queue order, how a ticket is shown, events to listeners.

A ticket is a `HandoffRequest` row; docs/handoff.md is the contract. `desk.handoff.service.Handoffs` is the
service: the student's side (desk/handoff/student.py: open, cancel, survey, inactivity) and the
console's side (desk/handoff/service.py: queue, claim, reply, note, transfer, close, canned replies).
Listeners get events as plain dicts; a listener may be sync or return a coroutine, which is scheduled
on the desk's event loop (console calls run in worker threads).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desk.handoff import texts
from desk.handoff.office_hours import DEFAULT_HOURS, OfficeHours
from desk.models import (
    STATE_BOT,
    TICKET_MESSAGE,
    TICKET_QUEUED,
    UNCLAIMED_STATUSES,
    Conversation,
    HandoffRequest,
    Message,
    TicketEvent,
)
from desk.staff.accounts import CurrentUser, StaffUser
from knowledge_base.models import Department, utcnow
from knowledge_base.names import channel_of

logger = logging.getLogger(__name__)

DEFAULT_DEPARTMENT = "community"
PRIORITIES = ("normal", "high", "urgent")
QUEUE_NOTICE_EVERY = timedelta(minutes=2)
ETA_SAMPLE = 20
ETA_MINUTES_PER_POSITION = 3
TRANSCRIPT_LIMIT = 1000
RATING_WINDOW = timedelta(days=3)

Listener = Callable[[dict[str, Any]], Any]


class HandoffError(Exception):
    """Base of the service's errors; `status_code` is the HTTP status a route should answer."""

    status_code = 409


class NotFound(HandoffError):
    """No such ticket, or one this person may not see (deliberately not told apart)."""

    status_code = 404


class Forbidden(HandoffError):
    """The person may see the ticket but not do this (e.g. edit canned replies without being admin)."""

    status_code = 403


class Conflict(HandoffError):
    """Someone else got there first (claimed by another person, not your chat); the message says who/why."""


class IllegalTransition(HandoffError):
    """The ticket's status does not allow this (claim a closed ticket, reply before claiming...)."""


@dataclass
class TicketOpened:
    """What `open_ticket` did, and the notices the gateway should send the student."""

    ticket_id: int
    created: bool  # False when an open ticket existed already (a double trigger)
    status: str  # queued | message | claimed
    priority: str
    position: int | None = None  # tickets ahead in the queue (queued only)
    eta_minutes: int | None = None
    next_opening: datetime | None = None  # outside office hours: when the desk opens again
    notices: list[dict[str, Any]] = field(default_factory=list)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value else None


def priority_rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else 0


def queue_key(row: HandoffRequest) -> tuple[int, datetime, int]:
    """Urgent first, then messages left while closed, then high, then normal; each oldest first."""
    if row.priority == "urgent":
        group = 0
    elif row.status == TICKET_MESSAGE:
        group = 1
    elif row.priority == "high":
        group = 2
    else:
        group = 3
    return group, aware(row.queued_at or row.created_at) or utcnow(), row.id


class TicketBase:
    """What both sides share: the clock, office hours, listeners, and how a ticket is read and shown."""

    def __init__(self, sessions: sessionmaker, gateway: Any, settings: Any, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self.hours = OfficeHours.parse(settings.handoff.hours or DEFAULT_HOURS)
        self.idle = timedelta(minutes=settings.handoff.idle_minutes)
        self._listeners: list[Listener] = []
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def now(self) -> datetime:
        """The service clock in UTC (SQLite keeps wall-clock times, so everything stored must be UTC)."""
        return self._clock().astimezone(timezone.utc)

    # -- events --------------------------------------------------------------------------------------
    def add_listener(self, cb: Listener) -> None:
        """`cb(event)` for every ticket change, ticket message and urgent alert (docs/handoff.md)."""
        self._listeners.append(cb)

    def _emit(self, event: dict[str, Any]) -> None:
        for cb in list(self._listeners):
            try:
                result = cb(event)
            except Exception:
                logger.exception("handoff listener failed")
                continue
            if inspect.iscoroutine(result):
                self._schedule(result)

    def _schedule(self, coro: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            running.create_task(coro)
        elif self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(coro, self._loop)
        else:
            coro.close()

    def _emit_ticket(self, ticket: dict[str, Any], alert: bool = False) -> None:
        self._emit({"type": "ticket", "ticket": ticket})
        if alert:
            self._emit({"type": "alert", "ticket": ticket})

    async def _on_gateway_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Gateway listener: messages of a conversation with an open ticket go to the console."""
        ticket_id = await asyncio.to_thread(self.open_ticket_id, conversation_id)
        if ticket_id is not None:
            self._emit(
                {"type": "message", "ticket_id": ticket_id, "conversation_id": conversation_id, "message": message}
            )

    def open_ticket_id(self, conversation_id: str) -> int | None:
        with self._sessions() as session:
            return session.scalar(select(HandoffRequest.id).where(HandoffRequest.open_key == conversation_id))

    # -- helpers -------------------------------------------------------------------------------------
    def _staff_label(self, session: Session, user_name: str, department_id: str | None) -> str:
        dep = session.get(Department, department_id) if department_id else None
        if dep is None:
            return user_name
        return f"{user_name}（{texts.short_department(dep.name, list(dep.aliases or []))}）"

    def _event(
        self, session: Session, ticket: HandoffRequest, kind: str, actor: int | None = None, text: str = "", **data: Any
    ) -> TicketEvent:
        event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor, text=text, data=data, created_at=self.now())
        session.add(event)
        return event

    def _public(self, session: Session, row: HandoffRequest, last_text: str | None = None) -> dict[str, Any]:
        """The queue form of a ticket (docs/handoff.md, "Queue dict fields")."""
        dep = session.get(Department, row.department_id) if row.department_id else None  # identity-mapped
        claimer = session.get(StaffUser, row.claimed_by) if row.claimed_by else None
        queued = aware(row.queued_at or row.created_at) or self.now()
        end = aware(row.claimed_at) or aware(row.closed_at) or self.now()
        if last_text is None:
            last_text = session.scalar(
                select(Message.text)
                .where(Message.conversation_id == row.conversation_id, Message.role == "student")
                .order_by(Message.id.desc())
                .limit(1)
            )
        return {
            "id": row.id,
            "conversation_id": row.conversation_id,
            "channel": channel_of(row.conversation_id),
            "department_id": row.department_id,
            "department": dep.name if dep else (row.department_id or "未分配"),
            "reason": row.reason,
            "reason_label": texts.REASON_LABELS.get(row.reason, row.reason),
            "priority": row.priority,
            "status": row.status,
            "status_label": texts.STATUS_LABELS.get(row.status, row.status),
            "created_at": iso(row.created_at),
            "queued_at": iso(queued),
            "waited_seconds": max(0, int((end - queued).total_seconds())),
            "claimed_by": row.claimed_by,
            "claimed_by_name": (claimer.display_name or claimer.username) if claimer else None,
            "claimed_at": iso(row.claimed_at),
            "closed_at": iso(row.closed_at),
            "resolution": row.resolution,
            "rating": row.rating,
            "rating_comment": row.rating_comment,
            "summary": [str(s) for s in (row.packet or {}).get("summary", [])][-6:],
            "last_text": last_text or "",
        }

    def _visible(self, session: Session, user: CurrentUser, ticket_id: int) -> HandoffRequest:
        row = session.get(HandoffRequest, ticket_id)
        if row is None or not user.can_see(row.department_id, row.priority):
            raise NotFound(f"ticket {ticket_id}")
        return row

    def _conversation(self, session: Session, conversation_id: str) -> Conversation:
        conv = session.get(Conversation, conversation_id)
        if conv is None:
            conv = Conversation(id=conversation_id, channel=channel_of(conversation_id), state=STATE_BOT)
            session.add(conv)
            session.flush()
        return conv

    def _status_for(self, priority: str, now: datetime) -> str:
        """Urgent tickets are queued at any hour (24-hour duty); others only while the desk is open."""
        return TICKET_QUEUED if priority == "urgent" or self.hours.is_open(now) else TICKET_MESSAGE

    def _position(self, session: Session, row: HandoffRequest) -> int:
        """Unclaimed tickets ahead of this one that the same people would take first."""
        others = session.scalars(
            select(HandoffRequest).where(HandoffRequest.status.in_(UNCLAIMED_STATUSES), HandoffRequest.id != row.id)
        ).all()
        mine = queue_key(row)
        return sum(
            1
            for o in others
            if (o.department_id == row.department_id or o.priority == "urgent") and queue_key(o) < mine
        )

    def _eta_minutes(self, session: Session, department_id: str | None, position: int) -> int:
        """Mean claim wait of the department's last claimed tickets per place in line; 3 min when unknown."""
        waits = session.scalars(
            select(HandoffRequest.claim_wait_seconds)
            .where(HandoffRequest.department_id == department_id, HandoffRequest.claim_wait_seconds.is_not(None))
            .order_by(HandoffRequest.claimed_at.desc())
            .limit(ETA_SAMPLE)
        ).all()
        if not waits:
            return ETA_MINUTES_PER_POSITION * (position + 1)
        mean_minutes = sum(waits) / len(waits) / 60
        return max(1, math.ceil(mean_minutes * (position + 1)))

    def _store_notices(self, conversation_id: str, notices: list[dict[str, Any]]) -> None:
        """From a worker thread: store messages now, publish them on the desk's loop."""
        if not notices:
            return
        stored = self._gateway.store_messages(conversation_id, notices)
        if self._loop is not None and not self._loop.is_closed():
            self._schedule(self._gateway.publish_all(conversation_id, stored))

"""Tickets, the shared reading: the service's errors, the queue order, how a ticket is shown to staff.

A ticket is a `HandoffRequest` row; docs/handoff.md is the contract. The functions here read (and
journal) inside a session the caller opened; the two stores (store.py for the student's side and
the sweeps, staff_store.py for the console's) use them, states.py moves tickets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desk.handoff import texts
from desk.models import OPEN_TICKET_STATUSES, TICKET_MESSAGE, UNCLAIMED_STATUSES, HandoffRequest, Message, TicketEvent
from desk.staff.accounts import CurrentUser, StaffUser
from knowledge_base.handoff_policy import PRIORITY_HIGH, PRIORITY_URGENT
from knowledge_base.models import Department, utcnow
from knowledge_base.names import channel_of

QUEUE_NOTICE_EVERY = timedelta(minutes=2)
ETA_SAMPLE = 20
ETA_MINUTES_PER_POSITION = 3
TRANSCRIPT_LIMIT = 1000
RATING_WINDOW = timedelta(days=3)
END_KINDS = ("closed", "cancelled", "returned")  # events that end a ticket: they note the last message id


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
    """ISO 8601 in UTC, or None."""
    value = aware(value)
    return value.isoformat() if value else None


def queue_key(row: HandoffRequest) -> tuple[int, datetime, int]:
    """Urgent first, then messages left while closed, then high, then normal; each oldest first."""
    if row.priority == PRIORITY_URGENT:
        group = 0
    elif row.status == TICKET_MESSAGE:
        group = 1
    elif row.priority == PRIORITY_HIGH:
        group = 2
    else:
        group = 3
    return group, aware(row.queued_at or row.created_at) or utcnow(), row.id


def staff_label(session: Session, user_name: str, department_id: str | None) -> str:
    """How staff sign in the student's chat: 王老师（心理中心）."""
    dep = session.get(Department, department_id) if department_id else None
    if dep is None:
        return user_name
    return f"{user_name}（{texts.short_department(dep.name, list(dep.aliases or []))}）"


def claimer_name(session: Session, row: HandoffRequest) -> str:
    """The name of the person who has the chat (其他老师 when unknown)."""
    claimer = session.get(StaffUser, row.claimed_by) if row.claimed_by else None
    return (claimer.display_name or claimer.username) if claimer else "其他老师"


def record(
    session: Session,
    ticket: HandoffRequest,
    kind: str,
    now: datetime,
    actor: int | None = None,
    text: str = "",
    **data: Any,
) -> TicketEvent:
    """Journal an event of the ticket (ticket_events). An event that ends the ticket notes the conversation's
    last message id (`message_id`): the messages up to it belong to this ticket (`transcript_bounds`)."""
    if kind in END_KINDS:
        session.flush()
        last = session.scalar(select(func.max(Message.id)).where(Message.conversation_id == ticket.conversation_id))
        data = {**data, "message_id": int(last or 0)}
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=actor, text=text, data=data, created_at=now)
    session.add(event)
    return event


def public(session: Session, row: HandoffRequest, now: datetime, last_text: str | None = None) -> dict[str, Any]:
    """The queue form of a ticket (docs/handoff.md, "Queue dict fields")."""
    dep = session.get(Department, row.department_id) if row.department_id else None  # identity-mapped
    claimer = session.get(StaffUser, row.claimed_by) if row.claimed_by else None
    queued = aware(row.queued_at or row.created_at) or now
    end = aware(row.claimed_at) or aware(row.closed_at) or now
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


def can_read(user: CurrentUser, row: HandoffRequest) -> bool:
    """Whether this person may read the ticket's transcript (`CurrentUser.can_read`)."""
    return user.can_read(row.department_id, row.priority, row.claimed_by, row.status in OPEN_TICKET_STATUSES)


def visible(session: Session, user: CurrentUser, ticket_id: int) -> HandoffRequest:
    """The ticket if this person may see it (in the queue, or read it once closed), else NotFound (the same
    for a missing one, so ids cannot be probed)."""
    row = session.get(HandoffRequest, ticket_id)
    if row is None or not user.can_see(row.department_id, row.priority):
        raise NotFound(f"ticket {ticket_id}")
    if row.status not in OPEN_TICKET_STATUSES and not can_read(user, row):
        raise NotFound(f"ticket {ticket_id}")
    return row


def readable(session: Session, user: CurrentUser, ticket_id: int) -> HandoffRequest:
    """The ticket if this person may read its transcript, else NotFound (need to know, docs/security.md)."""
    row = session.get(HandoffRequest, ticket_id)
    if row is None or not can_read(user, row):
        raise NotFound(f"ticket {ticket_id}")
    return row


def transcript_bounds(session: Session, user: CurrentUser, row: HandoffRequest) -> list[tuple[int, int | None]]:
    """The message id ranges (after, up to; None: no end) of the conversation this reader may see for `row`:
    each ticket of the conversation owns the messages after the end of the one before it up to its own
    end; the reader gets those of the tickets up to `row` they may read (never an earlier ticket of a
    department they are not in), and nothing after `row` ended."""
    tickets = session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.conversation_id == row.conversation_id, HandoffRequest.id <= row.id)
        .order_by(HandoffRequest.id)
    ).all()
    ends: dict[int, int] = {}
    for event in session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id.in_([t.id for t in tickets]), TicketEvent.kind.in_(END_KINDS))
    ):
        if isinstance((event.data or {}).get("message_id"), int):
            ends[event.ticket_id] = event.data["message_id"]
    bounds: list[tuple[int, int | None]] = []
    after = 0
    for ticket in tickets:
        end = ends.get(ticket.id)
        if end is None and ticket.status not in OPEN_TICKET_STATUSES:  # ended before ends were noted
            end = session.scalar(
                select(func.max(Message.id)).where(
                    Message.conversation_id == ticket.conversation_id,
                    Message.created_at <= (ticket.closed_at or ticket.created_at),
                )
            )
        if ticket.id == row.id or can_read(user, ticket):
            bounds.append((after, end))
        after = end if end is not None else after
    return bounds


def open_ticket_of(session: Session, conversation_id: str) -> HandoffRequest | None:
    """The conversation's open ticket (queued, message or claimed), if any."""
    return session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))


def position(session: Session, row: HandoffRequest) -> int:
    """Unclaimed tickets ahead of this one that the same people would take first."""
    others = session.scalars(
        select(HandoffRequest).where(HandoffRequest.status.in_(UNCLAIMED_STATUSES), HandoffRequest.id != row.id)
    ).all()
    mine = queue_key(row)
    return sum(
        1
        for o in others
        if (o.department_id == row.department_id or o.priority == PRIORITY_URGENT) and queue_key(o) < mine
    )


def eta_minutes(session: Session, department_id: str | None, place: int) -> int:
    """Mean claim wait of the department's last claimed tickets per place in line; 3 min when unknown."""
    recent = session.scalars(
        select(HandoffRequest.claim_wait_seconds)
        .where(HandoffRequest.department_id == department_id, HandoffRequest.claim_wait_seconds.is_not(None))
        .order_by(HandoffRequest.claimed_at.desc())
        .limit(ETA_SAMPLE)
    ).all()
    waits = [w for w in recent if w is not None]
    if not waits:
        return ETA_MINUTES_PER_POSITION * (place + 1)
    mean_minutes = sum(waits) / len(waits) / 60
    return max(1, math.ceil(mean_minutes * (place + 1)))

"""Tickets: the life of a request for a person, from the bot's handoff to the student's rating.

A ticket is a `HandoffRequest` row; docs/handoff.md is the contract. Statuses and the conversation
states they put the chat in:

    queued  (conversation queued)  -- claim -->     claimed (human)  -- close -->  closed (bot, rating asked)
    message (bot keeps helping)    -- claim -->     claimed (human)
    queued / message               -- transfer -->  queued/message in the other department (unclaimed)
    queued / message               -- student says 不用了 --> cancelled (bot)
    claimed, student unanswered for HELPDESK_HANDOFF_IDLE_MINUTES  -- sweep -->  returned (bot)

Every change is one short write transaction (BEGIN IMMEDIATE on SQLite); claiming is one conditional
UPDATE, so of two staff who click at once exactly one wins, on SQLite and PostgreSQL alike. The open
key (the conversation id while a ticket is open, UNIQUE) makes double triggers one ticket.

Console calls are sync (run them in a worker thread) except those that send the student a message
(`reply`, `transfer`, `close`, `sweep`). Listeners get events as plain dicts; a listener may be sync or
return a coroutine, which is scheduled on the desk's event loop.
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

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desk import canned_replies
from desk import handoff_texts as texts
from desk.accounts import CurrentUser, StaffUser
from desk.models import (
    OPEN_TICKET_STATUSES,
    STATE_BOT,
    STATE_HUMAN,
    STATE_QUEUED,
    TICKET_CANCELLED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_MESSAGE,
    TICKET_QUEUED,
    TICKET_RETURNED,
    UNCLAIMED_STATUSES,
    CannedReply,
    Conversation,
    HandoffRequest,
    Message,
    TicketEvent,
)
from desk.office_hours import DEFAULT_HOURS, OfficeHours, describe_opening
from knowledge_base.db import write_session
from knowledge_base.models import Department, utcnow

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


def _iso(value: datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value else None


def _rank(priority: str) -> int:
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


class Handoffs:
    """The ticket service: the gateway opens tickets, the console works them (docs/handoff.md)."""

    def __init__(self, sessions: sessionmaker, gateway: Any, settings: Any, clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._gateway = gateway
        self._clock = clock
        self.hours = OfficeHours.parse(getattr(settings, "handoff_hours", "") or DEFAULT_HOURS)
        self.idle = timedelta(minutes=float(getattr(settings, "handoff_idle_minutes", 10)))
        self._listeners: list[Listener] = []
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        gateway.attach_handoffs(self)
        gateway.add_listener(self._on_gateway_message)

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
    def _departments(self, session: Session) -> dict[str, Department]:
        return {d.id: d for d in session.scalars(select(Department))}

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
        deps = self._departments(session)
        dep = deps.get(row.department_id or "")
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
            "channel": row.conversation_id.split(":", 1)[0],
            "department_id": row.department_id,
            "department": dep.name if dep else (row.department_id or "未分配"),
            "reason": row.reason,
            "reason_label": texts.REASON_LABELS.get(row.reason, row.reason),
            "priority": row.priority,
            "status": row.status,
            "status_label": texts.STATUS_LABELS.get(row.status, row.status),
            "created_at": _iso(row.created_at),
            "queued_at": _iso(queued),
            "waited_seconds": max(0, int((end - queued).total_seconds())),
            "claimed_by": row.claimed_by,
            "claimed_by_name": (claimer.display_name or claimer.username) if claimer else None,
            "claimed_at": _iso(row.claimed_at),
            "closed_at": _iso(row.closed_at),
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
            conv = Conversation(id=conversation_id, channel=conversation_id.split(":", 1)[0], state=STATE_BOT)
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

    # -- the gateway's side --------------------------------------------------------------------------
    def open_ticket(self, conversation_id: str, packet: dict[str, Any]) -> TicketOpened:
        """Open a ticket for the conversation, or join the open one (double trigger); says what to tell."""
        packet = dict(packet or {})
        priority = packet.get("priority") if packet.get("priority") in PRIORITIES else "normal"
        try:
            opened, ticket, alert = self._open(conversation_id, packet, priority)
        except IntegrityError:  # another desk process opened it between our read and insert
            opened, ticket, alert = self._open(conversation_id, packet, priority)
        self._emit_ticket(ticket, alert)
        return opened

    def _open(self, conversation_id: str, packet: dict[str, Any], priority: str) -> tuple[TicketOpened, dict, bool]:
        now = self.now()
        with write_session(self._sessions) as session:
            conv = self._conversation(session, conversation_id)
            row = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            created, alert = row is None, False
            if row is None:
                status = self._status_for(priority, now)
                row = HandoffRequest(
                    conversation_id=conversation_id,
                    department_id=packet.get("department") or DEFAULT_DEPARTMENT,
                    reason=str(packet.get("reason") or "request")[:50],
                    priority=priority,
                    status=status,
                    packet=packet,
                    created_at=now,
                    open_key=conversation_id,
                    queued_at=now,
                    last_student_at=now,
                    notified_at=now,
                )
                session.add(row)
                session.flush()
                self._event(session, row, "created", source=packet.get("source", "bot"), status=status)
                alert = priority == "urgent"
            else:
                if _rank(priority) > _rank(row.priority):
                    self._event(
                        session,
                        row,
                        "priority_raised",
                        text=str(packet.get("reason") or ""),
                        old=row.priority,
                        new=priority,
                    )
                    row.priority = priority
                    row.reason = str(packet.get("reason") or row.reason)[:50]
                    if row.status != TICKET_CLAIMED and packet.get("department"):
                        row.department_id = packet["department"]
                    alert = priority == "urgent"
                if row.status == TICKET_MESSAGE and self._status_for(row.priority, now) == TICKET_QUEUED:
                    row.status = TICKET_QUEUED  # the desk is open now (or it became urgent)
                    row.notified_at = now
            if row.status == TICKET_QUEUED:
                conv.state = STATE_QUEUED
            opened = TicketOpened(row.id, created, row.status, row.priority)
            service = packet.get("service") or (row.packet or {}).get("service")
            if row.status == TICKET_QUEUED:
                opened.position = self._position(session, row)
                opened.eta_minutes = self._eta_minutes(session, row.department_id, opened.position)
                if row.priority == "urgent":
                    if packet.get("reason") != "crisis":  # the crisis answer already says a teacher is told
                        opened.notices.append({"role": "system", "text": texts.urgent_text()})
                else:
                    text = texts.queue_text(opened.position, opened.eta_minutes, again=not created)
                    opened.notices.append({"role": "system", "text": text, "buttons": [texts.CANCEL_BUTTON]})
            elif row.status == TICKET_MESSAGE:
                opened.next_opening = self.hours.next_opening(now)
                when = describe_opening(opened.next_opening, now) if opened.next_opening else None
                hours = texts.describe_weekly(self.hours.weekly)
                opened.notices.append(
                    {
                        "role": "system",
                        "text": texts.message_text(when, hours, again=not created),
                        "buttons": [texts.booking_button(service)],
                    }
                )
            public = self._public(session, row)
        return opened, public, alert

    def cancel(self, conversation_id: str) -> bool:
        """The student said 不用了: the unclaimed open ticket is cancelled, the chat goes back to the bot."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            if row is None or row.status not in UNCLAIMED_STATUSES:
                return False
            row.status, row.open_key, row.closed_at, row.resolution = TICKET_CANCELLED, None, now, "学生取消"
            self._conversation(session, conversation_id).state = STATE_BOT
            self._event(session, row, "cancelled")
            public = self._public(session, row)
        self._emit_ticket(public)
        return True

    def queue_notice_due(self, conversation_id: str) -> dict[str, Any] | None:
        """A queue-position reminder for a queued student, at most one per 2 minutes (else None)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            if row is None or row.status != TICKET_QUEUED or row.priority == "urgent":
                return None
            last = aware(row.notified_at)
            if last is not None and now - last < QUEUE_NOTICE_EVERY:
                return None
            row.notified_at = now
            position = self._position(session, row)
            eta = self._eta_minutes(session, row.department_id, position)
        return {"role": "system", "text": texts.queue_text(position, eta, again=True), "buttons": [texts.CANCEL_BUTTON]}

    def touch_student(self, session: Session, conversation_id: str, now: datetime) -> None:
        """Inside the gateway's transaction: a student message arrived for an open ticket."""
        session.execute(
            update(HandoffRequest).where(HandoffRequest.open_key == conversation_id).values(last_student_at=now)
        )

    def rate(self, conversation_id: str, score: int, ticket_id: int | None) -> int | None:
        """Store a 1-5 rating for the ticket (or the conversation's latest closed unrated one); its id or None."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = session.get(HandoffRequest, ticket_id) if ticket_id else None
            if row is None:
                row = session.scalar(
                    select(HandoffRequest)
                    .where(
                        HandoffRequest.conversation_id == conversation_id,
                        HandoffRequest.status == TICKET_CLOSED,
                        HandoffRequest.rating.is_(None),
                    )
                    .order_by(HandoffRequest.id.desc())
                    .limit(1)
                )
            if (
                row is None
                or row.conversation_id != conversation_id
                or row.status != TICKET_CLOSED
                or (row.rating is not None and ticket_id is None)
                or now - (aware(row.closed_at) or now) > RATING_WINDOW
            ):
                return None
            row.rating, row.rated_at = score, now
            self._event(session, row, "rated", score=score)
            self._conversation(session, conversation_id).awaiting = f"comment:{row.id}"
            public = self._public(session, row)
        self._emit_ticket(public)
        return public["id"]

    def comment(self, conversation_id: str, ticket_id: int, text: str | None) -> None:
        """Store the optional comment after a rating (None = skipped) and end the survey."""
        with write_session(self._sessions) as session:
            row = session.get(HandoffRequest, ticket_id)
            if row is not None and row.conversation_id == conversation_id and text:
                row.rating_comment = text[:1000]
                self._event(session, row, "rated", text=text[:1000], comment=True)
            self._conversation(session, conversation_id).awaiting = None

    def clear_awaiting(self, conversation_id: str) -> None:
        with write_session(self._sessions) as session:
            self._conversation(session, conversation_id).awaiting = None

    # -- the console's side --------------------------------------------------------------------------
    def queue(self, user: CurrentUser) -> list[dict[str, Any]]:
        """Open tickets this person may see, in the order they should be taken."""
        with self._sessions() as session:
            rows = [
                r
                for r in session.scalars(select(HandoffRequest).where(HandoffRequest.status.in_(OPEN_TICKET_STATUSES)))
                if user.can_see(r.department_id, r.priority)
            ]
            rows.sort(key=queue_key)
            last: dict[str, str] = {}
            if rows:
                newest = (
                    select(func.max(Message.id))
                    .where(Message.conversation_id.in_({r.conversation_id for r in rows}), Message.role == "student")
                    .group_by(Message.conversation_id)
                )
                for conv_id, text in session.execute(
                    select(Message.conversation_id, Message.text).where(Message.id.in_(newest))
                ):
                    last[conv_id] = text
            return [self._public(session, r, last.get(r.conversation_id, "")) for r in rows]

    def ticket(self, user: CurrentUser, ticket_id: int) -> dict[str, Any]:
        """A ticket with its packet, the whole transcript (the bot's part too), events and canned replies."""
        with self._sessions() as session:
            row = self._visible(session, user, ticket_id)
            out = self._public(session, row)
            messages = session.scalars(
                select(Message)
                .where(Message.conversation_id == row.conversation_id)
                .order_by(Message.id.desc())
                .limit(TRANSCRIPT_LIMIT)
            ).all()
            names = {u.id: u.display_name or u.username for u in session.scalars(select(StaffUser))}
            events = session.scalars(
                select(TicketEvent).where(TicketEvent.ticket_id == row.id).order_by(TicketEvent.id)
            ).all()
            out["packet"] = dict(row.packet or {})
            out["transcript"] = [m.public() for m in reversed(messages)]
            out["events"] = [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "actor_id": e.actor_id,
                    "actor_name": names.get(e.actor_id) if e.actor_id else None,
                    "text": e.text,
                    "data": dict(e.data or {}),
                    "created_at": _iso(e.created_at),
                }
                for e in events
            ]
            out["notes"] = [e for e in out["events"] if e["kind"] in ("note", "transferred") and e["text"]]
            out["can_reply"] = row.status == TICKET_CLAIMED and row.claimed_by == user.id
            out["canned"] = canned_replies.for_user(session, user, row.department_id)
        return out

    def claim(self, user: CurrentUser, ticket_id: int) -> dict[str, Any]:
        """Take the chat. Exactly one of several people clicking at once wins; the others get Conflict."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = self._visible(session, user, ticket_id)
            if row.status == TICKET_CLAIMED:
                if row.claimed_by == user.id:
                    return self._public(session, row)
                raise Conflict(f"已被{self._claimer_name(session, row)}接入")
            if row.status not in UNCLAIMED_STATUSES:
                raise IllegalTransition(f"工单{texts.STATUS_LABELS.get(row.status, row.status)}，不能接入")
            wait = None
            if row.status == TICKET_QUEUED:
                wait = max(0, int((now - (aware(row.queued_at) or now)).total_seconds()))
            won = session.execute(
                update(HandoffRequest)
                .where(
                    HandoffRequest.id == ticket_id,
                    HandoffRequest.status.in_(UNCLAIMED_STATUSES),
                    HandoffRequest.claimed_by.is_(None),
                )
                .values(status=TICKET_CLAIMED, claimed_by=user.id, claimed_at=now, claim_wait_seconds=wait)
                .execution_options(synchronize_session=False)
            ).rowcount
            session.expire(row)
            if won != 1:
                if row.status == TICKET_CLAIMED:
                    raise Conflict(f"已被{self._claimer_name(session, row)}接入")
                raise IllegalTransition("工单状态已变化，不能接入，请刷新")
            self._conversation(session, row.conversation_id).state = STATE_HUMAN
            self._event(session, row, "claimed", user.id)
            label = self._staff_label(session, user.display_name, row.department_id)
            public = self._public(session, row)
            conversation_id = row.conversation_id
        self._store_notices(conversation_id, [{"role": "system", "text": texts.claimed_text(label)}])
        self._emit_ticket(public)
        return public

    def _claimer_name(self, session: Session, row: HandoffRequest) -> str:
        claimer = session.get(StaffUser, row.claimed_by) if row.claimed_by else None
        return (claimer.display_name or claimer.username) if claimer else "其他老师"

    def _own_claimed(self, session: Session, user: CurrentUser, ticket_id: int) -> HandoffRequest:
        row = self._visible(session, user, ticket_id)
        if row.status != TICKET_CLAIMED:
            raise IllegalTransition(f"工单{texts.STATUS_LABELS.get(row.status, row.status)}，请先接入")
        if row.claimed_by != user.id:
            raise Conflict(f"这个对话已由{self._claimer_name(session, row)}接入，你不能回复")
        return row

    async def reply(self, user: CurrentUser, ticket_id: int, text: str) -> dict[str, Any]:
        """Send the student a message as this staff member; it reaches the student's own channel."""
        text = (text or "").strip()
        if not text:
            raise IllegalTransition("回复内容不能为空")

        def check() -> tuple[str, str]:
            with write_session(self._sessions) as session:
                row = self._own_claimed(session, user, ticket_id)
                row.last_staff_at = self.now()
                return row.conversation_id, self._staff_label(session, user.display_name, row.department_id)

        conversation_id, label = await asyncio.to_thread(check)
        channel = conversation_id.split(":", 1)[0]
        [stored] = await self._gateway.store_bot_messages(
            conversation_id, channel, [{"role": "staff", "text": text, "sender_name": label}]
        )
        return {"ticket_id": ticket_id, "conversation_id": conversation_id, "message": stored}

    def note(self, user: CurrentUser, ticket_id: int, text: str) -> dict[str, Any]:
        """An internal note on the ticket (never sent to the student)."""
        text = (text or "").strip()
        if not text:
            raise IllegalTransition("备注内容不能为空")
        with write_session(self._sessions) as session:
            row = self._visible(session, user, ticket_id)
            event = self._event(session, row, "note", user.id, text[:2000])
            session.flush()
            out = {
                "id": event.id,
                "kind": "note",
                "actor_id": user.id,
                "actor_name": user.display_name,
                "text": event.text,
                "data": {},
                "created_at": _iso(event.created_at),
                "ticket_id": row.id,
            }
            public = self._public(session, row)
        self._emit_ticket(public)
        return out

    async def transfer(self, user: CurrentUser, ticket_id: int, department_id: str, note: str = "") -> dict[str, Any]:
        """Move the ticket to another department's queue (unclaimed), with a note; the student is told."""

        def move() -> tuple[dict[str, Any], str, str]:
            now = self.now()
            with write_session(self._sessions) as session:
                row = self._visible(session, user, ticket_id)
                target = session.get(Department, department_id)
                if target is None:
                    raise NotFound(f"department {department_id}")
                if row.status not in OPEN_TICKET_STATUSES:
                    raise IllegalTransition(f"工单{texts.STATUS_LABELS.get(row.status, row.status)}，不能转接")
                if row.status == TICKET_CLAIMED and row.claimed_by != user.id and not user.is_admin:
                    raise Conflict(f"这个对话已由{self._claimer_name(session, row)}接入，只有接入的老师能转接")
                if row.department_id == department_id:
                    raise Conflict(f"工单已经在{target.name}")
                source = row.department_id
                status = self._status_for(row.priority, now)
                row.department_id, row.status = department_id, status
                row.claimed_by = row.claimed_at = row.claim_wait_seconds = None
                row.queued_at = row.notified_at = now
                conv = self._conversation(session, row.conversation_id)
                conv.state = STATE_QUEUED if status == TICKET_QUEUED else STATE_BOT
                self._event(
                    session,
                    row,
                    "transferred",
                    user.id,
                    (note or "").strip()[:2000],
                    **{"from": source, "to": department_id},
                )
                return self._public(session, row), row.conversation_id, target.name

        public, conversation_id, name = await asyncio.to_thread(move)
        await self._gateway.store_bot_messages(
            conversation_id,
            conversation_id.split(":", 1)[0],
            [{"role": "system", "text": texts.transferred_text(name)}],
        )
        self._emit_ticket(public, alert=public["priority"] == "urgent")
        return public

    async def close(self, user: CurrentUser, ticket_id: int, resolution: str) -> dict[str, Any]:
        """End the ticket; the bot takes the chat back and asks for a rating when a person talked to them."""

        def finish() -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
            now = self.now()
            with write_session(self._sessions) as session:
                row = self._visible(session, user, ticket_id)
                if row.status not in OPEN_TICKET_STATUSES:
                    raise IllegalTransition(f"工单{texts.STATUS_LABELS.get(row.status, row.status)}，不能再结束")
                if row.status == TICKET_CLAIMED and row.claimed_by != user.id and not user.is_admin:
                    raise Conflict(f"这个对话已由{self._claimer_name(session, row)}接入，只有接入的老师能结束")
                chatted = row.status == TICKET_CLAIMED and row.last_staff_at is not None
                row.status, row.open_key, row.closed_at, row.closed_by = TICKET_CLOSED, None, now, user.id
                row.resolution = (resolution or "").strip()[:2000] or None
                conv = self._conversation(session, row.conversation_id)
                conv.state = STATE_BOT
                self._event(session, row, "closed", user.id, row.resolution or "")
                if chatted:
                    conv.awaiting = f"rating:{row.id}"
                    staff = self._claimer_name(session, row)
                    notices = [{"role": "bot", "text": texts.ask_rating(staff), "buttons": texts.rating_buttons()}]
                else:
                    notices = [{"role": "system", "text": texts.CLOSED_WITHOUT_CHAT}]
                return self._public(session, row), row.conversation_id, notices

        public, conversation_id, notices = await asyncio.to_thread(finish)
        await self._gateway.store_bot_messages(conversation_id, conversation_id.split(":", 1)[0], notices)
        self._emit_ticket(public)
        return public

    # -- canned replies ------------------------------------------------------------------------------
    def canned(self, user: CurrentUser, department_id: str | None = None) -> list[dict[str, Any]]:
        """Canned replies of a department (and those for all); without one, of the person's departments."""
        with self._sessions() as session:
            return canned_replies.for_user(session, user, department_id)

    def add_canned(self, user: CurrentUser, department_id: str | None, title: str, text: str) -> dict[str, Any]:
        """Admins add a canned reply (department None = every department)."""
        if not user.is_admin:
            raise Forbidden("只有管理员可以编辑快捷回复")
        title, text = (title or "").strip(), (text or "").strip()
        if not title or not text:
            raise IllegalTransition("请填写标题和内容")
        with write_session(self._sessions) as session:
            if department_id and session.get(Department, department_id) is None:
                raise NotFound(f"department {department_id}")
            return canned_replies.public(canned_replies.add(session, department_id, title, text))

    def delete_canned(self, user: CurrentUser, canned_id: int) -> None:
        """Admins delete a canned reply."""
        if not user.is_admin:
            raise Forbidden("只有管理员可以编辑快捷回复")
        with write_session(self._sessions) as session:
            row = session.get(CannedReply, canned_id)
            if row is None:
                raise NotFound(f"canned reply {canned_id}")
            session.delete(row)

    # -- inactivity ----------------------------------------------------------------------------------
    def _idle_tickets(self, now: datetime) -> list[tuple[int, datetime | None]]:
        with self._sessions() as session:
            rows = session.scalars(select(HandoffRequest).where(HandoffRequest.status == TICKET_CLAIMED)).all()
            out = []
            for r in rows:
                staff, student, claimed = aware(r.last_staff_at), aware(r.last_student_at), aware(r.claimed_at)
                if staff is None:
                    since = claimed  # taken but never answered: the student waits since the claim
                elif student is not None and student > staff:
                    since = student
                else:
                    continue  # staff spoke last: the student's turn
                if since is not None and now - since >= self.idle:
                    out.append((r.id, r.last_staff_at))
            return out

    def _return(self, ticket_id: int, last_staff_at: datetime | None, now: datetime) -> tuple[dict, str] | None:
        with write_session(self._sessions) as session:
            condition = (
                HandoffRequest.last_staff_at.is_(None)
                if last_staff_at is None
                else HandoffRequest.last_staff_at == last_staff_at
            )
            done = session.execute(
                update(HandoffRequest)
                .where(HandoffRequest.id == ticket_id, HandoffRequest.status == TICKET_CLAIMED, condition)
                .values(status=TICKET_RETURNED, open_key=None, closed_at=now, resolution="老师超时未回复，已转回机器人")
                .execution_options(synchronize_session=False)
            ).rowcount
            if done != 1:
                return None  # a reply or a close came in meanwhile
            row = session.get(HandoffRequest, ticket_id)
            assert row is not None
            session.refresh(row)
            self._conversation(session, row.conversation_id).state = STATE_BOT
            self._event(session, row, "returned", minutes=self.idle.total_seconds() / 60)
            return self._public(session, row), row.conversation_id

    async def sweep(self) -> int:
        """Claimed chats whose student waited too long for staff go back to the bot, with a notice."""
        now = self.now()
        returned = 0
        for ticket_id, last_staff_at in await asyncio.to_thread(self._idle_tickets, now):
            result = await asyncio.to_thread(self._return, ticket_id, last_staff_at, now)
            if result is None:
                continue
            public, conversation_id = result
            returned += 1
            await self._gateway.store_bot_messages(
                conversation_id, conversation_id.split(":", 1)[0], [{"role": "system", "text": texts.RETURNED}]
            )
            self._emit_ticket(public)
        return returned

    async def sweep_forever(self, every_seconds: float = 30.0) -> None:
        """The inactivity loop started in the desk's lifespan; errors are logged, never fatal."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("handoff inactivity sweep failed")
            await asyncio.sleep(every_seconds)

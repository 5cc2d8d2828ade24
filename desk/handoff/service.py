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
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from desk.handoff import texts
from desk.handoff.student import StudentSide
from desk.handoff.tickets import (  # noqa: F401  (the errors and TicketOpened are part of this module's API)
    TRANSCRIPT_LIMIT,
    Conflict,
    Forbidden,
    HandoffError,
    IllegalTransition,
    NotFound,
    TicketOpened,
    aware,
    iso,
    queue_key,
)
from desk.models import (
    OPEN_TICKET_STATUSES,
    STATE_BOT,
    STATE_HUMAN,
    STATE_QUEUED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_QUEUED,
    UNCLAIMED_STATUSES,
    CannedReply,
    HandoffRequest,
    Message,
    TicketEvent,
)
from desk.staff import canned_replies
from desk.staff.accounts import CurrentUser, StaffUser
from knowledge_base.db import write_session
from knowledge_base.models import Department, utcnow
from knowledge_base.names import channel_of

logger = logging.getLogger(__name__)


class Handoffs(StudentSide):
    """The ticket service: the gateway opens tickets, the console works them (docs/handoff.md)."""

    def __init__(self, sessions: sessionmaker, gateway: Any, settings: Any, clock: Callable[[], datetime] = utcnow):
        super().__init__(sessions, gateway, settings, clock)
        gateway.attach_handoffs(self)
        gateway.add_listener(self._on_gateway_message)

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
                    "created_at": iso(e.created_at),
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
        channel = channel_of(conversation_id)
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
                "created_at": iso(event.created_at),
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
        if public["status"] == TICKET_QUEUED:
            text = texts.transferred_text(name)
        else:  # outside office hours: the other department replies when it opens
            text = texts.transferred_after_hours_text(name, self.reply_at(self.now()))
        channel = channel_of(conversation_id)
        await self._gateway.store_bot_messages(conversation_id, channel, [{"role": "system", "text": text}])
        self._emit_ticket(public, alert=public["priority"] == "urgent")
        return public

    async def close(self, user: CurrentUser, ticket_id: int, resolution: str) -> dict[str, Any]:
        """End the ticket; the bot takes the chat back and asks for a rating when a person had taken the chat."""

        def finish() -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
            now = self.now()
            with write_session(self._sessions) as session:
                row = self._visible(session, user, ticket_id)
                if row.status not in OPEN_TICKET_STATUSES:
                    raise IllegalTransition(f"工单{texts.STATUS_LABELS.get(row.status, row.status)}，不能再结束")
                if row.status == TICKET_CLAIMED and row.claimed_by != user.id and not user.is_admin:
                    raise Conflict(f"这个对话已由{self._claimer_name(session, row)}接入，只有接入的老师能结束")
                chatted = row.status == TICKET_CLAIMED  # a person took the chat: ask how it went
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
        await self._gateway.store_bot_messages(conversation_id, channel_of(conversation_id), notices)
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

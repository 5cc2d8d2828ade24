"""Tickets, the student's side: opening one (deduplicated, office hours, place and wait), 不用了,
the satisfaction survey, and the sweeps (a chat nobody answers goes back to the bot).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from desk.handoff import texts
from desk.handoff.office_hours import describe_opening
from desk.handoff.tickets import (
    DEFAULT_DEPARTMENT,
    PRIORITIES,
    QUEUE_NOTICE_EVERY,
    RATING_WINDOW,
    TicketBase,
    TicketOpened,
    aware,
    priority_rank,
)
from desk.models import (
    STATE_BOT,
    STATE_QUEUED,
    TICKET_CANCELLED,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_MESSAGE,
    TICKET_QUEUED,
    TICKET_RETURNED,
    UNCLAIMED_STATUSES,
    HandoffRequest,
)
from knowledge_base.db import write_session
from knowledge_base.names import channel_of

logger = logging.getLogger(__name__)


class StudentSide(TicketBase):
    """Ticket operations the gateway calls for a student's conversation, and the inactivity sweep."""

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
                )
                session.add(row)
                session.flush()
                self._event(session, row, "created", source=packet.get("source", "bot"), status=status)
                alert = priority == "urgent"
            else:
                if priority_rank(priority) > priority_rank(row.priority):
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
                if opened.notices:
                    row.notified_at = now  # the next reminder comes 2 minutes later at the earliest
            elif row.status == TICKET_MESSAGE:
                opened.next_opening = self.hours.next_opening(now)
                hours = texts.describe_weekly(self.hours.weekly)
                text = texts.message_text(self.reply_at(now), hours, again=not created)
                opened.notices.append({"role": "system", "text": text, "buttons": [texts.booking_button(service)]})
            public = self._public(session, row)
        return opened, public, alert

    def reply_at(self, now: datetime) -> str | None:
        """When a teacher can reply to a message left now: 周一 8:30 (None if the desk never opens)."""
        opening = self.hours.next_opening(now)
        return describe_opening(opening, now) if opening else None

    def cancel(self, conversation_id: str) -> str:
        """The student said 不用了: the unclaimed open ticket is cancelled and the chat goes back to the bot
        ("cancelled"). An urgent ticket stays, a teacher still checks on the student ("urgent"); "none"
        when nothing waits."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            if row is None or row.status not in UNCLAIMED_STATUSES:
                return "none"
            if row.priority == "urgent":
                self._event(session, row, "note", text="学生表示不需要了（紧急工单保留，请确认学生安全）")
                return "urgent"
            row.status, row.open_key, row.closed_at, row.resolution = TICKET_CANCELLED, None, now, "学生取消"
            self._conversation(session, conversation_id).state = STATE_BOT
            self._event(session, row, "cancelled")
            public = self._public(session, row)
        self._emit_ticket(public)
        return "cancelled"

    def queue_notice_due(self, conversation_id: str) -> dict[str, Any] | None:
        """A queue-position reminder for a queued student, at most one per 2 minutes (else None)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            if row is None or row.status != TICKET_QUEUED:
                return None
            last = aware(row.notified_at)
            if last is not None and now - last < QUEUE_NOTICE_EVERY:
                return None
            row.notified_at = now
            if row.priority == "urgent":
                return {"role": "system", "text": texts.URGENT_WAITING}
            position = self._position(session, row)
            eta = self._eta_minutes(session, row.department_id, position)
        return {"role": "system", "text": texts.queue_text(position, eta, again=True), "buttons": [texts.CANCEL_BUTTON]}

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

    def _close_of_day(self, now: datetime) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
        """When the desk closes, queued (not urgent) tickets become messages and the bot takes the chat back."""
        closing = None if self.hours.is_open(now) else self.hours.last_closing(now)
        if closing is None:
            return []
        out = []
        with write_session(self._sessions) as session:
            waiting = (
                HandoffRequest.status == TICKET_QUEUED,
                HandoffRequest.priority != "urgent",
                HandoffRequest.queued_at < closing.astimezone(timezone.utc),  # queued while the desk was open
            )
            for row in session.scalars(select(HandoffRequest).where(*waiting)).all():
                moved = session.execute(  # another desk process may be sweeping too
                    update(HandoffRequest)
                    .where(HandoffRequest.id == row.id, HandoffRequest.status == TICKET_QUEUED)
                    .values(status=TICKET_MESSAGE)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if moved != 1:
                    continue
                session.refresh(row)
                self._conversation(session, row.conversation_id).state = STATE_BOT
                self._event(session, row, "office_closed")
                text = texts.office_closed_text(self.reply_at(now))
                service = (row.packet or {}).get("service")
                notice = {"role": "system", "text": text, "buttons": [texts.booking_button(service)]}
                out.append((self._public(session, row), row.conversation_id, notice))
        return out

    async def sweep(self) -> int:
        """Claimed chats whose student waited too long for staff go back to the bot, with a notice; at
        closing time, students still in the queue are told their message waits for the next opening."""
        now = self.now()
        for public, conversation_id, notice in await asyncio.to_thread(self._close_of_day, now):
            await self._gateway.store_bot_messages(conversation_id, channel_of(conversation_id), [notice])
            self._emit_ticket(public)
        returned = 0
        for ticket_id, last_staff_at in await asyncio.to_thread(self._idle_tickets, now):
            result = await asyncio.to_thread(self._return, ticket_id, last_staff_at, now)
            if result is None:
                continue
            public, conversation_id = result
            returned += 1
            await self._gateway.store_bot_messages(
                conversation_id, channel_of(conversation_id), [{"role": "system", "text": texts.RETURNED}]
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

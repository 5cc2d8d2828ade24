"""The ticket store, the student's side: open a ticket, 不用了, the survey, and the sweeps (SQL only).

Each method is one short transaction (BEGIN IMMEDIATE on SQLite, via `write_session`) and returns
what changed: the ticket's queue form for the console and the notices for the student. It sends and
emits nothing itself; `desk.handoff.service.Handoffs` does. Status changes go through
`desk.handoff.states` (the transition table), which writes the conversation's state with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from desk.handoff import states, texts
from desk.handoff.department_hours import DepartmentHours
from desk.handoff.office_hours import describe_opening
from desk.handoff.tickets import (
    QUEUE_NOTICE_EVERY,
    RATING_WINDOW,
    TicketOpened,
    aware,
    eta_minutes,
    open_ticket_of,
    position,
    public,
    record,
)
from desk.models import (
    STATE_BOT,
    TICKET_CLAIMED,
    TICKET_CLOSED,
    TICKET_MESSAGE,
    TICKET_QUEUED,
    UNCLAIMED_STATUSES,
    Conversation,
    HandoffRequest,
)
from knowledge_base import handoff_policy, redaction
from knowledge_base.db import write_session
from knowledge_base.office_hours import describe_weekly

logger = logging.getLogger(__name__)

Public = dict[str, Any]


@dataclass(frozen=True)
class StudentState:
    """Where a student's conversation stands when a message arrives (derived from the open ticket)."""

    state: str  # bot | queued | human
    awaiting: str | None = None  # a pending survey step: "rating:<id>" | "comment:<id>"
    ticket_id: int | None = None  # the open ticket, if any


class TicketStore:
    """Ticket rows for the student's side of a handoff, on the desk's clock and each department's hours."""

    def __init__(
        self, sessions: sessionmaker, hours: DepartmentHours, idle: timedelta, now: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self.hours = hours
        self.idle = idle
        self.now = now

    # -- a message arrives -----------------------------------------------------------------------
    def student_wrote(self, session: Session, conversation_id: str) -> StudentState:
        """The conversation's state from its open ticket (queued -> queued, claimed -> human, else bot),
        read in the transaction that stored the student's message; a queued or claimed ticket notes the
        message (for the inactivity rule)."""
        row = open_ticket_of(session, conversation_id)
        conv = session.get(Conversation, conversation_id)  # the caller's copy: no query
        status, ticket_id = (row.status, row.id) if row is not None else (None, None)
        state = states.conversation_state(status)
        if state != STATE_BOT:
            session.execute(
                update(HandoffRequest)
                .where(HandoffRequest.id == ticket_id, HandoffRequest.status == status)
                .values(last_student_at=self.now())
            )
        return StudentState(state, conv.awaiting if conv is not None else None, ticket_id)

    # -- opening ---------------------------------------------------------------------------------
    def open(self, conversation_id: str, packet: dict[str, Any]) -> tuple[TicketOpened, Public, bool]:
        """Open a ticket, or join the open one (double trigger); also whether staff need an alert."""
        packet = redaction.redact_packet(dict(packet or {}))  # the student's words masked before they are kept
        priority = handoff_policy.valid_priority(packet.get("priority"))
        try:
            return self._open(conversation_id, packet, priority)
        except IntegrityError:  # another desk process opened it between our read and insert
            return self._open(conversation_id, packet, priority)

    def _open(self, conversation_id: str, packet: dict[str, Any], priority: str) -> tuple[TicketOpened, Public, bool]:
        now = self.now()
        urgent = handoff_policy.PRIORITY_URGENT
        with write_session(self._sessions) as session:
            states.conversation(session, conversation_id)  # the ticket refers to it
            row = open_ticket_of(session, conversation_id)
            created, alert = row is None, False
            if row is None:
                department = packet.get("department") or handoff_policy.DEFAULT_DEPARTMENT
                desk_open = self.hours.of(department).is_open(now)  # urgent tickets queue whatever the hours
                status = states.target(states.OPEN, desk_open=desk_open, urgent=priority == urgent)
                row = HandoffRequest(
                    conversation_id=conversation_id,
                    department_id=department,
                    reason=str(packet.get("reason") or handoff_policy.REASON_REQUEST)[:50],
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
                states.settle(session, row)
                record(session, row, "created", now, source=packet.get("source", "bot"), status=status)
                alert = priority == urgent
            else:
                alert = self._join(session, row, packet, priority, now)
            opened = self._opened(session, row, created, packet, now)
            shown = public(session, row, now)
        return opened, shown, alert

    def _join(
        self, session: Session, row: HandoffRequest, packet: dict[str, Any], priority: str, now: datetime
    ) -> bool:
        """A second trigger: a higher priority raises the ticket; True when it became urgent."""
        alert = False
        if handoff_policy.priority_rank(priority) > handoff_policy.priority_rank(row.priority):
            reason = str(packet.get("reason") or "")
            record(session, row, "priority_raised", now, text=reason, old=row.priority, new=priority)
            row.priority = priority
            row.reason = (reason or row.reason)[:50]
            if row.status != TICKET_CLAIMED and packet.get("department"):
                row.department_id = packet["department"]
            alert = priority == handoff_policy.PRIORITY_URGENT
        opened = row.priority == handoff_policy.PRIORITY_URGENT or self.hours.of(row.department_id).is_open(now)
        if row.status == TICKET_MESSAGE and opened:
            states.advance(session, row, states.DESK_OPENED)  # the desk is open now (or it became urgent)
        else:
            states.settle(session, row)
        return alert

    def _opened(
        self, session: Session, row: HandoffRequest, created: bool, packet: dict[str, Any], now: datetime
    ) -> TicketOpened:
        """What to tell the student: the place in line and wait, or when a teacher will reply."""
        opened = TicketOpened(row.id, created, row.status, row.priority)
        service = packet.get("service") or (row.packet or {}).get("service")
        if row.status == TICKET_QUEUED:
            opened.position = position(session, row)
            opened.eta_minutes = eta_minutes(session, row.department_id, opened.position)
            if row.priority == handoff_policy.PRIORITY_URGENT:
                if packet.get("reason") != handoff_policy.REASON_CRISIS:  # the crisis answer says a teacher is told
                    opened.notices.append({"role": "system", "text": texts.urgent_text()})
            else:
                text = texts.queue_text(opened.position, opened.eta_minutes, again=not created)
                opened.notices.append({"role": "system", "text": text, "buttons": [texts.CANCEL_BUTTON]})
            if opened.notices:
                row.notified_at = now  # the next reminder comes 2 minutes later at the earliest
        elif row.status == TICKET_MESSAGE:
            office = self.hours.of(row.department_id)
            opened.next_opening = office.next_opening(now)
            hours = describe_weekly(office.weekly)
            text = texts.message_text(self.reply_at(now, row.department_id), hours, again=not created)
            opened.notices.append({"role": "system", "text": text, "buttons": [texts.booking_button(service)]})
        return opened

    def reply_at(self, now: datetime, department_id: str | None = None) -> str | None:
        """When a teacher of the department can reply to a message left now: 周一 8:30 (None if never)."""
        opening = self.hours.of(department_id).next_opening(now)
        return describe_opening(opening, now) if opening else None

    # -- the student's words ---------------------------------------------------------------------
    def cancel(self, conversation_id: str) -> tuple[str, Public | None]:
        """不用了: "cancelled" (the unclaimed ticket is cancelled, the bot has the chat again), "urgent"
        (an urgent ticket stays, a teacher still checks on the student) or "none" (nothing waits)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = open_ticket_of(session, conversation_id)
            if row is None or row.status not in UNCLAIMED_STATUSES:
                return "none", None
            if row.priority == handoff_policy.PRIORITY_URGENT:
                record(session, row, "note", now, text="学生表示不需要了（紧急工单保留，请确认学生安全）")
                return "urgent", None
            if not states.advance(session, row, states.CANCEL, closed_at=now, resolution="学生取消"):
                return "none", None
            record(session, row, "cancelled", now)
            return "cancelled", public(session, row, now)

    def queue_notice_due(self, conversation_id: str) -> dict[str, Any] | None:
        """A queue-position reminder for a queued student, at most one per 2 minutes (else None)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = open_ticket_of(session, conversation_id)
            if row is None or row.status != TICKET_QUEUED:
                return None
            last = aware(row.notified_at)
            if last is not None and now - last < QUEUE_NOTICE_EVERY:
                return None
            row.notified_at = now
            if row.priority == handoff_policy.PRIORITY_URGENT:
                return {"role": "system", "text": texts.URGENT_WAITING}
            place = position(session, row)
            eta = eta_minutes(session, row.department_id, place)
        return {"role": "system", "text": texts.queue_text(place, eta, again=True), "buttons": [texts.CANCEL_BUTTON]}

    def rate(self, conversation_id: str, score: int, ticket_id: int | None) -> Public | None:
        """Store a 1-5 rating for the ticket (or the conversation's latest closed unrated one) and ask
        for a comment; None when there is nothing (left) to rate."""
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
            record(session, row, "rated", now, score=score)
            states.survey_step(session, conversation_id, row.id, done=states.SURVEY_RATING)
            return public(session, row, now)

    def comment(self, conversation_id: str, ticket_id: int, text: str | None) -> None:
        """Store the optional comment after a rating (None = skipped) and end the survey."""
        with write_session(self._sessions) as session:
            row = session.get(HandoffRequest, ticket_id)
            if row is not None and row.conversation_id == conversation_id and text:
                row.rating_comment = text[:1000]
                record(session, row, "rated", self.now(), text=text[:1000], comment=True)
            states.survey_step(session, conversation_id, ticket_id, done=states.SURVEY_COMMENT)

    def end_survey(self, conversation_id: str) -> None:
        """The student moved on: no more survey questions."""
        with write_session(self._sessions) as session:
            states.survey_step(session, conversation_id, None, done=None)

    # -- the sweeps ------------------------------------------------------------------------------
    def idle_tickets(self, now: datetime) -> list[tuple[int, datetime | None]]:
        """Claimed tickets whose student has waited for staff at least `idle` (id, last staff reply)."""
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

    def time_out(self, ticket_id: int, last_staff_at: datetime | None, now: datetime) -> tuple[Public, str] | None:
        """Give an idle chat back to the bot, unless a reply or a close came in meanwhile (then None)."""
        with write_session(self._sessions) as session:
            row = session.get(HandoffRequest, ticket_id)
            if row is None:
                return None
            unchanged = (
                HandoffRequest.last_staff_at.is_(None)
                if last_staff_at is None
                else HandoffRequest.last_staff_at == last_staff_at
            )
            resolution = "老师超时未回复，已转回机器人"
            if not states.advance(session, row, states.TIME_OUT, guard=unchanged, closed_at=now, resolution=resolution):
                return None
            record(session, row, "returned", now, minutes=self.idle.total_seconds() / 60)
            return public(session, row, now), row.conversation_id

    def close_of_day(self, now: datetime) -> list[tuple[Public, str, dict[str, Any]]]:
        """When a department's desk closes, its queued (not urgent) tickets become messages and the bot
        takes the chat back (each department on its own hours)."""
        waiting = (HandoffRequest.status == TICKET_QUEUED, HandoffRequest.priority != handoff_policy.PRIORITY_URGENT)
        with self._sessions() as session:
            queued = session.execute(
                select(HandoffRequest.id, HandoffRequest.department_id, HandoffRequest.queued_at).where(*waiting)
            ).all()
        due = []
        for ticket_id, department_id, queued_at in queued:
            office = self.hours.of(department_id)
            closing = None if office.is_open(now) else office.last_closing(now)
            queued_at = aware(queued_at)
            if closing is not None and queued_at is not None and queued_at < closing:  # queued while it was open
                due.append(ticket_id)
        out: list[tuple[Public, str, dict[str, Any]]] = []
        if not due:
            return out
        with write_session(self._sessions) as session:
            for row in session.scalars(select(HandoffRequest).where(HandoffRequest.id.in_(due), *waiting)).all():
                if not states.advance(session, row, states.DESK_CLOSED):  # another desk process swept it
                    continue
                record(session, row, "office_closed", now)
                text = texts.office_closed_text(self.reply_at(now, row.department_id))
                service = (row.packet or {}).get("service")
                notice = {"role": "system", "text": text, "buttons": [texts.booking_button(service)]}
                out.append((public(session, row, now), row.conversation_id, notice))
        return out

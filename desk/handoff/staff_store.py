"""The ticket store, the console's side: the queue, a ticket's detail, claim, note, transfer, close,
canned replies (SQL only).

Who may see and do what is checked here (errors from desk/handoff/tickets.py): the queue shows every
ticket the person may see, without the student's words where they may not read it; a transcript
opens on need to know (`CurrentUser.can_read`) and every opening is written to the access log
(desk/staff/access_log.py); status changes go
through `desk.handoff.states`. Claiming is one conditional UPDATE, so of two staff who click at once
exactly one wins, on SQLite and PostgreSQL alike. Nothing is sent or emitted here:
`desk.handoff.service.Handoffs` sends the returned notices and tells the consoles.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from desk.admin import audit
from desk.handoff import states, texts
from desk.handoff.department_hours import DepartmentHours
from desk.handoff.tickets import (
    TRANSCRIPT_LIMIT,
    Conflict,
    Forbidden,
    IllegalTransition,
    NotFound,
    aware,
    claimer_name,
    iso,
    public,
    queue_key,
    readable,
    record,
    staff_label,
    transcript_bounds,
    visible,
)
from desk.models import (
    OPEN_TICKET_STATUSES,
    TICKET_CLAIMED,
    TICKET_QUEUED,
    UNCLAIMED_STATUSES,
    CannedReply,
    HandoffRequest,
    Message,
    TicketEvent,
)
from desk.staff import access_log, canned_replies
from desk.staff.accounts import CurrentUser, StaffUser
from desk.staff.console_queries import for_reader
from knowledge_base.db import write_session
from knowledge_base.models import Department

Public = dict[str, Any]
Notices = list[dict[str, Any]]


def _label(status: str) -> str:
    return texts.STATUS_LABELS.get(status, status)


def _audit(
    session: Session, user: CurrentUser, action: str, entity_id: Any, before: Public | None, after: Public | None
) -> None:
    """The change in the admins' audit log, in the change's transaction (ids, statuses: never chat text)."""
    entity = action.split(".", 1)[0]
    audit.record(session, user.username, user.id, action, entity, str(entity_id), before, after)


class StaffTickets:
    """Ticket rows as staff work them; every call checks the person's right to see the ticket."""

    def __init__(self, sessions: sessionmaker, hours: DepartmentHours, now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self.hours = hours
        self.now = now

    def queue(self, user: CurrentUser) -> list[Public]:
        """Open tickets this person may see, in the order they should be taken."""
        now = self.now()
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
            return [for_reader(user, public(session, r, now, last.get(r.conversation_id, ""))) for r in rows]

    def ticket(self, user: CurrentUser, ticket_id: int) -> Public:
        """A ticket with its packet, the transcript this person may read (the bot's part too, no earlier
        ticket of a department they are not in), events and canned replies; the read is logged.
        NotFound when the person may not read it (need to know)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = readable(session, user, ticket_id)
            access_log.record(
                session, user.id, user.username, access_log.TRANSCRIPT, now,
                ticket_id=row.id, conversation_id=row.conversation_id,
            )  # fmt: skip
        with self._sessions() as session:
            row = readable(session, user, ticket_id)
            out = public(session, row, now)
            ranges = [
                and_(Message.id > after, Message.id <= end) if end is not None else Message.id > after
                for after, end in transcript_bounds(session, user, row)
            ]
            messages = session.scalars(
                select(Message)
                .where(Message.conversation_id == row.conversation_id, or_(false(), *ranges))
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
            out["restricted"] = False
        return out

    def claim(self, user: CurrentUser, ticket_id: int) -> tuple[Public, str, Notices]:
        """Take the chat (exactly one of several people clicking at once wins; the others get Conflict);
        the ticket, its conversation and the notice for the student (none when already yours)."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = visible(session, user, ticket_id)
            if row.status == TICKET_CLAIMED:
                if row.claimed_by == user.id:
                    return public(session, row, now), row.conversation_id, []
                raise Conflict(f"已被{claimer_name(session, row)}接入")
            if row.status not in UNCLAIMED_STATUSES:
                raise IllegalTransition(f"工单{_label(row.status)}，不能接入")
            wait, before = None, {"status": row.status, "claimed_by": None}
            if row.status == TICKET_QUEUED:
                wait = max(0, int((now - (aware(row.queued_at) or now)).total_seconds()))
            won = states.advance(
                session,
                row,
                states.CLAIM,
                guard=HandoffRequest.claimed_by.is_(None),
                claimed_by=user.id,
                claimed_at=now,
                claim_wait_seconds=wait,
            )
            if not won:
                if row.status == TICKET_CLAIMED:
                    raise Conflict(f"已被{claimer_name(session, row)}接入")
                raise IllegalTransition("工单状态已变化，不能接入，请刷新")
            record(session, row, "claimed", now, user.id)
            _audit(session, user, "ticket.claim", row.id, before, {"status": row.status, "claimed_by": user.id})
            label = staff_label(session, user.display_name, row.department_id)
            notices = [{"role": "system", "text": texts.claimed_text(label)}]
            return public(session, row, now), row.conversation_id, notices

    def start_reply(self, user: CurrentUser, ticket_id: int) -> tuple[str, str]:
        """Check this person has the chat and note the reply's time: the conversation and the signature."""
        with write_session(self._sessions) as session:
            row = visible(session, user, ticket_id)
            if row.status != TICKET_CLAIMED:
                raise IllegalTransition(f"工单{_label(row.status)}，请先接入")
            if row.claimed_by != user.id:
                raise Conflict(f"这个对话已由{claimer_name(session, row)}接入，你不能回复")
            row.last_staff_at = self.now()
            return row.conversation_id, staff_label(session, user.display_name, row.department_id)

    def audit_reply(self, user: CurrentUser, ticket_id: int, message_id: int) -> None:
        """A sent reply in the audit log: the message's id, never its text (privacy)."""
        with write_session(self._sessions) as session:
            _audit(session, user, "ticket.reply", ticket_id, None, {"message_id": message_id})

    def note(self, user: CurrentUser, ticket_id: int, text: str) -> tuple[dict[str, Any], Public]:
        """An internal note on the ticket (never sent to the student): the event and the ticket."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = readable(session, user, ticket_id)
            event = record(session, row, "note", now, user.id, text[:2000])
            session.flush()
            _audit(session, user, "ticket.note", row.id, None, {"event_id": event.id})
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
            return out, public(session, row, now)

    def transfer(self, user: CurrentUser, ticket_id: int, department_id: str, note: str) -> tuple[Public, str, str]:
        """Move the ticket to another department's queue, unclaimed: the ticket, conversation, department name."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = readable(session, user, ticket_id)
            target = session.get(Department, department_id)
            if target is None:
                raise NotFound(f"department {department_id}")
            if row.status not in OPEN_TICKET_STATUSES:
                raise IllegalTransition(f"工单{_label(row.status)}，不能转接")
            if row.status == TICKET_CLAIMED and row.claimed_by != user.id and not user.is_admin:
                raise Conflict(f"这个对话已由{claimer_name(session, row)}接入，只有接入的老师能转接")
            if row.department_id == department_id:
                raise Conflict(f"工单已经在{target.name}")
            source, before = row.department_id, {"department_id": row.department_id, "status": row.status}
            moved = states.advance(
                session,
                row,
                states.TRANSFER,
                desk_open=self.hours.of(department_id).is_open(now),  # the receiving office's hours
                department_id=department_id,
                claimed_by=None,
                claimed_at=None,
                claim_wait_seconds=None,
                queued_at=now,
                notified_at=now,
            )
            if not moved:
                raise IllegalTransition("工单状态已变化，不能转接，请刷新")
            text = (note or "").strip()[:2000]
            record(session, row, "transferred", now, user.id, text, **{"from": source, "to": department_id})
            _audit(
                session, user, "ticket.transfer", row.id, before, {"department_id": department_id, "status": row.status}
            )
            return public(session, row, now), row.conversation_id, target.name

    def close(self, user: CurrentUser, ticket_id: int, resolution: str) -> tuple[Public, str, Notices]:
        """End the ticket; the bot has the chat again and, when a person had it, asks for a rating."""
        now = self.now()
        with write_session(self._sessions) as session:
            row = readable(session, user, ticket_id)
            if row.status not in OPEN_TICKET_STATUSES:
                raise IllegalTransition(f"工单{_label(row.status)}，不能再结束")
            if row.status == TICKET_CLAIMED and row.claimed_by != user.id and not user.is_admin:
                raise Conflict(f"这个对话已由{claimer_name(session, row)}接入，只有接入的老师能结束")
            chatted = row.status == TICKET_CLAIMED  # a person took the chat: ask how it went
            before = {"status": row.status}
            staff = claimer_name(session, row)
            resolved = (resolution or "").strip()[:2000] or None
            survey = states.SURVEY_RATING if chatted else None
            closed = states.advance(
                session, row, states.CLOSE, survey=survey, closed_at=now, closed_by=user.id, resolution=resolved
            )
            if not closed:
                raise IllegalTransition("工单状态已变化，不能结束，请刷新")
            event = record(session, row, "closed", now, user.id, row.resolution or "")
            session.flush()
            _audit(session, user, "ticket.close", row.id, before, {"status": row.status, "event_id": event.id})
            if chatted:
                notices = [{"role": "bot", "text": texts.ask_rating(staff), "buttons": texts.rating_buttons()}]
            else:
                notices = [{"role": "system", "text": texts.CLOSED_WITHOUT_CHAT}]
            return public(session, row, now), row.conversation_id, notices

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
            added = canned_replies.public(canned_replies.add(session, department_id, title, text))
            _audit(session, user, "canned.create", added["id"], None, added)
            return added

    def delete_canned(self, user: CurrentUser, canned_id: int) -> None:
        """Admins delete a canned reply."""
        if not user.is_admin:
            raise Forbidden("只有管理员可以编辑快捷回复")
        with write_session(self._sessions) as session:
            row = session.get(CannedReply, canned_id)
            if row is None:
                raise NotFound(f"canned reply {canned_id}")
            _audit(session, user, "canned.delete", canned_id, canned_replies.public(row), None)
            session.delete(row)

"""One student's data: everything the desk holds about them, exported or erased (PIPL access and deletion).

A student is named by a conversation id (`web:<uuid>`, `tg:<chat id>`, `wx:<openid>`) or by a phone
number; the phone finds every conversation whose remembered contact or booking carries it (contacts
are sealed, so each is opened with the booking key). Tables that name a student: conversations,
messages, handoff_requests (packet, resolution, rating comment), ticket_events, outbox,
pending_replies, student_contacts, bookings, the insight tables (survey answers, stage, suggestions
offered), and Rasa's tracker store (desk/privacy/tracker.py).

Erasing deletes every row of those conversations and the remembered contact; bookings are kept for
the offices' statistics but anonymised (contact replaced, student reference unlinked), and upcoming
ones are cancelled and their seats freed. Counts go to `daily_counts` first (desk/privacy/statistics.py),
and every export and erasure appends an audit row (desk/privacy/audit.py) without the data itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from desk.insight.models import StudentStage, Suggestion, SurveyResponse
from desk.models import Conversation, HandoffRequest, Message, OutboxItem, PendingReply, TicketEvent
from desk.privacy import audit, statistics
from desk.privacy.tracker import TrackerEvents
from knowledge_base.booking import models as bm
from knowledge_base.booking import seats
from knowledge_base.booking.errors import ContactKeyError
from knowledge_base.db import write_session
from knowledge_base.privacy import Contact, ContactCipher, normalize_phone

ERASED_CONTACT = Contact("（已删除）", "-", "-")


class StudentNotFound(LookupError):
    """Nothing the desk holds names this student."""


@dataclass(frozen=True)
class Subject:
    """Whom an export or erasure is about: `conversation` + an id, or `phone` + a mainland mobile number."""

    kind: str
    value: str

    @classmethod
    def of(cls, *, conversation: str | None = None, phone: str | None = None) -> Subject:
        """Validate the request; ValueError with a message for the person asking."""
        if bool(conversation) == bool(phone):
            raise ValueError("请给出会话ID或手机号（二选一）/ give exactly one of --conversation or --phone")
        if conversation:
            value = conversation.strip()
            if ":" not in value or len(value) > 200:
                raise ValueError("会话ID形如 web:<uuid>、tg:<chat id> 或 wx:<openid>")
            return cls("conversation", value)
        digits = normalize_phone(phone)
        if digits is None:
            raise ValueError("手机号应为11位中国大陆手机号，例如 13812345678")
        return cls("phone", digits)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class StudentData:
    """Finds, exports and erases one student's rows in every table (sync: call it in a thread)."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher, tracker: TrackerEvents) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._tracker = tracker

    # -- finding ------------------------------------------------------------------------------------
    def _open(self, token: str) -> tuple[Contact, str] | None:
        try:
            return self._cipher.open(token)
        except (ContactKeyError, ValueError, KeyError):
            return None

    def _find(self, session: Session, subject: Subject) -> tuple[list[str], list[bm.Booking], list[bm.StudentContact]]:
        """The student's conversation ids, bookings and remembered contacts."""
        if subject.kind == "conversation":
            ids = [subject.value]
            ref = self._cipher.ref("student_key", subject.value)
            bookings = list(session.scalars(select(bm.Booking).where(bm.Booking.student_ref == ref)))
            contacts = [c for c in [session.get(bm.StudentContact, ref)] if c is not None]
            known = session.get(Conversation, subject.value) is not None or bookings or contacts
            if not known and not self._tracker.events(ids)[subject.value]:
                raise StudentNotFound(subject.kind)
            return ids, bookings, contacts
        keys: set[str] = set()
        contacts = []
        for row in session.scalars(select(bm.StudentContact)):
            opened = self._open(row.contact)
            if opened is not None and opened[0].phone == subject.value:
                contacts.append(row)
                keys.add(opened[1])
        bookings = []
        for booking in session.scalars(select(bm.Booking).where(~bm.Booking.student_ref.startswith("erased-"))):
            opened = self._open(booking.contact)
            if opened is not None and opened[0].phone == subject.value:
                bookings.append(booking)
                keys.add(opened[1])
        refs = {self._cipher.ref("student_key", k): k for k in keys}
        for booking in session.scalars(select(bm.Booking).where(bm.Booking.student_ref.in_(list(refs)))):
            if booking not in bookings:
                bookings.append(booking)  # the same student's bookings under another contact
        if not keys:
            raise StudentNotFound(subject.kind)
        return sorted(keys), bookings, contacts

    # -- export -------------------------------------------------------------------------------------
    def export(self, subject: Subject, *, actor: str, now: datetime) -> dict[str, Any]:
        """Everything held about the student, contacts decrypted; the export is audited."""
        with self._sessions() as session:
            ids, bookings, contacts = self._find(session, subject)
            conversations = [self._conversation(session, cid) for cid in ids]
            tracker = self._tracker.events(ids)
            for conv in conversations:
                conv["rasa_tracker_events"] = tracker.get(conv["id"], [])
            data = {
                "exported_at": now.isoformat(),
                "subject": {"kind": subject.kind, "value": subject.value},
                "conversations": conversations,
                "remembered_contacts": [
                    self._contact(c.contact) | {"updated_at": _iso(c.updated_at)} for c in contacts
                ],
                "bookings": [self._booking(b) for b in sorted(bookings, key=lambda b: b.starts_at)],
            }
        counts = {
            "conversations": len(conversations),
            "messages": sum(len(c["messages"]) for c in conversations),
            "tickets": sum(len(c["tickets"]) for c in conversations),
            "bookings": len(data["bookings"]),
            "tracker_events": sum(len(v) for v in tracker.values()),
        }
        with write_session(self._sessions) as session:
            audit.record(session, actor=actor, action="export", target=self._target(subject), counts=counts, at=now)
        return data

    def _target(self, subject: Subject) -> str:
        return audit.pseudonym(self._cipher, subject.kind, subject.value)

    def _contact(self, token: str) -> dict[str, Any]:
        opened = self._open(token)
        if opened is None:
            return {"contact": None, "note": "cannot be decrypted with the configured booking key"}
        contact, _ = opened
        return {"name": contact.name, "student_number": contact.student_number, "phone": contact.phone}

    def _booking(self, b: bm.Booking) -> dict[str, Any]:
        return {
            "code": b.code,
            "service_id": b.service_id,
            "starts_at": _iso(b.starts_at),
            "ends_at": _iso(b.ends_at),
            "mode": b.mode,
            "status": b.status,
            "created_at": _iso(b.created_at),
            "cancelled_at": _iso(b.cancelled_at),
            "contact": self._contact(b.contact),
        }

    def _conversation(self, session: Session, cid: str) -> dict[str, Any]:
        conv = session.get(Conversation, cid)
        messages = session.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id))
        tickets = session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == cid))
        return {
            "id": cid,
            "channel": conv.channel if conv else cid.split(":", 1)[0],
            "state": conv.state if conv else None,
            "created_at": _iso(conv.created_at) if conv else None,
            "last_activity_at": _iso(conv.last_activity_at) if conv else None,
            "messages": [m.public() | {"payload": m.payload} for m in messages],
            "tickets": [self._ticket(session, t) for t in tickets],
            "stage": session.scalar(select(StudentStage.stage).where(StudentStage.conversation_id == cid)),
            "survey_answers": [
                {"survey_id": r.survey_id, "status": r.status, "answer": r.answer, "asked_at": _iso(r.asked_at)}
                for r in session.scalars(select(SurveyResponse).where(SurveyResponse.conversation_id == cid))
            ],
        }

    @staticmethod
    def _ticket(session: Session, t: HandoffRequest) -> dict[str, Any]:
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))
        return {
            "id": t.id,
            "department": t.department_id,
            "reason": t.reason,
            "priority": t.priority,
            "status": t.status,
            "created_at": _iso(t.created_at),
            "closed_at": _iso(t.closed_at),
            "resolution": t.resolution,
            "packet": dict(t.packet or {}),
            "rating": t.rating,
            "rating_comment": t.rating_comment,
            "events": [{"kind": e.kind, "text": e.text, "created_at": _iso(e.created_at)} for e in events],
        }

    # -- erasure ------------------------------------------------------------------------------------
    def erase(self, subject: Subject, *, actor: str, now: datetime, action: str = "erase") -> dict[str, int]:
        """Delete every row that names the student (statistics kept anonymised); audited. Row counts.

        `action="clear"` (the student's own 结束并清除 in the web chat) keeps their bookings: the visit
        they arranged still stands, sealed as before, and the office can reach them."""
        with write_session(self._sessions) as session:
            overwrite_deleted(session)
            ids, bookings, contacts = self._find(session, subject)
            if action == "clear":
                bookings = []
            counts = erase_conversations(session, ids)
            counts["student_contacts"] = len(contacts)
            for row in contacts:
                session.delete(row)
            counts |= self._anonymise(session, bookings, now)
            counts["tracker_events"] = self._tracker.erase(ids)
            audit.record(session, actor=actor, action=action, target=self._target(subject), counts=counts, at=now)
        checkpoint(self._sessions)
        return counts

    def _anonymise(self, session: Session, bookings: list[bm.Booking], now: datetime) -> dict[str, int]:
        cancelled = 0
        for booking in bookings:
            if booking.status == bm.BOOKED and booking.ends_at > now:
                booking.status, booking.cancelled_at = bm.CANCELLED, now
                seats.release_seat(session, booking.slot_id)
                cancelled += 1
            booking.student_ref = "erased-" + secrets.token_hex(16)
            booking.exclusive_key = None
            booking.contact = self._cipher.seal(ERASED_CONTACT, "")
            booking.updated_at = now
        return {"bookings_anonymised": len(bookings), "bookings_cancelled": cancelled}


def erase_conversations(session: Session, ids: list[str]) -> dict[str, int]:
    """Delete these conversations with their messages, tickets, outbox and pending rows (counts rolled up
    into `daily_counts` first). Row counts per table."""
    message_ids = list(session.scalars(select(Message.id).where(Message.conversation_id.in_(ids))))
    tickets = list(session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id.in_(ids))))
    conversations = list(session.scalars(select(Conversation).where(Conversation.id.in_(ids))))
    rollup = statistics.count_messages(session, message_ids)
    rollup.update(statistics.count_tickets(tickets))
    rollup.update(statistics.count_conversations(conversations))
    statistics.add(session, rollup)
    ticket_ids = [t.id for t in tickets]
    counts = {
        "outbox": _delete(session, delete(OutboxItem).where(OutboxItem.conversation_id.in_(ids))),
        "pending_replies": _delete(session, delete(PendingReply).where(PendingReply.conversation_id.in_(ids))),
        "ticket_events": _delete(session, delete(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids))),
        "tickets": _delete(session, delete(HandoffRequest).where(HandoffRequest.id.in_(ticket_ids))),
        "messages": _delete(session, delete(Message).where(Message.conversation_id.in_(ids))),
        "survey_responses": _delete(session, delete(SurveyResponse).where(SurveyResponse.conversation_id.in_(ids))),
        "student_stages": _delete(session, delete(StudentStage).where(StudentStage.conversation_id.in_(ids))),
        "suggestions": _delete(session, delete(Suggestion).where(Suggestion.conversation_id.in_(ids))),
        "conversations": _delete(session, delete(Conversation).where(Conversation.id.in_(ids))),
    }
    return counts


def overwrite_deleted(session: Session) -> None:
    """SQLite keeps deleted rows' bytes in free pages: have this connection overwrite them with zeros."""
    if session.connection().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))


def checkpoint(sessions: sessionmaker) -> None:
    """SQLite in WAL mode: copy the write-ahead log into the database and empty it, so the old versions
    of the deleted rows do not linger in the -wal file. Best effort: a busy database is checkpointed later."""
    with sessions() as session:
        if session.connection().dialect.name == "sqlite":
            session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _delete(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

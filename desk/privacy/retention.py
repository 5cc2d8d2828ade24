"""Retention: what is older than `HELPDESK_RETENTION_DAYS` (180) goes, the statistics stay (docs/privacy.md).

One run deletes, older than the cut-off: messages (with their outbox and pending rows), tickets that are
no longer open (with their events), conversations with nothing left and no activity since, remembered
contacts not updated since, and Rasa's tracker events; bookings that ended before it are anonymised
(kept for the offices' statistics). What is deleted is counted into `daily_counts` first
(desk/privacy/statistics.py), and each run that removed something appends one audit row. A
conversation with an open ticket is left alone until the ticket ends. The desk runs it every
`HELPDESK_RETENTION_SWEEP_HOURS` (24) in the background (`RetentionWorker`); `helpdesk retention run`
runs it once. "Now" is the one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from desk.models import (
    OPEN_TICKET_STATUSES,
    Conversation,
    HandoffRequest,
    Message,
    OutboxItem,
    PendingReply,
    TicketEvent,
)
from desk.privacy import audit, statistics
from desk.privacy.students import ERASED_CONTACT, checkpoint, erase_conversations, overwrite_deleted
from desk.privacy.tracker import TrackerEvents
from desk.tasks import cancel_and_wait
from knowledge_base.booking import models as bm
from knowledge_base.db import write_session
from knowledge_base.privacy import ContactCipher

logger = logging.getLogger(__name__)
ADVISORY_LOCK = 0x68656C70  # PostgreSQL: one retention run at a time across desk processes


def _count(session: Session, statement: object) -> int:
    return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0)  # type: ignore[attr-defined]


class Retention:
    """Deletes and anonymises what is older than the retention period (sync: call it in a thread)."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher, tracker: TrackerEvents, days: int) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._tracker = tracker
        self.days = days

    def run(self, now: datetime, actor: str = "system") -> dict[str, int]:
        """One run at `now`; the counts per table (also in the audit row)."""
        cutoff = now - timedelta(days=self.days)
        with write_session(self._sessions) as session:
            if session.connection().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
            overwrite_deleted(session)
            held = set(
                session.scalars(
                    select(HandoffRequest.conversation_id).where(HandoffRequest.status.in_(OPEN_TICKET_STATUSES))
                )
            )
            idle = [
                c
                for c in session.scalars(select(Conversation.id).where(Conversation.last_activity_at < cutoff))
                if c not in held
            ]
            counts = erase_conversations(session, idle) if idle else {}
            counts = {f"idle_{k}": v for k, v in counts.items()}
            counts |= self._old_rows(session, cutoff, held)
            counts |= self._old_bookings(session, cutoff, now)
            counts["tracker_events"] = self._tracker.expire(cutoff)
            if any(counts.values()):  # a run with nothing to do leaves no audit row
                audit.record(session, actor=actor, action="retention", target=f"older than {self.days} days",
                             counts=counts, at=now)  # fmt: skip
        if any(counts.values()):
            checkpoint(self._sessions)
        return counts

    @staticmethod
    def _old_rows(session: Session, cutoff: datetime, held: set[str]) -> dict[str, int]:
        """Old messages and ended tickets of conversations that are still around."""
        keep = list(held)
        tickets = list(
            session.scalars(
                select(HandoffRequest).where(
                    HandoffRequest.created_at < cutoff,
                    HandoffRequest.status.not_in(OPEN_TICKET_STATUSES),
                    HandoffRequest.conversation_id.not_in(keep),
                )
            )
        )
        message_ids = list(
            session.scalars(select(Message.id).where(Message.created_at < cutoff, Message.conversation_id.not_in(keep)))
        )
        rollup = statistics.count_messages(session, message_ids)
        rollup.update(statistics.count_tickets(tickets))
        statistics.add(session, rollup)
        ticket_ids = [t.id for t in tickets]
        counts = {"outbox": 0, "pending_replies": 0, "messages": 0}
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            counts["outbox"] += _count(session, delete(OutboxItem).where(OutboxItem.message_id.in_(chunk)))
            counts["pending_replies"] += _count(session, delete(PendingReply).where(PendingReply.message_id.in_(chunk)))
            counts["messages"] += _count(session, delete(Message).where(Message.id.in_(chunk)))
        counts["ticket_events"] = _count(session, delete(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids)))
        counts["tickets"] = _count(session, delete(HandoffRequest).where(HandoffRequest.id.in_(ticket_ids)))
        return counts

    def _old_bookings(self, session: Session, cutoff: datetime, now: datetime) -> dict[str, int]:
        """Bookings that ended before the cut-off, anonymised; remembered contacts not used since, deleted."""
        bookings = list(
            session.scalars(
                select(bm.Booking).where(bm.Booking.ends_at < cutoff, ~bm.Booking.student_ref.startswith("erased-"))
            )
        )
        sealed = self._cipher.seal(ERASED_CONTACT, "")
        for booking in bookings:
            booking.student_ref = "erased-" + secrets.token_hex(16)
            booking.exclusive_key = None
            booking.contact = sealed
            booking.updated_at = now
        contacts = _count(session, delete(bm.StudentContact).where(bm.StudentContact.updated_at < cutoff))
        return {"bookings_anonymised": len(bookings), "student_contacts": contacts}


class RetentionWorker:
    """Runs the retention job in the desk's background every `interval` seconds (first run at start)."""

    def __init__(self, retention: Retention, clock: Callable[[], datetime], interval: float) -> None:
        self.retention = retention
        self.clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await cancel_and_wait([self._task])

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                counts = await to_thread.run_sync(self.retention.run, self.clock())
                if any(counts.values()):
                    logger.info("retention: %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
            except Exception as exc:  # a database outage must not end the loop; try again next time
                logger.error("retention run failed: %s", type(exc).__name__)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)

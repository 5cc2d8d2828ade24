"""The handoff service: the one object the gateway and the console talk to (docs/handoff.md).

`Handoffs` joins the ticket store (store.py: the student's side and the sweeps; staff_store.py: the
console's side, both SQL only) to the student's line (a `StudentLine`: store, then deliver) and to the
consoles (listeners). It implements `desk.handoff.ports.HandoffDesk`, the Protocol the gateway
receives in its constructor; what a student's words do is desk/handoff/student.py, how a ticket
moves is desk/handoff/states.py.

Console calls are sync (run them in a worker thread) except those that send the student a message
after a wait (`reply`, `transfer`, `close`, `sweep`); `claim` sends its notice from the thread.
Listeners get events as plain dicts: `{"type": "ticket", "ticket"}`, `{"type": "alert", "ticket"}`,
`{"type": "message", "ticket_id", "conversation_id", "message"}`; a listener may be sync or return a
coroutine, which is scheduled on the desk's event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from desk.handoff import student, texts
from desk.handoff.department_hours import DepartmentHours
from desk.handoff.office_hours import OfficeHours
from desk.handoff.ports import StudentLine
from desk.handoff.staff_store import StaffTickets
from desk.handoff.store import StudentState, TicketStore
from desk.handoff.tickets import (  # noqa: F401  (the errors and TicketOpened are part of this module's API)
    Conflict,
    Forbidden,
    HandoffError,
    IllegalTransition,
    NotFound,
    TicketOpened,
    open_ticket_of,
)
from desk.models import TICKET_QUEUED
from desk.staff.accounts import CurrentUser
from knowledge_base.calendar_days import CachedOverrides
from knowledge_base.handoff_policy import PRIORITY_URGENT
from knowledge_base.holidays import OfficeCalendar
from knowledge_base.models import utcnow
from knowledge_base.names import channel_of
from knowledge_base.office_hours import DEFAULT_HOURS
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], Any]


class Handoffs:
    """The ticket service: the gateway opens tickets and passes on students' words, the console works them."""

    def __init__(
        self, sessions: sessionmaker, line: StudentLine, settings: Settings, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self._line = line
        self._clock = clock
        calendar = OfficeCalendar(CachedOverrides(sessions))  # admin-entered holidays and 调休 days count
        self.hours = OfficeHours.parse(settings.handoff.hours or DEFAULT_HOURS, calendar)  # every department's default
        self.department_hours = DepartmentHours(sessions, self.hours)  # a department's own, from the database
        self.idle = timedelta(minutes=float(settings.handoff.idle_minutes))
        self.tickets = TicketStore(sessions, self.department_hours, self.idle, self.now)
        self.staff = StaffTickets(sessions, self.department_hours, self.now)
        self._listeners: list[Listener] = []
        # conversation -> its open ticket id (or None), as read when the message being handled was stored;
        # only while the gateway handles that message, and dropped by any ticket change in this process
        self._known_tickets: dict[str, int | None] = {}
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def now(self) -> datetime:
        """The service clock in UTC (SQLite keeps wall-clock times, so everything stored must be UTC)."""
        return self._clock().astimezone(timezone.utc)

    def reply_at(self, now: datetime, department_id: str | None = None) -> str | None:
        """When a teacher of the department can reply to a message left now: 周一 8:30 (None if never)."""
        return self.tickets.reply_at(now, department_id)

    # -- events for the consoles ---------------------------------------------------------------------
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
        self._known_tickets.pop(str(ticket.get("conversation_id")), None)  # looked up again from now on
        self._emit({"type": "ticket", "ticket": ticket})
        if alert:
            self._emit({"type": "alert", "ticket": ticket})

    @contextmanager
    def known_ticket(self, conversation_id: str, ticket_id: int | None) -> Iterator[None]:
        """While the gateway handles a student's message: the conversation's open ticket (or None) as read
        in the transaction that stored it, so that publishing the message and its replies needs no
        lookup. Opening, closing or changing a ticket in this process drops it (looked up again)."""
        self._known_tickets[conversation_id] = ticket_id
        try:
            yield
        finally:
            self._known_tickets.pop(conversation_id, None)

    async def on_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Transcript listener: messages of a conversation with an open ticket go to the console."""
        if conversation_id in self._known_tickets:
            ticket_id = self._known_tickets[conversation_id]
        else:
            ticket_id = await asyncio.to_thread(self.open_ticket_id, conversation_id)
        if ticket_id is not None:
            self._emit(
                {"type": "message", "ticket_id": ticket_id, "conversation_id": conversation_id, "message": message}
            )

    def open_ticket_id(self, conversation_id: str) -> int | None:
        """The id of the conversation's open ticket, if any."""
        with self._sessions() as session:
            row = open_ticket_of(session, conversation_id)
            return row.id if row is not None else None

    def _send_from_thread(self, conversation_id: str, notices: list[dict[str, Any]]) -> None:
        """From a worker thread: store messages now, publish them on the desk's loop."""
        if not notices:
            return
        self._known_tickets.pop(conversation_id, None)  # the service changed the ticket: look it up
        stored = self._line.store_messages(conversation_id, notices)
        if self._loop is not None and not self._loop.is_closed():
            self._schedule(self._line.publish_all(conversation_id, stored))

    async def _send(self, conversation_id: str, notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._known_tickets.pop(conversation_id, None)  # the service changed the ticket: look it up
        return await self._line.store_bot_messages(conversation_id, channel_of(conversation_id), notices)

    # -- the gateway's side (desk.handoff.ports.HandoffDesk) -----------------------------------------
    def student_wrote(self, session: Session, conversation_id: str) -> StudentState:
        """The conversation's state as a student's message arrives (sync, in the transaction that stored it)."""
        return self.tickets.student_wrote(session, conversation_id)

    async def request_person(self, conversation_id: str, packet: dict[str, Any]) -> list[dict[str, Any]]:
        """Open (or join) the ticket for a handoff packet; the notices to send the student."""
        opened = await asyncio.to_thread(self.open_ticket, conversation_id, packet)
        return list(opened.notices)

    async def answer_student(
        self, conversation_id: str, text: str, payload: str, state: StudentState
    ) -> list[dict[str, Any]] | None:
        """Survey, 不用了, queue reminders, silence while a person has the chat (desk/handoff/student.py)."""
        return await student.answer(self, conversation_id, text, payload, state)

    def open_ticket(self, conversation_id: str, packet: dict[str, Any]) -> TicketOpened:
        """Open a ticket for the conversation, or join the open one (double trigger); says what to tell."""
        opened, ticket, alert = self.tickets.open(conversation_id, packet)
        self._emit_ticket(ticket, alert)
        return opened

    # -- the student's words (desk/handoff/student.py; sync, in a worker thread) -------------------
    def cancel(self, conversation_id: str) -> str:
        """不用了: "cancelled", "urgent" (the urgent ticket stays) or "none" (nothing waits)."""
        outcome, ticket = self.tickets.cancel(conversation_id)
        if ticket is not None:
            self._emit_ticket(ticket)
        return outcome

    def queue_notice_due(self, conversation_id: str) -> dict[str, Any] | None:
        """A queue-position reminder for a queued student, at most one per 2 minutes (else None)."""
        return self.tickets.queue_notice_due(conversation_id)

    def rate(self, conversation_id: str, score: int, ticket_id: int | None) -> int | None:
        """Store a 1-5 rating (of this ticket, or the latest closed unrated one); its id or None."""
        ticket = self.tickets.rate(conversation_id, score, ticket_id)
        if ticket is None:
            return None
        self._emit_ticket(ticket)
        return int(ticket["id"])

    def comment(self, conversation_id: str, ticket_id: int, text: str | None) -> None:
        """Store the optional comment after a rating (None = skipped) and end the survey."""
        self.tickets.comment(conversation_id, ticket_id, text)

    def end_survey(self, conversation_id: str) -> None:
        """The student moved on: the survey ends."""
        self.tickets.end_survey(conversation_id)

    # -- the console's side --------------------------------------------------------------------------
    def queue(self, user: CurrentUser) -> list[dict[str, Any]]:
        """Open tickets this person may see, in the order they should be taken."""
        return self.staff.queue(user)

    def ticket(self, user: CurrentUser, ticket_id: int) -> dict[str, Any]:
        """A ticket with its packet, the whole transcript (the bot's part too), events and canned replies."""
        return self.staff.ticket(user, ticket_id)

    def claim(self, user: CurrentUser, ticket_id: int) -> dict[str, Any]:
        """Take the chat. Exactly one of several people clicking at once wins; the others get Conflict."""
        ticket, conversation_id, notices = self.staff.claim(user, ticket_id)
        if notices:  # not when it was already yours
            self._send_from_thread(conversation_id, notices)
            self._emit_ticket(ticket)
        return ticket

    async def reply(self, user: CurrentUser, ticket_id: int, text: str) -> dict[str, Any]:
        """Send the student a message as this staff member; it reaches the student's own channel."""
        text = (text or "").strip()
        if not text:
            raise IllegalTransition("回复内容不能为空")
        conversation_id, label = await asyncio.to_thread(self.staff.start_reply, user, ticket_id)
        [stored] = await self._send(conversation_id, [{"role": "staff", "text": text, "sender_name": label}])
        await asyncio.to_thread(self.staff.audit_reply, user, ticket_id, int(stored["id"]))
        return {"ticket_id": ticket_id, "conversation_id": conversation_id, "message": stored}

    def note(self, user: CurrentUser, ticket_id: int, text: str) -> dict[str, Any]:
        """An internal note on the ticket (never sent to the student)."""
        text = (text or "").strip()
        if not text:
            raise IllegalTransition("备注内容不能为空")
        event, ticket = self.staff.note(user, ticket_id, text)
        self._emit_ticket(ticket)
        return event

    async def transfer(self, user: CurrentUser, ticket_id: int, department_id: str, note: str = "") -> dict[str, Any]:
        """Move the ticket to another department's queue (unclaimed), with a note; the student is told."""
        ticket, conversation_id, name = await asyncio.to_thread(
            self.staff.transfer, user, ticket_id, department_id, note
        )
        if ticket["status"] == TICKET_QUEUED:
            text = texts.transferred_text(name)
        else:  # outside office hours: the other department replies when it opens
            text = texts.transferred_after_hours_text(name, self.reply_at(self.now(), department_id))
        await self._send(conversation_id, [{"role": "system", "text": text}])
        self._emit_ticket(ticket, alert=ticket["priority"] == PRIORITY_URGENT)
        return ticket

    async def close(self, user: CurrentUser, ticket_id: int, resolution: str) -> dict[str, Any]:
        """End the ticket; the bot takes the chat back and asks for a rating when a person had taken the chat."""
        ticket, conversation_id, notices = await asyncio.to_thread(self.staff.close, user, ticket_id, resolution)
        await self._send(conversation_id, notices)
        self._emit_ticket(ticket)
        return ticket

    def canned(self, user: CurrentUser, department_id: str | None = None) -> list[dict[str, Any]]:
        """Canned replies of a department (and those for all); without one, of the person's departments."""
        return self.staff.canned(user, department_id)

    def add_canned(self, user: CurrentUser, department_id: str | None, title: str, text: str) -> dict[str, Any]:
        """Admins add a canned reply (department None = every department)."""
        return self.staff.add_canned(user, department_id, title, text)

    def delete_canned(self, user: CurrentUser, canned_id: int) -> None:
        """Admins delete a canned reply."""
        self.staff.delete_canned(user, canned_id)

    # -- the sweeps ----------------------------------------------------------------------------------
    async def sweep(self) -> int:
        """Claimed chats whose student waited too long for staff go back to the bot, with a notice; at
        closing time, students still in the queue are told their message waits for the next opening."""
        now = self.now()
        for ticket, conversation_id, notice in await asyncio.to_thread(self.tickets.close_of_day, now):
            await self._send(conversation_id, [notice])
            self._emit_ticket(ticket)
        returned = 0
        for ticket_id, last_staff_at in await asyncio.to_thread(self.tickets.idle_tickets, now):
            result = await asyncio.to_thread(self.tickets.time_out, ticket_id, last_staff_at, now)
            if result is None:
                continue
            ticket, conversation_id = result
            returned += 1
            await self._send(conversation_id, [{"role": "system", "text": texts.RETURNED}])
            self._emit_ticket(ticket)
        return returned

    async def sweep_forever(self, every_seconds: float = 30.0) -> None:
        """The inactivity loop started in the desk's lifespan; errors are logged, never fatal."""
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("handoff inactivity sweep failed")
            await asyncio.sleep(every_seconds)

"""The two seams of the handoff service, as Protocols: what the gateway may ask of it, and what it
needs to reach a student.

`HandoffDesk` is implemented by `desk.handoff.service.Handoffs` and passed to
`desk.chat.gateway.Gateway` in its constructor. `StudentLine` is implemented by
`desk.chat.transcript.Transcript` (store a message, publish it to the student's channel and the
consoles) and passed to `Handoffs` in its constructor. Neither side imports the other's class.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from desk.handoff.store import StudentState

__all__ = ["HandoffDesk", "StudentLine", "StudentState", "StudentTickets"]


class HandoffDesk(Protocol):
    """The handoff service as the gateway sees it."""

    def now(self) -> datetime:
        """The desk's clock (knowledge_base.clock unless a test sets one), in UTC."""
        ...

    def student_wrote(self, session: Session, conversation_id: str) -> StudentState:
        """Sync (the gateway's storing thread): the conversation's state as a message arrives, read (and
        the ticket's last-student time written) in `session`, the transaction that stored the message."""
        ...

    def known_ticket(self, conversation_id: str, ticket_id: int | None) -> AbstractContextManager[None]:
        """While the gateway handles the message whose `StudentState` said `ticket_id`: the console
        listener takes that as the open ticket instead of looking it up for each published message."""
        ...

    async def request_person(self, conversation_id: str, packet: dict[str, Any]) -> list[dict[str, Any]]:
        """Open (or join) the conversation's ticket from a handoff packet; the notices for the student."""
        ...

    async def answer_student(
        self, conversation_id: str, text: str, payload: str, state: StudentState
    ) -> list[dict[str, Any]] | None:
        """The handoff's answer to a student's message (survey, 不用了, queue, a person has the chat),
        or None when the bot should answer it."""
        ...


class StudentLine(Protocol):
    """How the handoff service sends a student a message (stored first, then delivered)."""

    def store_messages(self, conversation_id: str, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store outbound messages (sync, from a worker thread); publish them with `publish_all`."""
        ...

    async def publish_all(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """Deliver already stored messages to the conversation's listeners, in order."""
        ...

    async def store_bot_messages(
        self, conversation_id: str, channel: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store and deliver messages the desk itself sends."""
        ...


class StudentTickets(Protocol):
    """What desk/handoff/student.py asks of the service when a student's words touch their ticket."""

    def cancel(self, conversation_id: str) -> str: ...

    def queue_notice_due(self, conversation_id: str) -> dict[str, Any] | None: ...

    def rate(self, conversation_id: str, score: int, ticket_id: int | None) -> int | None: ...

    def comment(self, conversation_id: str, ticket_id: int, text: str | None) -> None: ...

    def end_survey(self, conversation_id: str) -> None: ...

"""The console's reads outside the Handoffs service: the catalog's departments and service names, a ticket's queue.

Sync (SQL): routes and the websocket hub run them in a worker thread.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.models import OPEN_TICKET_STATUSES, HandoffRequest
from desk.staff.accounts import CurrentUser
from desk.staff.schemas import DepartmentPublic
from knowledge_base.models import Department, Service


def departments(sessions: sessionmaker) -> list[DepartmentPublic]:
    """Every department of the catalog (for the transfer select and canned replies)."""
    with sessions() as session:
        return [
            DepartmentPublic(id=d.id, name=d.name) for d in session.scalars(select(Department).order_by(Department.id))
        ]


def department_exists(sessions: sessionmaker, department_id: str) -> bool:
    """Whether the catalog has this department."""
    with sessions() as session:
        return session.get(Department, department_id) is not None


def with_service_name(sessions: sessionmaker, ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket, its packet's service named as in the catalog (staff read 在读证明开具, not certificate_issuing)."""
    packet = ticket.get("packet") or {}
    if not isinstance(packet.get("service"), str) or "service_name" in packet:
        return ticket
    with sessions() as session:
        row = session.get(Service, packet["service"])
        name = row.name if row is not None else packet["service"]
    return {**ticket, "packet": {**packet, "service_name": name}}


RESTRICTED_SUMMARY = "对话内容仅接入的老师、{department}和管理员可见；请接入后查看"


class TicketMeta(NamedTuple):
    """What decides who may see a ticket in the queue and who may read its transcript."""

    department_id: str | None
    priority: str
    claimed_by: int | None
    is_open: bool

    @classmethod
    def of(cls, ticket: dict[str, Any]) -> TicketMeta:
        """The meta of a ticket in its queue form (desk/handoff/tickets.py `public`)."""
        claimed = ticket.get("claimed_by")
        return cls(
            ticket.get("department_id"),
            str(ticket.get("priority", "normal")),
            int(claimed) if claimed is not None else None,
            ticket.get("status") in OPEN_TICKET_STATUSES,
        )

    def seen_by(self, user: CurrentUser) -> bool:
        """In this person's queue (and alerts)."""
        return user.can_see(self.department_id, self.priority)

    def read_by(self, user: CurrentUser) -> bool:
        """Its transcript and personal details open to this person."""
        return user.can_read(self.department_id, self.priority, self.claimed_by, self.is_open)


def for_reader(user: CurrentUser, ticket: dict[str, Any]) -> dict[str, Any]:
    """The queue form of a ticket as this person may see it: whoever may not read the transcript gets the
    department, priority, reason and times, with no student words, summary or conversation id."""
    if TicketMeta.of(ticket).read_by(user):
        return {**ticket, "restricted": False}
    note = RESTRICTED_SUMMARY.format(department="心理中心")
    return {**ticket, "conversation_id": None, "last_text": "", "summary": [note], "rating_comment": None,
            "resolution": None, "restricted": True}  # fmt: skip


def ticket_meta(sessions: sessionmaker, ticket_id: int) -> TicketMeta | None:
    """A ticket's meta, straight from the table (for filtering message events)."""
    with sessions() as session:
        row = session.get(HandoffRequest, ticket_id)
        if row is None:
            return None
        return TicketMeta(row.department_id, row.priority, row.claimed_by, row.status in OPEN_TICKET_STATUSES)

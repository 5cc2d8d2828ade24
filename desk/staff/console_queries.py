"""The console's reads outside the Handoffs service: the catalog's departments and service names, a ticket's queue.

Sync (SQL): routes and the websocket hub run them in a worker thread.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.models import HandoffRequest
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


def ticket_meta(sessions: sessionmaker, ticket_id: int) -> tuple[str | None, str] | None:
    """(department_id, priority) of a ticket, straight from the table (for filtering message events)."""
    with sessions() as session:
        row = session.get(HandoffRequest, ticket_id)
        return None if row is None else (row.department_id, row.priority)

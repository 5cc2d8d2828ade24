"""The audit log: every change by staff and admins, appended, never edited; read and filtered by admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from desk.admin.models import AuditEntry
from knowledge_base.models import utcnow


def record(
    session: Session,
    actor: str,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditEntry:
    """Append one change to the log (in the caller's transaction: the change and its record land together)."""
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        actor_id=actor_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What an admin looks for in the log (every field optional). `action` is a name (`ticket.claim`) or a
    prefix: `ticket` or `ticket.` finds every ticket action."""

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def query(session: Session, where: AuditFilter) -> list[AuditEntry]:
    """Matching entries, newest first."""
    stmt = select(AuditEntry)
    if where.action:
        prefix = where.action.rstrip(".*")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(or_(AuditEntry.action == prefix, AuditEntry.action.like(f"{escaped}.%", escape="\\")))
    for column, value in (
        (AuditEntry.actor, where.actor),
        (AuditEntry.entity, where.entity),
        (AuditEntry.entity_id, where.entity_id),
    ):
        if value:
            stmt = stmt.where(column == value)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.at < where.until)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(where.limit)
    return list(session.scalars(stmt))

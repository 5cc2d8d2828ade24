"""Tables of the admin area: editor roles per department and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from desk.staff.accounts import StaffUser
from knowledge_base.db import Base
from knowledge_base.models import utcnow


class EditorRole(Base):
    """A staff account that may edit the knowledge-base entries of some departments."""

    __tablename__ = "admin_editor_roles"

    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)

    staff_user: Mapped[StaffUser] = relationship()


class AuditEntry(Base):
    """One change made by a staff member or an admin: who, when, what, before and after (JSON)."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64), index=True)
    entity_id: Mapped[str] = mapped_column(String(200), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AuditIsAppendOnly(Exception):
    """An audit row was about to be changed or deleted."""


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(mapper: Any, connection: Any, target: AuditEntry) -> None:
    raise AuditIsAppendOnly("the audit log is append-only")

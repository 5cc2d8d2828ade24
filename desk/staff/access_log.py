"""The access table: who read which student's transcript or contact, and when (append-only).

Every transcript read (`GET /api/staff/tickets/<id>`), every full contact shown and every CSV with full
contacts adds a row; nothing in the desk updates or deletes rows (the model refuses it, and the table
has no route that changes it). Admins page through it at `/staff/access-log`. A row names the reader,
the kind of read and the ids (ticket, conversation, booking code), never the data read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from knowledge_base.clock import TZ
from knowledge_base.db import Base
from knowledge_base.models import utcnow

TRANSCRIPT = "transcript"  # a ticket's conversation opened in the console
CONTACT = "contact"  # one booking's full contact shown
CONTACT_EXPORT = "contact_export"  # a CSV with full contacts downloaded
KINDS = {TRANSCRIPT: "查看对话记录", CONTACT: "查看联系方式", CONTACT_EXPORT: "导出完整联系方式"}
PAGE_SIZE = 50


class AccessRecord(Base):
    """One read of a student's data by a staff member."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(30))
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    booking_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str] = mapped_column(String(300), default="")


@event.listens_for(AccessRecord, "before_update")
@event.listens_for(AccessRecord, "before_delete")
def _append_only(*_: Any) -> None:
    raise PermissionError("the access log is append-only")


def record(
    session: Session,
    user_id: int,
    username: str,
    kind: str,
    now: datetime,
    *,
    ticket_id: int | None = None,
    conversation_id: str | None = None,
    booking_code: str | None = None,
    detail: str = "",
) -> None:
    """Add one row (the caller commits)."""
    session.add(
        AccessRecord(
            at=now,
            user_id=user_id,
            username=username,
            kind=kind,
            ticket_id=ticket_id,
            conversation_id=conversation_id,
            booking_code=booking_code,
            detail=detail[:300],
        )
    )


def write(sessions: sessionmaker, user_id: int, username: str, kind: str, now: datetime, **ids: Any) -> None:
    """`record` in a transaction of its own."""
    with sessions() as session, session.begin():
        record(session, user_id, username, kind, now, **ids)


@dataclass(frozen=True)
class AccessPage:
    """One page of the access log, newest first."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def page(sessions: sessionmaker, *, username: str = "", day: date | None = None, number: int = 1) -> AccessPage:
    """Rows of one staff member (username) and/or one day (Shanghai time), PAGE_SIZE a page, newest first."""
    query = select(AccessRecord)
    if username:
        query = query.where(AccessRecord.username == username.strip().lower())
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), TZ).astimezone(timezone.utc)
        query = query.where(AccessRecord.at >= start, AccessRecord.at < start + timedelta(days=1))
    with sessions() as session:
        total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(1, number), pages)
        found = session.scalars(
            query.order_by(AccessRecord.id.desc()).offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).all()
        rows = [
            {
                "id": r.id,
                "at": (r.at if r.at.tzinfo else r.at.replace(tzinfo=timezone.utc))
                .astimezone(TZ)
                .strftime("%Y-%m-%d %H:%M:%S"),
                "username": r.username,
                "kind": KINDS.get(r.kind, r.kind),
                "ticket_id": r.ticket_id,
                "conversation_id": r.conversation_id,
                "booking_code": r.booking_code,
                "detail": r.detail,
            }
            for r in found
        ]
    return AccessPage(rows, total, number, pages)

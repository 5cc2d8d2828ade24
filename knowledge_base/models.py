"""SQLAlchemy models of the knowledge base: departments, the service catalog and FAQ entries.

Ids of departments, services and FAQ entries are stable slugs (the ids of the KB YAML format),
so imports, exports, the NLU lookup tables and the benchmark all speak of the same things.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from knowledge_base import clock
from knowledge_base.db import Base


def utcnow() -> datetime:
    """Timezone-aware now in UTC (stored as UTC everywhere), from the one clock (knowledge_base.clock)."""
    return clock.now()


class Department(Base):
    """A campus office that serves students (学工处, 心理中心, ...)."""

    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    location: Mapped[str] = mapped_column(String(500), default="")
    hours: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str] = mapped_column(String(100), default="")
    # when staff answer handoff chats, `days: ranges` (knowledge_base.office_hours); "" = HELPDESK_HANDOFF_HOURS
    office_hours: Mapped[str] = mapped_column(String(500), default="", server_default="")

    services: Mapped[list[Service]] = relationship(back_populates="department")


class Service(Base):
    """One entry of the service catalog (在读证明开具, 心理咨询, ...)."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    # offline | online | offline_or_online
    mode: Mapped[str] = mapped_column(String(32), default="offline")
    bookable: Mapped[bool] = mapped_column(Boolean, default=True)
    duration_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    capacity_per_slot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location: Mapped[str] = mapped_column(String(500), default="")
    hours: Mapped[str] = mapped_column(String(500), default="")
    processing_time: Mapped[str] = mapped_column(String(200), default="")
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department] = relationship(back_populates="services")


class Faq(Base):
    """A published (or draft) question with its answer; `version` grows with each edit."""

    __tablename__ = "faqs"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    question: Mapped[str] = mapped_column(String(500))
    similar: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_id: Mapped[str | None] = mapped_column(ForeignKey("services.id"), nullable=True)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the bot uses the entry only from valid_from to valid_until (local dates, both included)
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    # unpublished edits of a published entry (the editor's draft); the bot keeps the live fields
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(100), default="system")

    department: Mapped[Department | None] = relationship()
    service: Mapped[Service | None] = relationship()

    def snapshot(self) -> dict[str, Any]:
        """The editable fields, as stored in a revision."""
        return {
            "department": self.department_id,
            "question": self.question,
            "similar": list(self.similar or []),
            "answer": self.answer,
            "tags": list(self.tags or []),
            "service": self.service_id,
            "published": self.published,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }

    def valid_on(self, day: date) -> bool:
        """Whether the entry's validity dates include `day`."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class FaqRevision(Base):
    """History of FAQ edits: one row per saved version."""

    __tablename__ = "faq_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    faq_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(100), default="system")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Synonym(Base):
    """A colloquial variant and the canonical term it means (饭卡 -> 校园卡)."""

    __tablename__ = "synonyms"

    variant: Mapped[str] = mapped_column(String(100), primary_key=True)
    canonical: Mapped[str] = mapped_column(String(100))


class KbRevision(Base):
    """A single counter bumped by every knowledge-base write; readers rebuild caches when it moves."""

    __tablename__ = "kb_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FaqHit(Base):
    """How often, and when last, the bot answered with an FAQ entry (the editor's "no hits" filter)."""

    __tablename__ = "faq_hits"

    faq_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CalendarDay(Base):
    """A date an admin sets by hand: a holiday (closed) or a make-up workday (调休上班), overriding the
    chinese-calendar package (which knows only the years published so far)."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(100), default="")

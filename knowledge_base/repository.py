"""Reads and writes of the knowledge base. Every write bumps the KB revision so caches refresh.

Callers pass a Session and own the transaction (``with session.begin(): ...``); functions here flush
but never commit, so a whole import is one transaction: all of it lands, or none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from knowledge_base.booking import schedule_store
from knowledge_base.kbfile import FaqIn, KbFileIn
from knowledge_base.models import Department, Faq, FaqHit, FaqRevision, KbRevision, Service, Synonym, utcnow


class KnowledgeBaseError(Exception):
    """Base class of knowledge-base domain errors."""


class NotFound(KnowledgeBaseError):
    """The department, service or FAQ entry does not exist."""


@dataclass
class ImportReport:
    """What an import changed, per section."""

    created: dict[str, int] = field(default_factory=lambda: {"departments": 0, "services": 0, "faqs": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"departments": 0, "services": 0, "faqs": 0})
    deleted: dict[str, int] = field(default_factory=lambda: {"departments": 0, "services": 0, "faqs": 0})

    def summary(self) -> str:
        parts = []
        for section in ("departments", "services", "faqs"):
            parts.append(
                f"{section}: {self.created[section]} new, {self.updated[section]} updated, "
                f"{self.deleted[section]} removed"
            )
        return "; ".join(parts)


def current_revision(session: Session) -> int:
    """The KB revision counter (0 for an empty database)."""
    value = session.scalar(select(KbRevision.revision).where(KbRevision.id == 1))
    return int(value or 0)


def bump_revision(session: Session) -> int:
    """Increase the revision counter; returns the new value."""
    row = session.get(KbRevision, 1)
    if row is None:
        row = KbRevision(id=1, revision=0)
        session.add(row)
    row.revision = (row.revision or 0) + 1
    row.changed_at = utcnow()
    session.flush()
    return row.revision


def _apply(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def save_faq(session: Session, data: FaqIn, changed_by: str = "system") -> Faq:
    """Create or update one FAQ entry, recording a revision when anything changed."""
    values = {
        "department_id": data.department,
        "question": data.question,
        "similar": list(data.similar),
        "answer": data.answer.strip(),
        "tags": list(data.tags),
        "service_id": data.service,
        "published": data.published,
        "valid_from": data.valid_from,
        "valid_until": data.valid_until,
    }
    faq = session.get(Faq, data.id)
    if faq is None:
        faq = Faq(id=data.id, version=1, updated_at=utcnow(), updated_by=changed_by, **values)
        session.add(faq)
    elif _apply(faq, values):
        faq.version += 1
        faq.updated_at = utcnow()
        faq.updated_by = changed_by
    else:
        return faq
    session.flush()
    session.add(FaqRevision(faq_id=faq.id, version=faq.version, snapshot=faq.snapshot(), changed_by=changed_by))
    bump_revision(session)
    return faq


def delete_faq(session: Session, faq_id: str) -> None:
    """Remove an FAQ entry (its revisions stay as history)."""
    faq = session.get(Faq, faq_id)
    if faq is None:
        raise NotFound(f"FAQ '{faq_id}' does not exist")
    session.delete(faq)
    session.flush()
    bump_revision(session)


def import_kb(session: Session, kb: KbFileIn, replace: bool = False, changed_by: str = "import") -> ImportReport:
    """Upsert a validated KB file; with ``replace`` also remove entries the file no longer has."""
    report = ImportReport()
    for dep in kb.departments:
        values = dep.model_dump(exclude={"id"}, exclude_none=True)  # no office_hours key: the office keeps its own
        department = session.get(Department, dep.id)
        if department is None:
            session.add(Department(id=dep.id, **values))
            report.created["departments"] += 1
        elif _apply(department, values):
            report.updated["departments"] += 1
    session.flush()
    for svc in kb.services:
        values = svc.model_dump(exclude={"id", "department", "schedule"})
        values["department_id"] = svc.department
        service = session.get(Service, svc.id)
        if service is None:
            session.add(Service(id=svc.id, **values))
            session.flush()
            schedule_store.save_schedule(session, svc.id, svc.schedule)
            report.created["services"] += 1
        elif _apply(service, values) | schedule_store.save_schedule(session, svc.id, svc.schedule):
            report.updated["services"] += 1
    session.flush()
    for faq in kb.faqs:
        existed = session.get(Faq, faq.id)
        before = existed.version if existed is not None else None
        saved = save_faq(session, faq, changed_by=changed_by)
        if before is None:
            report.created["faqs"] += 1
        elif saved.version != before:
            report.updated["faqs"] += 1
    if kb.synonyms or replace:
        session.execute(delete(Synonym))
        for canonical, variants in kb.synonyms.items():
            for variant in variants:
                if variant and variant != canonical:
                    session.merge(Synonym(variant=variant, canonical=canonical))
    if replace:  # children first: FAQ entries point at services, services at departments
        report.deleted["faqs"] = _delete_missing(session, Faq, {f.id for f in kb.faqs})
        report.deleted["services"] = _delete_missing(session, Service, {s.id for s in kb.services})
        report.deleted["departments"] = _delete_missing(session, Department, {d.id for d in kb.departments})
    session.flush()
    bump_revision(session)
    return report


_Entry = TypeVar("_Entry", Faq, Service, Department)


def _delete_missing(session: Session, model: type[_Entry], keep: set[str]) -> int:
    """Delete the rows of `model` whose id is not in `keep`; returns how many."""
    removed = 0
    for row in session.scalars(select(model)).all():
        if row.id not in keep:
            if isinstance(row, Service):
                schedule_store.delete_schedule(session, row.id)
            session.delete(row)
            removed += 1
    session.flush()
    return removed


def export_kb(session: Session, university: str = "", timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    """The whole knowledge base in the KB YAML format (a dict ready for yaml.safe_dump)."""
    departments = [
        {
            "id": d.id,
            "name": d.name,
            "aliases": d.aliases,
            "location": d.location,
            "hours": d.hours,
            "phone": d.phone,
            "office_hours": d.office_hours,
        }  # fmt: skip
        for d in session.scalars(select(Department).order_by(Department.id))
    ]
    services = []
    for s in session.scalars(select(Service).order_by(Service.id)):
        entry: dict[str, Any] = {
            "id": s.id,
            "name": s.name,
            "aliases": s.aliases,
            "department": s.department_id,
            "mode": s.mode,
            "bookable": s.bookable,
        }
        for key in ("duration_minutes", "capacity_per_slot"):
            if getattr(s, key) is not None:
                entry[key] = getattr(s, key)
        for key in ("location", "hours", "processing_time"):
            if getattr(s, key):
                entry[key] = getattr(s, key)
        entry["materials"] = s.materials
        if s.notes:
            entry["notes"] = s.notes
        schedule = schedule_store.export_schedule(session, s.id)
        if schedule is not None:
            entry["schedule"] = schedule
        services.append(entry)
    faqs = []
    for f in session.scalars(select(Faq).order_by(Faq.id)):
        entry = {
            "id": f.id,
            "department": f.department_id,
            "question": f.question,
            "similar": f.similar,
            "answer": f.answer,
            "tags": f.tags,
        }
        if f.service_id:
            entry["service"] = f.service_id
        if not f.published:
            entry["published"] = False
        for key in ("valid_from", "valid_until"):
            if getattr(f, key) is not None:
                entry[key] = getattr(f, key).isoformat()
        faqs.append(entry)
    synonyms: dict[str, list[str]] = {}
    for syn in session.scalars(select(Synonym).order_by(Synonym.canonical, Synonym.variant)):
        synonyms.setdefault(syn.canonical, []).append(syn.variant)
    out: dict[str, Any] = {
        "university": university,
        "timezone": timezone,
        "departments": departments,
        "services": services,
        "faqs": faqs,
    }
    if synonyms:
        out["synonyms"] = synonyms
    return out


def get_service(session: Session, service_id: str) -> Service:
    """A catalog service by id."""
    svc = session.get(Service, service_id)
    if svc is None:
        raise NotFound(f"service '{service_id}' does not exist")
    return svc


def get_faq(session: Session, faq_id: str) -> Faq:
    """An FAQ entry by id."""
    faq = session.get(Faq, faq_id)
    if faq is None:
        raise NotFound(f"FAQ '{faq_id}' does not exist")
    return faq


def record_hit(session: Session, faq_id: str) -> None:
    """Count one answer given with an FAQ entry (not a KB change: the revision stays)."""
    hit = session.get(FaqHit, faq_id)
    if hit is None:
        hit = FaqHit(faq_id=faq_id, hits=0)
        session.add(hit)
    hit.hits = (hit.hits or 0) + 1
    hit.last_hit_at = utcnow()
    session.flush()


def is_empty(session: Session) -> bool:
    """True when no department exists yet (a fresh database)."""
    return session.scalar(select(Department.id).limit(1)) is None

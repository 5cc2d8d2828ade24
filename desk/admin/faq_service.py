"""The FAQ editor's operations: list and filter, create, edit with a version check, draft -> published,
history with changes, rollback. Callers own the transaction (`with session.begin()`).

Every change appends a revision (knowledge_base FaqRevision), an audit entry, and, when what the bot
uses changed, bumps the KB revision counter: the bot's retriever rebuilds for the next message.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.admin import audit
from desk.admin.errors import Conflict, Forbidden, Invalid, NotFoundError, PreconditionFailed
from desk.admin.roles import Editor
from desk.admin.schemas import DraftIn, FaqCreate, FaqDetail, FaqFields, FaqSummary, FaqUpdate, Revision
from knowledge_base import repository
from knowledge_base.models import Department, Faq, FaqHit, FaqRevision, Service, utcnow

CONTENT_KEYS = ("question", "similar", "answer", "department", "tags", "service", "valid_from", "valid_until")
CONFLICT = (
    "这条问答已被{who}在你打开之后修改（当前第{version}版）。请加载最新版本后再保存，你的修改不会自动覆盖别人的。"
)


def content_of(fields: FaqFields) -> dict[str, Any]:
    """The stored form of editable content (dates as ISO strings, like a revision snapshot)."""
    data = fields.model_dump(include=set(CONTENT_KEYS))
    for key in ("valid_from", "valid_until"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


def live_content(faq: Faq) -> dict[str, Any]:
    snap = faq.snapshot()
    return {key: snap[key] for key in CONTENT_KEYS}


def _state(faq: Faq) -> dict[str, Any]:
    """What the audit log keeps of an entry."""
    return {**faq.snapshot(), "version": faq.version, "draft": faq.draft}


def _load(session: Session, faq_id: str) -> Faq:
    faq = session.get(Faq, faq_id)
    if faq is None:
        raise NotFoundError("没有这条问答")
    return faq


def _check_refs(session: Session, content: dict[str, Any]) -> None:
    if content["department"] is not None and session.get(Department, content["department"]) is None:
        raise Invalid(f"没有这个部门：{content['department']}")
    if content["service"] is not None and session.get(Service, content["service"]) is None:
        raise Invalid(f"没有这个服务：{content['service']}")


def _check_rights(editor: Editor, *departments: str | None) -> None:
    for department in departments:
        if not editor.may_edit(department):
            raise Forbidden("你只能编辑自己部门的问答" if department else "只有管理员能编辑不属于任何部门的问答")


def _check_version(faq: Faq, expected: int, if_match: int | None) -> None:
    who = faq.updated_by or "他人"
    if if_match is not None and if_match != faq.version:
        raise PreconditionFailed(CONFLICT.format(who=who, version=faq.version), faq.version)
    if expected != faq.version:
        raise Conflict(CONFLICT.format(who=who, version=faq.version), faq.version)


def _set_live(faq: Faq, content: dict[str, Any]) -> None:
    faq.question = content["question"]
    faq.similar = list(content["similar"])
    faq.answer = content["answer"]
    faq.department_id = content["department"]
    faq.tags = list(content["tags"])
    faq.service_id = content["service"]
    faq.valid_from = date.fromisoformat(content["valid_from"]) if content["valid_from"] else None
    faq.valid_until = date.fromisoformat(content["valid_until"]) if content["valid_until"] else None


def _saved(session: Session, faq: Faq, editor: Editor, action: str, before: dict[str, Any] | None, live: bool) -> Faq:
    """Bump the version, append the revision and the audit entry; bump the KB revision when live."""
    faq.version = (faq.version or 0) + 1 if before is not None else 1
    faq.updated_at = utcnow()
    faq.updated_by = editor.name
    session.flush()
    snapshot = {**faq.snapshot(), "draft": faq.draft}
    session.add(FaqRevision(faq_id=faq.id, version=faq.version, snapshot=snapshot, changed_by=editor.name))
    audit.record(session, editor.name, editor.user.id, action, "faq", faq.id, before, _state(faq))
    if live:
        repository.bump_revision(session)
    session.flush()
    return faq


def _new_id(session: Session) -> str:
    while True:
        candidate = f"faq_{secrets.token_hex(4)}"
        if session.get(Faq, candidate) is None:
            return candidate


def create(session: Session, editor: Editor, data: FaqCreate) -> Faq:
    """A new entry (a draft unless `publish`)."""
    content = content_of(data)
    _check_rights(editor, content["department"])
    _check_refs(session, content)
    faq_id = data.id or _new_id(session)
    if session.get(Faq, faq_id) is not None:
        raise Invalid(f"编号 {faq_id} 已被使用")
    faq = Faq(id=faq_id, published=data.publish, draft=None)
    _set_live(faq, content)
    session.add(faq)
    return _saved(session, faq, editor, "faq.create", None, live=data.publish)


ANSWER_TO_WRITE = "【待填写答案】"  # a suggested draft without an answer; it cannot be published as is


def _check_answer(content: dict[str, Any]) -> None:
    if str(content.get("answer", "")).startswith(ANSWER_TO_WRITE):
        raise Invalid("答案尚未填写：请先写好答案再发布")


def create_draft(session: Session, editor: Editor, data: DraftIn) -> Faq:
    """A draft entry from a suggestion (question, similar questions, answer, department, source); without
    an answer it gets `ANSWER_TO_WRITE`, which publishing refuses."""
    try:
        fields = FaqCreate(
            question=data.question,
            similar=data.similar_questions,
            answer=data.answer.strip() or f"{ANSWER_TO_WRITE}请根据相似问法写出答案。",
            department=data.department,
            tags=[f"来源:{data.source}"[:50]] if data.source.strip() else [],
        )
    except ValidationError as exc:  # e.g. a one-character answer, which a draft allows and an entry does not
        raise Invalid(str(exc.errors()[0]["msg"])) from exc
    return create(session, editor, fields)


def update(session: Session, editor: Editor, faq_id: str, data: FaqUpdate, if_match: int | None = None) -> Faq:
    """Save an edit made on `data.version`; a published entry keeps its live answer unless `publish`."""
    faq = _load(session, faq_id)
    content = content_of(data)
    _check_rights(editor, faq.department_id, content["department"])
    _check_version(faq, data.version, if_match)
    _check_refs(session, content)
    before = _state(faq)
    if data.publish:
        _check_answer(content)
    if faq.published and not data.publish:
        faq.draft = None if content == live_content(faq) else content
        return _saved(session, faq, editor, "faq.save_draft", before, live=False)
    _set_live(faq, content)
    faq.draft = None
    was_live = faq.published
    faq.published = faq.published or data.publish
    action = "faq.publish" if data.publish else "faq.save_draft"
    return _saved(session, faq, editor, action, before, live=was_live or data.publish)


def publish(session: Session, editor: Editor, faq_id: str, version: int, if_match: int | None = None) -> Faq:
    """Put the entry (with its pending draft) live."""
    faq = _load(session, faq_id)
    pending = faq.draft
    _check_rights(editor, faq.department_id, (pending or {}).get("department", faq.department_id))
    _check_version(faq, version, if_match)
    before = _state(faq)
    _check_answer(pending or live_content(faq))
    if pending:
        _check_refs(session, pending)
        _set_live(faq, pending)
    faq.draft = None
    faq.published = True
    return _saved(session, faq, editor, "faq.publish", before, live=True)


def unpublish(session: Session, editor: Editor, faq_id: str, version: int, if_match: int | None = None) -> Faq:
    """Take the entry out of the bot's answers (it stays, as a draft)."""
    faq = _load(session, faq_id)
    _check_rights(editor, faq.department_id)
    _check_version(faq, version, if_match)
    before = _state(faq)
    faq.published = False
    return _saved(session, faq, editor, "faq.unpublish", before, live=True)


def rollback(
    session: Session, editor: Editor, faq_id: str, to_version: int, version: int, if_match: int | None = None
) -> Faq:
    """Make the content and state of an earlier version current again (as a new version)."""
    faq = _load(session, faq_id)
    _check_version(faq, version, if_match)
    old = session.scalar(select(FaqRevision).where(FaqRevision.faq_id == faq_id, FaqRevision.version == to_version))
    if old is None:
        raise NotFoundError(f"没有第{to_version}版")
    content = {key: old.snapshot.get(key) for key in CONTENT_KEYS}
    content["similar"] = content["similar"] or []
    content["tags"] = content["tags"] or []
    _check_rights(editor, faq.department_id, content["department"])
    _check_refs(session, content)
    before = _state(faq)
    _set_live(faq, content)
    faq.published = bool(old.snapshot.get("published", True))
    faq.draft = old.snapshot.get("draft")
    return _saved(session, faq, editor, "faq.rollback", before, live=True)


def _hits(session: Session) -> dict[str, FaqHit]:
    return {h.faq_id: h for h in session.scalars(select(FaqHit))}


def _summary(faq: Faq, hit: FaqHit | None) -> dict[str, Any]:
    return {
        "id": faq.id,
        "question": faq.question,
        "department": faq.department_id,
        "tags": list(faq.tags or []),
        "state": "published" if faq.published else "draft",
        "has_draft": faq.draft is not None,
        "version": faq.version,
        "updated_at": faq.updated_at,
        "updated_by": faq.updated_by or "system",
        "valid_from": faq.valid_from,
        "valid_until": faq.valid_until,
        "hits": hit.hits if hit else 0,
        "last_hit_at": hit.last_hit_at if hit else None,
    }


def list_faqs(
    session: Session,
    q: str = "",
    department: str | None = None,
    tag: str | None = None,
    state: str | None = None,
    edited_since: datetime | None = None,
    no_hits_days: int | None = None,
    limit: int = 500,
) -> list[FaqSummary]:
    """The entries matching every given filter, most recently edited first."""
    hits = _hits(session)
    now = utcnow()
    needle = q.strip().lower()
    out = []
    for faq in session.scalars(select(Faq).order_by(Faq.updated_at.desc(), Faq.id)):
        if department and faq.department_id != department:
            continue
        if tag and tag not in (faq.tags or []):
            continue
        if state and ("published" if faq.published else "draft") != state:
            continue
        if edited_since and _aware(faq.updated_at) < edited_since:
            continue
        hit = hits.get(faq.id)
        if no_hits_days is not None:
            last = _aware(hit.last_hit_at) if hit and hit.last_hit_at else None
            if last is not None and last >= now - timedelta(days=no_hits_days):
                continue
        if needle:
            text = " ".join([faq.id, faq.question, faq.answer, *(faq.similar or [])]).lower()
            if needle not in text:
                continue
        out.append(FaqSummary(**_summary(faq, hit)))
        if len(out) >= limit:
            break
    return out


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def detail(session: Session, faq_id: str) -> FaqDetail:
    faq = _load(session, faq_id)
    return FaqDetail(
        **_summary(faq, session.get(FaqHit, faq_id)),
        similar=list(faq.similar or []),
        answer=faq.answer,
        service=faq.service_id,
        draft=faq.draft,
    )


def history(session: Session, faq_id: str) -> list[Revision]:
    """Every saved version, newest first, each with its changes against the version before."""
    _load(session, faq_id)
    rows = list(session.scalars(select(FaqRevision).where(FaqRevision.faq_id == faq_id).order_by(FaqRevision.id)))
    out: list[Revision] = []
    previous: dict[str, Any] = {}
    for row in rows:
        snap = dict(row.snapshot or {})
        changes = [
            {"field": key, "before": previous.get(key), "after": snap.get(key)}
            for key in (*CONTENT_KEYS, "published", "draft")
            if previous.get(key) != snap.get(key)
        ]
        out.append(
            Revision(
                version=row.version,
                changed_by=row.changed_by,
                changed_at=row.changed_at,
                snapshot=snap,
                changes=changes,
            )
        )
        previous = snap
    return list(reversed(out))

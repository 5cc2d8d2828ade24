"""Canned replies for the staff console: per department (or for all), seeded from a YAML file.

The seed (knowledge_base/seed/canned_replies.yml) maps `all` or a department id to a list of
`{title, text}`; `helpdesk db seed` loads it into an empty table, skipping departments the catalog does
not have. Afterwards admins edit the replies in the console (desk.handoff.service.Handoffs.add_canned/delete_canned).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desk.models import CannedReply
from desk.staff.accounts import CurrentUser
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.models import Department

SEED_FILE = PROJECT_ROOT / "knowledge_base" / "seed" / "canned_replies.yml"
ALL_DEPARTMENTS = "all"


def public(row: CannedReply) -> dict[str, Any]:
    return {"id": row.id, "department_id": row.department_id, "title": row.title, "text": row.text,
            "position": row.position}  # fmt: skip


def for_user(session: Session, user: CurrentUser, department_id: str | None) -> list[dict[str, Any]]:
    """A department's replies and those for all; without a department, the person's own (admins: every one)."""
    query = select(CannedReply)
    if department_id:
        query = query.where((CannedReply.department_id == department_id) | CannedReply.department_id.is_(None))
    elif not user.is_admin:
        query = query.where(CannedReply.department_id.in_(list(user.departments)) | CannedReply.department_id.is_(None))
    rows = sorted(
        session.scalars(query).all(),
        key=lambda r: (r.department_id is None, r.department_id or "", r.position, r.id),
    )
    return [public(r) for r in rows]


def add(session: Session, department_id: str | None, title: str, text: str) -> CannedReply:
    """Append a reply at the end of its department's list."""
    same = CannedReply.department_id == department_id if department_id else CannedReply.department_id.is_(None)
    last = session.scalar(select(func.max(CannedReply.position)).where(same))
    row = CannedReply(department_id=department_id or None, title=title[:100], text=text, position=(last or 0) + 1)
    session.add(row)
    session.flush()
    return row


def load_seed(path: Path = SEED_FILE) -> list[tuple[str | None, str, str]]:
    """(department id or None, title, text) from the seed file; raises ValueError on a malformed entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of department ids to lists of replies")
    out: list[tuple[str | None, str, str]] = []
    for key, items in data.items():
        for item in items or []:
            if (
                not isinstance(item, dict)
                or not str(item.get("title", "")).strip()
                or not str(item.get("text", "")).strip()
            ):
                raise ValueError(f"{path}: every reply of '{key}' needs a title and a text")
            department = None if key == ALL_DEPARTMENTS else str(key)
            out.append((department, str(item["title"]).strip(), str(item["text"]).strip()))
    return out


def seed(session: Session, path: Path = SEED_FILE) -> int:
    """Load the seed into an empty table (departments missing from the catalog are skipped); rows added."""
    if session.scalar(select(func.count()).select_from(CannedReply)):
        return 0
    known = set(session.scalars(select(Department.id)))
    added = 0
    for department, title, text in load_seed(path):
        if department is not None and department not in known:
            continue
        add(session, department, title, text)
        added += 1
    return added

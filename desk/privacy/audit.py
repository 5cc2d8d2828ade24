"""The privacy audit: one append-only row per export, erasure, clear or retention run, never the data.

The target is kept as a keyed pseudonym (HMAC under the booking key, knowledge_base/privacy.py), so an
admin can see that the same student was asked about twice without the audit naming them.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desk.models import PrivacyAudit
from knowledge_base.privacy import ContactCipher


def pseudonym(cipher: ContactCipher, kind: str, value: str) -> str:
    """`conversation:3f2a…` / `phone:9b1c…`: who was asked about, without naming them."""
    return f"{kind}:{cipher.ref('privacy-audit', f'{kind}:{value}')[:16]}" if value else kind


def cli_actor() -> str:
    """`cli:<operating-system user>` for the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "cli:unknown"


def record(session: Session, *, actor: str, action: str, target: str, counts: dict[str, Any], at: datetime) -> None:
    """Append one audit row in the caller's transaction."""
    session.add(PrivacyAudit(at=at, actor=actor[:120], action=action, target=target[:120], counts=counts))


def page(session: Session, *, limit: int = 50, before: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The newest audit rows (before row id `before`), and how many rows there are."""
    query = select(PrivacyAudit).order_by(PrivacyAudit.id.desc()).limit(limit)
    if before is not None:
        query = query.where(PrivacyAudit.id < before)
    rows = [
        {
            "id": r.id,
            "at": r.at.isoformat() if r.at else None,
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "counts": dict(r.counts or {}),
        }
        for r in session.scalars(query)
    ]
    return rows, int(session.scalar(select(func.count()).select_from(PrivacyAudit)) or 0)

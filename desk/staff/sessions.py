"""Server-side staff sessions: a random id in the cookie, its SHA-256 in `staff_sessions`.

A session ends when its row is gone: at logout, when the person changes the password (every other
session), when an account is disabled (`helpdesk user disable`), after `idle` without a request and
`max_age` after login. A copied cookie is then worth nothing, unlike a signed cookie that stays valid
until it expires. The table holds only hashes, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import DateTime, ForeignKey, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge_base.db import Base
from knowledge_base.models import utcnow

TOUCH_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often per session


class StaffSession(Base):
    """One logged-in browser of a staff member."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Lifetime:
    """How long a session lives: without a request (`idle`) and at most (`max_age`)."""

    idle: timedelta
    max_age: timedelta


@dataclass(frozen=True)
class OpenSession:
    """A valid session as the request sees it."""

    user_id: int
    csrf: str
    id_hash: str


def hash_id(token: str) -> str:
    """The stored form of a cookie's session id."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def create(session: Session, user_id: int, now: datetime, life: Lifetime) -> tuple[str, str]:
    """A new session for the user: (cookie token, CSRF token). Expired sessions of the user are dropped."""
    session.execute(
        delete(StaffSession).where(StaffSession.user_id == user_id, StaffSession.created_at < now - life.max_age)
    )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(StaffSession(id_hash=hash_id(token), user_id=user_id, csrf=csrf, created_at=now, last_seen_at=now))
    session.flush()
    return token, csrf


def lookup(session: Session, token: str, now: datetime, life: Lifetime) -> OpenSession | None:
    """The session of a cookie's token if it is still valid (its use is noted), else None (expired ones are deleted)."""
    if not token or len(token) > 200:
        return None
    row = session.get(StaffSession, hash_id(token))
    if row is None:
        return None
    if now - _aware(row.created_at) >= life.max_age or now - _aware(row.last_seen_at) >= life.idle:
        session.delete(row)
        return None
    if now - _aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
    return OpenSession(row.user_id, row.csrf, row.id_hash)


def revoke(session: Session, token: str) -> None:
    """End the session of this cookie token (logout)."""
    session.execute(delete(StaffSession).where(StaffSession.id_hash == hash_id(token)))


def revoke_user(session: Session, user_id: int, keep_hash: str | None = None) -> int:
    """End every session of the user (but `keep_hash`); how many ended."""
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep_hash:
        query = query.where(StaffSession.id_hash != keep_hash)
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

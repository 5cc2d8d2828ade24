"""Staff and admin accounts: argon2 password hashes, roles, login throttling.

Roles: an admin sees and does everything; a staff member belongs to one or more departments (the
catalog's department ids) and sees those departments' queues plus every urgent request. Seeing a
request in the queue is not reading it: a transcript opens on need to know (`CurrentUser.can_read`,
docs/security.md). Failed logins
are counted per (username, client address) and per client address; past the limit the login is
refused for a while even with the right password, so passwords cannot be guessed quickly.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, delete, false, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

import desk.staff.access_log  # noqa: F401  (registers the access log table with the accounts)
from desk.staff import sessions as staff_sessions
from knowledge_base.db import Base
from knowledge_base.handoff_policy import CRISIS_DEPARTMENT, PRIORITY_URGENT
from knowledge_base.models import utcnow

logger = logging.getLogger(__name__)
_hasher = PasswordHasher()

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class StaffUser(Base):
    """A person who works in the desk: staff of some departments, or an admin."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # a one-time password (given by an admin at /admin/staff) must be changed at the next login
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailure(Base):
    """One failed login, kept for the throttling window."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountError(Exception):
    """Base of account errors."""


class InvalidCredentials(AccountError):
    """Unknown user, wrong password or a disabled account (deliberately not told apart)."""


class LoginThrottled(AccountError):
    """Too many failed logins recently; try again later."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


class WeakPassword(AccountError):
    """The password is too short."""


class UnknownUser(AccountError):
    """No account has this username."""


class UsernameTaken(AccountError):
    """Another account has this username."""


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in person as routes see it (no password hash)."""

    id: int
    username: str
    display_name: str
    is_admin: bool
    departments: tuple[str, ...]
    must_change_password: bool = False  # only /staff/password and logout until it is changed

    def can_see(self, department_id: str | None, priority: str) -> bool:
        """Whether this person may see a request of that department and priority in the queue
        (every on-duty person is alerted to an urgent one; its transcript is `can_read`'s question)."""
        if self.is_admin or priority == PRIORITY_URGENT:
            return True
        return department_id is not None and department_id in self.departments

    def can_read(self, department_id: str | None, priority: str, claimed_by: int | None, is_open: bool) -> bool:
        """Whether this person may open the request's transcript (need to know): admins and the request's
        department always; while it is open, also the person who claimed it and, when urgent, the
        counselling centre (the crisis department). A closed request stays with its department."""
        if self.is_admin or (department_id is not None and department_id in self.departments):
            return True
        if not is_open:
            return False
        return (claimed_by is not None and claimed_by == self.id) or (
            priority == PRIORITY_URGENT and CRISIS_DEPARTMENT in self.departments
        )

    @classmethod
    def of(cls, user: StaffUser) -> CurrentUser:
        return cls(
            user.id,
            user.username,
            user.display_name or user.username,
            user.is_admin,
            tuple(user.departments),
            bool(user.must_change_password),
        )


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def generate_password() -> str:
    """A random password, shown once to the person who creates the account."""
    return secrets.token_urlsafe(12)


def create_user(
    session: Session,
    username: str,
    password: str | None = None,
    *,
    display_name: str = "",
    is_admin: bool = False,
    departments: list[str] | None = None,
    must_change_password: bool = False,
) -> tuple[StaffUser, str]:
    """Create an account; returns it and the password (generated when none is given; with
    `must_change_password`, a one-time password the person replaces at the first login)."""
    username = username.strip().lower()
    if not username:
        raise AccountError("a username is required")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise UsernameTaken(f"username '{username}' is taken")
    password = password or generate_password()
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        is_admin=is_admin,
        departments=sorted(set(departments or [])),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user, password


def _failures(session: Session, since: datetime, **where: Any) -> int:
    query = select(func.count()).select_from(LoginFailure).where(LoginFailure.at >= since)
    for column, value in where.items():
        query = query.where(getattr(LoginFailure, column) == value)
    return int(session.scalar(query) or 0)


def authenticate(session: Session, username: str, password: str, address: str, now: datetime) -> CurrentUser:
    """Check a login; raises LoginThrottled or InvalidCredentials. The caller commits."""
    username = username.strip().lower()[:64]
    address = address[:64]
    since = now - FAILURE_WINDOW
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    if (
        _failures(session, since, username=username, address=address) >= MAX_FAILURES_PER_USER
        or _failures(session, since, address=address) >= MAX_FAILURES_PER_ADDRESS
    ):
        raise LoginThrottled(int(FAILURE_WINDOW.total_seconds()))
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    ok = False
    if user is not None and user.active:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password or "x")  # same work either way: no user enumeration by timing
    if not ok or user is None:
        session.add(LoginFailure(username=username, address=address, at=now))
        session.flush()
        logger.info("failed staff login")
        raise InvalidCredentials("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.address == address))
    return CurrentUser.of(user)


def log_in(sessions: sessionmaker, username: str, password: str, address: str, now: datetime) -> CurrentUser:
    """`authenticate` in a transaction of its own, committed even when the login is refused (failures count)."""
    with sessions() as session:
        try:
            return authenticate(session, username, password, address, now)
        finally:
            session.commit()


def load_user(session: Session, user_id: int) -> CurrentUser | None:
    """The active account with that id, or None."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    return CurrentUser.of(user)


def change_password(session: Session, user_id: int, current: str, new: str, keep_session: str | None) -> None:
    """Replace the password after checking the current one; every other session of the person ends.
    Raises InvalidCredentials (wrong current password) or WeakPassword. The caller commits."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        raise InvalidCredentials("account not found")
    if not _verify(user.password_hash, current):
        raise InvalidCredentials("wrong current password")
    if new == current:
        raise WeakPassword("the new password must differ from the current one")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    staff_sessions.revoke_user(session, user.id, keep_hash=keep_session)
    logger.info("staff user %d changed the password", user.id)


def reset_password(session: Session, user: StaffUser) -> tuple[str, int]:
    """A new generated one-time password (returned once; replaced at the next login); every session of
    the person ends. Returns the password and how many sessions ended. The caller commits."""
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    return password, staff_sessions.revoke_user(session, user.id)


def switch_active(session: Session, user: StaffUser, active: bool) -> int:
    """Enable or disable an account; disabling ends all its sessions at once. Returns how many ended."""
    user.active = active
    return 0 if active else staff_sessions.revoke_user(session, user.id)


def set_active(session: Session, username: str, active: bool) -> int:
    """`switch_active` on the account of that username (UnknownUser when there is none)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if user is None:
        raise UnknownUser(f"no account '{username}'")
    return switch_active(session, user, active)

"""Local-time (Asia/Shanghai) parts of a stored UTC timestamp, for PostgreSQL and SQLite alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, cast, func
from sqlalchemy.orm import Session


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def local_day(session: Session, column: Any) -> Any:
    """The local calendar day as text YYYY-MM-DD."""
    if _is_postgres(session):
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.date(column, "+8 hours")


def local_hour(session: Session, column: Any) -> Any:
    """The local hour, 0-23."""
    if _is_postgres(session):
        return cast(func.extract("hour", func.timezone("Asia/Shanghai", column)), Integer)
    return cast(func.strftime("%H", column, "+8 hours"), Integer)


def local_weekday(session: Session, column: Any) -> Any:
    """The local weekday, 0 = Monday .. 6 = Sunday."""
    if _is_postgres(session):
        return cast(func.extract("isodow", func.timezone("Asia/Shanghai", column)), Integer) - 1
    return (cast(func.strftime("%w", column, "+8 hours"), Integer) + 6) % 7


def channel_prefix(column: Any, channel: str) -> Any:
    """`conversation_id LIKE 'web:%'`: a conversation id starts with its channel."""
    return cast(column, String).like(f"{channel}:%")

"""Grouping stored UTC timestamps by hour on PostgreSQL and SQLite alike, and reading them in Beijing time."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, String, cast, func
from sqlalchemy.orm import Session

OFFSET = 8 * 3600  # Beijing time, all year (no daylight saving)
EPOCH = date(1970, 1, 1)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _local_seconds(session: Session, column: Any) -> Any:
    """Seconds since 1970-01-01 00:00 Beijing time, as an integer expression."""
    if _is_postgres(session):
        return cast(func.floor(func.extract("epoch", column)), Integer) + OFFSET
    return cast(func.strftime("%s", column), Integer) + OFFSET


def day_number(session: Session, column: Any) -> Any:
    """The local day as days since 1970-01-01: integer arithmetic, much cheaper to group by than a
    time-zone conversion and a date format on every row (`day_of` turns it back into a date)."""
    return _local_seconds(session, column) // 86400


def hour_of_week(session: Session, column: Any) -> Any:
    """The local hour of the week, 0 = Monday 00:00 .. 167 = Sunday 23:00 (1970-01-01 was a Thursday)."""
    return (_local_seconds(session, column) // 3600 + 72) % 168


def hour_of_day(session: Session, column: Any) -> Any:
    """The local hour, 0-23."""
    return (_local_seconds(session, column) // 3600) % 24


def day_of(number: int) -> date:
    """The date of a `day_number`."""
    return EPOCH + timedelta(days=int(number))


def channel_prefix(column: Any, channel: str) -> Any:
    """`conversation_id LIKE 'web:%'`: a conversation id starts with its channel."""
    return cast(column, String).like(f"{channel}:%")

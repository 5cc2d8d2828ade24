"""Grouping stored UTC timestamps by hour on PostgreSQL and SQLite alike, and reading them in Beijing time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Integer, String, cast, func
from sqlalchemy.orm import Session

SHANGHAI = timezone(timedelta(hours=8))


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def hour_bucket(session: Session, column: Any) -> Any:
    """Hours since the epoch (an integer): grouping by it is far cheaper than by a local-time expression,
    and the local day, weekday and hour follow from it in Python (`bucket_time`)."""
    if _is_postgres(session):
        return cast(func.floor(func.extract("epoch", column) / 3600), Integer)
    return cast(func.strftime("%s", column), Integer) / 3600


def bucket_time(bucket: int) -> datetime:
    """The Beijing time of an hour bucket."""
    return datetime.fromtimestamp(int(bucket) * 3600, SHANGHAI)


def channel_prefix(column: Any, channel: str) -> Any:
    """`conversation_id LIKE 'web:%'`: a conversation id starts with its channel."""
    return cast(column, String).like(f"{channel}:%")

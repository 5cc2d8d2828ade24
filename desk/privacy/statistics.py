"""Daily counts that outlive the rows they count (`daily_counts`): taken before messages, conversations
and tickets are deleted by an erasure or the retention job, so the statistics stay the same.

Metrics (dimension in brackets): conversations [channel], messages_in / messages_out [channel],
tickets [department], tickets_rated and rating_sum [department]. Days are Beijing dates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.models import Conversation, DailyCount, HandoffRequest, Message
from knowledge_base.names import channel_of
from knowledge_base.timeexpr import TZ

Key = tuple[str, str, str]  # (day, metric, dimension)


def day_of(moment: datetime | None) -> str:
    """The Beijing date of a stored moment (naive values are UTC, as SQLite returns them)."""
    if moment is None:
        return "unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(TZ).date().isoformat()


def add(session: Session, counts: Counter[Key]) -> None:
    """Add these counts to `daily_counts` (in the caller's transaction)."""
    for (day, metric, dimension), value in counts.items():
        if not value:
            continue
        row = session.get(DailyCount, (day, metric, dimension))
        if row is None:
            session.add(DailyCount(day=day, metric=metric, dimension=dimension, value=value))
        else:
            row.value += value
    session.flush()


def count_messages(session: Session, message_ids: Iterable[int]) -> Counter[Key]:
    """messages_in / messages_out per day and channel of these messages."""
    counts: Counter[Key] = Counter()
    ids = list(message_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Message.role, Message.created_at, Message.conversation_id).where(
                Message.id.in_(ids[start : start + 500])
            )
        )
        for role, created, conversation_id in rows:
            metric = "messages_in" if role == "student" else "messages_out"
            counts[(day_of(created), metric, channel_of(conversation_id))] += 1
    return counts


def count_conversations(rows: Iterable[Conversation]) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    for row in rows:
        counts[(day_of(row.created_at), "conversations", row.channel)] += 1
    return counts


def count_tickets(rows: Iterable[HandoffRequest]) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    for row in rows:
        day, department = day_of(row.created_at), row.department_id or ""
        counts[(day, "tickets", department)] += 1
        if row.rating is not None:
            counts[(day, "tickets_rated", department)] += 1
            counts[(day, "rating_sum", department)] += int(row.rating)
    return counts


def totals(session: Session) -> dict[str, int]:
    """Every metric summed over all days (what the statistics keep, for tests and the admin page)."""
    out: Counter[str] = Counter()
    for row in session.scalars(select(DailyCount)):
        out[row.metric] += row.value
    return dict(out)


def live_totals(session: Session) -> dict[str, Any]:
    """The same metrics counted over the rows still stored (kept + live = all time)."""
    out: Counter[str] = Counter()
    for (role,) in session.execute(select(Message.role)):
        out["messages_in" if role == "student" else "messages_out"] += 1
    out["conversations"] = len(session.scalars(select(Conversation.id)).all())
    for ticket in session.scalars(select(HandoffRequest)):
        out["tickets"] += 1
        if ticket.rating is not None:
            out["tickets_rated"] += 1
            out["rating_sum"] += int(ticket.rating)
    return dict(out)

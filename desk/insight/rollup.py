"""The daily roll-up of student messages: one row per Beijing day, channel, decision and department,
with the day's count and its 24 hourly counts (h00..h23).

A year of messages is a few tens of thousands of roll-up rows, so the per-day, outcome and heat-map
charts stay fast however many messages there are. Only whole days before today are rolled up (once:
the rows of a day never change after it, as a message's decision is stored when it is answered, and
the counts outlive later deletion of old chat text); today is read from the messages themselves.
`refresh` is called before the charts are read: the first view of a long range pays for rolling it up.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desk.insight.models import HOURS, DailyMessages, RolledDay
from desk.insight.scope import Filters
from desk.insight.sql import EPOCH, day_number, hour_of_day
from desk.models import Message

logger = logging.getLogger(__name__)


def number(day: date) -> int:
    return (day - EPOCH).days


def split(f: Filters) -> tuple[Filters | None, Filters | None]:
    """The part of the range read from the roll-up (days before `f.today`) and the part read live."""
    today = f.today
    if today is None:
        return None, f
    rolled = replace(f, last=min(f.last, today - timedelta(days=1))) if f.first < today else None
    live = replace(f, first=max(f.first, today)) if f.last >= today else None
    return rolled, live


def prepare(session: Session, f: Filters) -> int:
    """Roll up the days of the range before `f.today` that are not yet (the charts' first step)."""
    rolled, _ = split(f)
    return refresh(session, rolled.first, rolled.last) if rolled is not None else 0


def where(f: Filters) -> list[Any]:
    """The roll-up rows of the filters' days, channel and departments."""
    clauses: list[Any] = [DailyMessages.day.between(number(f.first), number(f.last))]
    if f.channel:
        clauses.append(DailyMessages.channel == f.channel)
    if f.departments is not None:
        clauses.append(DailyMessages.department_id.in_(f.departments))
    return clauses


def refresh(session: Session, first: date, last: date) -> int:
    """Roll up the days from `first` to `last` not rolled up yet (call with `last` before today);
    the number of days added."""
    wanted = set(range(number(first), number(last) + 1))
    if not wanted:
        return 0
    done = set(session.scalars(select(RolledDay.day).where(RolledDay.day.between(min(wanted), max(wanted)))))
    missing = sorted(wanted - done)
    if not missing:
        return 0
    start = Filters(EPOCH + timedelta(days=missing[0]), EPOCH + timedelta(days=missing[-1]))
    day, hour = day_number(session, Message.created_at), hour_of_day(session, Message.created_at)
    inner = (
        select(
            day.label("day"),
            hour.label("hour"),
            func.coalesce(Message.channel, "").label("channel"),
            func.coalesce(Message.decision, "").label("decision"),
            func.coalesce(Message.department_id, "").label("department_id"),
        )
        .where(Message.role == "student", Message.created_at >= start.start, Message.created_at < start.end)
        .subquery()
    )
    columns: list[Any] = [inner.c.day, inner.c.channel, inner.c.decision, inner.c.department_id,
                          ((inner.c.day + 3) % 7).label("weekday"), func.count().label("messages")]  # fmt: skip
    columns += [func.sum(case((inner.c.hour == h, 1), else_=0)).label(name) for h, name in enumerate(HOURS)]
    rows = (
        select(*columns)
        .where(inner.c.day.in_(missing))
        .group_by(inner.c.day, inner.c.channel, inner.c.decision, inner.c.department_id)
    )
    target = ["day", "channel", "decision", "department_id", "weekday", "messages", *HOURS]
    try:
        with session.begin_nested():
            session.execute(insert(DailyMessages).from_select(target, rows))
            session.add_all([RolledDay(day=d) for d in missing])
            session.flush()
    except IntegrityError:  # another request rolled them up meanwhile
        logger.info("days already rolled up by another request")
        return 0
    return len(missing)

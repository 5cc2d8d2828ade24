"""The dashboard's charts, each one query over the stored rows, scoped by `Filters`.

Every chart is a table (`columns`, `rows`) so that the page draws it and the CSV export writes it
the same way. Days, hours and weekdays are Beijing time. Messages count student messages only (the
demand); a staff member's view counts the messages, tickets and bookings of their departments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desk.insight import rollup
from desk.insight.models import Suggestion
from desk.insight.scope import Filters
from desk.insight.sql import channel_prefix, day_number, day_of, hour_of_week
from desk.models import HandoffRequest, Message
from desk.staff.accounts import StaffUser
from knowledge_base.booking import models as bm
from knowledge_base.models import Faq, Service
from knowledge_base.timeexpr import WEEKDAYS_ZH

OUTCOME_GROUPS = {
    "answer": "resolved",
    "service": "resolved",
    "suggest": "suggested",
    "handoff": "handed_off",
    "none": "gave_up",
    "decline": "gave_up",
}
OUTCOME_LABELS = {
    "resolved": "机器人解决",
    "suggested": "给出推荐",
    "handed_off": "转人工",
    "gave_up": "未能回答",
    "other": "其他（办事、闲聊）",
}
GAVE_UP = ("none", "decline")
TOP_N = 10


@dataclass
class Chart:
    """One chart's data: a title, the CSV columns and rows, and what the page needs besides."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "columns": self.columns, "rows": self.rows, **self.extra}


def _student_messages(session: Session, f: Filters) -> list[Any]:
    where = [Message.role == "student", Message.created_at >= f.start, Message.created_at < f.end]
    if f.channel:
        where.append(Message.channel == f.channel)
    if f.departments is not None:
        where.append(Message.department_id.in_(f.departments))
    return where


def _tickets(f: Filters, column: Any) -> list[Any]:
    where = [column >= f.start, column < f.end]
    if f.channel:
        where.append(channel_prefix(HandoffRequest.conversation_id, f.channel))
    if f.departments is not None:
        where.append(HandoffRequest.department_id.in_(f.departments))
    return where


def messages_per_day(session: Session, f: Filters) -> Chart:
    """Student messages per local day and channel (every day of the range, zeros included)."""
    counts: dict[tuple[str, str], int] = {}
    rolled, live = rollup.split(f)
    rows: list[Any] = []
    if rolled is not None:
        D = rollup.DailyMessages
        rows += session.execute(
            select(D.day, D.channel, func.sum(D.messages)).where(*rollup.where(rolled)).group_by(D.day, D.channel)
        ).all()
    if live is not None:
        day = day_number(session, Message.created_at)
        rows += session.execute(
            select(day, Message.channel, func.count())
            .where(*_student_messages(session, live))
            .group_by(day, Message.channel)
        ).all()
    for d, channel, n in rows:
        key = (day_of(d).isoformat(), channel or "?")
        counts[key] = counts.get(key, 0) + int(n)
    channels = sorted({c for _, c in counts})
    days = [d.isoformat() for d in f.days()]
    out = [[d, c, counts.get((d, c), 0)] for d in days for c in channels]
    return Chart("messages_per_day", "每日咨询量（按渠道）", ["day", "channel", "messages"], out, {"days": days})


def outcomes(session: Session, f: Filters) -> Chart:
    """What the bot did with the messages: resolved, suggested, handed off, gave up, other."""
    rolled, live = rollup.split(f)
    rows: list[Any] = []
    if rolled is not None:
        D = rollup.DailyMessages
        rows += session.execute(
            select(D.decision, func.sum(D.messages)).where(*rollup.where(rolled)).group_by(D.decision)
        ).all()
    if live is not None:
        rows += session.execute(
            select(Message.decision, func.count()).where(*_student_messages(session, live)).group_by(Message.decision)
        ).all()
    totals = dict.fromkeys(OUTCOME_LABELS, 0)
    for decision, n in rows:
        totals[OUTCOME_GROUPS.get(decision or "", "other")] += int(n)
    out = [[k, OUTCOME_LABELS[k], n] for k, n in totals.items()]
    return Chart("outcomes", "机器人解决 / 推荐 / 转人工", ["outcome", "label", "messages"], out)


def top_questions(session: Session, f: Filters) -> Chart:
    """The FAQ entries asked most (answered or suggested first)."""
    n = func.count().label("n")
    rows = session.execute(
        select(Message.faq_id, n)
        .where(*_student_messages(session, f), Message.decision.in_(("answer", "suggest")), Message.faq_id.is_not(None))
        .group_by(Message.faq_id)
        .order_by(n.desc(), Message.faq_id)
        .limit(TOP_N)
    ).all()
    ids = [r[0] for r in rows]
    questions: dict[str, str] = {}
    if ids:
        questions = {i: q for i, q in session.execute(select(Faq.id, Faq.question).where(Faq.id.in_(ids))).all()}
    out = [[faq_id, questions.get(faq_id, faq_id), count] for faq_id, count in rows]
    return Chart("top_questions", "热门问题", ["faq_id", "question", "messages"], out)


def top_giveups(session: Session, f: Filters) -> Chart:
    """The messages the bot could not answer, most frequent first (same text counted together)."""
    n = func.count().label("n")
    rows = session.execute(
        select(Message.text, n)
        .where(*_student_messages(session, f), Message.decision.in_(GAVE_UP))
        .group_by(Message.text)
        .order_by(n.desc(), Message.text)
        .limit(TOP_N)
    ).all()
    return Chart("top_giveups", "未能回答的问题", ["text", "messages"], [[t, c] for t, c in rows])


def _percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of the values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def handoff_times(session: Session, f: Filters) -> Chart:
    """Per department: tickets, wait until a person took the chat (p50/p95), and time to close (p50/p95), in minutes."""
    rows = session.execute(
        select(
            HandoffRequest.department_id,
            HandoffRequest.claim_wait_seconds,
            HandoffRequest.created_at,
            HandoffRequest.closed_at,
        ).where(*_tickets(f, HandoffRequest.created_at))
    ).all()
    waits: dict[str, list[float]] = {}
    closes: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for dept, wait, created, closed in rows:
        key = dept or "?"
        counts[key] = counts.get(key, 0) + 1
        if wait is not None:
            waits.setdefault(key, []).append(float(wait))
        if closed is not None and created is not None:
            closes.setdefault(key, []).append((closed - created).total_seconds())
    out = [
        [
            dept,
            counts[dept],
            _minutes(_percentile(waits.get(dept, []), 50)),
            _minutes(_percentile(waits.get(dept, []), 95)),
            _minutes(_percentile(closes.get(dept, []), 50)),
            _minutes(_percentile(closes.get(dept, []), 95)),
        ]
        for dept in sorted(counts)
    ]
    columns = ["department", "tickets", "wait_p50_min", "wait_p95_min", "close_p50_min", "close_p95_min"]
    return Chart("handoff_times", "转人工等待与处理时长（分钟）", columns, out)


def satisfaction(session: Session, f: Filters) -> Chart:
    """Ratings (1-5) given after a handoff, by department and by staff member, with the comments."""
    where = [*_tickets(f, HandoffRequest.rated_at), HandoffRequest.rating.is_not(None)]
    staff_name = func.coalesce(StaffUser.display_name, StaffUser.username)
    rows = session.execute(
        select(HandoffRequest.department_id, staff_name, func.count(), func.avg(HandoffRequest.rating))
        .outerjoin(StaffUser, StaffUser.id == HandoffRequest.closed_by)
        .where(*where)
        .group_by(HandoffRequest.department_id, staff_name)
    ).all()
    by_staff = [[d or "?", s or "—", n, round(float(avg), 2)] for d, s, n, avg in rows]
    by_staff.sort(key=lambda r: (r[0], r[1]))
    departments: dict[str, list[float]] = {}
    for dept, _, n, avg in by_staff:
        total = departments.setdefault(dept, [0, 0.0])
        total[0] += n
        total[1] += n * avg
    by_department = [[d, int(n), round(s / n, 2)] for d, (n, s) in sorted(departments.items())]
    comments = session.execute(
        select(HandoffRequest.rated_at, HandoffRequest.department_id, staff_name, HandoffRequest.rating,
               HandoffRequest.rating_comment)
        .outerjoin(StaffUser, StaffUser.id == HandoffRequest.closed_by)
        .where(*where, HandoffRequest.rating_comment.is_not(None), HandoffRequest.rating_comment != "")
        .order_by(HandoffRequest.rated_at.desc())
        .limit(50)
    ).all()  # fmt: skip
    extra = {
        "by_department": by_department,
        "comments": [[r.isoformat() if r else "", d or "?", s or "—", v, c] for r, d, s, v, c in comments],
    }
    columns = ["department", "staff", "ratings", "average"]
    return Chart("satisfaction", "满意度（1-5分）", columns, by_staff, extra)


def bookings(session: Session, f: Filters) -> Chart:
    """Appointments that start in the range, by service: booked, attended, no-shows, cancelled.
    (Bookings keep no channel: the channel filter does not apply to them.)"""
    where = [bm.Booking.starts_at >= f.start, bm.Booking.starts_at < f.end]
    if f.departments is not None:
        where.append(Service.department_id.in_(f.departments))
    rows = session.execute(
        select(bm.Booking.service_id, Service.name, bm.Booking.status, func.count())
        .join(Service, Service.id == bm.Booking.service_id)
        .where(*where)
        .group_by(bm.Booking.service_id, Service.name, bm.Booking.status)
    ).all()
    table: dict[str, list[Any]] = {}
    index = {bm.BOOKED: 2, bm.ATTENDED: 3, bm.NO_SHOW: 4, bm.CANCELLED: 5}
    for service_id, name, status, n in rows:
        row = table.setdefault(service_id, [service_id, name, 0, 0, 0, 0])
        if status in index:
            row[index[status]] += n
    columns = ["service", "name", "booked", "attended", "no_show", "cancelled"]
    return Chart("bookings", "预约、取消与爽约（按服务）", columns, [table[k] for k in sorted(table)])


def heatmap(session: Session, f: Filters) -> Chart:
    """Student messages by weekday (0 = Monday) and hour, Beijing time."""
    counts: dict[tuple[int, int], int] = {}
    rolled, live = rollup.split(f)
    if rolled is not None:
        D = rollup.DailyMessages
        hours = [func.sum(getattr(D, name)) for name in rollup.HOURS]
        for weekday, *by_hour in session.execute(
            select(D.weekday, *hours).where(*rollup.where(rolled)).group_by(D.weekday)
        ).all():
            for h, n in enumerate(by_hour):
                counts[(int(weekday), h)] = counts.get((int(weekday), h), 0) + int(n or 0)
    if live is not None:
        hour = hour_of_week(session, Message.created_at)
        where = _student_messages(session, live)
        for h, n in session.execute(select(hour, func.count()).where(*where).group_by(hour)).all():
            key = divmod(int(h), 24)
            counts[key] = counts.get(key, 0) + int(n)
    out = [[w, h, counts.get((w, h), 0)] for w in range(7) for h in range(24)]
    return Chart(
        "heatmap", "咨询时段分布（星期 × 小时）", ["weekday", "hour", "messages"], out, {"weekdays": WEEKDAYS_ZH}
    )


def related(session: Session, f: Filters) -> Chart:
    """Related entries offered after answers (HELPDESK_INSIGHT_RELATED) and how often students clicked them."""
    clicked = func.count(Suggestion.clicked_at)
    where = [Suggestion.offered_at >= f.start, Suggestion.offered_at < f.end]
    if f.channel:
        where.append(channel_prefix(Suggestion.conversation_id, f.channel))
    if f.departments is not None:
        where.append(Faq.department_id.in_(f.departments))
    rows = session.execute(
        select(Suggestion.suggested_id, Faq.question, func.count(), clicked)
        .join(Faq, Faq.id == Suggestion.suggested_id)
        .where(*where)
        .group_by(Suggestion.suggested_id, Faq.question)
        .order_by(func.count().desc(), Suggestion.suggested_id)
        .limit(TOP_N)
    ).all()
    out = [[i, q, n, c, round(c / n, 3) if n else 0.0] for i, q, n, c in rows]
    return Chart("related", "相关推荐点击率", ["faq_id", "question", "offered", "clicked", "click_rate"], out)


CHARTS: dict[str, Callable[[Session, Filters], Chart]] = {
    "messages_per_day": messages_per_day,
    "outcomes": outcomes,
    "top_questions": top_questions,
    "top_giveups": top_giveups,
    "handoff_times": handoff_times,
    "satisfaction": satisfaction,
    "bookings": bookings,
    "heatmap": heatmap,
    "related": related,
}


def all_charts(session: Session, f: Filters) -> list[Chart]:
    """Every chart of the dashboard for these filters."""
    return [query(session, f) for query in CHARTS.values()]


__all__ = ["CHARTS", "Chart", "all_charts"]

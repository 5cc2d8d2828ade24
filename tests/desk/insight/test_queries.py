"""Each dashboard chart counts the seeded rows exactly, in Beijing days and hours."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from desk.insight.queries import CHARTS, Chart
from desk.insight.scope import Filters
from desk.models import Message
from tests.desk.insight.seed import seed, z

RANGE = Filters(date(2026, 11, 30), date(2026, 12, 1))


@pytest.fixture
def chart(sessions):  # type: ignore[no-untyped-def]
    seed(sessions)

    def read(name: str, filters: Filters = RANGE) -> Chart:
        with sessions() as session:
            return CHARTS[name](session, filters)

    return read


def test_messages_per_day_by_channel_counts_student_messages_of_the_range(chart) -> None:  # type: ignore[no-untyped-def]
    rows = chart("messages_per_day").rows
    assert rows == [
        ["2026-11-30", "tg", 2],
        ["2026-11-30", "web", 0],
        ["2026-12-01", "tg", 0],
        ["2026-12-01", "web", 3],
    ]
    assert chart("messages_per_day", Filters(RANGE.first, RANGE.last, channel="web")).rows == [
        ["2026-11-30", "web", 0],
        ["2026-12-01", "web", 3],
    ]


def test_outcomes_group_the_bots_decisions(chart) -> None:  # type: ignore[no-untyped-def]
    totals = {r[0]: r[2] for r in chart("outcomes").rows}
    assert totals == {"resolved": 2, "suggested": 1, "handed_off": 1, "gave_up": 1, "other": 0}


def test_top_questions_and_give_ups(chart) -> None:  # type: ignore[no-untyped-def]
    [top] = chart("top_questions").rows
    assert top[0] == "scholarship_national" and top[2] == 3 and "奖学金" in top[1]
    assert chart("top_giveups").rows == [["宿舍能养猫吗", 1]]


def test_handoff_wait_and_close_percentiles_by_department(chart) -> None:  # type: ignore[no-untyped-def]
    rows = {r[0]: r[1:] for r in chart("handoff_times").rows}
    assert rows["mental_health"] == [2, 2.0, 10.0, 30.0, 90.0]
    assert rows["campus_card"] == [1, 1.0, 1.0, 10.0, 10.0]


def test_satisfaction_by_department_and_staff_with_comments(chart) -> None:  # type: ignore[no-untyped-def]
    data = chart("satisfaction")
    assert data.rows == [["campus_card", "李老师", 1, 1.0], ["mental_health", "王老师", 2, 4.0]]
    assert data.extra["by_department"] == [["campus_card", 1, 1.0], ["mental_health", 2, 4.0]]
    assert sorted(c[4] for c in data.extra["comments"]) == ["很耐心", "没解决"]


def test_bookings_cancellations_and_no_shows_by_service(chart) -> None:  # type: ignore[no-untyped-def]
    rows = {r[0]: r[2:] for r in chart("bookings").rows}
    assert rows == {"certificate_issuing": [1, 0, 0, 0], "counseling": [1, 1, 1, 1]}


def test_heat_map_of_demand_by_beijing_weekday_and_hour(chart) -> None:  # type: ignore[no-untyped-def]
    cells = {(w, h): n for w, h, n in chart("heatmap").rows if n}
    assert cells == {(1, 10): 3, (0, 21): 2}  # Tuesday 10:00 and Monday 21:00, Beijing time


def test_a_department_sees_only_its_own_rows(chart) -> None:  # type: ignore[no-untyped-def]
    mine = Filters(RANGE.first, RANGE.last, departments=("mental_health",))
    assert [r for r in chart("messages_per_day", mine).rows if r[2]] == [["2026-11-30", "tg", 1]]
    assert [r[0] for r in chart("handoff_times", mine).rows] == ["mental_health"]
    assert [r[0] for r in chart("bookings", mine).rows] == ["counseling"]


def test_days_before_today_come_from_the_daily_roll_up_with_the_same_numbers(sessions, chart) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from desk.insight import rollup
    from desk.insight.models import DailyMessages

    live = {name: chart(name).rows for name in ("messages_per_day", "outcomes", "heatmap")}
    split = replace(RANGE, today=date(2026, 12, 1))  # 30 November is rolled up, 1 December read live
    with sessions() as session, session.begin():
        assert rollup.prepare(session, split) == 1
        assert rollup.prepare(session, split) == 0  # once
    with sessions() as session:
        rolled = session.scalars(select(DailyMessages).order_by(DailyMessages.decision)).all()
    assert [(r.channel, r.decision, r.department_id, r.messages, r.h21, r.weekday) for r in rolled] == [
        ("tg", "handoff", "mental_health", 1, 1, 0),
        ("tg", "suggest", "student_affairs", 1, 1, 0),
    ]
    for name, rows in live.items():
        assert chart(name, split).rows == rows
    # the roll-up is what is read: a message added to a rolled-up day afterwards is not counted
    with sessions() as session, session.begin():
        session.add(Message(conversation_id="tg:b", role="student", text="晚到", created_at=z(30, 14, 0, 11),
                            channel="tg", decision="none"))  # fmt: skip
    assert chart("messages_per_day", split).rows[0] == ["2026-11-30", "tg", 2]
    assert chart("messages_per_day", RANGE).rows[0] == ["2026-11-30", "tg", 3]

"""The greeting menu follows the calendar and the student's stage, and adds what everyone asks this week."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from desk.insight.menus import hot_for, hot_questions, in_window
from desk.insight.models import MenuItem, StudentStage
from desk.insight.scope import local_today
from desk.main import create_app
from desk.models import Conversation, Message
from desk.settings import Settings
from knowledge_base.models import utcnow
from tests.desk.insight.seed import seed
from tests.desk.insight.test_dashboard_routes import log_in
from tests.desk.test_webchat import start

BUILT_IN = ["校园卡丢了怎么办", "怎么开在读证明", "心理咨询怎么预约"]


def test_calendar_windows_wrap_around_the_new_year() -> None:
    assert in_window(date(2026, 9, 1), "08-15", "10-15") and not in_window(date(2026, 11, 1), "08-15", "10-15")
    assert in_window(date(2027, 1, 5), "12-20", "01-10") and not in_window(date(2026, 12, 1), "12-20", "01-10")
    assert in_window(date(2026, 6, 1), "", "")


def test_stage_and_season_items_come_first_then_the_weeks_most_asked(sessions) -> None:  # type: ignore[no-untyped-def]
    today = local_today(utcnow())  # the suite's clock, whatever moment it is frozen at
    season = today + timedelta(days=45)  # a day inside the freshmen's season, which today is not in
    first, last = ((today + timedelta(days=d)).strftime("%m-%d") for d in (30, 60))
    with sessions() as session:
        assert hot_questions(session, None, today) == BUILT_IN  # nothing configured, no traffic
    with sessions() as session, session.begin():
        session.add_all([
            MenuItem(title="新生报到流程", stage="新生", first_day=first, last_day=last),
            MenuItem(title="毕业档案怎么转", stage="毕业生"),
            MenuItem(title="奖学金怎么申请", position=5),
        ])  # fmt: skip
        session.add(Conversation(id="web:f", channel="web"))
        session.flush()
        session.add(StudentStage(conversation_id="web:f", stage="新生", updated_at=utcnow()))
        session.flush()
        for n in range(3):  # this week, a freshman asked about the national grant three times
            at = utcnow() - timedelta(days=1, minutes=n)
            session.add(Message(conversation_id="web:f", role="student", text="国家助学金", decision="answer",
                                faq_id="grant_national", created_at=at))  # fmt: skip
    with sessions() as session:
        assert hot_questions(session, "新生", season)[:2] == ["新生报到流程", "奖学金怎么申请"]
        assert hot_questions(session, "毕业生", season) == ["毕业档案怎么转", "奖学金怎么申请"]  # no traffic then
        freshman_now = hot_questions(session, "新生", today)
    assert freshman_now[0] == "奖学金怎么申请" and "助学金" in freshman_now[1]  # out of season; the week's question
    assert hot_for(sessions, "web:f") == freshman_now


def test_the_web_chat_welcome_uses_the_menu_and_admins_edit_it(settings: Settings, sessions, freeze_clock) -> None:  # type: ignore[no-untyped-def]
    freeze_clock("2026-12-03T10:00:00+08:00")  # the week of the seeded traffic (tests/desk/insight/seed.py)
    people = seed(sessions)
    with TestClient(create_app(settings)) as client:
        log_in(client, "admin", people["admin"])
        page = client.get("/staff/insight/surveys").text
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        headers = {"X-CSRF-Token": token}
        bad = client.post("/api/insight/menu", json={"title": "宿舍报修", "first_day": "13-01", "last_day": "01-01"},
                          headers=headers)  # fmt: skip
        assert bad.status_code == 400
        added = client.post("/api/insight/menu", json={"title": "宿舍报修怎么报"}, headers=headers)
        assert added.status_code == 201
        client.cookies.clear()
        [welcome] = start(client)["messages"]
    # the admin's item, then the seeded week's most asked question (国家奖学金, answered twice), then 转人工
    assert [b["title"] for b in welcome["buttons"]] == ["宿舍报修怎么报", "国家奖学金怎么申请？", "转人工"]

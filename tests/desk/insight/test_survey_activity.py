"""While no survey is open, the chat skips the survey hooks (desk/insight/activity.py): a student still
gets a survey the moment one opens, a stage the moment the menu needs one, and nothing after it closes;
their words still set their stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from desk.insight.activity import SurveyActivity
from desk.insight.models import MenuItem, StudentStage, Survey
from desk.insight.surveys import STAGE_QUESTION
from desk.main import create_app
from desk.models import Message
from desk.settings import Settings
from knowledge_base.models import Faq, utcnow
from tests.desk.insight.test_surveys import ask, new_survey, scripted_rasa
from tests.desk.test_webchat import start


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(scripted_rasa))
        app.state.gateway.insight.surveys.activity.ttl = 3600.0  # only a change may drop the cached state
        yield client


def bot_texts(messages: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [m["text"] for m in messages if m["role"] == "bot"]


def test_a_survey_opened_after_quiet_messages_reaches_the_next_message(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    start(app_client)
    assert bot_texts(ask(app_client, "校园卡丢了怎么办", 1)) == ["机器人回答：校园卡丢了怎么办"]  # quiet, cached
    survey_id = new_survey(sessions)  # another session of the process, as the admin page does
    after = bot_texts(ask(app_client, "图书馆几点开门", 2))
    assert after[0] == "机器人回答：图书馆几点开门" and after[1].startswith("【小调查】你最希望哪里改进？")

    with sessions() as session, session.begin():  # closed (the admin's 结束): the next student is not asked
        session.get(Survey, survey_id).active = False  # type: ignore[union-attr]
    app_client.cookies.clear()
    start(app_client)
    assert bot_texts(ask(app_client, "食堂在哪", 3)) == ["机器人回答：食堂在哪"]


def test_a_question_asked_before_the_survey_closed_can_still_be_answered(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    survey_id = new_survey(sessions)
    start(app_client)
    question = ask(app_client, "校园卡丢了怎么办", 1)[-1]
    with sessions() as session, session.begin():
        session.get(Survey, survey_id).active = False  # type: ignore[union-attr]
    thanks = ask(app_client, "宿舍", 2, question["buttons"][1]["payload"])
    assert bot_texts(thanks) == ["谢谢你的反馈！我们会据此改进服务。"]


def test_a_stage_menu_item_brings_the_stage_question_and_words_set_the_stage(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    start(app_client)
    assert bot_texts(ask(app_client, "我是毕业生想问档案怎么转", 1)) == ["机器人回答：我是毕业生想问档案怎么转"]
    with sessions() as session:  # no survey anywhere, but the student's words are remembered for the menu
        assert [s.stage for s in session.scalars(select(StudentStage))] == ["毕业生"]

    with sessions() as session, session.begin():
        session.add(MenuItem(title="新生报到流程", stage="新生"))
    app_client.cookies.clear()  # a new student, whose stage is unknown, is asked it once
    start(app_client)
    assert bot_texts(ask(app_client, "食堂在哪", 2)) == ["机器人回答：食堂在哪", STAGE_QUESTION]


def test_the_quiet_state_is_read_once_then_kept_until_a_change_or_the_ttl(sessions) -> None:  # type: ignore[no-untyped-def]
    ticks = [100.0]
    activity = SurveyActivity(sessions, ttl=5.0, monotonic=lambda: ticks[0])
    now = utcnow()
    assert activity.cached(now) is None and activity.read(now) is True
    assert activity.cached(now) is True
    ticks[0] += 5.0
    assert activity.cached(now) is None  # expired: another desk replica may have opened a survey
    assert activity.read(now) is True
    new_survey(sessions)
    assert activity.cached(now) is None and activity.read(now) is False
    assert activity.cached(now + timedelta(days=30)) is None  # a new day: surveys start and end on days


def test_a_quiet_answer_reads_no_survey_table_and_keeps_its_decision(settings: Settings, sessions) -> None:  # type: ignore[no-untyped-def]
    """The decision is stored with the replies (one transaction); the survey tables are not read."""
    with sessions() as session:
        faq = session.scalars(select(Faq).where(Faq.published.is_(True)).order_by(Faq.id)).first()
        assert faq is not None
        faq_id, department = faq.id, faq.department_id

    def rasa(request: httpx.Request) -> httpx.Response:
        sender = json.loads(request.content)["sender"]
        decision = {"custom": {"decision": {"kind": "faq_answer", "faq_id": faq_id}}}
        return httpx.Response(
            200, json=[{"recipient_id": sender, "text": "答案"}, {"recipient_id": sender, **decision}]
        )

    app = create_app(settings)
    with TestClient(app) as client:
        app.state.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        start(client)
        ask(client, "校园卡丢了怎么办", 1)  # the quiet state is read and kept
        statements: list[str] = []

        def note(_conn, _cursor, statement: str, *_args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(app.state.engine, "before_cursor_execute", note)
        try:
            assert bot_texts(ask(client, "图书馆几点开门", 2)) == ["答案"]
        finally:
            event.remove(app.state.engine, "before_cursor_execute", note)
    assert not [s for s in statements if "insight_" in s]
    with sessions() as session:
        [row] = session.scalars(select(Message).where(Message.text == "图书馆几点开门")).all()
        assert (row.decision, row.faq_id, row.department_id) == ("answer", faq_id, department)

"""Surveys in the chat: a student of the audience is asked once after a bot answer, on the web chat
socket, answers with a button (or skips, or moves on), and the admin's results count it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from desk.insight import survey_admin
from desk.insight.scope import local_today
from desk.insight.surveys import SKIP_PAYLOAD, STAGE_NOTED, STAGE_QUESTION, stage_of
from desk.main import create_app
from desk.settings import Settings
from knowledge_base.models import utcnow
from tests.desk.insight.seed import seed
from tests.desk.insight.test_dashboard_routes import log_in
from tests.desk.test_webchat import replies_until_idle, send, start


def scripted_rasa(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": f"机器人回答：{body['message']}"}])


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(scripted_rasa))
        yield client


def new_survey(sessions, kind: str = "choice", audience: str = "all") -> int:  # type: ignore[no-untyped-def]
    today = local_today(utcnow())
    data = survey_admin.SurveyIn(
        title="服务改进", question="你最希望哪里改进？", kind=kind, options=["食堂", "宿舍", "图书馆"],
        audience=audience, starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=6),
    )  # fmt: skip
    return survey_admin.create(sessions, data, "admin")


def ask(client: TestClient, text: str, n: int, payload: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, text, f"c{n}", payload)
        return [f["message"] for f in replies_until_idle(ws) if f.get("type") == "message"]


def test_a_student_answers_a_survey_in_the_web_chat_and_it_is_counted(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    people = seed(sessions)
    survey_id = new_survey(sessions)
    start(app_client)
    first = ask(app_client, "校园卡丢了怎么办", 1)
    answer, question = [m for m in first if m["role"] == "bot"]
    assert answer["text"] == "机器人回答：校园卡丢了怎么办"
    assert question["text"].startswith("【小调查】你最希望哪里改进？")
    assert [b["title"] for b in question["buttons"]] == ["食堂", "宿舍", "图书馆", "跳过"]
    thanks = ask(app_client, "宿舍", 2, question["buttons"][1]["payload"])
    assert [m["text"] for m in thanks if m["role"] == "bot"] == ["谢谢你的反馈！我们会据此改进服务。"]
    again = ask(app_client, "图书馆几点开门", 3)
    assert [m["text"] for m in again if m["role"] == "bot"] == ["机器人回答：图书馆几点开门"]  # asked once only

    log_in(app_client, "admin", people["admin"])
    [result] = app_client.get("/api/insight/surveys").json()["surveys"]
    assert result["id"] == survey_id and result["asked"] == 1 and result["answered"] == 1
    assert result["distribution"] == [["食堂", 0], ["宿舍", 1], ["图书馆", 0]]


def test_skipping_and_moving_on(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    new_survey(sessions)
    start(app_client)
    ask(app_client, "校园卡丢了怎么办", 1)
    skipped = ask(app_client, "跳过", 2, SKIP_PAYLOAD)
    assert [m["text"] for m in skipped if m["role"] == "bot"] == ["好的，已跳过。有问题随时问我。"]
    app_client.cookies.clear()  # another student
    start(app_client)
    ask(app_client, "校园卡丢了怎么办", 3)
    moved_on = ask(app_client, "奖学金怎么申请", 4)  # not an option: the bot answers it
    assert [m["text"] for m in moved_on if m["role"] == "bot"] == ["机器人回答：奖学金怎么申请"]
    [result] = survey_admin.results(sessions)
    assert (result["asked"], result["answered"], result["skipped"]) == (2, 0, 1)


def test_a_stage_survey_reaches_only_that_stage_taken_from_the_students_words(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    assert stage_of("我是大一新生，想问宿舍") == "新生" and stage_of("毕业档案怎么转") == "毕业生"
    new_survey(sessions, audience="stage:新生")
    start(app_client)
    answer, stage = [m for m in ask(app_client, "食堂在哪", 1) if m["role"] == "bot"]  # stage unknown: asked once
    assert stage["text"] == STAGE_QUESTION and [b["title"] for b in stage["buttons"]] == [
        "新生",
        "在读",
        "毕业生",
        "跳过",
    ]
    words = ask(app_client, "我是大一新生，宿舍怎么分配", 2)  # not a button, but the words say it
    assert words[-1]["text"].startswith("【小调查】")
    app_client.cookies.clear()  # a graduate answers the stage question with its button: no freshman survey
    start(app_client)
    [_, stage] = [m for m in ask(app_client, "食堂在哪", 3) if m["role"] == "bot"]
    graduate = next(b for b in stage["buttons"] if b["title"] == "毕业生")
    assert [m["text"] for m in ask(app_client, "毕业生", 4, graduate["payload"]) if m["role"] == "bot"] == [STAGE_NOTED]
    assert [m["text"] for m in ask(app_client, "图书馆在哪", 5) if m["role"] == "bot"] == ["机器人回答：图书馆在哪"]


def test_free_text_answers_are_grouped_by_meaning(sessions) -> None:  # type: ignore[no-untyped-def]
    from desk.insight.models import SurveyResponse
    from desk.models import Conversation

    survey_id = new_survey(sessions, kind="text")
    texts = ["食堂饭菜太贵", "食堂的饭太贵了", "食堂饭菜价格太高", "希望图书馆延长开放时间"]
    with sessions() as session, session.begin():
        for n, text in enumerate(texts):
            session.add(Conversation(id=f"web:t{n}", channel="web"))
            session.flush()
            session.add(
                SurveyResponse(survey_id=survey_id, conversation_id=f"web:t{n}", status="answered", answer=text)
            )
    [result] = survey_admin.results(sessions)
    groups = {g["label"]: sorted(g["answers"]) for g in result["groups"]}
    assert sorted(map(len, groups.values())) == [1, 3]
    assert ["希望图书馆延长开放时间"] in groups.values()


def test_a_bad_survey_is_refused_with_the_reason(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    people = seed(sessions)
    log_in(app_client, "admin", people["admin"])
    page = app_client.get("/staff/insight/surveys")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    body = {"title": "t", "question": "你好吗", "kind": "choice", "options": ["只有一个"], "audience": "all",
            "starts_on": "2026-12-01", "ends_on": "2026-12-07"}  # fmt: skip
    refused = app_client.post("/api/insight/surveys", json=body, headers={"X-CSRF-Token": token})
    assert refused.status_code == 400 and "两个选项" in refused.text
    body.update(options=["a", "b"], audience="service:nope")
    assert "没有这项服务" in app_client.post("/api/insight/surveys", json=body, headers={"X-CSRF-Token": token}).text
    body.update(audience="all")
    assert app_client.post("/api/insight/surveys", json=body, headers={"X-CSRF-Token": token}).status_code == 201

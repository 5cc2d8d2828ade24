"""Related entries after an FAQ answer (HELPDESK_INSIGHT_RELATED=true): offered as buttons in the web
chat, a click is counted, and the dashboard shows the click-through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from desk.insight.queries import related
from desk.insight.scope import Filters
from desk.main import create_app
from desk.settings import Settings
from tests.desk.insight.test_surveys import ask
from tests.desk.test_webchat import start


def answering_rasa(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    answer = {"recipient_id": body["sender"], "text": f"机器人回答：{body['message']}",
              "custom": {"decision": {"kind": "faq_answer", "faq_id": "card_report_loss"}}}  # fmt: skip
    return httpx.Response(200, json=[answer])


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.updated(insight_related=True))
    with TestClient(app) as client:
        app.state.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(answering_rasa))
        yield client


def test_related_entries_are_offered_and_their_clicks_counted(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    start(app_client)
    answer, offer = [m for m in ask(app_client, "校园卡丢了", 1) if m["role"] == "bot"]
    assert answer["text"] == "机器人回答：校园卡丢了" and offer["text"] == "你可能还想了解："
    assert len(offer["buttons"]) == 2 and all(b["payload"] == b["title"] for b in offer["buttons"])
    chosen = offer["buttons"][0]
    ask(app_client, chosen["title"], 2, chosen["payload"])
    with sessions() as session:
        rows = related(session, Filters(date(2026, 11, 1), date(2026, 12, 31))).rows
    # the scripted bot answers both messages from the same entry: the same two entries offered twice
    counts = {r[1]: (r[2], r[3], r[4]) for r in rows}
    other = next(b["title"] for b in offer["buttons"] if b is not chosen)
    assert counts == {chosen["title"]: (2, 1, 0.5), other: (2, 0, 0.0)}

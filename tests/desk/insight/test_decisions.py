"""What the bot decided is recorded on the student's message: the action server's decision, or a handoff."""

from __future__ import annotations

import httpx
import pytest

from desk.chat.decisions import Decision, from_answers
from tests.desk.handoff_helpers import MONDAY_10AM, Clock, Desk


def test_the_decision_comes_from_the_custom_message_and_a_handoff_wins() -> None:
    answer = {"text": "答案", "custom": {"decision": {"kind": "faq_answer", "faq_id": "card_report_loss"}}}
    assert from_answers([answer]) == Decision("answer", "card_report_loss")
    handoff = {"custom": {"handoff": {"department": "mental_health"}}}
    assert from_answers([answer, handoff]) == Decision("handoff", "card_report_loss", "mental_health")
    assert from_answers([{"text": "你好"}]) is None
    assert from_answers([{"custom": {"decision": {"kind": "nonsense"}}}]) is None


@pytest.fixture
def desk(sessions) -> Desk:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    base = desk.rasa.handler

    def handler(request: httpx.Request) -> httpx.Response:
        response = base(request)
        body = response.json()
        if body and "机器人回答：" in body[-1].get("text", ""):
            kind = "faq_none" if "养猫" in body[-1]["text"] else "faq_answer"
            faq = None if kind == "faq_none" else "card_report_loss"
            body[-1]["custom"] = {"decision": {"kind": kind, "faq_id": faq}}
        return httpx.Response(200, json=body)

    desk.gateway._rasa._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[attr-defined]
    return desk


async def test_each_student_message_keeps_what_the_bot_did(desk: Desk) -> None:
    await desk.say("校园卡丢了怎么办")
    await desk.say("宿舍能养猫吗")
    await desk.say("转人工")
    students = [m for m in desk.messages() if m.role == "student"]
    assert [(m.decision, m.faq_id, m.department_id, m.channel) for m in students] == [
        ("answer", "card_report_loss", "campus_card", "web"),
        ("none", None, None, "web"),
        ("handoff", None, "mental_health", "web"),
    ]

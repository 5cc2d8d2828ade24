"""End to end: real Rasa, action server and desk processes; a student chats over the websocket."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from desk.ops import supervisor
from knowledge_base import repository
from knowledge_base.kbfile import FaqIn
from tests.e2e.conftest import ChatClient
from tests.stack import Stack, health

pytestmark = pytest.mark.e2e


def texts(replies: list[dict]) -> str:  # type: ignore[type-arg]
    return "\n".join(r["text"] for r in replies)


def test_all_three_processes_are_healthy(stack: Stack) -> None:
    body = health(stack)
    assert body["status"] == "ok"
    assert body["checks"]["rasa"]["model"].endswith(".tar.gz")


async def test_chinese_question_gets_the_seeded_answer(chat: ChatClient, stack: Stack) -> None:
    replies = await chat.ask("校园卡丢了怎么办")
    with stack.sessions()() as session:
        seeded = repository.get_faq(session, "card_report_loss").answer.strip()
    assert [r["text"] for r in replies] == [seeded]
    assert replies[0]["role"] == "bot"


async def test_admin_edit_changes_the_next_answer_without_retraining(chat: ChatClient, stack: Stack) -> None:
    sessions = stack.sessions()
    with sessions() as session:
        original = repository.get_faq(session, "library_hours")
    first = await chat.ask("图书馆几点开门几点关门")
    assert texts(first) == original.answer.strip()
    try:
        with sessions() as session, session.begin():
            repository.save_faq(
                session, FaqIn(**{**original.snapshot(), "id": original.id, "answer": "考试周图书馆延长开放至24:00。"})
            )
        second = await chat.ask("图书馆几点开门几点关门")
        assert texts(second) == "考试周图书馆延长开放至24:00。"
    finally:
        with sessions() as session, session.begin():
            repository.save_faq(session, FaqIn(**{**original.snapshot(), "id": original.id}))


async def test_topic_word_offers_choices_and_a_choice_answers(chat: ChatClient) -> None:
    [suggest] = await chat.ask("饭卡")
    assert suggest["text"].startswith("你是想问")
    assert len(suggest["buttons"]) == 3
    button = suggest["buttons"][0]
    [answer] = await chat.ask(button["title"], payload=button["payload"])
    assert answer["role"] == "bot" and len(answer["text"]) > 20


async def test_service_question_gets_the_one_time_notice_card(chat: ChatClient) -> None:
    replies = await chat.ask("开在读证明要带什么材料")
    card = replies[-1]
    assert card["text"].startswith("【在读证明与成绩单开具】一次性告知")
    for part in ("办理地点", "需要材料", "学生证或校园卡", "咨询电话"):
        assert part in card["text"]


async def test_greeting_small_talk_and_handoff_request(chat: ChatClient, stack: Stack) -> None:
    assert "你好" in texts(await chat.ask("你好"))
    assert "服务范围" in texts(await chat.ask("今天天气怎么样"))
    reply = texts(await chat.ask("转人工"))
    assert "转接" in reply  # the bot hands over; the gateway adds the queue or the leave-a-message notice
    from sqlalchemy import select

    from desk.models import HandoffRequest

    with stack.sessions()() as session:
        request = session.scalars(
            select(HandoffRequest).where(HandoffRequest.conversation_id == chat.conversation_id)
        ).one()
    assert request.reason == "request" and request.department_id == "community"


async def test_crisis_message_gets_hotlines(chat: ChatClient) -> None:
    reply = texts(await chat.ask("我觉得活着没意思 想结束自己"))
    assert "12356" in reply and "400-161-9995" in reply


async def test_history_is_kept_across_reloads(chat: ChatClient, stack: Stack) -> None:
    await chat.ask("宿舍空调坏了找谁修")
    async with httpx.AsyncClient(base_url=stack.base_url, cookies=chat.http.cookies) as again:
        history = (await again.post("/api/webchat/session")).json()
    assert history["conversation_id"] == chat.conversation_id
    assert [m["text"] for m in history["messages"] if m["role"] == "student"] == ["宿舍空调坏了找谁修"]
    assert history["messages"][-1]["role"] == "bot"


async def test_action_server_outage_is_told_to_the_student_and_health_shows_it(stack: Stack) -> None:
    """Stops the action server, checks what the student and /healthz see, then starts it again."""
    actions = stack.child("actions")
    assert actions.proc is not None
    os.killpg(actions.proc.pid, signal.SIGTERM)
    actions.proc.wait(timeout=20)
    chat = await ChatClient(stack, wait_past_notice=False).open()  # the notice is what this test looks at
    try:
        reply = await chat.ask("校园卡丢了怎么办")
        assert [r["role"] for r in reply] == ["system"]
        assert "暂时无法回复" in reply[0]["text"]
        assert "你好" in texts(await chat.ask("你好"))  # responses that need no action still work
        body = health(stack)
        assert body["status"] == "degraded"
        assert body["checks"]["action_server"]["ok"] is False and body["checks"]["rasa"]["ok"] is True
    finally:
        await chat.close()
        supervisor.start(actions)
        assert supervisor.wait_ready(stack.settings, stack.children, timeout=60)
    recovered = await ChatClient(stack).open()
    try:
        assert "挂失" in texts(await recovered.ask("校园卡丢了怎么办"))
    finally:
        await recovered.close()


async def test_the_classifiers_crisis_intent_alone_does_not_start_the_crisis_flow(chat: ChatClient) -> None:
    from knowledge_base.safety import CHECK_IN_MARK, hotline_text

    # what a sure classifier decides, through Rasa: the NLU's crisis intent is one class among nineteen;
    # the urgent path needs the lexicon or the crisis detector, the check-in the detector's half
    # agreement (knowledge_base/decisions.py); "危机" alone has neither
    replies = await chat.ask("危机", payload="/crisis")
    assert replies and all(r["text"] != hotline_text() for r in replies)
    assert not any(r["text"].startswith(CHECK_IN_MARK) for r in replies)

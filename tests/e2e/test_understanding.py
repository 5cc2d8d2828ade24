"""Real student language through the real stack (desk, Rasa, action server): Traditional Chinese crisis
messages, sad-toned ordinary questions, "我想…" requests, other universities."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from desk.models import HandoffRequest
from knowledge_base import repository
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def tickets(stack: Stack, conversation_id: str) -> list[HandoffRequest]:
    with stack.sessions()() as session:
        stmt = select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)
        return list(session.scalars(stmt))


async def test_a_traditional_chinese_crisis_message_gets_the_hotlines_and_an_urgent_ticket(
    chat: ChatClient, stack: Stack
) -> None:
    replies = await chat.ask("我真的撐不下去了，覺得活著沒有意義")
    first = replies[0]["text"]
    assert "12356" in first and "400-161-9995" in first
    assert "熱線" in first  # the answer follows the student's script
    [ticket] = tickets(stack, chat.conversation_id)
    assert (ticket.reason, ticket.priority) == ("crisis", "urgent")


async def test_a_sad_toned_ordinary_question_gets_its_answer_and_no_urgent_ticket(
    chat: ChatClient, stack: Stack
) -> None:
    replies = await chat.ask("最近压力好大，心情很差，校园卡丢了怎么办")
    with stack.sessions()() as session:
        seeded = repository.get_faq(session, "card_report_loss").answer.strip()
    assert seeded in [r["text"] for r in replies]
    assert not any("12356" in r["text"] for r in replies)
    assert not any(t.priority == "urgent" for t in tickets(stack, chat.conversation_id))


async def test_a_request_for_a_song_is_not_a_crisis(chat: ChatClient, stack: Stack) -> None:
    replies = await chat.ask("我想听一首周杰伦的歌")
    assert not any("12356" in r["text"] for r in replies)
    assert tickets(stack, chat.conversation_id) == []


async def test_a_question_about_another_university_names_ours(chat: ChatClient, stack: Stack) -> None:
    replies = await chat.ask("浙大的图书馆几点开门")
    assert [r["text"] for r in replies] == [
        "抱歉，我只能回答示例大学的问题，浙大的情况请查看该校官网或咨询该校。关于示例大学的办事问题，欢迎随时问我。"
    ]

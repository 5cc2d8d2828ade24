"""Asking for a person through the real Rasa, action server and desk: the bot hands over, the gateway
says what happens next, and the ticket has the packet the action built.

Both branches run in every run, whatever the real hour: `stack` is inside office hours (the student
queues, sees the position and the wait, and can cancel) and `closed_stack` outside them (the student
leaves a message and is offered a visit). Neither depends on tickets that other tests opened: the
queue is emptied first.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from desk.models import HandoffRequest
from tests.e2e.conftest import ChatClient
from tests.stack import Stack


def ticket_of(stack: Stack, conversation_id: str) -> HandoffRequest:
    with stack.sessions()() as session:
        return session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)).one()


def close_open_tickets(stack: Stack) -> None:
    """Other tests' tickets are not this test's business: close them, so this one is first in line."""
    with stack.sessions()() as session, session.begin():
        session.execute(
            update(HandoffRequest)
            .where(HandoffRequest.open_key.is_not(None))
            .values(status="closed", open_key=None, closed_at=stack.now())
        )


async def ask_for_a_person(chat: ChatClient) -> tuple[dict, dict]:  # type: ignore[type-arg]
    await chat.ask("校园卡丢了怎么办")
    handover, notice = await chat.ask("转人工")
    assert handover["role"] == "bot" and "转接" in handover["text"]
    assert notice["role"] == "system"
    return handover, notice


def assert_packet(ticket: HandoffRequest) -> None:
    packet = ticket.packet
    assert packet["summary"] == ["校园卡丢了怎么办", "转人工"]
    [tried] = packet["faq_candidates"]
    assert tried["message"] == "校园卡丢了怎么办" and tried["candidates"][0]["faq_id"] == "card_report_loss"


async def test_in_office_hours_the_student_queues_sees_the_wait_and_can_cancel(stack: Stack) -> None:
    close_open_tickets(stack)
    chat = await ChatClient(stack).open()
    try:
        _, notice = await ask_for_a_person(chat)
        assert re.fullmatch(
            r"已为你转接人工服务，你是下一位，预计等待约\d+分钟，不想等了可以点“不用了”。", notice["text"]
        )
        assert notice["buttons"] == [{"title": "不用了", "payload": "/cancel_handoff"}]
        ticket = ticket_of(stack, chat.conversation_id)
        assert (ticket.reason, ticket.status) == ("request", "queued")
        assert_packet(ticket)

        # the button a second time (a double trigger) makes no second ticket, and the bot stays out
        assert await chat.ask("转人工", payload="/request_human") == []
        cancelled = await chat.ask("不用了")
        assert cancelled[0]["text"] == "好的，已为你取消人工服务。有问题可以继续问我。"
        assert ticket_of(stack, chat.conversation_id).status == "cancelled"
        # and the bot has the chat again
        [answer, *_] = await chat.ask("校园卡丢了怎么办")
        assert answer["role"] == "bot" and "挂失" in answer["text"]
    finally:
        await chat.close()


async def test_outside_office_hours_the_student_leaves_a_message_and_is_offered_a_visit(closed_stack: Stack) -> None:
    chat = await ChatClient(closed_stack).open()
    try:
        _, notice = await ask_for_a_person(chat)
        assert notice["text"].startswith("现在是非工作时间（人工服务时间：周一至周五 8:30-11:30、14:00-17:30")
        assert "你的留言已经记下，老师预计明天 8:30后回复" in notice["text"]  # Tuesday 20:00 -> Wednesday
        assert notice["buttons"][0]["title"] == "预约到现场办理"
        ticket = ticket_of(closed_stack, chat.conversation_id)
        assert (ticket.reason, ticket.status) == ("request", "message")
        assert_packet(ticket)

        again = await chat.ask("转人工", payload="/request_human")
        assert again[-1]["text"].startswith("你已经留过言了")
        assert ticket_of(closed_stack, chat.conversation_id).status == "message"
        # the bot keeps answering meanwhile
        [answer, *_] = await chat.ask("校园卡丢了怎么办")
        assert answer["role"] == "bot" and "挂失" in answer["text"]
    finally:
        await chat.close()

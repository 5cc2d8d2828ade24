"""Asking for a person through the real Rasa, action server and desk: the bot hands over, the gateway
says what happens next (queue or, outside office hours, when a teacher replies), and the ticket has
the packet the action built."""

from __future__ import annotations

from sqlalchemy import select

from desk.models import HandoffRequest
from desk.office_hours import DEFAULT_HOURS, OfficeHours
from knowledge_base.models import utcnow
from tests.e2e.conftest import ChatClient
from tests.stack import Stack


def ticket_of(stack: Stack, conversation_id: str) -> HandoffRequest:
    with stack.sessions()() as session:
        return session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)).one()


async def test_asking_for_a_person_opens_one_ticket_with_the_bots_packet(chat: ChatClient, stack: Stack) -> None:
    await chat.ask("校园卡丢了怎么办")
    open_now = OfficeHours.parse(DEFAULT_HOURS).is_open(utcnow())
    handover, notice = await chat.ask("转人工")
    assert handover["role"] == "bot" and "转接" in handover["text"]
    assert notice["role"] == "system"
    if open_now:
        assert "你是下一位" in notice["text"] and notice["buttons"][0]["title"] == "不用了"
    else:
        assert "现在是非工作时间" in notice["text"] and notice["buttons"][0]["title"] == "预约到现场办理"
    ticket = ticket_of(stack, chat.conversation_id)
    assert (ticket.reason, ticket.status) == ("request", "queued" if open_now else "message")
    packet = ticket.packet
    assert packet["summary"] == ["校园卡丢了怎么办", "转人工"]
    [tried] = packet["faq_candidates"]
    assert tried["message"] == "校园卡丢了怎么办" and tried["candidates"][0]["faq_id"] == "card_report_loss"

    # the button a second time (a double trigger) makes no second ticket
    again = await chat.ask("转人工", payload="/request_human")
    if open_now:
        assert again == []  # queued: the message is for staff, not the bot
        cancelled = await chat.ask("不用了")
        assert cancelled[0]["text"] == "好的，已为你取消人工服务。有问题可以继续问我。"
        assert ticket_of(stack, chat.conversation_id).status == "cancelled"
    else:
        assert "你已经留过言了" in again[-1]["text"]
        assert ticket_of(stack, chat.conversation_id).status == "message"

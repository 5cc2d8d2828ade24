"""End to end: the real action server tells the desk what it decided, and the desk records it on the
student's message (the insight dashboard's source)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from desk.models import Message
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

pytestmark = pytest.mark.e2e


async def test_answers_suggestions_and_give_ups_are_recorded_on_the_students_messages(
    chat: ChatClient, stack: Stack
) -> None:
    await chat.ask("校园卡丢了怎么办")
    await chat.ask("饭卡")
    await chat.ask("火星上能种土豆吗")
    with stack.sessions()() as session:
        rows = session.execute(
            select(Message.text, Message.decision, Message.faq_id, Message.department_id, Message.channel)
            .where(Message.conversation_id == chat.conversation_id, Message.role == "student")
            .order_by(Message.id)
        ).all()
    assert rows[0] == ("校园卡丢了怎么办", "answer", "card_report_loss", "campus_card", "web")
    assert rows[1][:2] == ("饭卡", "suggest") and rows[1][2]
    assert rows[2][1] in ("none", "decline")

"""A department's own office hours reach the running desk without a restart: the library's hours are
moved so it is closed now while the global hours (HELPDESK_HANDOFF_HOURS) say open, and a student who
asks for a person of the library through the real Rasa gets the leave-a-message answer with the
library's hours and next opening; another office still queues (tests/e2e/test_handoff_chat.py)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from desk.models import HandoffRequest
from knowledge_base.calendar_days import REFRESH_SECONDS
from knowledge_base.models import Department
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

LIBRARY_HOURS = "wed: 09:00-12:00"  # the stack's now is a Tuesday 10:00, inside the global hours


def set_library_hours(stack: Stack, spec: str) -> None:
    with stack.sessions()() as session, session.begin():
        session.get(Department, "library").office_hours = spec


async def test_a_department_closed_now_takes_a_message_though_the_desk_is_open(stack: Stack) -> None:
    set_library_hours(stack, LIBRARY_HOURS)
    await asyncio.sleep(REFRESH_SECONDS + 0.5)  # the desk re-reads the departments' hours every 5 s
    chat = await ChatClient(stack).open()
    try:
        await chat.ask("借的书快到期了怎么续借")
        replies = await chat.ask("转人工")  # on a loaded machine the previous answer may come in late: pick them out
        assert any(r["role"] == "bot" and "转接" in r["text"] for r in replies)
        [notice] = [r for r in replies if r["role"] == "system"]
        with stack.sessions()() as session:
            ticket = session.scalars(
                select(HandoffRequest).where(HandoffRequest.conversation_id == chat.conversation_id)
            ).one()
        assert (ticket.department_id, ticket.status) == ("library", "message")
        assert notice["text"].startswith("现在是非工作时间（人工服务时间：周三 9:00-12:00，法定节假日除外）")
        assert "你的留言已经记下，老师预计明天 9:00后回复" in notice["text"]
        assert notice["buttons"][0]["title"] == "预约到现场办理"
    finally:
        await chat.close()
        set_library_hours(stack, "")  # no other test hands off to the library

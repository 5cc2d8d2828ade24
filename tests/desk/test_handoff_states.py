"""The one transition table: the conversation's state always follows the ticket, and nothing else moves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from desk.handoff import states
from desk.models import Conversation, HandoffRequest
from tests.desk.handoff_helpers import FRIDAY_6PM, MONDAY_10AM, Clock, Desk


def assert_in_step(desk: Desk, conv: str = "web:s1") -> None:
    """The conversation's stored state is the one the table derives from its latest ticket."""
    ticket = desk.ticket(conv)
    assert desk.conversation(conv).state == states.conversation_state(ticket.status if ticket else None)


async def test_state_follows_the_ticket_through_a_whole_chat(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    seen = []
    await desk.say("转人工")
    seen.append((desk.ticket().status, desk.conversation().state))
    assert_in_step(desk)
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["wang"], ticket_id)
    seen.append((desk.ticket().status, desk.conversation().state))
    await desk.handoffs.transfer(staff["wang"], ticket_id, "campus_card", "")
    seen.append((desk.ticket().status, desk.conversation().state))
    desk.handoffs.claim(staff["li"], ticket_id)
    await desk.handoffs.reply(staff["li"], ticket_id, "同学你好")
    await desk.handoffs.close(staff["li"], ticket_id, "已解答")
    seen.append((desk.ticket().status, desk.conversation().state))
    assert seen == [("queued", "queued"), ("claimed", "human"), ("queued", "queued"), ("closed", "bot")]
    assert desk.conversation().awaiting == f"rating:{ticket_id}"


async def test_a_chat_nobody_answers_goes_back_to_the_bot_in_step(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    desk.handoffs.claim(staff["wang"], desk.ticket().id)
    desk.clock.at = MONDAY_10AM + timedelta(minutes=11)
    assert await desk.handoffs.sweep() == 1
    assert (desk.ticket().status, desk.conversation().state) == ("returned", "bot")
    assert (await desk.say("图书馆几点开门"))[0]["text"] == "机器人回答：图书馆几点开门"


async def test_a_message_left_after_hours_keeps_the_bot_in_the_chat(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(FRIDAY_6PM))
    await desk.say("转人工")
    assert (desk.ticket().status, desk.conversation().state) == ("message", "bot")
    assert (await desk.say("食堂几点关门"))[-1]["text"] == "机器人回答：食堂几点关门"


async def test_a_stale_state_without_a_ticket_never_traps_the_student(desk: Desk) -> None:
    await desk.say("你好")
    with desk.sessions() as session, session.begin():  # e.g. written by an older desk version
        session.get(Conversation, "web:s1").state = "human"
    assert [r["text"] for r in await desk.say("图书馆几点开门")] == ["机器人回答：图书馆几点开门"]


async def test_a_ticket_moved_by_someone_else_is_not_moved_again(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    assert [r["text"] for r in await desk.say("不用了")][0].startswith("好的，已为你取消人工服务")
    with desk.sessions() as session, session.begin():
        ticket = session.scalars(select(HandoffRequest)).one()
        assert not states.advance(session, ticket, states.CLAIM)  # a cancelled ticket cannot be claimed
        assert ticket.status == "cancelled"
    assert desk.conversation().state == "bot"


@pytest.mark.parametrize(
    ("status", "state"),
    [("queued", "queued"), ("message", "bot"), ("claimed", "human"), ("closed", "bot"), ("cancelled", "bot"),
     ("returned", "bot"), (None, "bot")],
)  # fmt: skip
def test_every_status_has_one_conversation_state(status: str | None, state: str) -> None:
    assert states.conversation_state(status) == state

"""While Rasa is down: the student is told at once, the message is kept and answered when Rasa is back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from desk.chat.gateway import BOT_UNAVAILABLE_TEXT
from desk.chat.pending import PendingReplies
from desk.models import PENDING_ANSWERED, PENDING_TO_STAFF, PendingReply
from tests.desk.handoff_helpers import BEIJING, MONDAY_10AM, Clock, Desk


def with_pending(desk: Desk, sessions: Any, **kwargs: Any) -> PendingReplies:
    async def probe() -> bool:
        return desk.rasa.up

    pending = PendingReplies(sessions, desk.gateway, desk.gateway._rasa, probe, **kwargs)
    desk.gateway.attach_pending(pending)
    return pending


def texts(messages: list[Any]) -> list[str]:
    return [m["text"] if isinstance(m, dict) else m.text for m in messages]


async def test_kept_messages_are_answered_in_order_once_rasa_is_back(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    pending = with_pending(desk, sessions)
    desk.rasa.up = False
    assert texts(await desk.say("校园卡丢了怎么办")) == [BOT_UNAVAILABLE_TEXT]
    assert texts(await desk.say("图书馆几点开门")) == [BOT_UNAVAILABLE_TEXT]
    assert "稍后回复" in BOT_UNAVAILABLE_TEXT
    await pending.flush()  # still down: nothing sent, nothing lost
    assert desk.rasa.received == []

    desk.rasa.up = True
    await pending.flush()
    await pending.flush()  # a second round sends nothing again
    assert desk.rasa.received == ["校园卡丢了怎么办", "图书馆几点开门"]
    assert texts(desk.messages())[-2:] == ["机器人回答：校园卡丢了怎么办", "机器人回答：图书馆几点开门"]
    with sessions() as session:
        assert set(session.scalars(select(PendingReply.status))) == {PENDING_ANSWERED}


async def test_a_new_message_waits_behind_the_kept_ones(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    with_pending(desk, sessions)
    desk.rasa.up = False
    await desk.say("第一个问题")
    desk.rasa.up = True
    replies = await desk.say("第二个问题")  # the worker has not run yet: the gateway catches up first
    assert desk.rasa.received == ["第一个问题", "第二个问题"]
    assert texts(replies) == ["机器人回答：第二个问题"]
    assert texts(desk.messages())[-3:] == ["第二个问题", "机器人回答：第一个问题", "机器人回答：第二个问题"]


async def test_with_only_the_action_server_down_what_needs_no_action_is_still_answered(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    pending = with_pending(desk, sessions)
    desk.rasa.up = False
    await desk.say("校园卡丢了怎么办")  # needed an action: kept

    async def action_server_down() -> bool:
        return False

    pending._probe = action_server_down
    desk.rasa.up = True  # Rasa itself answers (a response without an action)
    assert texts(await desk.say("你好")) == ["机器人回答：你好"]
    assert desk.rasa.received == ["你好"]  # the kept question is not sent again while the bot is unhealthy
    assert pending.waiting("web:s1")


async def test_kept_messages_survive_a_desk_restart(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    with_pending(desk, sessions)
    desk.rasa.up = False
    await desk.say("宿舍报修电话")

    restarted = Desk(sessions, Clock(MONDAY_10AM))  # a new process: nothing in memory
    pending = with_pending(restarted, sessions)
    pending._waiting |= pending._load_waiting()
    await pending.flush()
    assert restarted.rasa.received == ["宿舍报修电话"]
    assert texts(restarted.messages())[-1] == "机器人回答：宿舍报修电话"


async def test_asking_for_a_person_while_rasa_is_down_leaves_the_kept_message_to_staff(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    pending = with_pending(desk, sessions)
    desk.rasa.up = False
    await desk.say("我的成绩单怎么打印")
    replies = await desk.say("转人工")
    assert texts(replies)[0] == "智能助手暂时无法回复，已为你转人工服务。"
    assert desk.ticket() is not None
    desk.rasa.up = True
    await pending.flush()
    assert desk.rasa.received == []  # staff see it in the console; the bot does not answer over them
    with sessions() as session:
        assert list(session.scalars(select(PendingReply.status))) == [PENDING_TO_STAFF]


async def test_a_message_rasa_never_answers_is_given_up_with_a_notice(sessions) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(MONDAY_10AM))
    pending = with_pending(desk, sessions, max_attempts=2)
    desk.rasa.up = False
    await desk.say("这个问题让机器人出错")

    async def healthy_but_failing() -> bool:
        return True

    pending._probe = healthy_but_failing
    await pending.flush()
    await pending.flush()
    last = desk.messages()[-1]
    assert last.role == "system" and "这个问题让机器人出错" in last.text and "转人工" in last.text
    await pending.flush()
    assert len(desk.messages()) == 3  # the question, the first notice, the final notice: no more


TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)  # the one clock and the handoff clock agree


def left_unanswered(desk: Desk, text: str, conv: str = "web:s9") -> None:
    """What a desk killed while Rasa was thinking leaves behind: the stored message and nothing after it."""
    from connectors.base import InboundMessage

    channel, sender = conv.split(":", 1)
    assert desk.gateway._store_inbound(InboundMessage(channel=channel, sender=sender, text=text), text) is not None


async def test_a_message_left_unanswered_by_a_killed_desk_is_answered_once_after_the_restart(  # type: ignore[no-untyped-def]
    sessions, freeze_clock
) -> None:
    freeze_clock("2026-12-01T10:00:00+08:00")
    left_unanswered(Desk(sessions, Clock(TUESDAY_10AM)), "宿舍报修电话")

    freeze_clock("2026-12-01T10:00:30+08:00")  # 30 s later: it may still be in hand somewhere
    restarted = Desk(sessions, Clock(TUESDAY_10AM))
    pending = with_pending(restarted, sessions, adopt_after_seconds=45)
    await pending.adopt_unanswered()
    await pending.flush()
    assert restarted.rasa.received == []

    freeze_clock("2026-12-01T10:01:00+08:00")  # a minute later nobody is answering it: adopted
    pending._adopted_at = 0.0
    await pending.adopt_unanswered()
    await pending.flush()
    assert restarted.rasa.received == ["宿舍报修电话"]
    assert texts(restarted.messages("web:s9")) == ["宿舍报修电话", "机器人回答：宿舍报修电话"]

    other = with_pending(Desk(sessions, Clock(TUESDAY_10AM)), sessions)  # a second desk looks too: nothing left
    await other.adopt_unanswered()
    await other.flush()
    await pending.flush()
    assert len(restarted.messages("web:s9")) == 2


async def test_answered_old_and_in_hand_messages_are_not_adopted(sessions, freeze_clock) -> None:  # type: ignore[no-untyped-def]
    freeze_clock("2026-12-01T10:00:00+08:00")
    desk = Desk(sessions, Clock(TUESDAY_10AM))
    left_unanswered(desk, "很久以前的问题", conv="web:old")  # an hour before: too old to answer out of the blue
    freeze_clock("2026-12-01T11:00:00+08:00")
    await desk.say("校园卡丢了怎么办", conv="web:answered")  # answered at once
    left_unanswered(desk, "图书馆几点开门", conv="web:busy")
    freeze_clock("2026-12-01T11:01:00+08:00")
    desk.rasa.received.clear()
    pending = with_pending(desk, sessions, adopt_within_minutes=30)
    async with desk.gateway.conversation_lock("web:busy"):  # this process has that conversation in hand
        await pending.adopt_unanswered()
    await pending.flush()
    assert desk.rasa.received == []
    with sessions() as session:
        assert list(session.scalars(select(PendingReply.id))) == []

"""The gateway's per-conversation locks: messages of one chat stay in order, idle chats leave no lock behind."""

from __future__ import annotations

import asyncio

from desk.chat.locks import ConversationLocks
from tests.desk.handoff_helpers import Desk


async def test_after_many_students_no_lock_is_left(desk: Desk) -> None:
    conversations = [f"web:s{i}" for i in range(30)]
    replies = await asyncio.gather(*(desk.say(f"问题{i}", conv) for i, conv in enumerate(conversations)))
    assert [r[0]["text"] for r in replies] == [f"机器人回答：问题{i}" for i in range(30)]
    assert len(desk.gateway._locks) == 0


async def test_one_students_messages_are_answered_in_order_and_the_lock_goes_after(desk: Desk) -> None:
    replies = await asyncio.gather(*(desk.say(f"第{i}个问题") for i in range(5)))
    assert [r[0]["text"] for r in replies] == [f"机器人回答：第{i}个问题" for i in range(5)]
    assert [m.text for m in desk.messages() if m.role == "student"] == [f"第{i}个问题" for i in range(5)]
    assert len(desk.gateway._locks) == 0


async def test_a_lock_lives_while_someone_holds_or_waits_for_it() -> None:
    locks = ConversationLocks()
    order: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with locks("web:a"):
            order.append("first in")
            await release.wait()
            order.append("first out")

    async def second() -> None:
        async with locks("web:a"):
            order.append("second in")

    one = asyncio.create_task(first())
    await asyncio.sleep(0)
    two = asyncio.create_task(second())
    await asyncio.sleep(0)
    assert len(locks) == 1 and order == ["first in"]  # the second waits on the same lock
    release.set()
    await asyncio.gather(one, two)
    assert order == ["first in", "first out", "second in"]
    assert len(locks) == 0


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    locks = ConversationLocks()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks("web:a"):
            await release.wait()

    async def waiter() -> None:
        async with locks("web:a"):
            pass

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    await held
    assert len(locks) == 0

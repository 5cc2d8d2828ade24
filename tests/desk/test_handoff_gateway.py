"""The gateway's conversation state machine, seen from the student's side (Rasa scripted behind HTTP)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy.orm import sessionmaker

from connectors.telegram import TelegramSender, make_bot
from desk.delivery.outbox import Outbox
from desk.delivery.worker import DeliveryWorker
from tests.desk.handoff_helpers import FRIDAY_6PM, MONDAY_10AM, Clock, Desk, handoff_packet
from tests.fake_telegram import TOKEN, FakeTelegram


def texts(replies) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["text"] for r in replies]


async def test_queued_and_human_messages_go_to_staff_never_to_rasa(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    assert desk.rasa.received == ["转人工"]
    assert await desk.say("老师在吗") == []  # a reminder at most every 2 minutes: not yet
    ticket_id = desk.ticket().id
    staff_saw = [e["message"]["text"] for e in desk.events if e["type"] == "message"]
    assert "老师在吗" in staff_saw
    desk.handoffs.claim(staff["wang"], ticket_id)
    assert await desk.say("我最近压力很大") == []
    assert await desk.say("/request_human", payload="/request_human") == []
    assert desk.rasa.received == ["转人工"]  # nothing else reached the bot
    events = [e for e in desk.events if e["type"] == "message" and e["message"]["text"] == "我最近压力很大"]
    assert events and events[0]["ticket_id"] == ticket_id and events[0]["conversation_id"] == "web:s1"


async def test_a_queued_student_is_reminded_of_the_place_every_two_minutes(desk: Desk) -> None:
    await desk.say("转人工", conv="web:first")
    await desk.say("转人工")
    assert await desk.say("还要等多久") == []
    desk.clock.at = MONDAY_10AM.replace(minute=3)
    [reminder] = await desk.say("还要等多久")
    assert reminder["text"] == "你还在排队中，你前面还有1位，预计等待约6分钟，不想等了可以点“不用了”。"
    assert await desk.say("好的") == []


async def test_cancel_with_buyongle_returns_to_the_bot(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    assert texts(await desk.say("不用了")) == ["好的，已为你取消人工服务。有问题可以继续问我。"]
    ticket = desk.ticket()
    assert (ticket.status, ticket.open_key, desk.conversation().state) == ("cancelled", None, "bot")
    assert texts(await desk.say("图书馆几点开门")) == ["机器人回答：图书馆几点开门"]
    assert desk.handoffs.queue(staff["wang"]) == []
    with pytest.raises(Exception, match="不能接入"):
        desk.handoffs.claim(staff["wang"], ticket_id)
    # the button works too, and pressing it again later says there is nothing to cancel
    await desk.say("转人工")
    cancelled = await desk.say("不用了", payload="/cancel_handoff")
    assert texts(cancelled) == ["好的，已为你取消人工服务。有问题可以继续问我。"]
    assert "现在没有在排队的人工服务请求" in texts(await desk.say("不用了", payload="/cancel_handoff"))[0]
    assert "/cancel_handoff" not in desk.rasa.received


async def test_double_trigger_button_and_typed_text_make_one_ticket(desk: Desk) -> None:
    await asyncio.gather(desk.say("转人工", payload="/request_human"), desk.say("转人工"))
    assert len(desk.tickets()) == 1
    # two desk processes racing: the unique open key keeps one ticket
    results = await asyncio.gather(
        *[asyncio.to_thread(desk.handoffs.open_ticket, "web:race", handoff_packet()) for _ in range(6)]
    )
    assert len({r.ticket_id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert len(desk.tickets("web:race")) == 1


async def test_crisis_pre_filter_and_the_bots_packet_make_one_urgent_ticket(desk: Desk) -> None:
    await desk.say("我不想活了")
    assert desk.rasa.received == []  # the pre-filter answers without the bot
    crisis_packet = handoff_packet(reason="crisis", priority="urgent")
    opened = await asyncio.to_thread(desk.handoffs.open_ticket, "web:s1", crisis_packet)
    assert not opened.created
    [ticket] = desk.tickets()
    assert (ticket.priority, ticket.reason, ticket.status) == ("urgent", "crisis", "queued")


async def test_crisis_while_a_person_has_the_chat_gets_hotlines_and_an_alert(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    desk.rasa.packet = handoff_packet(department="campus_card")
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["li"], ticket_id)
    desk.events.clear()
    replies = await desk.say("活着没意思，我想结束自己")
    assert "12356" in replies[0]["text"] and "400-161-9995" in replies[0]["text"]
    ticket = desk.ticket()
    assert (ticket.priority, ticket.status, ticket.claimed_by) == ("urgent", "claimed", staff["li"].id)
    assert [e["ticket"]["id"] for e in desk.events if e["type"] == "alert"] == [ticket_id]
    assert [t["id"] for t in desk.handoffs.queue(staff["wang"])] == [ticket_id]  # urgent: everyone sees it
    assert desk.rasa.received == ["转人工"]


async def test_rating_with_a_button_then_a_comment_is_stored(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["wang"], ticket_id)
    await desk.handoffs.reply(staff["wang"], ticket_id, "你好")
    await desk.handoffs.close(staff["wang"], ticket_id, "已解答")
    payload = "/rate" + json.dumps({"score": 4})
    asked = await desk.say("4 满意", payload=payload)
    assert asked[0]["text"].startswith("谢谢你的评价") and asked[0]["buttons"][0]["title"] == "跳过"
    assert texts(await desk.say("老师很耐心，谢谢")) == ["收到，感谢你的反馈，我们会继续改进。有问题随时问我。"]
    ticket = desk.ticket()
    assert (ticket.rating, ticket.rating_comment, ticket.claimed_by) == (4, "老师很耐心，谢谢", staff["wang"].id)
    assert ticket.department_id == "mental_health" and desk.conversation().awaiting is None
    assert all(not m.startswith("/rate") for m in desk.rasa.received)
    # the same button pressed again later is not a new rating
    again = await desk.say("4 满意", payload=payload)
    assert texts(again) == ["这次服务的评价已经结束啦，谢谢你。有问题可以继续问我。"]
    assert desk.ticket().rating == 4


async def test_typed_rating_skip_and_a_question_instead_of_a_score(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    for conv in ("web:typed", "web:question"):
        await desk.say("转人工", conv=conv)
        ticket_id = desk.ticket(conv).id
        desk.handoffs.claim(staff["wang"], ticket_id)
        await desk.handoffs.reply(
            staff["wang"],
            ticket_id,
            "你好",
        )
        await desk.handoffs.close(staff["wang"], ticket_id, "已解答")
    await desk.say("五分", conv="web:typed")
    assert texts(await desk.say("跳过", conv="web:typed", payload="/skip_comment")) == [
        "好的，感谢你的评价！有问题随时问我。"
    ]
    assert (desk.ticket("web:typed").rating, desk.ticket("web:typed").rating_comment) == (5, None)
    # not a score: the survey ends and the bot answers the question
    assert texts(await desk.say("奖学金什么时候发", conv="web:question")) == ["机器人回答：奖学金什么时候发"]
    assert desk.ticket("web:question").rating is None and desk.conversation("web:question").awaiting is None


async def test_outside_office_hours_the_bot_keeps_helping(sessions: sessionmaker) -> None:
    desk = Desk(sessions, Clock(FRIDAY_6PM))
    replies = await desk.say("转人工")
    assert texts(replies)[0] == "好的，正在为你转接老师。"
    assert "预计周一 8:30后回复" in replies[1]["text"]
    assert replies[1]["buttons"] == [{"title": "预约到现场办理", "payload": "/book_appointment"}]
    assert texts(await desk.say("宿舍几点关门")) == ["机器人回答：宿舍几点关门"]


async def test_with_rasa_down_asking_for_a_person_still_opens_a_ticket(desk: Desk) -> None:
    desk.rasa.up = False
    replies = await desk.say("我要转人工")
    assert texts(replies)[0] == "智能助手暂时无法回复，已为你转人工服务。"
    assert "你是下一位" in replies[1]["text"]
    ticket = desk.ticket()
    assert (ticket.status, ticket.department_id, ticket.reason) == ("queued", "community", "request")
    assert "系统繁忙" in texts(await desk.say("奖学金", conv="web:other"))[0]


async def test_staff_replies_and_notices_reach_telegram_with_the_teachers_name(
    desk: Desk, staff, fake_telegram: FakeTelegram
) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(desk.sessions, hold_seconds=0)
    desk.gateway.add_listener(outbox.on_message)
    bot = make_bot(TOKEN, fake_telegram.api_base)
    worker = DeliveryWorker(outbox, {"tg": TelegramSender(bot)}, retry_base_seconds=0.05, poll_seconds=0.05)
    worker.start()
    try:
        await desk.say("转人工", conv="tg:42")
        ticket_id = desk.ticket("tg:42").id
        desk.handoffs.claim(staff["wang"], ticket_id)
        await asyncio.sleep(0.05)  # the claim notice is published on the loop
        await desk.handoffs.reply(staff["wang"], ticket_id, "同学你好")
        await desk.handoffs.close(staff["wang"], ticket_id, "已解答")
        deadline = asyncio.get_running_loop().time() + 10
        while len(fake_telegram.sent(42)) < 5 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        await bot.shutdown()
    sent = fake_telegram.sent(42)
    assert [m["text"][:7] for m in sent] == [
        "好的，正在为你",
        "已为你转接人工",
        "王老师（心理中",
        "王老师（心理中",
        "本次人工服务已",
    ]
    assert sent[3]["text"] == "王老师（心理中心）：同学你好"
    assert "不用了" in str(sent[1].get("reply_markup")) and "非常满意" in str(sent[4].get("reply_markup"))


async def test_during_the_comment_step_a_new_request_or_a_changed_score_is_understood(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    first = desk.ticket().id
    desk.handoffs.claim(staff["wang"], first)
    await desk.handoffs.reply(staff["wang"], first, "你好")
    await desk.handoffs.close(staff["wang"], first, "已解答")
    await desk.say("3 一般", payload='/rate{"score": 3}')
    await desk.say("4 满意", payload='/rate{"score": 4}')  # changed their mind while the survey is open
    assert desk.ticket().rating == 4 and desk.conversation().awaiting == f"comment:{first}"
    replies = await desk.say("转人工")  # not a comment: a new request for a person
    assert texts(replies)[0] == "好的，正在为你转接老师。"
    tickets = {t.id: t for t in desk.tickets()}
    assert tickets[first].rating_comment is None and len(tickets) == 2
    assert desk.conversation().awaiting is None and desk.conversation().state == "queued"


async def test_crisis_gets_the_hotlines_even_when_the_ticket_cannot_be_opened(desk: Desk, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database trouble")

    monkeypatch.setattr(desk.handoffs, "open_ticket", broken)
    [reply] = await desk.say("我不想活了")
    assert "12356" in reply["text"] and "110" in reply["text"]


async def test_a_student_in_crisis_is_never_left_in_silence_and_cannot_drop_the_urgent_ticket(desk: Desk) -> None:
    [hotline] = await desk.say("我不想活了")
    assert "12356" in hotline["text"]
    [reminder] = await desk.say("没人理我")  # the crisis answer said a teacher is told; now say it again
    assert reminder["text"].startswith("值班老师会尽快在这里联系你")
    assert await desk.say("还在吗") == []  # then at most every 2 minutes
    [kept] = await desk.say("算了")
    assert "值班老师还是会来看看你" in kept["text"]
    ticket = desk.ticket()
    assert (ticket.status, ticket.priority, desk.conversation().state) == ("queued", "urgent", "queued")
    assert desk.rasa.received == []


async def test_the_console_sees_a_tickets_messages_from_its_opening_to_its_end(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    def console() -> list[tuple[int, str]]:
        return [(e["ticket_id"], e["message"]["text"]) for e in desk.events if e["type"] == "message"]

    await desk.say("图书馆几点开门")
    assert console() == []  # no ticket: the bot's chat stays between the student and the bot
    notices = texts(await desk.say("转人工"))  # the ticket opens while this message is handled
    first = desk.ticket().id
    assert console() == [(first, text) for text in notices]  # its notices reach the console at once
    await desk.say("老师在吗")
    assert console()[-1] == (first, "老师在吗")
    desk.handoffs.claim(staff["wang"], first)
    await desk.say("我最近压力很大")
    assert console()[-1] == (first, "我最近压力很大")
    await desk.handoffs.close(staff["wang"], first, "已解答")
    seen = len(console())
    await desk.say("食堂几点开门")
    assert len(console()) == seen  # closed: the bot's answers are private again
    await desk.say("转人工")
    second = desk.ticket().id
    assert second != first and console()[-1][0] == second

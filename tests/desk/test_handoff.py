"""The ticket service: life cycle, illegal transitions, claims racing, office hours, transfer, inactivity."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.handoff.office_hours import OfficeHours, describe_opening
from desk.handoff.service import Conflict, Forbidden, IllegalTransition, NotFound
from desk.models import TicketEvent
from knowledge_base.booking.schedule import ScheduleSpecError
from knowledge_base.office_hours import parse_hours
from tests.desk.handoff_helpers import (
    FRIDAY_6PM,
    MONDAY_10AM,
    NATIONAL_DAY,
    Clock,
    Desk,
    handoff_packet,
    make_staff,
)
from tests.knowledge_base.conftest import pg_sessions, pg_url  # noqa: F401  (PostgreSQL fixtures)


def texts_of(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["text"] if isinstance(m, dict) else m.text for m in messages]


async def test_request_claim_reply_close_and_rating_question(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    replies = await desk.say("转人工")
    assert texts_of(replies)[0] == "好的，正在为你转接老师。"
    assert "你是下一位，预计等待约3分钟" in replies[1]["text"] and replies[1]["role"] == "system"
    assert replies[1]["buttons"] == [{"title": "不用了", "payload": "/cancel_handoff"}]
    ticket = desk.ticket()
    assert (ticket.status, ticket.department_id, desk.conversation().state) == ("queued", "mental_health", "queued")

    claimed = await asyncio.to_thread(desk.handoffs.claim, staff["wang"], ticket.id)
    assert claimed["status"] == "claimed" and claimed["claimed_by_name"] == "王老师"
    assert desk.conversation().state == "human"
    await asyncio.sleep(0)
    assert "王老师（心理中心）已接入" in desk.messages()[-1].text

    sent = await desk.handoffs.reply(staff["wang"], ticket.id, "你好，我是心理中心的王老师，慢慢说。")
    assert sent["message"]["role"] == "staff" and sent["message"]["sender_name"] == "王老师（心理中心）"

    closed = await desk.handoffs.close(staff["wang"], ticket.id, "已约线下咨询")
    assert closed["status"] == "closed" and closed["resolution"] == "已约线下咨询"
    conv = desk.conversation()
    assert (conv.state, conv.awaiting) == ("bot", f"rating:{ticket.id}")
    question = desk.messages()[-1]
    assert "请为王老师的服务打个分" in question.text
    assert [b["payload"] for b in question.buttons] == [f'/rate{{"score": {n}}}' for n in range(1, 6)]
    assert desk.ticket().open_key is None
    kinds = [e["ticket"]["status"] for e in desk.events if e["type"] == "ticket"]
    assert kinds == ["queued", "claimed", "closed"]


async def test_illegal_transitions_and_who_may_do_what(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    h = desk.handoffs
    with pytest.raises(IllegalTransition):
        await h.reply(staff["wang"], ticket_id, "还没接入就回复")
    with pytest.raises(NotFound):  # 李老师 of the card centre does not see psychological tickets
        h.claim(staff["li"], ticket_id)
    with pytest.raises(NotFound):
        h.ticket(staff["li"], ticket_id)
    with pytest.raises(NotFound):
        h.claim(staff["wang"], 99999)
    h.claim(staff["wang"], ticket_id)
    assert h.claim(staff["wang"], ticket_id)["status"] == "claimed"  # clicking twice is harmless
    with pytest.raises(Conflict, match="已被王老师接入"):
        h.claim(staff["zhao"], ticket_id)
    with pytest.raises(Conflict):
        await h.reply(staff["zhao"], ticket_id, "不是我接入的")
    with pytest.raises(Conflict):
        await h.close(staff["zhao"], ticket_id, "不是我接入的")
    with pytest.raises(Forbidden):
        h.add_canned(staff["wang"], "mental_health", "标题", "内容")
    await h.close(staff["admin"], ticket_id, "管理员结束")  # an admin may end anyone's chat
    with pytest.raises(IllegalTransition):
        h.claim(staff["wang"], ticket_id)
    with pytest.raises(IllegalTransition):
        await h.close(staff["wang"], ticket_id, "again")
    with pytest.raises(IllegalTransition):
        await h.transfer(staff["admin"], ticket_id, "campus_card", "")


async def test_closing_a_ticket_nobody_talked_in_asks_no_rating(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    closed = await desk.handoffs.close(staff["wang"], ticket_id, "学生已自行解决")
    assert closed["status"] == "closed"
    conv = desk.conversation()
    assert (conv.state, conv.awaiting) == ("bot", None)
    assert desk.messages()[-1].text == "你的人工服务请求已由老师处理完毕。有问题可以继续问我。"


def _claim_race(desk: Desk, people: list, ticket_id: int) -> tuple[list, list]:  # type: ignore[type-arg]
    barrier = threading.Barrier(len(people))
    won, lost = [], []

    def attempt(user) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            desk.handoffs.claim(user, ticket_id)
            won.append(user.username)
        except Conflict as exc:
            lost.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return won, lost


@pytest.fixture(params=["sqlite", "postgresql"])
def race_sessions(request: pytest.FixtureRequest, sessions: sessionmaker) -> sessionmaker:
    """The seeded database of each backend (PostgreSQL: the machine's server, skipped without one)."""
    return request.getfixturevalue("pg_sessions") if request.param == "postgresql" else sessions


async def test_staff_claiming_at_once_exactly_one_wins(race_sessions: sessionmaker) -> None:
    desk = Desk(race_sessions, Clock(MONDAY_10AM))
    staff = make_staff(race_sessions)
    claimers = [staff["wang"], staff["zhao"], staff["admin"]]
    names = {"wang": "王老师", "zhao": "赵老师", "admin": "管理员"}
    for round_ in range(5):
        conv = f"web:race{round_}"
        await desk.say("转人工", conv=conv)
        ticket_id = desk.ticket(conv).id
        won, lost = await asyncio.to_thread(_claim_race, desk, claimers, ticket_id)
        assert len(won) == 1 and len(lost) == 2
        assert lost == [f"已被{names[won[0]]}接入"] * 2
        assert desk.ticket(conv).claimed_by == staff[won[0]].id
        assert desk.conversation(conv).state == "human"


def _crowd(calls: list) -> list:  # type: ignore[type-arg]
    """Run the calls at once, one thread each (more threads than asyncio's default executor has)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)  # type: ignore[type-arg]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


async def test_simultaneous_triggers_in_several_processes_make_one_ticket(race_sessions: sessionmaker) -> None:
    desk = Desk(race_sessions, Clock(MONDAY_10AM))
    packets = [handoff_packet() for _ in range(7)] + [handoff_packet(reason="crisis", priority="urgent")]
    calls = [lambda p=p: desk.handoffs.open_ticket("web:double", p) for p in packets]
    results = await asyncio.to_thread(_crowd, calls)
    assert None not in results
    assert len({r.ticket_id for r in results}) == 1 and sum(r.created for r in results) == 1
    [ticket] = desk.tickets("web:double")
    assert ticket.priority == "urgent" and ticket.open_key == "web:double"  # the crisis trigger raised it


async def test_office_closed_friday_evening_leaves_a_message_until_monday(sessions: sessionmaker) -> None:
    desk = Desk(sessions, Clock(FRIDAY_6PM))
    replies = await desk.say("转人工")
    notice = replies[-1]
    assert "现在是非工作时间" in notice["text"] and "老师预计周一 8:30后回复" in notice["text"]
    assert "周一至周五 8:30-11:30、14:00-17:30" in notice["text"]
    assert notice["buttons"][0]["title"] == "预约到现场办理"
    ticket = desk.ticket()
    assert ticket.status == "message" and desk.conversation().state == "bot"
    # the bot keeps helping meanwhile
    assert texts_of(await desk.say("图书馆几点开门")) == ["机器人回答：图书馆几点开门"]
    # asking again says the message is already there, still one ticket
    again = await desk.say("转人工")
    assert "你已经留过言了" in again[-1]["text"] and len(desk.tickets()) == 1


async def test_a_public_holiday_closes_the_desk_and_urgent_ignores_hours(sessions: sessionmaker) -> None:
    desk = Desk(sessions, Clock(NATIONAL_DAY))
    replies = await desk.say("转人工")
    assert "老师预计10月9日（周四）8:30后回复" in replies[-1]["text"]
    urgent = await desk.say("我不想活了", conv="web:crisis")
    assert "12356" in urgent[0]["text"]
    ticket = desk.ticket("web:crisis")
    assert (ticket.status, ticket.priority, ticket.department_id) == ("queued", "urgent", "mental_health")
    assert desk.conversation("web:crisis").state == "queued"
    assert [e["ticket"]["id"] for e in desk.events if e["type"] == "alert"] == [ticket.id]


async def test_when_the_office_opens_waiting_messages_come_first(sessions: sessionmaker, staff) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(FRIDAY_6PM)
    desk = Desk(sessions, clock)
    await desk.say("转人工", conv="web:weekend")
    clock.at = MONDAY_10AM
    desk.rasa.packet = handoff_packet(reason="complaint", priority="high")
    await desk.say("我要投诉", conv="web:complaint")
    desk.rasa.packet = handoff_packet()
    await desk.say("转人工", conv="web:normal")
    await desk.say("我不想活了", conv="web:urgent")
    order = [t["conversation_id"] for t in desk.handoffs.queue(staff["wang"])]
    assert order == ["web:urgent", "web:weekend", "web:complaint", "web:normal"]
    # 李老师 (校园卡) sees no psychological ticket but every urgent one (24-hour duty), without its words
    elsewhere = [(t["id"], t["priority"], t["restricted"], t["last_text"]) for t in desk.handoffs.queue(staff["li"])]
    assert elsewhere == [(desk.ticket("web:urgent").id, "urgent", True, "")]


async def test_eta_follows_the_departments_recent_claim_waits(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    start = desk.clock.at
    for n in range(2):
        await desk.say("转人工", conv=f"web:past{n}")
        desk.clock.at += timedelta(minutes=8)
        desk.handoffs.claim(staff["wang"], desk.ticket(f"web:past{n}").id)
    desk.clock.at = start + timedelta(hours=1)
    await desk.say("转人工", conv="web:a")
    replies = await desk.say("转人工", conv="web:b")
    assert "你前面还有1位，预计等待约16分钟" in replies[-1]["text"]


async def test_transfer_moves_the_ticket_to_the_other_departments_queue(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["wang"], ticket_id)
    assert desk.handoffs.queue(staff["li"]) == []
    moved = await desk.handoffs.transfer(staff["wang"], ticket_id, "campus_card", "学生问的是校园卡补办，转卡务")
    assert (moved["status"], moved["department_id"], moved["claimed_by"]) == ("queued", "campus_card", None)
    assert [t["id"] for t in desk.handoffs.queue(staff["li"])] == [ticket_id]
    assert desk.handoffs.queue(staff["wang"]) == []
    with pytest.raises(NotFound):
        desk.handoffs.ticket(staff["wang"], ticket_id)
    detail = desk.handoffs.ticket(staff["li"], ticket_id)
    assert [(n["kind"], n["text"]) for n in detail["notes"]] == [("transferred", "学生问的是校园卡补办，转卡务")]
    assert desk.conversation().state == "queued"
    assert desk.messages()[-1].text == "你的问题已转给校园卡服务中心的老师，请稍候，老师接入后会在这里回复你。"
    desk.handoffs.claim(staff["li"], ticket_id)
    sent = await desk.handoffs.reply(staff["li"], ticket_id, "同学你好")
    assert sent["message"]["sender_name"] == "李老师（一卡通中心）"


async def test_notes_stay_internal_and_the_detail_has_packet_and_transcript(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("你好")
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.note(staff["wang"], ticket_id, "学生情绪稳定，先了解情况")
    detail = desk.handoffs.ticket(staff["wang"], ticket_id)
    assert detail["packet"]["summary"] == ["我想找心理老师聊聊"]
    roles = [m["role"] for m in detail["transcript"]]
    assert roles[:3] == ["student", "bot", "student"]  # the bot's part too
    assert detail["notes"][0]["text"] == "学生情绪稳定，先了解情况" and detail["notes"][0]["actor_name"] == "王老师"
    assert all("学生情绪稳定" not in m.text for m in desk.messages())
    assert detail["reason_label"] == "学生要求人工" and detail["last_text"] == "转人工"


async def test_unanswered_chat_returns_to_the_bot_with_a_notice(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["wang"], ticket_id)
    await desk.handoffs.reply(staff["wang"], ticket_id, "你好，请说")
    desk.clock.at += timedelta(minutes=1)
    assert await desk.say("我还是不知道该怎么办") == []  # the student answers; the bot stays silent
    desk.clock.at += timedelta(minutes=9)
    assert await desk.handoffs.sweep() == 0  # 9 minutes: not yet
    desk.clock.at += timedelta(minutes=2)
    assert await desk.handoffs.sweep() == 1
    ticket = desk.ticket()
    assert ticket.status == "returned" and ticket.open_key is None
    assert desk.conversation().state == "bot"
    assert "已为你转回智能助手" in desk.messages()[-1].text
    assert texts_of(await desk.say("图书馆几点开门"))[-1] == "机器人回答：图书馆几点开门"
    with desk.sessions() as session:
        kinds = session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)).all()
    assert kinds == ["created", "claimed", "returned"]


async def test_a_chat_where_staff_spoke_last_is_not_returned(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    desk.handoffs.claim(staff["wang"], ticket_id)
    desk.clock.at += timedelta(seconds=30)
    await desk.handoffs.reply(staff["wang"], ticket_id, "你好")
    desk.clock.at += timedelta(hours=2)
    assert await desk.handoffs.sweep() == 0


async def test_canned_replies_admins_edit_staff_read(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    added = desk.handoffs.add_canned(staff["admin"], "mental_health", "问候", "同学你好，我是心理中心的老师。")
    desk.handoffs.add_canned(staff["admin"], None, "结束语", "还有其他问题吗？")
    desk.handoffs.add_canned(staff["admin"], "campus_card", "挂失", "请先在校园卡APP挂失。")
    titles = [c["title"] for c in desk.handoffs.canned(staff["wang"], None)]
    assert titles == ["问候", "结束语"]
    desk.handoffs.delete_canned(staff["admin"], added["id"])
    assert [c["title"] for c in desk.handoffs.canned(staff["wang"], "mental_health")] == ["结束语"]
    with pytest.raises(NotFound):
        desk.handoffs.delete_canned(staff["admin"], added["id"])


def test_office_hours_parse_and_describe() -> None:
    hours = OfficeHours.parse("mon-fri: 08:30-11:30, 14:00-17:30; sat: 09:00-12:00")
    assert hours.is_open(MONDAY_10AM) and not hours.is_open(MONDAY_10AM.replace(hour=12))
    assert hours.next_opening(MONDAY_10AM.replace(hour=12)) == MONDAY_10AM.replace(hour=14, minute=0)
    assert describe_opening(hours.next_opening(FRIDAY_6PM), FRIDAY_6PM) == "明天 9:00"  # Saturday morning
    weekday_only = OfficeHours.parse("mon-fri: 08:30-11:30, 14:00-17:30")
    assert describe_opening(weekday_only.next_opening(FRIDAY_6PM), FRIDAY_6PM) == "周一 8:30"
    assert describe_opening(weekday_only.next_opening(MONDAY_10AM.replace(hour=12)), MONDAY_10AM) == "今天 14:00"
    assert weekday_only.last_closing(MONDAY_10AM.replace(hour=12)) == MONDAY_10AM.replace(hour=11, minute=30)
    assert weekday_only.last_closing(MONDAY_10AM) == FRIDAY_6PM.replace(hour=17, minute=30)
    for bad in ["", "mon-fri 08:30-11:30", "someday: 08:30-11:30", "mon: 17:00-08:00"]:
        with pytest.raises(ScheduleSpecError):
            parse_hours(bad)


def test_seeded_canned_replies_per_department(sessions: sessionmaker, seed_kb, staff) -> None:  # type: ignore[no-untyped-def]
    from desk.staff import canned_replies

    entries = canned_replies.load_seed()
    departments = {d.id for d in seed_kb.departments}
    assert {dep for dep, _t, _x in entries} - {None} <= departments  # every key is a catalog department
    assert {dep for dep, _t, _x in entries} >= departments  # and every department has some
    with sessions() as session, session.begin():
        added = canned_replies.seed(session)
        assert added == len(entries) and canned_replies.seed(session) == 0  # only into an empty table
    with sessions() as session:
        titles = [c["title"] for c in canned_replies.for_user(session, staff["wang"], None)]
    assert "倾听与共情" in titles and "接入问候" in titles and "挂失补办" not in titles


async def test_at_closing_time_students_still_waiting_get_their_message_kept(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    await desk.say("转人工")
    await desk.say("我不想活了", conv="web:urgent")
    desk.clock.at = MONDAY_10AM.replace(hour=11, minute=20)
    assert await desk.handoffs.sweep() == 0 and desk.ticket().status == "queued"  # still open
    desk.clock.at = MONDAY_10AM.replace(hour=11, minute=31)  # the morning session is over
    await desk.handoffs.sweep()
    ticket = desk.ticket()
    assert (ticket.status, desk.conversation().state) == ("message", "bot")
    notice = desk.messages()[-1]
    assert "人工服务时间已结束" in notice.text and "老师预计今天 14:00后回复" in notice.text
    assert desk.ticket("web:urgent").status == "queued"  # urgent tickets wait for the 24-hour duty
    assert [t["conversation_id"] for t in desk.handoffs.queue(staff["wang"])] == ["web:urgent", "web:s1"]
    assert texts_of(await desk.say("图书馆几点开门"))[-1] == "机器人回答：图书馆几点开门"  # the bot helps meanwhile


async def test_a_transfer_outside_office_hours_says_when_the_other_office_replies(sessions, staff) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, Clock(FRIDAY_6PM))
    await desk.say("转人工")
    ticket_id = desk.ticket().id
    moved = await desk.handoffs.transfer(staff["wang"], ticket_id, "campus_card", "")
    assert moved["status"] == "message" and desk.conversation().state == "bot"
    assert desk.messages()[-1].text == (
        "你的问题已转给校园卡服务中心的老师。现在是非工作时间，老师预计周一 8:30后回复，回复会发到这里。"
    )

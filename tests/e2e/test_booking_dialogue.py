"""End to end: a student books 心理咨询 in the web chat, sees it under 我的预约, moves it and cancels it.

Real Rasa, action server and desk processes (tests/stack.py) on the stack's frozen clock,
E2E_NOW = Tuesday 1 December 2026, 10:00: 下周三 is 9 December and 下周五 11 December.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from desk.models import HandoffRequest
from desk.staff import accounts
from knowledge_base.booking.models import Booking, StudentContact
from knowledge_base.timeexpr import TZ
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

pytestmark = pytest.mark.e2e

ROOM = "大学生活动中心3楼 个体咨询室"  # where 心理咨询 takes place (seed)


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in replies]


def button(replies: list[dict[str, Any]], title: str) -> dict[str, str]:
    return next(b for r in replies for b in r.get("buttons") or [] if b["title"] == title)


async def tap(chat: ChatClient, replies: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    """Press the button with this title, as the page does (its title as text, its payload)."""
    pressed = button(replies, title)
    return await chat.ask(pressed["title"], payload=pressed["payload"])


async def staff_page(stack: Stack, path: str) -> str:
    """A page of the desk as a member of the 心理中心 staff sees it (logged in through the form)."""
    username, password = f"psy{datetime.now().strftime('%H%M%S%f')}", "correct horse battery"
    with stack.sessions()() as session, session.begin():
        accounts.create_user(session, username, password, display_name="李老师", departments=["mental_health"])
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        form = (await http.get("/staff/login")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        login = await http.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})
        assert login.status_code in (200, 303), login.text
        page = await http.get(path)
        assert page.status_code == 200, page.text
        return page.text


def rows(stack: Stack) -> list[Booking]:
    with stack.sessions()() as session:
        return list(session.scalars(select(Booking).order_by(Booking.id)))


async def test_book_list_move_and_cancel_counseling(chat: ChatClient, stack: Stack) -> None:
    ask_time = await chat.ask("我想预约心理咨询")
    assert texts(ask_time)[-1].startswith("想约心理咨询的什么时间？")
    assert ask_time[-1]["buttons"]  # the nearest free slots

    ask_name = await chat.ask("下周三下午两点")
    assert texts(ask_name) == [
        "第一次预约需要登记联系方式（加密保存，只用于预约和提醒，下次不用再填）。请问你的姓名是？"
    ]
    assert texts(await chat.ask("王小明")) == ["请输入你的学号："]
    bad_phone = await chat.ask("2023010123")
    assert texts(bad_phone) == ["请输入你的手机号（11位）："]
    assert texts(await chat.ask("1381234")) == [
        "手机号格式不对：请输入11位中国大陆手机号，比如“13812345678”。",
        "请输入你的手机号（11位）：",
    ]
    saved, summary = await chat.ask("13812345678")
    assert saved["text"] == "联系方式已加密保存，下次预约不用再填。"
    assert summary["text"] == (
        "请确认预约信息：\n· 服务：心理咨询（心理健康教育与咨询中心）\n· 时间：12月9日（周三）14:00（每次约50分钟）\n"
        "· 地点：大学生活动中心3楼 个体咨询室\n· 联系人：王**，学号 20******23，手机 138****5678\n确认预约吗？"
    )
    assert [b["title"] for b in summary["buttons"]] == ["确认预约", "取消"]

    [done] = await tap(chat, [summary], "确认预约")
    match = re.search(r"预约码：([2-9A-HJ-NP-Z]{8})", done["text"])
    assert done["text"].startswith("预约成功！") and match, done["text"]
    code = match.group(1)
    for part in (
        "· 时间：12月9日（周三）14:00-14:50",
        "· 地点：大学生活动中心3楼 个体咨询室",
        "· 请带上：校园卡或电子校园卡",
    ):
        assert part in done["text"]
    [row] = [r for r in rows(stack) if r.code == code]  # other tests may have booked too
    assert (row.code, row.service_id, row.status) == (code, "counseling", "booked")
    assert row.starts_at.astimezone(TZ) == datetime(2026, 12, 9, 14, 0, tzinfo=TZ)
    assert "13812345678" not in row.contact  # contact details are encrypted
    with stack.sessions()() as session:
        assert "王小明" not in session.scalars(select(StudentContact.contact)).one()

    header, item = await chat.ask("我的预约")
    assert header["text"] == "你有 1 个待办预约："
    wednesday = "12月9日（周三）14:00-14:50"
    assert item["text"] == f"预约码 {code}｜心理咨询\n· 时间：{wednesday}\n· 地点：{ROOM}\n· 老师：王老师"
    assert [b["title"] for b in item["buttons"]] == [f"改时间 {code}", f"取消 {code}"]

    [confirm_move] = await chat.ask("改到下周五下午三点")
    assert confirm_move["text"] == (
        f"把预约 {code}（心理咨询）从 12月9日（周三）14:00-14:50 改到 12月11日（周五）15:00-15:50，确认吗？"
    )
    [moved] = await tap(chat, [confirm_move], "确认修改")
    assert moved["text"] == f"已改好：预约 {code}（心理咨询）改到 12月11日（周五）15:00-15:50，地点：{ROOM}。"
    [row] = [r for r in rows(stack) if r.code == code]  # other tests may have booked too
    assert row.starts_at.astimezone(TZ) == datetime(2026, 12, 11, 15, 0, tzinfo=TZ) and row.status == "booked"

    # the office sees it in the desk: who, when, what, the contact masked
    page = await staff_page(stack, "/staff/appointments?day=2026-12-11")
    assert code in page and "心理咨询" in page and "15:00" in page
    assert "138****5678" in page and "13812345678" not in page

    [confirm_cancel] = await tap(chat, [item], f"取消 {code}")
    assert confirm_cancel["text"] == f"确定要取消预约 {code}（心理咨询，12月11日（周五）15:00-15:50）吗？"
    [cancelled] = await tap(chat, [confirm_cancel], "确认取消")
    assert cancelled["text"] == f"已取消预约 {code}（心理咨询，12月11日（周五）15:00-15:50）。需要时可以重新预约。"
    [row] = [r for r in rows(stack) if r.code == code]  # other tests may have booked too
    assert row.status == "cancelled" and row.cancelled_at is not None

    [none] = await chat.ask("我的预约")
    assert none["text"].startswith("你目前没有待办的预约。")


async def test_never_mind_in_the_middle_of_booking_leaves_politely(chat: ChatClient, stack: Stack) -> None:
    before = len(rows(stack))
    await chat.ask("帮我约个职业规划咨询")
    assert texts(await chat.ask("算了 不约了")) == ["好的，这次先不预约了。需要的时候随时说“预约”。"]
    assert len(rows(stack)) == before
    assert "你好" in "".join(texts(await chat.ask("你好")))  # the form is over: the bot answers as usual
    [none] = await chat.ask("取消预约")  # nothing to cancel: said once, no form is started
    assert none["text"].startswith("你目前没有待办的预约。")
    assert "你好" in "".join(texts(await chat.ask("你好")))


async def test_a_campus_question_in_the_middle_is_answered_then_the_form_asks_again(
    chat: ChatClient, stack: Stack
) -> None:
    first = await chat.ask("我想预约开在读证明")
    assert texts(first)[-1].startswith("想约在读证明与成绩单开具的什么时间？")
    answer, again = await chat.ask("校园卡丢了怎么办")
    assert "挂失" in answer["text"]
    assert again["text"] == texts(first)[-1]  # the same question again, same buttons
    [ask_name] = await chat.ask("下周一上午九点")
    assert ask_name["text"].endswith("请问你的姓名是？")
    handoff = await chat.ask("转人工")  # a person: the form ends with the handoff
    assert any("老师" in t for t in texts(handoff)) and not any("姓名" in t for t in texts(handoff))
    with stack.sessions()() as session:
        request = session.scalars(
            select(HandoffRequest).where(HandoffRequest.conversation_id == chat.conversation_id)
        ).one()
    assert request.reason == "request"
    tracker = httpx.get(
        f"{stack.settings.rasa.url}/conversations/{chat.conversation_id}/tracker",
        params={"token": stack.settings.rasa.token},
        timeout=30,
    ).json()
    assert not (tracker.get("active_loop") or {}).get("name")  # the form is over

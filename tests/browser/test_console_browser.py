"""The staff console in a real browser against the real stack: a student asks for a person in the web
chat, a staff member sees the ticket arrive live, claims it, replies, closes it, and the student rates."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from desk.models import CannedReply, Conversation, HandoffRequest, Message
from desk.staff import accounts
from tests.browser.conftest import screenshot_path
from tests.stack import Stack

pytestmark = pytest.mark.browser
PASSWORD = "console-test-password"
# actions/handoff.py: a plain request for a person with no service in the conversation goes to the
# one-stop community centre; the other departments are there in case the bot resolved a service.
DEPARTMENTS = ["community", "student_affairs", "academic_affairs"]


@pytest.fixture
def staff_member(stack: Stack) -> dict[str, Any]:
    username = f"zhang{uuid.uuid4().hex[:6]}"
    with stack.sessions()() as session, session.begin():
        user, _ = accounts.create_user(session, username, PASSWORD, display_name="张老师", departments=DEPARTMENTS)
        return {"id": user.id, "username": username}


@pytest.fixture
def other_tickets(stack: Stack) -> Iterator[dict[str, int]]:
    """Two more students waiting (Telegram, WeChat) and canned replies, so the console looks like a
    working day; closed again afterwards so later tests start from an empty queue."""
    now = stack.now()
    rows = [
        ("tg:" + uuid.uuid4().hex[:8], "mental_health", "crisis", "urgent", "最近压力特别大，晚上睡不着", 95),
        ("wx:" + uuid.uuid4().hex[:8], "student_affairs", "complaint", "high", "奖学金评定结果有问题，我要投诉", 420),
    ]
    tried = {  # what actions/handoff.py sends: per question, the decision and the top matches
        "service": "financial_aid_consulting",
        "slots": {"faq_give_ups": 1},
        "faq_candidates": [
            {
                "message": "奖学金评定结果有问题",
                "decision": "suggest",
                "candidates": [{"faq_id": "scholarship_national", "question": "国家奖学金怎么申请", "score": 0.612}],
            }
        ],
    }
    ids = []
    with stack.sessions()() as session, session.begin():
        for conv, department, reason, priority, text, ago in rows:
            at = now - timedelta(seconds=ago)
            session.add(Conversation(id=conv, channel=conv.split(":")[0], state="queued"))
            session.flush()
            session.add(Message(conversation_id=conv, role="student", text=text, created_at=at))
            ticket = HandoffRequest(
                conversation_id=conv, department_id=department, reason=reason, priority=priority, status="queued",
                open_key=conv, created_at=at, queued_at=at, last_student_at=at,
                packet={"department": department, "reason": reason, "priority": priority, "summary": [text],
                        **(tried if conv.startswith("wx:") else {})},
            )  # fmt: skip
            session.add(ticket)
            session.flush()
            ids.append(ticket.id)
        canned = [
            ("community", "问候", "同学你好，我是学生社区的值班老师，请问有什么可以帮你？"),
            ("community", "请提供学号", "麻烦提供一下你的学号和姓名，我帮你查询。"),
            (None, "结束语", "还有其他问题随时找我们，祝你学习顺利！"),
        ]
        session.add_all(CannedReply(department_id=d, title=t, text=x, position=i) for i, (d, t, x) in enumerate(canned))
    yield {"urgent": ids[0], "complaint": ids[1]}
    with stack.sessions()() as session, session.begin():
        for row in session.scalars(select(HandoffRequest).where(HandoffRequest.id.in_(ids))):
            row.status, row.open_key, row.closed_at = "closed", None, stack.now()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """The staff member's own browser (a second context: separate cookies from the student's)."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", bypass_csp=True
    )  # conftest.py
    page = context.new_page()
    yield page
    context.close()


def queued_ticket(stack: Stack, conv: str, text: str, summary: str) -> int:
    """A queued ticket of the front desk written straight to the database; returns its id."""
    with stack.sessions()() as session, session.begin():
        session.add(Conversation(id=conv, channel=conv.split(":", 1)[0], state="queued"))
        session.flush()
        session.add(Message(conversation_id=conv, role="student", text=text))
        ticket = HandoffRequest(
            conversation_id=conv, department_id="community", reason="request", priority="normal", status="queued",
            open_key=conv, queued_at=stack.now(), packet={"department": "community", "summary": [summary]},
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        return ticket.id


def wait_row(stack: Stack, conversation_id: str, check: Any, timeout: float = 20) -> HandoffRequest:
    """The conversation's ticket once `check(row)` holds (the desk commits in its own process)."""
    deadline = time.monotonic() + timeout
    factory = stack.sessions()
    while True:
        with factory() as session:
            row = session.scalars(
                select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)
                .order_by(HandoffRequest.id.desc())
            ).first()  # fmt: skip
            if row is not None and check(row):
                return row
        if time.monotonic() > deadline:
            pytest.fail(f"ticket never reached the expected state: {row and (row.status, row.rating)}")
        time.sleep(0.3)


def test_student_asks_for_a_person_staff_claims_replies_closes_and_the_rating_is_stored(
    stack: Stack, phone: Any, desktop: Any, staff_member: dict[str, Any], other_tickets: dict[str, int]
) -> None:
    staff, student = desktop, phone

    # The staff member logs in and keeps the console open.
    staff.goto(stack.base_url + "/staff/login")
    staff.fill("#username", staff_member["username"])
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(re.compile(r"/staff/$"))
    staff.wait_for_function("window.staffConsole && window.staffConsole.connected()", timeout=15_000)
    assert "张老师" in staff.locator(".who").inner_text()

    # The handoff packet of a waiting WeChat complaint: the service by name, what the bot tried and how sure it was.
    staff.locator(f'.qitem[data-id="{other_tickets["complaint"]}"]').click()
    packet = staff.locator("#packet")
    packet.locator("dd", has_text="奖助学金与家庭经济困难认定咨询").wait_for(timeout=10_000)
    tried = packet.locator(".tried li", has_text="国家奖学金怎么申请").first
    assert "0.61" in tried.inner_text() and "给了相近问题" in packet.inner_text()
    assert "机器人连续未答上：1" in packet.inner_text()

    # The student asks for a person in the web chat.
    student.goto(stack.base_url + "/")
    student.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    conversation_id = student.evaluate("window.webchat.conversationId")
    student.fill("#chat-input", "我要找老师")
    student.keyboard.press("Enter")
    ticket = wait_row(stack, conversation_id, lambda r: r.status in ("queued", "message"), timeout=40)
    assert ticket.department_id in DEPARTMENTS

    # The ticket appears in the open console without a reload; the staff member opens and claims it.
    item = staff.locator(f'.qitem[data-id="{ticket.id}"]')
    item.wait_for(timeout=15_000)
    assert "待接入" in item.inner_text()
    item.click()
    staff.locator("#ticket").wait_for(state="visible")
    staff.locator("#transcript .tmsg-student", has_text="我要找老师").wait_for(timeout=10_000)
    staff.click("#btn-claim")
    staff.locator("#t-status", has_text="张老师 已接入").wait_for(timeout=10_000)
    staff.locator(f'.qitem[data-id="{ticket.id}"] .claimer', has_text="张老师 已接入").wait_for(timeout=10_000)
    wait_row(stack, conversation_id, lambda r: r.status == "claimed" and r.claimed_by == staff_member["id"])

    # The reply reaches the student's chat.
    reply = "同学你好，我是学生社区的张老师，请问有什么可以帮你？"
    staff.fill("#reply-text", reply)
    staff.click("#btn-reply")
    student.locator('.msg[data-role="staff"]', has_text=reply).wait_for(timeout=15_000)
    staff.locator("#transcript .tmsg-staff", has_text=reply).wait_for(timeout=10_000)

    # Markup a student types is shown as text in the console, never run.
    student.fill("#chat-input", '<img src=x onerror="window.__pwned=1">校园卡充值失败了')
    student.click("#chat-send")
    staff.locator("#transcript .tmsg-student", has_text="<img src=x").wait_for(timeout=15_000)
    assert staff.evaluate("window.__pwned === undefined")
    assert staff.locator("#transcript img").count() == 0

    staff.fill("#note-text", "学生校园卡充值失败，已请其提供卡号后四位")
    staff.click("#btn-note")
    staff.locator("#notes .note-note", has_text="卡号后四位").wait_for(timeout=10_000)
    staff.locator("#canned .canned-use", has_text="请提供学号").click()  # a canned reply fills the box
    assert staff.input_value("#reply-text") == "麻烦提供一下你的学号和姓名，我帮你查询。"
    staff.evaluate("document.getElementById('toast').hidden = true")
    staff.wait_for_timeout(300)
    staff.screenshot(path=str(screenshot_path("console.png")))

    # Staff closes with a resolution; the bot asks the student for a rating; the student taps 5.
    staff.click("#btn-close")
    staff.fill("#close-resolution", "已查到充值记录，款项将在24小时内到账")
    staff.click("#close-ok")
    staff.locator(f'.qitem[data-id="{ticket.id}"]').wait_for(state="detached", timeout=10_000)
    five = student.locator("button.chip", has_text=re.compile(r"^\s*5"))
    five.last.wait_for(timeout=20_000)
    five.last.click()
    row = wait_row(stack, conversation_id, lambda r: r.rating is not None)
    assert (row.status, row.rating, row.closed_by, row.resolution) == (
        "closed", 5, staff_member["id"], "已查到充值记录，款项将在24小时内到账"
    )  # fmt: skip


def test_a_new_urgent_ticket_rings_and_blinks_the_title(
    stack: Stack, phone: Any, desktop: Any, staff_member: dict[str, Any]
) -> None:
    """Staff of other departments see every urgent ticket, at once, with a sound and a blinking title."""
    staff, student = desktop, phone
    staff.goto(stack.base_url + "/staff/login")
    staff.fill("#username", staff_member["username"])
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_function("window.staffConsole && window.staffConsole.connected()", timeout=15_000)
    title = staff.title()

    student.goto(stack.base_url + "/")
    student.wait_for_function("window.webchat && window.webchat.connected()", timeout=15_000)
    conversation_id = student.evaluate("window.webchat.conversationId")
    student.fill("#chat-input", "我撑不下去了，不想活了")
    student.keyboard.press("Enter")
    student.locator('.msg[data-role="bot"]', has_text="12356").last.wait_for(timeout=30_000)
    ticket = wait_row(stack, conversation_id, lambda r: r.priority == "urgent")
    assert ticket.department_id not in DEPARTMENTS  # visible only because it is urgent

    staff.wait_for_function("document.title.startsWith('【紧急】')", timeout=15_000)
    assert staff.evaluate("window.staffConsole.beeps") >= 1
    # urgent tickets lead the queue (other tests of the shared stack may have left urgent ones too)
    items = staff.locator(".qitem")
    ids = [items.nth(i).get_attribute("data-id") for i in range(items.count())]
    mine = items.nth(ids.index(str(ticket.id)))
    assert "紧急" in mine.inner_text()
    assert all("紧急" in items.nth(i).inner_text() for i in range(ids.index(str(ticket.id))))
    mine.click()  # the staff member acknowledges: the title stops blinking
    staff.wait_for_function(f"document.title === {title!r}", timeout=5_000)


def test_the_console_reconnects_after_a_desk_restart_and_reloads_the_queue(
    stack: Stack, desktop: Any, staff_member: dict[str, Any]
) -> None:
    """A ticket that arrived while the console was cut off shows up once it is back, without a reload."""
    from desk.ops import supervisor

    staff = desktop
    staff.goto(stack.base_url + "/staff/login")
    staff.fill("#username", staff_member["username"])
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_function("window.staffConsole && window.staffConsole.connected()", timeout=15_000)
    desk = stack.child("desk")
    assert desk.proc is not None
    desk.proc.terminate()
    desk.proc.wait(timeout=30)
    staff.wait_for_function("!window.staffConsole.connected()", timeout=15_000)
    staff.locator("#conn.off").wait_for(timeout=10_000)

    # a ticket taken in meanwhile (e.g. by another desk process)
    ticket_id = queued_ticket(stack, "tg:" + uuid.uuid4().hex[:8], "宿舍空调坏了，能找人来修吗", "宿舍空调坏了")
    try:
        supervisor.start(desk)
        assert supervisor.wait_ready(stack.settings, stack.children, timeout=120)
        staff.wait_for_function("window.staffConsole.connected()", timeout=30_000)
        item = staff.locator(f'.qitem[data-id="{ticket_id}"]')
        item.wait_for(timeout=15_000)
        assert "宿舍空调坏了" in item.inner_text()
        assert staff.locator("#conn.on").is_visible()
    finally:
        with stack.sessions()() as session, session.begin():
            row = session.get(HandoffRequest, ticket_id)
            row.status, row.open_key, row.closed_at = "closed", None, stack.now()


def test_staff_transfer_a_ticket_with_a_note(stack: Stack, desktop: Any, staff_member: dict[str, Any]) -> None:
    conv = f"web:{uuid.uuid4()}"
    ticket_id = queued_ticket(stack, conv, "我想问一下助学贷款的续贷", "助学贷款续贷")
    staff = desktop
    staff.goto(stack.base_url + "/staff/login")
    staff.fill("#username", staff_member["username"])
    staff.fill("#password", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_function("window.staffConsole && window.staffConsole.connected()", timeout=15_000)
    staff.locator(f'.qitem[data-id="{ticket_id}"]').click()
    staff.click("#btn-transfer")
    staff.select_option("#transfer-dept", "student_affairs")
    staff.fill("#transfer-note", "助学贷款归学生工作处")
    staff.click("#transfer-ok")
    staff.locator(f'.qitem[data-id="{ticket_id}"] .qdept', has_text="学生工作处").wait_for(timeout=10_000)
    staff.locator(
        "#notes .note-transferred", has_text="一站式学生社区服务中心 → 学生工作处：助学贷款归学生工作处"
    ).wait_for(timeout=10_000)
    row = wait_row(stack, conv, lambda r: r.department_id == "student_affairs")
    assert (row.status, row.claimed_by) == ("queued", None)  # the stack's clock is inside office hours
    with stack.sessions()() as session, session.begin():
        texts = [m.text for m in session.scalars(select(Message).where(Message.conversation_id == conv))]
        row = session.get(HandoffRequest, ticket_id)
        row.status, row.open_key, row.closed_at = "closed", None, stack.now()
    assert any("学生工作处" in t for t in texts[1:])  # the student is told where the chat went
    assert not any("助学贷款归学生工作处" in t for t in texts)  # the note stays internal

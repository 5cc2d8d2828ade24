"""The staff console's API and websocket: CSRF, who sees what, claim races, replies reaching the student."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from desk.main import create_app
from desk.models import Conversation, HandoffRequest, Message
from desk.settings import Settings
from desk.staff import accounts
from desk.staff.console_hub import StaffHub, origin_allowed
from knowledge_base.models import utcnow

PASSWORD = "correct-horse-battery"
HOST = "testserver"


def log_in(client: TestClient, username: str) -> str:
    """Log in through the form; returns the session's CSRF token as the console page carries it."""
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    resp = client.post(
        "/staff/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    console = client.get("/staff/")
    assert console.status_code == 200
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', console.text).group(1)  # type: ignore[union-attr]


class Staff:
    """A logged-in browser of one person: its own cookies and CSRF token."""

    def __init__(self, app: Any, username: str) -> None:
        self.client = TestClient(app)
        self.csrf = log_in(self.client, username)

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers={"X-CSRF-Token": self.csrf})


def make_ticket(sessions: Any, conv: str, department: str, priority: str = "normal", reason: str = "request") -> int:
    """An open ticket as the gateway leaves it: the conversation waits in the queue."""
    with sessions() as session, session.begin():
        session.add(Conversation(id=conv, channel=conv.split(":")[0], state="queued"))
        session.flush()
        session.add(Message(conversation_id=conv, role="student", text="<script>alert('x')</script>我要找老师"))
        ticket = HandoffRequest(
            conversation_id=conv,
            department_id=department,
            reason=reason,
            priority=priority,
            status="queued",
            open_key=conv,
            queued_at=utcnow(),
            packet={"department": department, "reason": reason, "priority": priority, "summary": ["我要找老师"]},
        )
        session.add(ticket)
        session.flush()
        return ticket.id


@pytest.fixture
def app(settings: Settings, sessions) -> Any:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        accounts.create_user(session, "admin", PASSWORD, display_name="管理员", is_admin=True)
        accounts.create_user(session, "wang", PASSWORD, display_name="王老师", departments=["mental_health"])
        accounts.create_user(session, "zhao", PASSWORD, display_name="赵老师", departments=["mental_health"])
        accounts.create_user(session, "li", PASSWORD, display_name="李老师", departments=["campus_card"])
    application = create_app(settings)
    with TestClient(application):  # runs the lifespan: app.state is wired for every client below
        yield application


@pytest.fixture
def tickets(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        "psy": make_ticket(sessions, "web:psy", "mental_health"),
        "card": make_ticket(sessions, "web:card", "campus_card", "high", "complaint"),
        "urgent": make_ticket(sessions, "tg:42", "community", "urgent", "crisis"),
    }


def test_the_console_replaces_the_workbench(app: Any) -> None:
    wang = Staff(app, "wang")
    page = wang.get("/staff/").text
    assert "人工服务台" in page and "王老师" in page
    assert 'href="/staff/appointments"' in page and "预约管理" in page and "退出" in page
    assert "/static/console.js" in page and "未送达的消息（0）" in page


def test_actions_need_the_csrf_header(app: Any, tickets: dict[str, int]) -> None:
    wang = Staff(app, "wang")
    url = f"/api/staff/tickets/{tickets['psy']}/claim"
    assert wang.client.post(url, json={}).status_code == 403
    assert wang.client.post(url, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert wang.client.post("/api/staff/tickets/1/note", json={"text": "x"}).status_code == 403
    assert wang.get(f"/api/staff/tickets/{tickets['psy']}").json()["status"] == "queued"  # nothing happened
    assert wang.post(url).status_code == 200


def test_staff_see_their_departments_and_every_urgent_ticket_admins_all(app: Any, tickets: dict[str, int]) -> None:
    wang, li, admin = Staff(app, "wang"), Staff(app, "li"), Staff(app, "admin")
    assert [t["id"] for t in wang.get("/api/staff/tickets").json()] == [tickets["urgent"], tickets["psy"]]
    assert [t["id"] for t in li.get("/api/staff/tickets").json()] == [tickets["urgent"], tickets["card"]]
    everything = admin.get("/api/staff/tickets").json()
    assert [t["id"] for t in everything] == [tickets["urgent"], tickets["card"], tickets["psy"]]
    assert everything[0]["priority"] == "urgent" and everything[1]["department"] == "校园卡服务中心"
    # another department's ticket does not exist for wang: no reading, no claiming, no notes
    assert wang.get(f"/api/staff/tickets/{tickets['card']}").status_code == 404
    assert wang.post(f"/api/staff/tickets/{tickets['card']}/claim").status_code == 404
    assert wang.post(f"/api/staff/tickets/{tickets['card']}/note", {"text": "看看"}).status_code == 404
    assert wang.get(f"/api/staff/tickets/{tickets['urgent']}").status_code == 200


def test_two_staff_claiming_at_once_one_wins_the_other_is_told_who(app: Any, tickets: dict[str, int]) -> None:
    wang, zhao = Staff(app, "wang"), Staff(app, "zhao")
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def claim(name: str, who: Staff) -> None:
        barrier.wait()
        results[name] = who.post(f"/api/staff/tickets/{tickets['psy']}/claim")

    threads = [threading.Thread(target=claim, args=(n, w)) for n, w in (("wang", wang), ("zhao", zhao))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    winner = next(n for n, r in results.items() if r.status_code == 200)
    loser = results["zhao" if winner == "wang" else "wang"]
    assert loser.json()["detail"] == f"已被{ {'wang': '王老师', 'zhao': '赵老师'}[winner] }接入"
    ticket = wang.get(f"/api/staff/tickets/{tickets['psy']}").json()
    assert ticket["status"] == "claimed" and ticket["claimed_by_name"] in ("王老师", "赵老师")


def test_a_reply_reaches_the_students_web_chat(app: Any, sessions) -> None:  # type: ignore[no-untyped-def]
    student = TestClient(app)
    conv = student.post("/api/webchat/session").json()["conversation_id"]
    with student.websocket_connect("/ws/webchat") as ws:
        ws.send_json({"type": "message", "text": "我真的不想活了", "client_id": "c-1"})  # crisis: works without Rasa
        while ws.receive_json() != {"type": "typing", "on": False}:
            pass
        wang = Staff(app, "wang")
        queue = wang.get("/api/staff/tickets").json()
        ticket = next(t for t in queue if t["conversation_id"] == conv)
        assert ticket["priority"] == "urgent" and ticket["department_id"] == "mental_health"
        assert wang.post(f"/api/staff/tickets/{ticket['id']}/claim").status_code == 200
        reply = wang.post(f"/api/staff/tickets/{ticket['id']}/reply", {"text": "我是王老师，我在这里陪着你。"})
        assert reply.status_code == 200, reply.text
        seen = []
        while not any(m.get("role") == "staff" for m in seen):
            frame = ws.receive_json()
            if frame["type"] == "message":
                seen.append(frame["message"])
    staff_msg = next(m for m in seen if m["role"] == "staff")
    assert staff_msg["text"] == "我是王老师，我在这里陪着你。" and staff_msg["sender_name"] == "王老师（心理中心）"
    with sessions() as session:
        stored = session.query(Message).filter_by(conversation_id=conv, role="staff").all()
    assert [m.text for m in stored] == ["我是王老师，我在这里陪着你。"]
    history = student.post("/api/webchat/session").json()["messages"]
    assert any(m["role"] == "staff" and "王老师" in m["text"] for m in history)


def test_only_the_claimer_replies_and_bad_input_gets_a_chinese_error(app: Any, tickets: dict[str, int]) -> None:
    wang, zhao = Staff(app, "wang"), Staff(app, "zhao")
    url = f"/api/staff/tickets/{tickets['psy']}"
    assert wang.post(f"{url}/reply", {"text": "你好"}).status_code == 409  # not claimed yet
    assert wang.post(f"{url}/claim").status_code == 200
    assert zhao.post(f"{url}/reply", {"text": "你好"}).status_code == 409  # claimed by someone else
    empty = wang.post(f"{url}/reply", {"text": "   "})
    assert empty.status_code == 400 and empty.json()["detail"] == "请填写回复内容"
    long = wang.post(f"{url}/reply", {"text": "字" * 2001})
    assert long.status_code == 400 and "最长2000个字" in long.json()["detail"]
    broken = wang.client.post(
        f"{url}/reply", content=b"not json", headers={"X-CSRF-Token": wang.csrf, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and "请求格式错误" in broken.json()["detail"]
    assert wang.post(f"{url}/close", {"resolution": ""}).json()["detail"] == "请填写处理结果"
    unknown = wang.post(f"{url}/transfer", {"department_id": "no_such", "note": ""})
    assert unknown.status_code == 400 and "没有这个部门" in unknown.json()["detail"]
    not_an_object = wang.client.post(f"{url}/note", json=["看看"], headers={"X-CSRF-Token": wang.csrf})
    assert not_an_object.status_code == 400 and "请求格式错误" in not_an_object.json()["detail"]
    assert wang.post(f"{url}/note", {"text": None}).json()["detail"] == "请填写备注内容"
    assert wang.post(f"{url}/note", {"text": 42}).json()["detail"] == "备注内容格式错误"
    missing = wang.post("/api/staff/tickets/999999/claim")
    assert missing.status_code == 404 and missing.json()["detail"] == "找不到这个工单，或你没有查看它的权限"


def test_notes_transfer_and_close(app: Any, tickets: dict[str, int], sessions) -> None:  # type: ignore[no-untyped-def]
    wang, li = Staff(app, "wang"), Staff(app, "li")
    url = f"/api/staff/tickets/{tickets['psy']}"
    assert wang.post(f"{url}/claim").status_code == 200
    assert wang.post(f"{url}/note", {"text": "学生问的是校园卡充值，不是心理问题"}).status_code == 200
    detail = wang.get(url).json()
    notes = [e for e in detail["events"] if e["kind"] == "note"]
    assert [n["text"] for n in notes] == ["学生问的是校园卡充值，不是心理问题"]
    with sessions() as session:  # a note is internal: never a message to the student
        texts = [m.text for m in session.query(Message).filter_by(conversation_id="web:psy")]
    assert "学生问的是校园卡充值，不是心理问题" not in texts
    moved = wang.post(f"{url}/transfer", {"department_id": "campus_card", "note": "充值问题"})
    assert moved.status_code == 200, moved.text
    assert wang.get(url).status_code == 404  # no longer wang's department
    assert tickets["psy"] in [t["id"] for t in li.get("/api/staff/tickets").json()]
    assert li.post(f"{url}/claim").status_code == 200
    closed = li.post(f"{url}/close", {"resolution": "已告知充值方式"})
    assert closed.status_code == 200, closed.text
    assert tickets["psy"] not in [t["id"] for t in li.get("/api/staff/tickets").json()]
    with sessions() as session:
        row = session.get(HandoffRequest, tickets["psy"])
        assert (row.status, row.resolution, row.department_id) == ("closed", "已告知充值方式", "campus_card")


def test_student_markup_is_data_in_the_api_and_absent_from_the_page(app: Any, tickets: dict[str, int]) -> None:
    admin = Staff(app, "admin")
    resp = admin.get(f"/api/staff/tickets/{tickets['psy']}")
    assert resp.headers["content-type"].startswith("application/json")
    transcript = resp.json()["transcript"]
    assert transcript[0]["text"] == "<script>alert('x')</script>我要找老师"  # a string, for textContent
    assert "<script>alert" not in admin.get("/staff/").text


def test_the_packet_names_the_service_for_staff(app: Any, tickets: dict[str, int], sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        row = session.get(HandoffRequest, tickets["card"])
        row.packet = {**row.packet, "service": "certificate_issuing", "slots": {"faq_give_ups": 2}}
    packet = Staff(app, "li").get(f"/api/staff/tickets/{tickets['card']}").json()["packet"]
    assert packet["service_name"] == "在读证明与成绩单开具" and packet["slots"] == {"faq_give_ups": 2}


def test_canned_replies_are_edited_by_admins_only(app: Any) -> None:
    wang, admin = Staff(app, "wang"), Staff(app, "admin")
    body = {"department_id": "mental_health", "title": "预约咨询", "text": "可以在心理中心公众号预约个体咨询。"}
    assert wang.post("/api/staff/canned", body).status_code == 403
    assert admin.client.post("/api/staff/canned", json=body).status_code == 403  # no CSRF header
    added = admin.post("/api/staff/canned", body)
    assert added.status_code == 200, added.text
    mine = wang.get("/api/staff/canned?department_id=mental_health").json()
    assert any(c["title"] == "预约咨询" for c in mine)
    assert wang.delete(f"/api/staff/canned/{added.json()['id']}").status_code == 403
    assert admin.delete(f"/api/staff/canned/{added.json()['id']}").status_code == 200
    assert not any(c["title"] == "预约咨询" for c in wang.get("/api/staff/canned?department_id=mental_health").json())
    assert admin.post("/api/staff/canned", {"title": "", "text": "x"}).json()["detail"] == "请填写快捷回复标题"
    gone = admin.delete(f"/api/staff/canned/{added.json()['id']}")
    assert gone.status_code == 404 and gone.json()["detail"] == "这条快捷回复不存在或已被删除"


def test_the_socket_needs_a_session_and_the_desks_own_origin(app: Any, sessions) -> None:  # type: ignore[no-untyped-def]
    anonymous = TestClient(app)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        anonymous.websocket_connect("/ws/staff", headers={"Origin": f"http://{HOST}"}) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4401
    wang = Staff(app, "wang")
    for origin in ("http://evil.example", None):
        headers = {"Origin": origin} if origin else {}
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            wang.client.websocket_connect("/ws/staff", headers=headers) as ws,
        ):
            ws.receive_json()
        assert closed.value.code == 4403
    with wang.client.websocket_connect("/ws/staff", headers={"Origin": f"http://{HOST}"}) as ws:
        assert ws.receive_json() == {"type": "hello", "user": "王老师"}
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        with sessions() as session, session.begin():  # an admin disables the account: the feed ends
            session.query(accounts.StaffUser).filter_by(username="wang").update({"active": False})
        ws.send_json({"type": "ping"})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401


def test_the_socket_pushes_new_urgent_tickets_and_their_messages(app: Any) -> None:
    wang = Staff(app, "wang")
    student = TestClient(app)
    student.post("/api/webchat/session")
    with wang.client.websocket_connect("/ws/staff", headers={"Origin": f"http://{HOST}"}) as staff_ws:
        assert staff_ws.receive_json()["type"] == "hello"
        with student.websocket_connect("/ws/webchat") as ws:
            ws.send_json({"type": "message", "text": "我不想活了", "client_id": "c-1"})
            while ws.receive_json() != {"type": "typing", "on": False}:
                pass
        kinds: dict[str, dict[str, Any]] = {}
        while "alert" not in kinds or "message" not in kinds:
            frame = staff_ws.receive_json()
            kinds.setdefault(frame["type"], frame)
        alert, message = kinds["alert"], kinds["message"]
        assert alert["ticket"]["priority"] == "urgent" and alert["ticket"]["department_id"] == "mental_health"
        assert message["ticket_id"] == alert["ticket"]["id"] and "12356" in message["message"]["text"]


def test_the_socket_never_carries_another_departments_chat(app: Any, tickets: dict[str, int]) -> None:
    wang, li = Staff(app, "wang"), Staff(app, "li")
    origin = {"Origin": f"http://{HOST}"}
    with (
        wang.client.websocket_connect("/ws/staff", headers=origin) as wang_ws,
        li.client.websocket_connect("/ws/staff", headers=origin) as li_ws,
    ):
        assert wang_ws.receive_json()["type"] == "hello" and li_ws.receive_json()["type"] == "hello"
        assert wang.post(f"/api/staff/tickets/{tickets['psy']}/claim").status_code == 200
        assert (
            wang.post(f"/api/staff/tickets/{tickets['psy']}/reply", {"text": "只给心理中心看的对话"}).status_code == 200
        )
        texts = []
        while "只给心理中心看的对话" not in texts:  # the claim notice, then the reply
            frame = wang_ws.receive_json()
            if frame["type"] == "message":
                assert frame["ticket_id"] == tickets["psy"]
                texts.append(frame["message"]["text"])
        assert "已接入" in texts[0]
        li_ws.send_json({"type": "ping"})
        assert li_ws.receive_json() == {"type": "pong"}  # nothing of the mental-health ticket came first


def test_the_hub_sends_each_person_only_what_they_may_see() -> None:
    wang = accounts.CurrentUser(1, "wang", "王老师", False, ("mental_health",))
    li = accounts.CurrentUser(2, "li", "李老师", False, ("campus_card",))
    admin = accounts.CurrentUser(3, "admin", "管理员", True, ())
    got: dict[str, list[dict[str, Any]]] = {"wang": [], "li": [], "admin": []}
    hub = StaffHub(lambda ticket_id: None)

    def sender(name: str) -> Any:
        async def send(frame: dict[str, Any]) -> None:
            got[name].append(frame)

        return send

    for name, user in (("wang", wang), ("li", li), ("admin", admin)):
        hub.join(user, sender(name))

    async def run() -> None:
        ticket = {"id": 7, "department_id": "mental_health", "priority": "normal", "status": "queued"}
        await hub.publish({"type": "ticket", "ticket": ticket})
        await hub.publish({"type": "message", "ticket_id": 7, "message": {"id": 1, "role": "student", "text": "在吗"}})
        await hub.publish({"type": "ticket", "ticket": dict(ticket, department_id="campus_card")})
        await hub.publish({"type": "message", "ticket_id": 7, "message": {"id": 2, "role": "student", "text": "?"}})
        await hub.publish({"type": "alert", "ticket": {"id": 8, "department_id": "security", "priority": "urgent",
                                                       "status": "queued"}})  # fmt: skip

    asyncio.run(run())
    assert [(f["type"], f.get("message", {}).get("id")) for f in got["wang"]] == [
        ("ticket", None), ("message", 1), ("ticket_removed", None), ("alert", None),
    ]  # fmt: skip
    assert [(f["type"], f.get("message", {}).get("id")) for f in got["li"]] == [
        ("ticket", None), ("message", 2), ("alert", None),
    ]  # fmt: skip
    assert len(got["admin"]) == 5


def test_origin_check() -> None:
    assert origin_allowed("http://desk.example.edu.cn", "desk.example.edu.cn")
    assert origin_allowed("https://help.example.edu.cn", "127.0.0.1:8000", "https://help.example.edu.cn/")
    assert not origin_allowed("https://evil.example", "desk.example.edu.cn")
    assert not origin_allowed(None, "desk.example.edu.cn")
    assert not origin_allowed("null", "desk.example.edu.cn")

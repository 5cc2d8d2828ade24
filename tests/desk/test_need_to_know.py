"""Need-to-know access through the real app: who sees an urgent ticket, who may read its transcript,
and the access log of every read (issue #11, point 2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from desk.models import OUTBOX_FAILED, Conversation, HandoffRequest, Message, OutboxItem
from desk.staff import accounts
from knowledge_base import clock

CRISIS_TEXT = "我真的撑不下去了，电话13912345678"
CARD_TEXT = "我的校园卡丢了，学号2023123456"


def as_user(client: TestClient, username: str, password: str) -> str:
    """Log in as this person (a fresh browser); the console's CSRF token."""
    client.cookies.clear()
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    resp = client.post(
        "/staff/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert resp.status_code == 303, resp.text
    console = client.get("/staff/")
    return re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        _, admin_pw = accounts.create_user(session, "admin", is_admin=True)
        _, wang_pw = accounts.create_user(session, "wang", display_name="王老师", departments=["mental_health"])
        _, li_pw = accounts.create_user(session, "li", display_name="李老师", departments=["campus_card"])
        _, zhao_pw = accounts.create_user(session, "zhao", display_name="赵老师", departments=["community"])
    return {"admin": admin_pw, "wang": wang_pw, "li": li_pw, "zhao": zhao_pw}


def add_ticket(sessions, conv: str, texts: list[str], department: str, reason: str, priority: str) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        if session.get(Conversation, conv) is None:
            session.add(Conversation(id=conv, channel="web"))
            session.flush()
        for text in texts:
            session.add(Message(conversation_id=conv, role="student", text=text))
        row = HandoffRequest(
            conversation_id=conv, department_id=department, reason=reason, priority=priority, status="queued",
            open_key=conv, packet={"summary": texts},
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def access_rows(client: TestClient, **query: str) -> str:
    page = client.get("/staff/access-log", params=query)
    assert page.status_code == 200
    return page.text


def test_a_closed_crisis_ticket_stays_with_its_department_and_the_claimers_read_is_logged(
    client: TestClient,
    sessions,
    people,  # type: ignore[no-untyped-def]
) -> None:
    ticket = add_ticket(sessions, "web:crisis", [CRISIS_TEXT], "mental_health", "crisis", "urgent")

    csrf = as_user(client, "li", people["li"])  # on duty, campus card office: alerted, may take it
    [queued] = [t for t in client.get("/api/staff/tickets").json() if t["id"] == ticket]
    assert (queued["department_id"], queued["priority"], queued["restricted"]) == ("mental_health", "urgent", True)
    assert CRISIS_TEXT not in str(queued) and queued["conversation_id"] is None
    assert client.get(f"/api/staff/tickets/{ticket}").status_code == 404  # not before claiming
    assert client.post(f"/api/staff/tickets/{ticket}/claim", headers={"X-CSRF-Token": csrf}).status_code == 200
    opened = client.get(f"/api/staff/tickets/{ticket}")
    assert opened.status_code == 200 and CRISIS_TEXT in [m["text"] for m in opened.json()["transcript"]]
    closed = client.post(
        f"/api/staff/tickets/{ticket}/close", json={"resolution": "已联系"}, headers={"X-CSRF-Token": csrf}
    )
    assert closed.status_code == 200
    gone = client.get(f"/api/staff/tickets/{ticket}")
    assert gone.status_code == 404 and gone.json() == client.get("/api/staff/tickets/99999").json()  # no probing

    as_user(client, "zhao", people["zhao"])  # another department, never claimed it
    assert client.get(f"/api/staff/tickets/{ticket}").status_code == 404
    assert client.get("/staff/access-log").status_code == 403  # admins only

    as_user(client, "wang", people["wang"])  # the counselling centre keeps its closed tickets
    assert CRISIS_TEXT in [m["text"] for m in client.get(f"/api/staff/tickets/{ticket}").json()["transcript"]]

    as_user(client, "admin", people["admin"])
    li_reads = access_rows(client, user="li")
    assert li_reads.count("查看对话记录") == 1 and f"<td>{ticket}</td>" in li_reads and "web:crisis" in li_reads
    today = clock.local_now().date()  # the suite's clock, whatever moment it is frozen at
    assert "wang" in access_rows(client, day=str(today))
    assert "wang" not in access_rows(client, day=str(today - timedelta(days=1)))
    assert "zhao" not in access_rows(client)  # refused reads read nothing
    assert CRISIS_TEXT not in access_rows(client)  # the log names ids, never the data


def test_an_urgent_ticket_alerts_everyone_but_opens_only_to_the_claimer_counselling_and_admins(
    client: TestClient,
    sessions,
    people,  # type: ignore[no-untyped-def]
) -> None:
    ticket = add_ticket(sessions, "web:u", [CRISIS_TEXT], "mental_health", "crisis", "urgent")
    with sessions() as session, session.begin():  # a reply the channel refused: its words are the chat's too
        reply = Message(conversation_id="web:u", role="bot", text="心理中心的回复")
        session.add(reply)
        session.flush()
        session.add(OutboxItem(message_id=reply.id, conversation_id="web:u", channel="web", status=OUTBOX_FAILED))
    for name in ("li", "zhao", "wang", "admin"):
        as_user(client, name, people[name])
        assert ticket in [t["id"] for t in client.get("/api/staff/tickets").json()], name
        status = client.get(f"/api/staff/tickets/{ticket}").status_code
        assert status == (200 if name in ("wang", "admin") else 404), name
        undelivered = [u["text"] for u in client.get("/api/staff/undelivered").json()]
        assert undelivered == (["心理中心的回复"] if name in ("wang", "admin") else []), name

    csrf = as_user(client, "zhao", people["zhao"])  # nothing to note, move or end without reading it
    assert (
        client.post(f"/api/staff/tickets/{ticket}/note", json={"text": "x"}, headers={"X-CSRF-Token": csrf}).status_code
        == 404
    )
    csrf = as_user(client, "li", people["li"])
    assert client.post(f"/api/staff/tickets/{ticket}/claim", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get(f"/api/staff/tickets/{ticket}").status_code == 200  # the claimer reads it
    as_user(client, "zhao", people["zhao"])
    assert client.get(f"/api/staff/tickets/{ticket}").status_code == 404  # still not a third person


def test_a_transcript_holds_no_earlier_ticket_of_another_department(client: TestClient, sessions, people) -> None:  # type: ignore[no-untyped-def]
    first = add_ticket(sessions, "web:two", [CARD_TEXT], "campus_card", "request", "normal")
    csrf = as_user(client, "li", people["li"])
    client.post(f"/api/staff/tickets/{first}/claim", headers={"X-CSRF-Token": csrf})
    assert (
        client.post(
            f"/api/staff/tickets/{first}/close", json={"resolution": "已补办"}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 200
    )
    second = add_ticket(sessions, "web:two", [CRISIS_TEXT], "mental_health", "crisis", "urgent")

    as_user(client, "wang", people["wang"])
    texts = [m["text"] for m in client.get(f"/api/staff/tickets/{second}").json()["transcript"]]
    assert CRISIS_TEXT in texts and CARD_TEXT not in texts
    as_user(client, "admin", people["admin"])
    texts = [m["text"] for m in client.get(f"/api/staff/tickets/{second}").json()["transcript"]]
    assert CRISIS_TEXT in texts and CARD_TEXT in texts  # admins read every ticket, so the whole conversation
    as_user(client, "li", people["li"])
    texts = [m["text"] for m in client.get(f"/api/staff/tickets/{first}").json()["transcript"]]
    assert CARD_TEXT in texts and CRISIS_TEXT not in texts  # nor a later one


async def test_the_live_feed_alerts_everyone_but_sends_the_words_only_to_those_who_may_read() -> None:
    from desk.staff.console_hub import StaffHub
    from desk.staff.console_queries import TicketMeta

    people = {
        "li": accounts.CurrentUser(2, "li", "李老师", False, ("campus_card",)),
        "wang": accounts.CurrentUser(3, "wang", "王老师", False, ("mental_health",)),
    }
    got: dict[str, list[dict]] = {name: [] for name in people}  # type: ignore[type-arg]
    hub = StaffHub(lambda ticket_id: TicketMeta("mental_health", "urgent", None, True))
    for name, user in people.items():

        async def send(frame: dict, name: str = name) -> None:  # type: ignore[type-arg]
            got[name].append(frame)

        hub.join(user, send)
    ticket = {
        "id": 7, "department_id": "mental_health", "priority": "urgent", "status": "queued", "claimed_by": None,
        "conversation_id": "web:x", "last_text": CRISIS_TEXT, "summary": [CRISIS_TEXT],
    }  # fmt: skip
    await hub.publish({"type": "alert", "ticket": ticket})
    await hub.publish({"type": "message", "ticket_id": 7, "conversation_id": "web:x", "message": {"text": CRISIS_TEXT}})
    assert [f["type"] for f in got["li"]] == ["alert"] and CRISIS_TEXT not in str(got["li"])
    assert got["li"][0]["ticket"]["restricted"] is True
    assert [f["type"] for f in got["wang"]] == ["alert", "message"] and CRISIS_TEXT in str(got["wang"][1])
    await hub.publish({"type": "ticket", "ticket": {**ticket, "status": "claimed", "claimed_by": 2}})  # 李老师 took it
    await hub.publish({"type": "message", "ticket_id": 7, "conversation_id": "web:x", "message": {"text": "谢谢"}})
    assert got["li"][-1]["type"] == "message" and got["li"][-2]["ticket"]["restricted"] is False

"""Every change staff and admins make outside the admin pages lands in the append-only audit, one row
each, with who and before/after, in the change's transaction: the console's ticket actions (claim, reply
by message id, never its text; note, transfer, close), canned replies, the greeting menu, surveys and
password changes. Admins read and filter it (by actor, action prefix, date); other staff get 403."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from desk.admin import audit
from desk.main import create_app
from desk.settings import Settings
from tests.desk.admin_helpers import Browser, make_people
from tests.desk.handoff_helpers import Desk


def trail(sessions: sessionmaker, action: str) -> list[tuple[str, str, str, dict | None, dict | None]]:  # type: ignore[type-arg]
    with sessions() as session:
        rows = audit.query(session, audit.AuditFilter(action=action))
        return [(e.actor, e.action, e.entity_id, e.before, e.after) for e in reversed(rows)]


async def test_the_consoles_ticket_actions_are_audited_without_chat_text(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    h, wang = desk.handoffs, staff["wang"]
    await desk.say("转人工")
    ticket = str(desk.ticket().id)
    h.claim(wang, int(ticket))
    h.claim(wang, int(ticket))  # clicking twice changes nothing: no second row
    sent = await h.reply(wang, int(ticket), "同学你好，我叫王老师，电话13800000000")
    note = h.note(wang, int(ticket), "学生情绪平稳")
    await h.transfer(wang, int(ticket), "campus_card", "卡务问题")
    closed = await h.close(staff["li"], int(ticket), "已解决")
    rows = trail(desk.sessions, "ticket.")
    assert [r[:3] for r in rows] == [
        ("wang", "ticket.claim", ticket),
        ("wang", "ticket.reply", ticket),
        ("wang", "ticket.note", ticket),
        ("wang", "ticket.transfer", ticket),
        ("li", "ticket.close", ticket),
    ]
    claim, reply, noted, transfer, close = rows
    assert (claim[3], claim[4]) == (
        {"status": "queued", "claimed_by": None},
        {"status": "claimed", "claimed_by": wang.id},
    )
    assert (reply[3], reply[4]) == (None, {"message_id": sent["message"]["id"]})
    assert noted[4] == {"event_id": note["id"]}
    assert (transfer[3], transfer[4]) == (
        {"department_id": "mental_health", "status": "claimed"},
        {"department_id": "campus_card", "status": "queued"},
    )
    assert close[3] == {"status": "queued"} and close[4]["status"] == closed["status"] == "closed"
    everything = repr(trail(desk.sessions, ""))
    assert "13800000000" not in everything and "同学你好" not in everything  # the chat text is never copied


async def test_canned_replies_edits_are_audited(desk: Desk, staff) -> None:  # type: ignore[no-untyped-def]
    added = desk.handoffs.add_canned(staff["admin"], "mental_health", "问候", "你好，我是心理中心的老师。")
    desk.handoffs.delete_canned(staff["admin"], added["id"])
    assert trail(desk.sessions, "canned") == [
        ("admin", "canned.create", str(added["id"]), None, added),
        ("admin", "canned.delete", str(added["id"]), added, None),
    ]


@pytest.fixture
def as_(settings: Settings, sessions: sessionmaker) -> Iterator:  # type: ignore[type-arg]
    people = make_people(sessions)
    with TestClient(create_app(settings)) as client:
        yield lambda name: Browser(client, people[name] if name else None), people


def test_menu_survey_and_password_changes_are_audited_and_only_admins_read_them(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    login, people = as_
    boss = login("boss")
    item = boss.post("/api/insight/menu", json={"title": "宿舍报修怎么报"}).json()
    assert boss.request("DELETE", f"/api/insight/menu/{item['id']}").json() == {"deleted": True}
    survey = {"title": "自习室", "question": "你希望自习室开到几点？", "kind": "choice", "options": ["22点", "24点"],
              "audience": "all", "starts_on": "2026-12-01", "ends_on": "2026-12-07"}  # fmt: skip
    survey_id = boss.post("/api/insight/surveys", json=survey).json()["id"]
    assert boss.post(f"/api/insight/surveys/{survey_id}/close").json() == {"closed": True}

    clerk = login("clerk")
    new = "clerk-new-password-1"
    form = {"current_password": people["clerk"].password, "new_password": new, "repeat": new, "csrf_token": clerk.csrf}
    assert "密码已修改" in clerk.post("/staff/password", data=form).text
    wrong = clerk.post("/staff/password", data={**form, "current_password": "not-it"})
    assert wrong.status_code == 400  # a refused change leaves no row

    assert [r[:3] for r in trail(sessions, "menu")] == [
        ("boss", "menu.create", str(item["id"])),
        ("boss", "menu.delete", str(item["id"])),
    ]
    [(_, _, _, before, after)] = trail(sessions, "menu.delete")
    assert before["title"] == "宿舍报修怎么报" and after is None
    surveys = trail(sessions, "survey.")
    assert [r[1] for r in surveys] == ["survey.create", "survey.close"]
    assert surveys[0][4]["question"] == "你希望自习室开到几点？"
    assert (surveys[1][3], surveys[1][4]) == ({"active": True}, {"active": False})
    [password] = trail(sessions, "account.password")
    assert password[0] == "clerk" and new not in repr(password) and people["clerk"].password not in repr(password)

    # admins filter the log by actor, action prefix and date; other staff may not read it
    assert clerk.get("/api/admin/audit").status_code == 403
    assert login("ed").get("/api/admin/audit").status_code == 403
    by_clerk = boss.get("/api/admin/audit", params={"actor": "clerk"}).json()
    assert [e["action"] for e in by_clerk] == ["account.password"]
    menu = boss.get("/api/admin/audit", params={"action": "menu."}).json()
    assert [e["action"] for e in menu] == ["menu.delete", "menu.create"]
    assert boss.get("/api/admin/audit", params={"action": "menu"}).json() == menu
    assert boss.get("/api/admin/audit", params={"action": "men"}).json() == []  # a prefix ends at a dot
    first = menu[-1]["at"]
    later = boss.get("/api/admin/audit", params={"action": "menu.", "since": first}).json()
    assert len(later) == 2
    until = (datetime.fromisoformat(first) - timedelta(days=1)).isoformat()
    assert boss.get("/api/admin/audit", params={"action": "menu.", "until": until}).json() == []
    page = boss.get("/admin/audit").text
    assert 'name="until"' in page and 'value="ticket."' in page

"""Students' data (docs/privacy.md): export, erase, retention, the admin page, the web chat's clear button.

Run on the seeded test database with a Rasa tracker store file shaped as Rasa's SQLTrackerStore makes it;
the e2e test (tests/e2e/test_privacy_e2e.py) does the same through the running Rasa.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from desk.deps import get_clock
from desk.main import create_app
from desk.models import (
    Conversation,
    DailyCount,
    HandoffRequest,
    Message,
    OutboxItem,
    PendingReply,
    PrivacyAudit,
    TicketEvent,
)
from desk.privacy import statistics
from desk.privacy.retention import Retention
from desk.privacy.students import StudentData, StudentNotFound, Subject
from desk.privacy.tracker import TrackerEvents
from desk.settings import Settings
from desk.staff import accounts
from knowledge_base.booking import models as bm
from knowledge_base.booking.service import BookingService
from knowledge_base.privacy import Contact, ContactCipher
from tests.desk.test_tickets_migration import alembic_config
from tests.knowledge_base.booking_helpers import NOW, at
from tests.knowledge_base.conftest import pg_url  # noqa: F401  (the PostgreSQL fixture)

KEY = ContactCipher.generate_key()
PHONE, NAME, NUMBER = "13912345678", "欧阳娜娜", "2023123456"
OTHER_PHONE = "13800000001"
TRACKER_SCHEMA = (
    "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,"
    " timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
)


def tracker_file(var: Path, rows: list[tuple[str, float, dict[str, Any]]]) -> Path:
    """Rasa's tracker store (the table SQLTrackerStore creates) with these (sender, timestamp, event) rows."""
    path = var / "rasa_tracker.db"
    with sqlite3.connect(path) as db:
        db.execute(TRACKER_SCHEMA)
        for sender, ts, data in rows:
            db.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                (sender, data["event"], ts, json.dumps(data, ensure_ascii=False)),
            )
    return path


def add_conversation(sessions, cid: str, when: datetime, texts: list[str], ticket: bool = True) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        session.add(
            Conversation(id=cid, channel=cid.split(":")[0], state="bot", created_at=when, last_activity_at=when)
        )
        session.flush()
        rows = [Message(conversation_id=cid, role="student", text=t, created_at=when) for t in texts]
        rows.append(Message(conversation_id=cid, role="bot", text="好的", created_at=when))
        session.add_all(rows)
        session.flush()
        session.add(OutboxItem(message_id=rows[-1].id, conversation_id=cid, channel="tg", created_at=when))
        session.add(PendingReply(message_id=rows[0].id, conversation_id=cid, status="answered", created_at=when))
        if ticket:
            t = HandoffRequest(
                conversation_id=cid,
                department_id="mental_health",
                reason="request",
                status="closed",
                packet={"summary": texts},
                created_at=when,
                rating=4,
                rating_comment="谢谢老师",
            )
            session.add(t)
            session.flush()
            session.add(TicketEvent(ticket_id=t.id, kind="note", text="学生说了很多", created_at=when))


@pytest.fixture
def world(sessions, tmp_path: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Two students: web:a (the one asked about) and tg:7 (someone else); a booking each; trackers."""
    cipher = ContactCipher(KEY)
    service = BookingService(sessions, cipher)
    booking = service.book("counseling", at(4, 15), student_key="web:a", contact=Contact(NAME, NUMBER, PHONE), now=NOW)
    other = service.book(
        "certificate_issuing",
        at(1, 10),
        student_key="tg:7",
        contact=Contact("张三", "2023000001", OTHER_PHONE),
        now=NOW,
    )
    from knowledge_base.booking.support import ContactBook

    ContactBook(sessions, cipher).remember("web:a", Contact(NAME, NUMBER, PHONE), now=NOW)
    add_conversation(sessions, "web:a", NOW, ["我想预约心理咨询", "欧**"])
    add_conversation(sessions, "tg:7", NOW, ["开在读证明要带什么"])
    ts = NOW.timestamp()
    tracker = tracker_file(
        tmp_path,
        [
            ("web:a", ts, {"event": "user", "text": "欧**"}),
            ("tg:7", ts, {"event": "user", "text": "开在读证明要带什么"}),
        ],
    )
    data = StudentData(sessions, cipher, TrackerEvents(f"sqlite:///{tracker}"))
    return {"data": data, "booking": booking, "other": other, "tracker": tracker, "cipher": cipher}


def db_bytes(url: str) -> bytes:
    return Path(url.removeprefix("sqlite:///")).read_bytes()


def test_export_by_phone_has_everything_and_is_audited(world, sessions) -> None:  # type: ignore[no-untyped-def]
    data = world["data"].export(Subject.of(phone="139 1234 5678"), actor="cli:tester", now=NOW)
    [conv] = data["conversations"]
    assert conv["id"] == "web:a"
    assert [m["text"] for m in conv["messages"]] == ["我想预约心理咨询", "欧**", "好的"]
    assert conv["tickets"][0]["rating"] == 4 and conv["tickets"][0]["events"][0]["text"] == "学生说了很多"
    assert conv["rasa_tracker_events"] == [{"event": "user", "text": "欧**"}]
    assert data["bookings"][0]["code"] == world["booking"].code
    assert data["bookings"][0]["contact"] == {"name": NAME, "student_number": NUMBER, "phone": PHONE}
    assert data["remembered_contacts"][0]["phone"] == PHONE
    with sessions() as session:
        [row] = session.scalars(select(PrivacyAudit)).all()
    assert (row.actor, row.action, row.counts["messages"]) == ("cli:tester", "export", 3)
    assert row.target.startswith("phone:") and PHONE not in row.target


def test_unknown_student_and_bad_requests(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StudentNotFound):
        world["data"].export(Subject.of(phone="13700000000"), actor="cli:t", now=NOW)
    with pytest.raises(StudentNotFound):
        world["data"].erase(Subject.of(conversation="web:nobody"), actor="cli:t", now=NOW)
    for bad in ({"phone": "12345"}, {"conversation": "nocolon"}, {}, {"phone": PHONE, "conversation": "web:a"}):
        with pytest.raises(ValueError):
            Subject.of(**bad)


def test_erase_leaves_no_row_that_names_them_and_keeps_statistics(world, sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from desk.insight.models import StudentStage, Suggestion, Survey, SurveyResponse

    with sessions() as session, session.begin():  # what the insight features hold about the student
        survey = Survey(title="食堂", question="你对食堂满意吗", kind="text", starts_on=date(2026, 11, 1),
                        ends_on=date(2026, 12, 31))  # fmt: skip
        session.add(survey)
        session.flush()
        session.add_all([
            SurveyResponse(survey_id=survey.id, conversation_id="web:a", status="answered", answer="我是欧阳，太咸了"),
            StudentStage(conversation_id="web:a", stage="在读"),
            Suggestion(conversation_id="web:a", faq_id="a", suggested_id="b", title="相关问题"),
        ])  # fmt: skip
    exported = world["data"].export(Subject.of(phone=PHONE), actor="cli:tester", now=NOW)
    assert exported["conversations"][0]["stage"] == "在读"
    assert exported["conversations"][0]["survey_answers"][0]["answer"] == "我是欧阳，太咸了"
    with sessions() as session:
        before = statistics.live_totals(session)
    counts = world["data"].erase(Subject.of(phone=PHONE), actor="admin:admin", now=NOW)
    assert counts["survey_responses"] == counts["student_stages"] == counts["suggestions"] == 1
    assert counts["conversations"] == 1 and counts["messages"] == 3 and counts["tracker_events"] == 1
    assert counts["bookings_cancelled"] == 1 and counts["student_contacts"] == 1
    with sessions() as session:
        assert session.get(Conversation, "web:a") is None
        for model in (Message, HandoffRequest, OutboxItem, PendingReply, SurveyResponse, StudentStage, Suggestion):
            assert not session.scalars(select(model).where(model.conversation_id == "web:a")).all()
        booking = session.scalar(select(bm.Booking).where(bm.Booking.code == world["booking"].code))
        assert booking.status == bm.CANCELLED and booking.student_ref.startswith("erased-")
        contact, key = world["cipher"].open(booking.contact)
        assert (contact.phone, key) == ("-", "")
        assert session.get(Conversation, "tg:7") is not None  # the other student is untouched
        after = statistics.live_totals(session)
        kept = statistics.totals(session)
        assert {k: after.get(k, 0) + kept.get(k, 0) for k in before} == before  # statistics kept
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == 1
    with sqlite3.connect(world["tracker"]) as db:
        assert db.execute("SELECT sender_id FROM events").fetchall() == [("tg:7",)]
    stored = db_bytes(db_url) + world["tracker"].read_bytes()
    for clear in (PHONE, NAME, NUMBER, "web:a"):
        assert clear.encode() not in stored, clear


def test_retention_deletes_old_rows_and_keeps_the_counts(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old, recent = NOW - timedelta(days=200), NOW + timedelta(days=10)
    run_at = NOW + timedelta(days=185)  # the cut-off is NOW + 5 days: after the visit of 4 December, before `recent`
    add_conversation(sessions, "web:old", old, ["很久以前的问题"])
    add_conversation(sessions, "web:new", recent, ["最近的问题"])
    with sessions() as session, session.begin():  # an old conversation still active today keeps its new messages
        session.add(Conversation(id="tg:9", channel="tg", state="bot", created_at=old, last_activity_at=recent))
        session.flush()
        session.add_all(
            [
                Message(conversation_id="tg:9", role="student", text="旧消息", created_at=old),
                Message(conversation_id="tg:9", role="student", text="新消息", created_at=recent),
            ]
        )
    tracker = tracker_file(
        tmp_path, [("web:old", old.timestamp(), {"event": "user"}), ("web:new", recent.timestamp(), {"event": "user"})]
    )
    cipher = ContactCipher(KEY)
    past = BookingService(sessions, cipher).book(
        "counseling", at(4, 15), student_key="web:x", contact=Contact(NAME, NUMBER, PHONE), now=NOW
    )
    with sessions() as session:
        before = statistics.live_totals(session)
    retention = Retention(sessions, cipher, TrackerEvents(f"sqlite:///{tracker}"), days=180)
    counts = retention.run(run_at)
    assert counts["idle_conversations"] == 1 and counts["tracker_events"] == 1
    with sessions() as session:
        assert session.get(Conversation, "web:old") is None
        assert session.get(Conversation, "web:new") is not None
        assert [m.text for m in session.scalars(select(Message).where(Message.conversation_id == "tg:9"))] == ["新消息"]
        booking = session.scalar(select(bm.Booking).where(bm.Booking.code == past.code))
        assert booking.student_ref.startswith("erased-") and cipher.open(booking.contact)[0].phone == "-"
        after, kept = statistics.live_totals(session), statistics.totals(session)
        assert {k: after.get(k, 0) + kept.get(k, 0) for k in before} == before
        assert session.scalar(
            select(DailyCount.value).where(DailyCount.metric == "messages_in", DailyCount.dimension == "web")
        )
        [row] = session.scalars(select(PrivacyAudit)).all()
        assert (row.actor, row.action) == ("system", "retention")
    with sqlite3.connect(tracker) as db:
        assert db.execute("SELECT sender_id FROM events").fetchall() == [("web:new",)]
    again = retention.run(run_at)  # nothing left to do
    assert not again.get("idle_conversations") and not again["messages"] and not again["bookings_anonymised"]


def test_the_audit_is_append_only(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        session.add(PrivacyAudit(actor="cli:x", action="export", target="phone:ab", counts={}, at=NOW))
    with sessions() as session, pytest.raises(ValueError, match="append-only"), session.begin():
        session.scalars(select(PrivacyAudit)).one().actor = "someone else"


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0007_pending_replies")
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO conversations (id, channel, state, created_at, last_activity_at) "
                "VALUES ('web:m', 'web', 'bot', '2026-12-01 01:00:00', '2026-12-01 01:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO messages (conversation_id, role, text, buttons, created_at) "
                "VALUES ('web:m', 'student', '我的手机13812345678', '[]', '2026-12-01 01:00:00')"
            )
        )
    engine.dispose()
    command.upgrade(cfg, "head")
    return url


def test_migration_masks_old_messages_and_guards_the_audit(migrated_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(migrated_url)
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT text FROM messages")) == "我的手机138****5678"
        conn.execute(
            text(
                "INSERT INTO privacy_audit (at, actor, action, target, counts) "
                "VALUES ('2026-12-01 01:00:00', 'cli:x', 'export', 'phone:ab', '{}')"
            )
        )
    for statement in ("UPDATE privacy_audit SET actor = 'y'", "DELETE FROM privacy_audit"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


# -- the desk: admin page and JSON, the web chat ----------------------------------------------------------


@pytest.fixture
def app_client(settings: Settings, world) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(settings.updated(booking_key=KEY, reminder_poll_seconds=3600, retention_sweep_hours=1000))
    app.dependency_overrides[get_clock] = lambda: lambda: NOW
    with TestClient(app) as client:
        yield client


def log_in(client: TestClient, sessions, username: str, admin: bool) -> str:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        accounts.create_user(session, username, "password-1234", is_admin=admin, departments=["mental_health"])
    form = client.get("/staff/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    client.post("/staff/login", data={"username": username, "password": "password-1234", "csrf_token": token})
    page = client.get("/staff/appointments").text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_admin_page_and_json_are_for_admins_only(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    assert app_client.get("/staff/privacy").status_code == 401
    assert app_client.post("/api/admin/students/export", json={"phone": PHONE}).status_code == 401
    csrf = log_in(app_client, sessions, "wang", admin=False)
    assert app_client.get("/staff/privacy").status_code == 403
    headers = {"X-CSRF-Token": csrf}
    assert app_client.post("/api/admin/students/export", json={"phone": PHONE}, headers=headers).status_code == 403
    assert (
        app_client.post(
            "/api/admin/students/erase", json={"phone": PHONE, "confirm": True}, headers=headers
        ).status_code
        == 403
    )


def test_admin_exports_and_erases_and_sees_the_audit(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    csrf = log_in(app_client, sessions, "boss", admin=True)
    page = app_client.get("/staff/privacy")
    assert page.status_code == 200 and "学生数据（导出与删除）" in page.text and "还没有记录" in page.text
    headers = {"X-CSRF-Token": csrf}
    assert app_client.post("/api/admin/students/export", json={"phone": PHONE}).status_code == 403  # no CSRF
    got = app_client.post("/staff/privacy/export", data={"phone": PHONE, "csrf_token": csrf})
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert got.json()["bookings"][0]["contact"]["name"] == NAME
    bad = app_client.post("/api/admin/students/export", json={"phone": "123"}, headers=headers)
    assert bad.status_code == 400 and "手机号" in bad.json()["detail"]
    missing = app_client.post("/api/admin/students/export", json={"conversation": "web:zzz"}, headers=headers)
    assert missing.status_code == 404
    unconfirmed = app_client.post("/api/admin/students/erase", json={"conversation": "web:a"}, headers=headers)
    assert unconfirmed.status_code == 400
    erased = app_client.post(
        "/api/admin/students/erase", json={"conversation": "web:a", "confirm": True}, headers=headers
    )
    assert erased.status_code == 200 and erased.json()["counts"]["messages"] == 3
    audit = app_client.get("/api/admin/privacy/audit").json()
    assert [e["action"] for e in audit["entries"]] == ["erase", "export"]
    assert all(e["actor"] == "admin:boss" for e in audit["entries"])
    assert PHONE not in json.dumps(audit) and "web:a" not in json.dumps(audit)
    assert "删除" in app_client.get("/staff/privacy").text


def test_webchat_answers_to_contact_questions_are_stored_masked(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    cid = app_client.post("/api/webchat/session").json()["conversation_id"]
    with sessions() as session, session.begin():  # what the bot asked last
        session.add(Message(conversation_id=cid, role="bot", text="请问你的姓名是？"))
    with app_client.websocket_connect("/ws/webchat") as ws:
        ws.send_json({"type": "message", "text": "王小明", "client_id": "c1"})
        echo = ws.receive_json()
        while echo.get("type") != "message":
            echo = ws.receive_json()
    assert echo["message"]["text"] == "王**"
    with sessions() as session:
        texts = session.scalars(select(Message.text).where(Message.conversation_id == cid)).all()
    assert "王小明" not in texts and "王**" in texts


def test_webchat_clear_erases_the_conversation_and_forgets_the_cookie(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    first = app_client.post("/api/webchat/session").json()["conversation_id"]
    with app_client.websocket_connect("/ws/webchat") as ws:
        ws.send_json({"type": "message", "text": "我的手机号13912345678", "client_id": "c1"})
        while ws.receive_json().get("type") != "message":
            pass
    assert app_client.post("/api/webchat/clear", json={"confirm": False}).status_code == 400
    cleared = app_client.post("/api/webchat/clear", json={"confirm": True})
    assert cleared.status_code == 200 and cleared.json()["cleared"] is True
    assert "helpdesk_webchat" not in app_client.cookies
    with sessions() as session:
        assert session.get(Conversation, first) is None
        assert not session.scalars(select(Message).where(Message.conversation_id == first)).all()
        [row] = session.scalars(select(PrivacyAudit)).all()
        assert (row.actor, row.action) == ("student", "clear")
    second = app_client.post("/api/webchat/session").json()
    assert second["conversation_id"] != first and second["messages"][0]["role"] != "student"
    assert app_client.post("/api/webchat/clear", json={"confirm": True}).status_code == 200
    app_client.cookies.clear()
    assert app_client.post("/api/webchat/clear", json={"confirm": True}).status_code == 401


def test_the_cookie_lasts_the_configured_hours(settings: Settings) -> None:
    app = create_app(settings.updated(webchat_cookie_hours=2))
    with TestClient(app) as client:
        set_cookie = client.post("/api/webchat/session").headers["set-cookie"]
    assert "Max-Age=7200" in set_cookie
    assert datetime.now(timezone.utc)  # the cookie's own clock is the browser's; the signed token expires too


def test_a_message_kept_while_rasa_is_down_is_sent_as_typed_later(sessions, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from desk.chat.pending import PendingReplies

    cipher = ContactCipher(KEY)
    pending = PendingReplies(sessions, None, None, None, cipher=cipher)  # type: ignore[arg-type]
    add_conversation(sessions, "web:k", NOW, ["王**"], ticket=False)
    with sessions() as session, session.begin():  # the kept message's own row (add_conversation made one already)
        session.execute(text("DELETE FROM pending_replies"))
    assert pending._keep_newest("web:k", "王小明")
    [kept] = pending._kept("web:k")
    assert kept.text == "王小明"  # Rasa gets what the student typed, the form can use it
    assert "王小明".encode() not in db_bytes(db_url) + Path(db_url.removeprefix("sqlite:///") + "-wal").read_bytes()
    pending._finish(kept.pending_id, "answered", "web:k", [])
    with sessions() as session:
        assert session.scalars(select(PendingReply.sealed_text)).all() == [None]


def helpdesk(db_url: str, var: Path, *args: str, now: str = "2027-12-01T09:00:00+08:00") -> Any:
    import os
    import subprocess

    from desk.ops.supervisor import venv_bin

    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url, HELPDESK_VAR_DIR=str(var), HELPDESK_BOOKING_KEY=KEY,
               HELPDESK_NOW=now)  # fmt: skip
    env.pop("HELPDESK_NOW_SINCE", None)
    return subprocess.run([venv_bin("app", "helpdesk"), *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_command_line(world, sessions, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = helpdesk(db_url, tmp_path, "student", "export", "--phone", "12345")
    assert bad.returncode == 2 and "手机号" in bad.stderr
    out = tmp_path / "export.json"
    done = helpdesk(db_url, tmp_path, "student", "export", "--conversation", "web:a", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["bookings"][0]["contact"]["phone"] == PHONE
    assert out.stat().st_mode & 0o777 == 0o600
    # a year later (the clock of the command is HELPDESK_NOW) everything of November 2026 is past retention
    ran = helpdesk(db_url, tmp_path, "retention", "run")
    assert ran.returncode == 0 and ran.stdout.startswith("retention (180 days): "), ran.stdout + ran.stderr
    assert "idle_conversations 2" in ran.stdout and "tracker_events 2" in ran.stdout
    with sessions() as session:
        assert not session.scalars(select(Conversation)).all()
        actions = session.scalars(select(PrivacyAudit.actor)).all()
    assert len(actions) == 2 and all(a.startswith("cli:") for a in actions)
    gone = helpdesk(db_url, tmp_path, "student", "erase", "--conversation", "web:a", "--yes")
    assert gone.returncode == 1 and "nothing is stored" in gone.stderr


def test_every_process_logs_masked_and_rasa_stores_masked(settings: Settings, tmp_path: Path) -> None:
    from desk.ops import supervisor

    children = supervisor.build_children(settings, tmp_path / "model.tar.gz")
    for child in children:
        assert child.argv[1:3] == ["-m", "knowledge_base.redacted_run"], child.argv
    endpoints = (settings.var_dir / "endpoints.yml").read_text(encoding="utf-8")
    assert "type: bot.tracker_store.RedactingTrackerStore" in endpoints
    assert f"db: {settings.var_dir / 'rasa_tracker.db'}" in endpoints


def test_the_console_links_the_privacy_page_for_admins_only(app_client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    log_in(app_client, sessions, "wang", admin=False)
    assert 'href="/staff/privacy"' not in app_client.get("/staff/").text
    app_client.cookies.clear()
    log_in(app_client, sessions, "boss", admin=True)
    assert 'href="/staff/privacy"' in app_client.get("/staff/").text

"""Staff accounts: the CLI's first admin, login with throttling and CSRF, who sees which requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from desk.models import OUTBOX_FAILED, Conversation, HandoffRequest, Message, OutboxItem
from desk.staff import accounts
from desk.staff.security import STAFF_COOKIE


def login_form_token(client: TestClient) -> str:
    page = client.get("/staff/login")
    assert page.status_code == 200 and "工作人员登录" in page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def log_in(client: TestClient, username: str, password: str) -> object:
    token = login_form_token(client)
    return client.post(
        "/staff/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        _, admin_pw = accounts.create_user(session, "admin", is_admin=True)
        _, psy_pw = accounts.create_user(session, "wang", display_name="王老师", departments=["mental_health"])
        _, card_pw = accounts.create_user(session, "li", display_name="李老师", departments=["campus_card"])
        for conv, dep, reason, priority in [
            ("web:a", "mental_health", "request", "normal"),
            ("web:b", "campus_card", "complaint", "high"),
            ("tg:1", "community", "crisis", "urgent"),
        ]:
            session.add(Conversation(id=conv, channel=conv.split(":")[0]))
            session.flush()
            session.add(
                HandoffRequest(
                    conversation_id=conv,
                    department_id=dep,
                    reason=reason,
                    priority=priority,
                    status="queued",
                    open_key=conv,
                    packet={"summary": ["<b>学生原话</b>"]},
                )
            )
    return {"admin": admin_pw, "wang": psy_pw, "li": card_pw}


def test_cli_creates_the_first_admin_with_a_password_shown_once(db_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url)
    run = [sys.executable, "-m", "desk.ops.cli", "user", "create", "--admin"]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    password = first.stdout.split("password (shown once, change it after the first login): ")[1].strip()
    assert len(password) >= 12
    with sessions() as session:
        user = accounts.authenticate(session, "admin", password, "127.0.0.1", accounts.utcnow())
        assert user.is_admin
        stored = session.query(accounts.StaffUser).one().password_hash
    assert stored.startswith("$argon2id$") and password not in stored
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "is taken" in again.stderr


def test_login_sets_a_secure_session_and_shows_the_console(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    resp = log_in(client, "wang", people["wang"])
    assert resp.status_code == 303 and resp.headers["location"] == "/staff/"
    cookie = resp.headers["set-cookie"]
    assert STAFF_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = client.get("/staff/")
    assert page.status_code == 200 and "王老师" in page.text and "人工服务台" in page.text


def test_wrong_password_and_throttling(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    for _ in range(accounts.MAX_FAILURES_PER_USER):
        resp = log_in(client, "wang", "wrong-password")
        assert resp.status_code == 401 and "用户名或密码错误" in resp.text
    blocked = log_in(client, "wang", people["wang"])  # even the right password is refused for a while
    assert blocked.status_code == 429 and "15分钟后再试" in blocked.text


def test_login_without_the_form_token_is_refused(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/staff/login", data={"username": "wang", "password": people["wang"], "csrf_token": "x"})
    assert resp.status_code == 403


def test_pages_and_api_need_a_session(client: TestClient) -> None:
    page = client.get("/staff/", follow_redirects=False)  # a browser is sent to the login form
    assert page.status_code == 303 and page.headers["location"] == "/staff/login"
    assert client.get("/api/staff/tickets").status_code == 401
    client.cookies.set(STAFF_COOKIE, "forged")
    assert client.get("/api/staff/me").status_code == 401


def test_logout_needs_the_csrf_token(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(client, "li", people["li"])
    assert client.post("/staff/logout", follow_redirects=False).status_code == 403
    page = client.get("/staff/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    out = client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/login"
    cleared = out.headers["set-cookie"]  # the browser is told to drop the session cookie
    assert cleared.startswith(f"{STAFF_COOKIE}=") and "max-age=0" in cleared.lower()
    back = client.get("/staff/", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/staff/login"
    assert client.get("/api/staff/me").status_code == 401


def log_in_and_out(client: TestClient, password: str) -> str:
    """Log 李老师 in and out; returns the session cookie the browser had (a copy someone kept)."""
    log_in(client, "li", password)
    kept = client.cookies.get(STAFF_COOKIE)
    assert kept and client.get("/api/staff/me").json()["username"] == "li"
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/").text).group(1)  # type: ignore[union-attr]
    assert client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    return kept


def test_a_session_cookie_kept_after_logout_opens_nothing(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    kept = log_in_and_out(client, people["li"])
    client.cookies.set(STAFF_COOKIE, kept)  # replayed, as a copied cookie or a shared computer would
    assert client.get("/api/staff/me").status_code == 401
    replayed = client.get("/staff/", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"] == "/staff/login"


def test_staff_see_their_departments_and_every_urgent_request(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(client, "wang", people["wang"])
    me = client.get("/api/staff/me").json()
    assert (me["display_name"], me["is_admin"], me["departments"]) == ("王老师", False, ["mental_health"])
    seen = client.get("/api/staff/tickets").json()
    assert [(r["department_id"], r["priority"]) for r in seen] == [("community", "urgent"), ("mental_health", "normal")]
    assert seen[1]["summary"] == ["<b>学生原话</b>"]  # JSON data, rendered with textContent by the console
    client.cookies.clear()
    log_in(client, "admin", people["admin"])
    assert len(client.get("/api/staff/tickets").json()) == 3
    assert "学生原话" not in client.get("/staff/").text  # the page itself carries no student text


def test_undelivered_messages_are_shown_to_who_may_see_them(client: TestClient, people, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        session.add(Conversation(id="tg:9", channel="tg"))
        session.flush()
        for conv in ("web:a", "tg:9"):
            msg = Message(conversation_id=conv, role="bot", text=f"给{conv}的回复")
            session.add(msg)
            session.flush()
            session.add(
                OutboxItem(
                    message_id=msg.id,
                    conversation_id=conv,
                    channel=conv.split(":")[0],
                    status=OUTBOX_FAILED,
                    attempts=5,
                    last_error="Forbidden: bot was blocked",
                )
            )
    log_in(client, "wang", people["wang"])  # mental_health: sees web:a's request, not tg:9
    mine = client.get("/api/staff/undelivered").json()
    assert [(u["conversation_id"], u["error"]) for u in mine] == [("web:a", "Forbidden: bot was blocked")]
    page = client.get("/staff/").text
    assert "未送达的消息（1）" in page and "给web:a的回复" in page
    client.cookies.clear()
    log_in(client, "admin", people["admin"])
    assert {u["conversation_id"] for u in client.get("/api/staff/undelivered").json()} == {"web:a", "tg:9"}

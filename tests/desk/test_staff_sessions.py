"""Staff sessions that can be ended (issue #11, point 3): a copied cookie opens nothing after logout,
a password change, a disabled account or the idle timeout; cookies are Secure when the desk is https."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from desk.main import create_app
from desk.ops import cli
from desk.settings import Settings
from desk.staff import accounts
from desk.staff.security import STAFF_COOKIE


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        _, li_pw = accounts.create_user(session, "li", display_name="李老师", departments=["campus_card"])
    return {"li": li_pw}


def log_in(client: TestClient, password: str, username: str = "li") -> str:
    """Log in; returns the session cookie (the copy someone could keep)."""
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)  # type: ignore[union-attr]
    resp = client.post(
        "/staff/login", data={"username": username, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert resp.status_code == 303, resp.text
    kept = client.cookies.get(STAFF_COOKIE)
    assert kept and client.get("/api/staff/me").status_code == 200
    return kept


def replay(client: TestClient, kept: str) -> int:
    client.cookies.clear()
    client.cookies.set(STAFF_COOKIE, kept)
    return client.get("/api/staff/me").status_code


def page_token(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)  # type: ignore[union-attr]


def test_a_password_change_ends_every_other_session(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    elsewhere = log_in(client, people["li"])  # another computer, or a copied cookie
    here = log_in(client, people["li"])
    form = {
        "current_password": "not-my-password",
        "new_password": "a-new-long-password",
        "repeat": "a-new-long-password",
    }
    wrong = client.post("/staff/password", data={**form, "csrf_token": page_token(client, "/staff/password")})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    short = {"current_password": people["li"], "new_password": "short", "repeat": "short"}
    weak = client.post("/staff/password", data={**short, "csrf_token": page_token(client, "/staff/password")})
    assert weak.status_code == 400 and "至少需要10个字符" in weak.text
    assert client.post("/staff/password", data={**form, "current_password": people["li"]}).status_code == 403  # CSRF
    done = client.post(
        "/staff/password",
        data={**form, "current_password": people["li"], "csrf_token": page_token(client, "/staff/password")},
    )
    assert done.status_code == 200 and "密码已修改" in done.text
    assert client.get("/api/staff/me").status_code == 200  # this browser stays in
    assert replay(client, elsewhere) == 401
    assert replay(client, here) == 200
    log_in(client, "a-new-long-password")


def test_disabling_an_account_ends_its_sessions_at_once(
    client: TestClient,
    people,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    kept = log_in(client, people["li"])
    monkeypatch.setenv("HELPDESK_DATABASE_URL", db_url)
    assert cli.main(["user", "disable", "LI"]) == 0
    assert "1 open session(s) ended" in capsys.readouterr().out
    assert replay(client, kept) == 401
    client.cookies.clear()
    token = page_token(client, "/staff/login")
    refused = client.post("/staff/login", data={"username": "li", "password": people["li"], "csrf_token": token})
    assert refused.status_code == 401
    assert cli.main(["user", "enable", "li"]) == 0
    log_in(client, people["li"])
    assert cli.main(["user", "disable", "nobody"]) == 2 and "no account 'nobody'" in capsys.readouterr().err


def test_an_idle_session_ends_and_a_busy_one_lasts_until_its_lifetime(client: TestClient, people, freeze_clock) -> None:  # type: ignore[no-untyped-def]
    freeze_clock("2026-12-01T09:00:00+08:00")
    kept = log_in(client, people["li"])
    freeze_clock("2026-12-01T09:29:00+08:00")
    assert replay(client, kept) == 200  # 29 minutes idle: still open (and the use is noted)
    freeze_clock("2026-12-01T09:58:00+08:00")
    assert replay(client, kept) == 200
    freeze_clock("2026-12-01T10:28:01+08:00")
    assert replay(client, kept) == 401  # 30 minutes without a request
    kept = log_in(client, people["li"])
    for minute in range(25, 12 * 60, 25):  # busy all day: ends at the absolute lifetime (12 h)
        hours, minutes = divmod(28 + minute, 60)
        freeze_clock(f"2026-12-01T{10 + hours:02d}:{minutes:02d}:01+08:00")
        assert replay(client, kept) == 200, minute
    freeze_clock("2026-12-01T22:28:02+08:00")
    assert replay(client, kept) == 401


def test_cookies_are_secure_and_http_only_when_the_desk_is_https(settings: Settings, people) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.updated(public_url="https://helpdesk.example.edu.cn"))
    with TestClient(app, base_url="https://testserver") as client:
        token = page_token(client, "/staff/login")
        resp = client.post(
            "/staff/login",
            data={"username": "li", "password": people["li"], "csrf_token": token},
            follow_redirects=False,
        )
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith(f"{STAFF_COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert "Secure" in client.post("/api/webchat/session").headers["set-cookie"]
    with TestClient(create_app(settings)) as plain:  # plain http (the embedded default): not Secure
        assert "Secure" not in plain.post("/api/webchat/session").headers["set-cookie"]

"""Staff accounts from the admin page: admins only; create shows a one-time password once (it logs in, the
database keeps only the hash); roles and departments change; disabling and 重置密码 end the person's
sessions; an admin cannot lock themselves out; the audit never holds a password or a hash."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.admin.models import AuditEntry
from desk.main import create_app
from desk.settings import Settings
from desk.staff import accounts
from tests.desk.admin_helpers import Browser, Person, make_people

API = "/api/admin/staff"


@pytest.fixture
def people(sessions: sessionmaker) -> dict[str, Person]:
    return make_people(sessions)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def as_(client: TestClient, people: dict[str, Person]):  # type: ignore[no-untyped-def]
    return lambda name: Browser(client, people[name] if name else None)


def user_id(sessions: sessionmaker, username: str) -> int:
    with sessions() as session:
        return session.scalars(select(accounts.StaffUser.id).where(accounts.StaffUser.username == username)).one()


def login_form(client: TestClient, username: str, password: str):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    token = client.get("/staff/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/staff/login", data=data, follow_redirects=False)


def first_login(client: TestClient, username: str, one_time: str) -> str:
    """Log in with an admin's one-time password: only /staff/password opens until it is changed."""
    assert login_form(client, username, one_time).headers["location"] == "/staff/password"
    assert client.get("/staff/", follow_redirects=False).headers["location"] == "/staff/password"
    assert client.get("/admin/schedules", follow_redirects=False).headers["location"] == "/staff/password"
    refused = client.get("/api/staff/me")
    assert refused.status_code == 403 and "一次性密码" in refused.json()["detail"]
    page = client.get("/staff/password")
    assert "请先设置你自己的密码" in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    new = "my-own-password-1"
    form = {"csrf_token": csrf, "current_password": one_time, "new_password": new, "repeat": new}
    assert "密码已修改" in client.post("/staff/password", data=form).text
    assert client.get("/api/staff/me").status_code == 200
    return new


ENDPOINTS = [
    ("GET", API, None),
    ("POST", API, {"username": "newbie", "display_name": "新人"}),
    ("PUT", API + "/1", {"display_name": "x", "active": True}),
    ("POST", API + "/1/reset-password", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_anonymous_gets_401_and_non_admins_403(as_, method: str, url: str, body) -> None:  # type: ignore[no-untyped-def]
    assert as_(None).request(method, url, json=body).status_code == 401
    for name in ("clerk", "ed"):  # ordinary staff, and an FAQ editor who is no admin
        resp = as_(name).request(method, url, json=body)
        assert resp.status_code == 403 and resp.json()["detail"] == "需要管理员权限"


def test_the_page_is_for_admins(as_) -> None:  # type: ignore[no-untyped-def]
    assert as_(None).get("/admin/staff", follow_redirects=False).headers["location"] == "/staff/login"
    assert as_("ed").get("/admin/staff").status_code == 403
    page = as_("boss").get("/admin/staff")
    assert page.status_code == 200 and "一次性密码" in page.text and "<script>" not in page.text


def test_create_shows_the_password_once_and_it_logs_in(as_, client: TestClient, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    body = {"username": "Zhou.Min", "display_name": "周敏", "departments": ["career"], "editor_departments": ["career"]}
    resp = as_("boss").post(API, json=body)
    assert resp.status_code == 201 and resp.headers["cache-control"] == "no-store"
    created = resp.json()
    password = created["password"]
    assert created["account"] == {
        **created["account"],
        "username": "zhou.min", "display_name": "周敏", "is_admin": False,
        "departments": ["career"], "editor_departments": ["career"], "active": True,
    }  # fmt: skip
    listed = as_("boss").get(API).json()
    assert "password" not in json.dumps(listed) and "argon2" not in json.dumps(listed)
    own = first_login(client, "zhou.min", password)  # the one-time password works, once, to choose one's own
    zhou = Browser(client, Person("zhou.min", own))
    assert [s["service_id"] for s in zhou.get("/api/admin/schedules").json()] == [
        "career_consulting",
        "employment_paperwork",
    ]
    with sessions() as session:
        stored = session.scalars(select(accounts.StaffUser).where(accounts.StaffUser.username == "zhou.min")).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.create")).one()
    assert password not in stored.password_hash
    assert entry.actor == "boss" and entry.after["username"] == "zhou.min" and entry.before is None
    assert password not in json.dumps(entry.after) and "hash" not in json.dumps(entry.after)


def test_bad_input_is_explained(as_) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    taken = boss.post(API, json={"username": "clerk"})
    assert taken.status_code == 400 and taken.json()["detail"] == "用户名「clerk」已被使用"
    odd = boss.post(API, json={"username": "王老师"})
    assert odd.status_code == 400 and "用户名只能用" in odd.json()["detail"]
    unknown = boss.post(API, json={"username": "newbie", "departments": ["nowhere"]})
    assert unknown.status_code == 400 and unknown.json()["detail"] == "接待部门中有不存在的部门：nowhere"
    assert boss.put(API + "/99999", json={"active": True}).status_code == 404


def test_roles_change_and_disabling_ends_the_sessions(as_, client: TestClient, people, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    clerk = Browser(client, people["clerk"])
    assert clerk.get("/api/staff/me").status_code == 200
    clerk_id = user_id(sessions, "clerk")
    body = {
        "display_name": "职业中心小李",
        "is_admin": False,
        "departments": ["career"],
        "editor_departments": ["career"],
    }
    changed = as_("boss").put(f"{API}/{clerk_id}", json={**body, "active": True})
    assert changed.status_code == 200 and changed.json()["editor_departments"] == ["career"]
    assert clerk.get("/api/admin/schedules").status_code == 200  # now an editor: at once, same session
    disabled = as_("boss").put(f"{API}/{clerk_id}", json={**body, "active": False})
    assert disabled.json()["active"] is False
    assert clerk.get("/api/staff/me").status_code == 401
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.update")).all()
    assert [e.after["active"] for e in entries] == [True, False]
    assert entries[0].before["display_name"] == "clerk" and entries[0].after["display_name"] == "职业中心小李"
    assert entries[1].after["sessions_ended"] == 1


def test_reset_password_ends_every_session_and_the_old_password(
    as_, client: TestClient, people, sessions: sessionmaker
) -> None:  # type: ignore[no-untyped-def]
    clerk = Browser(client, people["clerk"])
    reset = as_("boss").post(f"{API}/{user_id(sessions, 'clerk')}/reset-password")
    assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
    assert reset.json()["sessions_ended"] == 1
    assert clerk.get("/api/staff/me").status_code == 401
    assert login_form(client, "clerk", people["clerk"].password).status_code == 401
    first_login(client, "clerk", reset.json()["password"])  # the new one works, to choose one's own
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.reset_password")).one()
    assert reset.json()["password"] not in json.dumps(entry.after) and "hash" not in json.dumps(entry.after)
    assert entry.after["password_reset"] is True and entry.after["sessions_ended"] == 1


def test_an_admin_cannot_lock_themselves_out(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    boss = as_("boss")
    me = user_id(sessions, "boss")
    assert boss.put(f"{API}/{me}", json={"is_admin": True, "active": False}).status_code == 403
    assert boss.put(f"{API}/{me}", json={"is_admin": False, "active": True}).status_code == 403
    assert boss.post(f"{API}/{me}/reset-password").json()["detail"] == "自己的密码请在「修改密码」页面修改"
    assert boss.get(API).status_code == 200

"""Accounts and logged-in clients for the admin API tests: an admin, an editor of student_affairs,
ordinary staff with no knowledge-base rights, and nobody."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from desk.admin.roles import set_editor
from desk.staff import accounts


@dataclass
class Person:
    username: str
    password: str


def make_people(sessions: sessionmaker) -> dict[str, Person]:
    """Create the accounts (the editor edits student_affairs entries only)."""
    people = {}
    with sessions() as session, session.begin():
        for name, admin, deps in (("boss", True, []), ("ed", False, ["student_affairs"]), ("clerk", False, ["career"])):
            user, password = accounts.create_user(session, name, is_admin=admin, departments=deps)
            if name == "ed":
                set_editor(session, user.id, ["student_affairs"])
            people[name] = Person(name, password)
    return people


class Browser:
    """One person's session on a shared TestClient (one app lifespan): their cookies and CSRF token."""

    def __init__(self, client: TestClient, person: Person | None) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        if person is not None:
            client.cookies.clear()
            self.csrf = log_in(client, person)
            self.cookies = dict(client.cookies.items())
            client.headers.pop("X-CSRF-Token", None)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()
        for name, value in self.cookies.items():
            self.client.cookies.set(name, value)
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})} if self.csrf else kwargs.pop("headers", {})
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)


def log_in(client: TestClient, person: Person) -> str:
    """Log the client in; returns the session's CSRF token (read from a staff page)."""
    page = client.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    resp = client.post(
        "/staff/login",
        data={"username": person.username, "password": person.password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    console = client.get("/staff/")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', console.text)
    assert csrf
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return csrf.group(1)

"""End to end: an admin publishes an edit through the admin API of the running desk, and the web chat's
next answer (real Rasa and action server, no restart) is the edited one; unpublishing takes it away."""

from __future__ import annotations

import re

import httpx
import pytest

from desk.staff import accounts
from tests.e2e.conftest import ChatClient
from tests.stack import Stack

pytestmark = pytest.mark.e2e
QUESTION = "图书馆几点开门几点关门"


def admin_client(stack: Stack) -> httpx.Client:
    """An httpx client logged in as a fresh admin of the stack, with the CSRF header set."""
    sessions = stack.sessions()
    username = f"e2e_admin_{len(stack.children)}"
    with sessions() as session, session.begin():
        if session.query(accounts.StaffUser).filter_by(username=username).first() is None:
            accounts.create_user(session, username, "correct horse battery", is_admin=True)
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    form = client.get("/staff/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    resp = client.post("/staff/login", data={"username": username, "password": "correct horse battery",
                                              "csrf_token": token.group(1)})  # fmt: skip
    assert resp.status_code in (200, 303)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/admin/faqs").text)
    assert csrf, "the admin page did not open"
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client


async def test_a_published_edit_is_the_next_web_chat_answer(chat: ChatClient, stack: Stack) -> None:
    admin = admin_client(stack)
    original = admin.get("/api/admin/faqs/library_hours").json()
    assert [r["text"] for r in await chat.ask(QUESTION)] == [original["answer"].strip()]
    edited = original["answer"].strip() + "考试周延长开放至24:00。"
    keys = ("question", "similar", "department", "tags", "service", "valid_from", "valid_until")
    body = {**{k: original[k] for k in keys}, "answer": edited, "version": original["version"], "publish": True}
    try:
        saved = admin.put("/api/admin/faqs/library_hours", json=body)
        assert saved.status_code == 200, saved.text
        assert [r["text"] for r in await chat.ask(QUESTION)] == [edited]
        gone = admin.post("/api/admin/faqs/library_hours/unpublish", json={"version": saved.json()["version"]})
        assert gone.status_code == 200
        assert edited not in "\n".join(r["text"] for r in await chat.ask(QUESTION))
    finally:
        current = admin.get("/api/admin/faqs/library_hours").json()
        restore = admin.post(
            "/api/admin/faqs/library_hours/rollback",
            json={"to_version": original["version"], "version": current["version"]},
        )
        assert restore.status_code == 200
        admin.close()
    assert [r["text"] for r in await chat.ask(QUESTION)] == [original["answer"].strip()]

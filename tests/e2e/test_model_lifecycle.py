"""End to end, the slow one (it trains a real model, 2-4 minutes on 2 cores): an admin adds an alias to a
service, the model page says a retrain is due, the build validates, trains, passes the story tests and is
loaded into the running Rasa, which then knows the alias; the web chat answers throughout; 恢复上一版 brings
the previous model back while students keep chatting. The model lands in the stack's own var/builds/."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from desk.admin.models import AuditEntry
from knowledge_base.models import Service
from tests.e2e.conftest import ChatClient
from tests.e2e.test_admin_live import admin_client
from tests.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ALIAS = "心灵驿站"
BUILD_MINUTES = 8


def set_aliases(stack: Stack, change: Any) -> None:
    """What an admin does in /admin/db: edit the counseling service's aliases."""
    with stack.sessions()() as session, session.begin():
        service = session.get(Service, "counseling")
        assert service is not None
        service.aliases = change(list(service.aliases))


def service_entities(stack: Stack, text: str) -> list[str]:
    """The `service` entities the running Rasa's model finds in a sentence."""
    resp = httpx.post(f"{stack.settings.rasa.url}/model/parse", params={"token": stack.settings.rasa.token},
                      json={"text": text}, timeout=30)  # fmt: skip
    assert resp.status_code == 200, resp.text
    return [e["value"] for e in resp.json()["entities"] if e["entity"] == "service"]


async def wait_for_build(admin: httpx.Client, build_id: int) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Poll the build like the page does; returns its end state and the (status, progress) seen on the way."""
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + BUILD_MINUTES * 60
    while time.monotonic() < deadline:
        build = admin.get(f"/api/admin/model/builds/{build_id}").json()
        if not seen or seen[-1] != (build["status"], build["progress"]):
            seen.append((build["status"], build["progress"]))
        if build["status"] not in ("queued", "validating", "training", "testing", "loading"):
            return build, seen
        await asyncio.sleep(1)
    pytest.fail(f"the build did not end within {BUILD_MINUTES} minutes: {seen[-5:]}")


async def test_retrain_from_the_browser_loads_the_new_model_and_restores_the_old(stack: Stack) -> None:
    admin = admin_client(stack)
    sentence = f"我想预约{ALIAS}"
    original = admin.get("/api/admin/model").json()
    assert original["serving_source"] == "rasa" and original["retrain_due"] is False
    assert service_entities(stack, sentence) == []  # the served model does not know the alias
    set_aliases(stack, lambda aliases: [*aliases, ALIAS])
    try:
        due = admin.get("/api/admin/model").json()
        assert due["retrain_due"] is True
        assert due["changes"]["added_names"] == [{"name": ALIAS, "service": "counseling"}]
        started = time.monotonic()
        build = admin.post("/api/admin/model/builds")
        assert build.status_code == 202, build.text
        assert admin.post("/api/admin/model/builds").status_code == 409  # one at a time
        done, seen = await wait_for_build(admin, build.json()["id"])
        print(f"\nmodel build: {time.monotonic() - started:.0f} s; stages {sorted({s for s, _ in seen})}")
        assert done["status"] == "active", f"{done['error']}\n{done['log_tail']}"
        assert done["progress"] == 100 and done["error"] is None
        training = [p for s, p in seen if s == "training"]
        assert any(10 < p < 85 for p in training), seen  # progress moved during training
        assert [s for s, _ in seen if s in ("validating", "testing")] != []
        # the running Rasa serves the new model, with no restart, and knows the alias
        now = admin.get("/api/admin/model").json()
        assert now["serving"] == done["model"] and now["serving_build_id"] == done["id"]
        assert now["retrain_due"] is False and now["previous"] == original["serving"]
        assert service_entities(stack, sentence) == ["counseling"]
        chat = await ChatClient(stack).open()
        for text in ("你好", "图书馆几点开门"):  # the new model answers (and the action server is warm)
            assert [r["text"] for r in await chat.ask(text) if r["role"] == "bot"] != [], text

        # 恢复上一版 while a student keeps chatting: every message is answered by the bot
        async def restore() -> httpx.Response:
            headers = {"X-CSRF-Token": admin.headers["X-CSRF-Token"]}
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=300, cookies=admin.cookies) as client:
                return await client.post("/api/admin/model/restore", headers=headers)

        async def keep_chatting() -> list[list[dict[str, Any]]]:
            return [await chat.ask(text) for text in ("校园卡丢了怎么办", "奖学金什么时候评", "谢谢")]

        swap = time.monotonic()
        restored, answers = await asyncio.gather(restore(), keep_chatting())
        print(f"restore with three messages in flight: {time.monotonic() - swap:.1f} s")
        await chat.close()
        assert restored.status_code == 200, restored.text
        assert all(any(r["role"] == "bot" for r in replies) for replies in answers), answers
        back = restored.json()
        assert back["serving"] == original["serving"] and back["previous"] == done["model"]
        assert service_entities(stack, sentence) == []
        assert back["retrain_due"] is True  # the alias is still in the database
    finally:
        set_aliases(stack, lambda aliases: [a for a in aliases if a != ALIAS])
        if admin.get("/api/admin/model").json()["serving"] != original["serving"]:
            admin.post("/api/admin/model/restore")
        admin.close()
    with stack.sessions()() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity.in_(["model", "model_build"])).order_by(AuditEntry.id)
        )
        assert list(actions) == ["model.build.start", "model.activate", "model.restore"]

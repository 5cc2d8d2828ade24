"""The model page's API with the desk under TestClient and Rasa down: who may use it, the retrain notice
listing an admin's new alias, one build at a time (its runner really starts), builds whose process died,
and what cannot be activated or restored. Loading into a running Rasa is tests/e2e/test_model_lifecycle.py."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.admin.models import AuditEntry
from desk.lifecycle import builds, runner
from desk.lifecycle.models import FAILED, LOADING, RUNNING, TRAINING, ModelBuild
from desk.main import create_app
from desk.settings import Settings
from knowledge_base.models import Service, utcnow
from tests.desk.admin_helpers import Browser, Person, make_people
from tests.stack import find_model, missing

ALIAS = "心灵驿站"


@pytest.fixture
def people(sessions: sessionmaker) -> dict[str, Person]:
    return make_people(sessions)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    model = find_model()
    if model is None or not model.exists():
        missing("no trained Rasa model: run `make train`")
    return settings.updated(model=model)


@pytest.fixture
def app(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as client:
        yield client
        for proc in client.app.state.models.processes.values():  # type: ignore[attr-defined]
            if proc.poll() is None:  # a build this test started: stop its runner and Rasa (their group)
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def as_(app: TestClient, people: dict[str, Person]):  # type: ignore[no-untyped-def]
    """`as_("boss")`: that person's browser, logged in once (`as_(None)`: anonymous)."""
    browsers: dict[str | None, Browser] = {}

    def browser(name: str | None) -> Browser:
        if name not in browsers:
            browsers[name] = Browser(app, people[name] if name else None)
        return browsers[name]

    return browser


def add_alias(sessions: sessionmaker) -> None:
    """What an admin does in /admin/db: one more alias for the counseling service."""
    with sessions() as session, session.begin():
        service = session.get(Service, "counseling")
        assert service is not None
        service.aliases = [*service.aliases, ALIAS]


ENDPOINTS = [
    ("GET", "/api/admin/model", 200),
    ("GET", "/api/admin/model/builds/999", 404),
    ("POST", "/api/admin/model/builds/999/activate", 404),
    ("POST", "/api/admin/model/restore", 409),
    ("POST", "/api/admin/model/builds", None),  # an admin's start: test_a_build_starts_in_the_background...
]


def test_only_admins_use_the_model_api(as_, sessions: sessionmaker) -> None:  # type: ignore[no-untyped-def]
    for method, url, admin_status in ENDPOINTS:
        assert as_(None).request(method, url).status_code == 401, url
        for staff in ("ed", "clerk"):  # an FAQ editor and ordinary staff
            resp = as_(staff).request(method, url)
            assert resp.status_code == 403 and resp.json()["detail"] == "需要管理员权限", url
        if admin_status is not None:
            assert as_("boss").request(method, url).status_code == admin_status, url
    with sessions() as session:
        assert session.scalars(select(ModelBuild)).all() == []  # nobody without rights started one


def test_the_page_is_for_admins_and_the_faq_list_links_it(as_) -> None:  # type: ignore[no-untyped-def]
    page = as_("boss").get("/admin/model")
    assert page.status_code == 200 and "模型管理" in page.text and "/static/admin_model.js" in page.text
    assert 'href="/admin/model"' in as_("boss").get("/admin/faqs").text
    assert 'id="retrain-banner"' in as_("boss").get("/admin/faqs").text
    assert 'href="/admin/model"' not in as_("ed").get("/admin/faqs").text
    assert as_("ed").get("/admin/model").status_code == 403
    assert as_("clerk").get("/admin/model").status_code == 403
    anonymous = as_(None).get("/admin/model", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/staff/login"


def test_an_added_alias_makes_a_retrain_due_and_is_listed(as_, sessions, app_settings) -> None:  # type: ignore[no-untyped-def]
    before = as_("boss").get("/api/admin/model").json()
    assert before["serving"] == app_settings.model.name
    assert before["serving_source"] == "config"  # Rasa is down: the model `helpdesk run` would start
    assert before["replicas"][0]["error"]
    assert before["retrain_due"] is False and before["model_terms_fingerprint"] == before["terms_fingerprint"]
    assert before["previous"] is None and before["running"] is None
    add_alias(sessions)
    after = as_("boss").get("/api/admin/model").json()
    assert after["retrain_due"] is True
    assert after["changes"]["added_names"] == [{"name": ALIAS, "service": "counseling"}]
    assert after["changes"]["added_words"] == [ALIAS]
    assert after["changes"]["removed_words"] == [] and after["changes"]["removed_names"] == []


def test_a_build_starts_in_the_background_one_at_a_time_and_is_audited(as_, sessions, app) -> None:  # type: ignore[no-untyped-def]
    add_alias(sessions)
    admin = as_("boss")
    started = admin.post("/api/admin/model/builds")
    assert started.status_code == 202, started.text
    build = started.json()
    assert build["status"] in RUNNING and build["started_by"] == "boss"
    assert build["changes"]["added_names"] == [{"name": ALIAS, "service": "counseling"}]
    again = admin.post("/api/admin/model/builds")
    assert again.status_code == 409 and again.json()["detail"] == "已有一个模型正在训练，请等它完成"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the runner process reports in: it stages the build and validates
        now = admin.get(f"/api/admin/model/builds/{build['id']}").json()
        if now["status"] == "validating" and now["stage"].startswith("检查训练数据"):
            break
        time.sleep(0.5)
    assert now["status"] == "validating", now
    assert now["terms_fingerprint"] == admin.get("/api/admin/model").json()["terms_fingerprint"]
    assert admin.get("/api/admin/model").json()["running"]["id"] == build["id"]
    with sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "model.build.start")).one()
    assert (entry.actor, entry.entity, entry.entity_id) == ("boss", "model_build", str(build["id"]))
    counts = {"added_words": 1, "removed_words": 0, "added_names": 1, "removed_names": 0}
    assert entry.after == {"terms_fingerprint": build["terms_fingerprint"], "changes": counts}


def test_a_build_that_stopped_reporting_fails_and_frees_the_slot(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        build = builds.start(session, "boss", None, "f" * 16, {})
        build.status, build.updated_at = TRAINING, utcnow() - timedelta(seconds=builds.STALE_SECONDS + 5)
    overview = as_("boss").get("/api/admin/model").json()
    assert overview["running"] is None
    assert overview["builds"][0]["status"] == FAILED
    assert "构建进程没有响应" in overview["builds"][0]["error"]
    with sessions() as session, session.begin():
        assert builds.start(session, "boss", None, "f" * 16, {}).id == build.id + 1


def test_only_a_checked_model_can_be_activated(as_, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session, session.begin():
        build = builds.start(session, "boss", None, "f" * 16, {})
        builds.finish(session, build, FAILED, "故事测试未通过")
    resp = as_("boss").post(f"/api/admin/model/builds/{build.id}/activate")
    assert resp.status_code == 409 and resp.json()["detail"] == "只有训练完成并通过检查的模型才能启用"
    shown = as_("boss").get(f"/api/admin/model/builds/{build.id}").json()
    assert (shown["status"], shown["status_text"], shown["error"]) == ("failed", "失败", "故事测试未通过")
    restore = as_("boss").post("/api/admin/model/restore")
    assert restore.status_code == 409 and restore.json()["detail"] == "没有可以恢复的上一版模型"


def test_a_build_keeps_reporting_while_rasa_loads_its_model(
    app_settings: Settings, sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading may outlast builds.STALE_SECONDS: the runner's heartbeat goes on, so the build is not failed."""
    with socket.socket() as silent:  # a Rasa that accepts the connection and never answers (a long load)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = app_settings.updated(rasa_url=f"http://127.0.0.1:{silent.getsockname()[1]}")
        with sessions() as session, session.begin():
            build = builds.start(session, "boss", None, "f" * 16, {})
            build.status, build.updated_at = LOADING, utcnow() - timedelta(seconds=builds.STALE_SECONDS + 5)
        monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.1)

        async def load_until_a_beat() -> None:
            loading = asyncio.create_task(
                runner.Runner(settings, sessions, build.id).load(settings.model, "boss", None)
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not loading.done():
                with sessions() as session:
                    if builds.running_build(session) is not None:  # not stale any more
                        break
                await asyncio.sleep(0.05)
            loading.cancel()

        asyncio.run(load_until_a_beat())
    with sessions() as session, session.begin():
        shown = builds.get(session, build.id)
        builds.expire_stale(session)
        assert (shown.status, shown.error) == (LOADING, None)

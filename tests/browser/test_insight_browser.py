"""The insight dashboard in a real Chromium: an admin logs in, every chart is drawn (a canvas with
pixels on it), the clusters show the planted question, and the FAQ-draft button sends the cluster's
draft (the FAQ editor's endpoint is not on this branch: the page says so instead of failing silently)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import sessionmaker

from desk.insight.models import Suggestion
from desk.main import create_app
from desk.models import Conversation, HandoffRequest, Message
from desk.settings import Settings
from knowledge_base import clock
from tests.browser.conftest import screenshot_path
from tests.desk.insight.seed import seed
from tests.stack import free_port

pytestmark = pytest.mark.browser
CHARTS = ["messages_per_day", "outcomes", "heatmap", "top_questions", "top_giveups", "handoff_times",
          "satisfaction", "bookings", "related"]  # fmt: skip
CATS = ["宿舍能养猫吗", "宿舍可以养宠物吗", "寝室里能不能养猫", "能在宿舍养小猫吗"]
FAQS = [("scholarship_national", "student_affairs"), ("card_report_loss", "campus_card"),
        ("grant_national", "student_affairs"), ("card_recharge", "campus_card")]  # fmt: skip


def a_month_of_traffic(sessions: sessionmaker) -> None:
    """Four weeks of student messages on three channels, busy in office hours, a few give-ups."""
    rng = random.Random(7)
    now = clock.now()
    with sessions() as session, session.begin():
        for ch in ("web", "tg", "wx"):
            session.add(Conversation(id=f"{ch}:month", channel=ch))
        session.flush()
        for _ in range(900):
            ch = rng.choices(["web", "wx", "tg"], [6, 3, 1])[0]
            # 09:00-21:00 in Beijing on one of the 27 days before the suite's day (now is 09:00)
            at = now - timedelta(days=rng.randrange(1, 28)) + timedelta(hours=rng.choice([0, 1, 2, 5, 6, 7, 8, 11, 12]),
                                                                         minutes=rng.randrange(60))  # fmt: skip
            decision = rng.choices(["answer", "suggest", "none", "handoff", "service"], [60, 15, 10, 5, 10])[0]
            faq, dept = rng.choice(FAQS) if decision in ("answer", "suggest") else (None, "community")
            text = rng.choice(CATS) if decision == "none" else "问题"
            session.add(Message(conversation_id=f"{ch}:month", role="student", text=text, created_at=at, channel=ch,
                                decision=decision, faq_id=faq, department_id=dept))  # fmt: skip
        for n in range(40):  # related entries offered after answers, a third of them clicked
            faq, suggested = rng.choice([("card_report_loss", "card_replace"), ("card_report_loss", "card_recharge"),
                                         ("scholarship_national", "grant_national")])  # fmt: skip
            at = now - timedelta(days=rng.randrange(1, 28))
            session.add(Suggestion(conversation_id="web:month", faq_id=faq, suggested_id=suggested, title="问题",
                                   offered_at=at, clicked_at=at if n % 3 == 0 else None))  # fmt: skip
        for n in range(12):
            at = now - timedelta(days=n, hours=2)
            department = rng.choice(["community", "campus_card"])
            session.add(HandoffRequest(
                conversation_id="web:month", department_id=department, reason="request", status="closed",
                created_at=at, claim_wait_seconds=rng.randint(30, 900), rating=rng.randint(2, 5),
                closed_at=at + timedelta(minutes=rng.randint(5, 60)), rated_at=at + timedelta(hours=1),
            ))  # fmt: skip


@pytest.fixture
def desk_url(tmp_path: Path, db_url: str, sessions: sessionmaker) -> Iterator[tuple[str, dict[str, str]]]:
    people = seed(sessions)
    a_month_of_traffic(sessions)
    dead = free_port()
    dead_url = f"http://127.0.0.1:{dead}"
    settings = Settings(var_dir=tmp_path, database_url=db_url, rasa_url=dead_url, action_server_url=dead_url,
                        rasa_token="t" * 32, secret_key="s" * 32)  # fmt: skip
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the desk did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", people
    server.should_exit = True
    thread.join(timeout=10)


def painted(page: Any, name: str) -> int:
    """How many pixels of the chart's canvas are not blank."""
    return page.evaluate(
        """(name) => {
            const canvas = document.querySelector(`figure[data-chart="${name}"] canvas`);
            if (!canvas) return 0;
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
            return n;
        }""",
        name,
    )


def test_the_dashboard_draws_every_chart_and_drafts_from_a_cluster(browser: Any, desk_url) -> None:  # type: ignore[no-untyped-def]
    url, people = desk_url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{url}/staff/login")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', people["admin"])
        page.click('button[type="submit"]')
        page.wait_for_url(f"{url}/staff/")
        page.goto(f"{url}/staff/insight")
        page.wait_for_selector('body[data-loaded="1"]', timeout=30_000)
        for name in CHARTS:
            assert painted(page, name) > 500, f"chart {name} is empty"
        assert page.inner_text('figure[data-chart="messages_per_day"] figcaption').startswith("每日咨询量")
        assert page.get_attribute('figure[data-chart="bookings"] figcaption a', "href").startswith(
            "/api/insight/charts/bookings.csv?"
        )
        cluster = page.wait_for_selector("article.cluster", timeout=60_000)
        assert "宿舍" in cluster.inner_text()
        with page.expect_request(lambda r: r.url.endswith("/api/admin/faq/drafts")) as sent:
            cluster.query_selector("button").click()
        draft = sent.value.post_data_json
        assert set(draft) == {"question", "similar_questions", "answer", "department", "source"}
        assert sorted([draft["question"], *draft["similar_questions"]]) == sorted(CATS)
        assert draft["source"].startswith("insight:cluster:")
        notice = page.wait_for_selector("#cluster-notice:has(a)")
        assert "已生成草稿" in notice.inner_text()
        editor = notice.query_selector("a").get_attribute("href")
        assert editor.startswith("/admin/faqs/")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshot_path("dashboard.png")), full_page=True)
        saved = context.request.get(f"{url}/api/admin/faqs/{editor.rsplit('/', 1)[1]}").json()
        assert (saved["question"], saved["state"]) == (draft["question"], "draft")  # waiting in the FAQ editor
    finally:
        context.close()


def test_an_admin_publishes_a_survey_and_edits_the_menu_in_the_browser(browser: Any, desk_url) -> None:  # type: ignore[no-untyped-def]
    url, people = desk_url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{url}/staff/login")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', people["admin"])
        page.click('button[type="submit"]')
        page.wait_for_url(f"{url}/staff/")
        page.goto(f"{url}/staff/insight/surveys")
        page.wait_for_selector('body[data-loaded="1"]', timeout=30_000)
        form = "#new-survey "
        page.fill(form + 'input[name="title"]', "食堂调研")
        page.fill(form + 'input[name="question"]', "你最常去哪个食堂？")
        page.fill(form + 'input[name="options"]', "一食堂、二食堂、三食堂")
        page.fill(form + 'input[name="starts_on"]', "2026-12-01")
        page.fill(form + 'input[name="ends_on"]', "2026-12-07")
        page.click(form + 'button[type="submit"]')
        survey = page.wait_for_selector("article[data-survey]", timeout=15_000)
        assert "食堂调研：你最常去哪个食堂？" in survey.inner_text() and "已询问 0 人" in survey.inner_text()
        assert survey.query_selector("canvas") is not None
        page.fill('#new-item input[name="title"]', "新生报到流程")
        page.select_option('#new-item select[name="stage"]', "新生")
        page.fill('#new-item input[name="first_day"]', "08-15")
        page.fill('#new-item input[name="last_day"]', "10-15")
        page.click('#new-item button[type="submit"]')
        row = page.wait_for_selector("#menu-items tr[data-item]", timeout=15_000)
        assert "新生报到流程" in row.inner_text() and "08-15 至 10-15" in row.inner_text()
        row.query_selector("button").click()
        page.wait_for_selector("#menu-items tr[data-item]", state="detached", timeout=15_000)
    finally:
        context.close()

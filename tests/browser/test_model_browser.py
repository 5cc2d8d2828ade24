"""An admin adds an alias to a service; in a real browser (under the desk's real CSP) the FAQ list shows the
retrain banner and the model page lists the alias as the change a retrain brings, with 开始训练 ready.
The screenshot: conftest.screenshot_path (admin-model.png). The build
itself is tests/e2e/test_model_lifecycle.py."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge_base.models import Service
from tests.browser.conftest import ensure_admin, log_in, screenshot_path
from tests.stack import Stack

pytestmark = pytest.mark.browser
PASSWORD = "model-browser-pass"
ALIAS = "心理树洞"


def set_aliases(stack: Stack, change: Any) -> None:
    with stack.sessions()() as session, session.begin():
        service = session.get(Service, "counseling")
        assert service is not None
        service.aliases = change(list(service.aliases))


def test_the_model_page_lists_an_added_alias_as_a_retrain_due(stack: Stack, strict_page: tuple[Any, list[str]]) -> None:
    page, complaints = strict_page
    admin = ensure_admin(stack, "model_admin", PASSWORD, "模型管理员")
    set_aliases(stack, lambda aliases: [*aliases, ALIAS])
    try:
        log_in(page, stack, admin, PASSWORD)
        page.locator("text=模型管理员").first.wait_for(timeout=15_000)
        page.goto(stack.base_url + "/admin/faqs")
        banner = page.locator("#retrain-banner")
        banner.wait_for(state="visible", timeout=15_000)
        assert "需要重新训练" in banner.inner_text()
        banner.locator("a", has_text="去模型管理").click()
        page.wait_for_url("**/admin/model")
        due = page.locator("#retrain-due")
        due.wait_for(state="visible", timeout=15_000)
        assert due.inner_text() == "需要重新训练：数据库中的目录词条有 2 处与正在使用的模型不同。"
        changes = page.locator("#changes").inner_text()
        assert f"新增服务名称：{ALIAS} → counseling" in changes and f"新增词条：{ALIAS}" in changes
        assert page.locator("#serving").inner_text().endswith(".tar.gz")
        assert page.locator("#start-build").is_enabled()
        page.screenshot(path=str(screenshot_path("admin-model.png")), full_page=True)
    finally:
        set_aliases(stack, lambda aliases: [a for a in aliases if a != ALIAS])
    page.reload()
    page.locator("#terms-ok").wait_for(state="visible", timeout=15_000)  # the alias gone: nothing to retrain
    assert complaints == []

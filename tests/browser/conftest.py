"""A real Chromium (Debian's package) driven by Playwright; Playwright's own browser is never downloaded."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from desk.staff import accounts
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.settings import var_dir
from tests.stack import Stack, missing

DOC_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: sync Playwright runs an event loop, which must be gone before async tests run."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        missing("Debian's chromium is not installed (scripts/setup.sh browser installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized page (390x844, like a common phone)."""
    # bypass_csp: Playwright's wait_for_function evaluates its predicate as a string, which the desk's CSP
    # (script-src 'self', no eval) refuses; test_csp_browser.py checks the pages under the real policy
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, locale="zh-CN", bypass_csp=True
    )
    page = context.new_page()
    yield page
    context.close()


@contextmanager
def open_page(
    browser: Any, width: int = 1280, height: int = 900, *, real_csp: bool = False
) -> Iterator[tuple[Any, list[str]]]:
    """A page in a context of its own, and the Content-Security-Policy complaints Chromium printed on it.

    `real_csp`: under the desk's real policy (then nothing may call wait_for_function, whose predicate is
    a string the policy refuses); otherwise the policy is bypassed (test_csp_browser.py checks it)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", bypass_csp=not real_csp)
    try:
        page = context.new_page()
        complaints: list[str] = []
        page.on("console", lambda msg: complaints.append(msg.text) if "Content Security Policy" in msg.text else None)
        yield page, complaints
    finally:
        context.close()


@pytest.fixture
def strict_page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A 1280x900 page under the desk's real CSP, and the CSP complaints Chromium printed."""
    with open_page(browser, real_csp=True) as opened:
        yield opened


def ensure_admin(stack: Stack, username: str, password: str, display_name: str) -> str:
    """An admin account on the shared stack (created on first use); its username."""
    with stack.sessions()() as session, session.begin():
        if session.query(accounts.StaffUser).filter_by(username=username).first() is None:
            accounts.create_user(session, username, password, display_name=display_name, is_admin=True)
    return username


def log_in(page: Any, stack: Stack, username: str, password: str, *, via: str = "/staff/login") -> None:
    """Log in on the staff login page and land on /staff/. `via`: a page a visitor without a session
    is sent from to the login page (checked)."""
    page.goto(stack.base_url + via)
    page.wait_for_url(re.compile(r"/staff/login$"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))


def screenshot_path(name: str) -> Path:
    """Where a browser test saves a screenshot: the README's docs/screenshots/ only on request
    (HELPDESK_DOC_SCREENSHOTS=1), else var/screenshots/, so a test run leaves the checkout clean."""
    folder = DOC_SCREENSHOTS if os.environ.get("HELPDESK_DOC_SCREENSHOTS") == "1" else var_dir() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name

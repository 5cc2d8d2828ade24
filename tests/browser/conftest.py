"""A real Chromium (Debian's package) driven by Playwright; Playwright's own browser is never downloaded."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack import missing

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

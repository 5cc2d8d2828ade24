"""The real desk process (uvicorn as `helpdesk run` starts it): no query string in var/log/desk.log,
security headers, and a foreign Origin refused on the web chat websocket (docs/security.md)."""

from __future__ import annotations

import time

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatusCode

from tests.stack import Stack

OPENID = "oSECRETopenid0123456789"


def test_the_access_log_has_paths_but_no_query_strings(stack: Stack) -> None:
    marker = f"/staff/login?openid={OPENID}&signature=abc"
    resp = httpx.get(stack.base_url + marker, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    log = stack.child("desk").log
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "GET /staff/login HTTP" not in log.read_text(errors="replace"):
        time.sleep(0.2)
    text = log.read_text(errors="replace")
    assert "GET /staff/login HTTP" in text  # the request is logged...
    assert OPENID not in text and "openid=" not in text  # ...without its query string


async def test_a_foreign_origin_is_refused_by_the_running_desk(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http:
        await http.post("/api/webchat/session")
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    url = stack.base_url.replace("http://", "ws://") + "/ws/webchat"
    with pytest.raises(InvalidStatusCode) as refused:
        await websockets.connect(
            url, origin="https://evil.example.com", extra_headers={"Cookie": cookie}, open_timeout=10
        )  # type: ignore[arg-type]
    assert refused.value.status_code == 403
    own = await websockets.connect(url, origin=stack.base_url, extra_headers={"Cookie": cookie}, open_timeout=10)  # type: ignore[arg-type]
    await own.close()

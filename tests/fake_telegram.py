"""A fake Telegram Bot API server on loopback, speaking the Bot API's JSON.

It serves `/bot<token>/<method>` for the methods the desk uses, records every call (with its
time), can be told to fail the next calls of a method (429 with retry_after, 403, 5xx), and
queues updates for getUpdates (long polling). `update()` builds Update JSON for webhook tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer

TOKEN = "123456:TEST-token_for-the-fake"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "校园助手", "username": "campus_helpdesk_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeTelegram:
    """The Bot API as far as the desk uses it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: dict[str, list[list[Any]]] = {}  # method -> [[calls to let through, status, body]]
        self.pending_updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._next_message_id = 1000
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        self.server = LoopbackServer(app)

    @property
    def api_base(self) -> str:
        return self.server.url

    # -- scripting ---------------------------------------------------------------------------------
    def fail_next(
        self, method: str, status: int, description: str, retry_after: int | None = None, after: int = 0
    ) -> None:
        """Fail a coming call of `method` (after letting `after` calls through)."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        with self._lock:
            self.failures.setdefault(method.lower(), []).append([after, status, body])

    def queue_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self.pending_updates.append(update)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls that succeeded, oldest first."""
        with self._lock:
            return [
                c.params
                for c in self.calls
                if c.method == "sendmessage"
                and c.params.get("_ok")
                and (chat_id is None or c.params["chat_id"] == chat_id)
            ]

    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method.lower()]

    # -- the API -----------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"].lower()
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            params = {k: _decode(v) for k, v in (await request.form()).items() if isinstance(v, str)}
        call = Call(method, params, time.monotonic())
        with self._lock:
            self.calls.append(call)
            queue = self.failures.get(method)
            failure = None
            if queue and queue[0][0] > 0:
                queue[0][0] -= 1
            elif queue:
                failure = queue.pop(0)
        if failure is not None:
            return JSONResponse(failure[2], status_code=failure[1])
        result = await self._result(method, params)
        if method == "sendmessage":
            params["_ok"] = True
        return JSONResponse({"ok": True, "result": result})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getme":
            return BOT_USER
        if method == "sendmessage":
            with self._lock:
                self._next_message_id += 1
                message_id = self._next_message_id
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
        if method == "getupdates":
            offset = int(params.get("offset") or 0)
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
            while True:
                with self._lock:
                    ready = [u for u in self.pending_updates if u["update_id"] >= offset]
                if ready or time.monotonic() >= deadline:
                    return ready
                await asyncio.sleep(0.05)
        return True  # answerCallbackQuery, setWebhook, deleteWebhook


def message_update(update_id: int, chat_id: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    """A private-chat message update as Telegram sends it."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "同学"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "同学"},
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    """A pressed inline button."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq-{update_id}",
            "chat_instance": "ci",
            "from": {"id": chat_id, "is_bot": False, "first_name": "同学"},
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "…",
            },
        },
    }


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    fake.server.start()
    yield fake
    fake.server.stop()

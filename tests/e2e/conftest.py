"""Web chat client for the end-to-end tests (cookie session + websocket, as a browser does)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from desk.chat.gateway import BOT_UNAVAILABLE_TEXT
from tests.stack import Stack


class ChatClient:
    """One student's browser: a session cookie and a websocket."""

    def __init__(self, stack: Stack, wait_past_notice: bool = True) -> None:
        """`wait_past_notice=False` for a test that stops Rasa or the action server on purpose and looks
        at the "暂时无法回复" notice itself."""
        self.stack = stack
        self.wait_past_notice = wait_past_notice
        self.http = httpx.AsyncClient(base_url=stack.base_url, timeout=30)
        self.conversation_id = ""
        self.history: list[dict[str, Any]] = []
        self.ws: Any = None
        self.seen: list[dict[str, Any]] = []  # every message the socket delivered, in order
        self._n = 0

    async def open(self) -> ChatClient:
        session = (await self.http.post("/api/webchat/session")).json()
        self.conversation_id = session["conversation_id"]
        self.history = session["messages"]
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        ws_url = self.stack.base_url.replace("http://", "ws://") + "/ws/webchat"
        self.ws = await websockets.connect(ws_url, extra_headers={"Cookie": cookie}, open_timeout=10)
        return self

    async def ask(self, text: str, payload: str | None = None) -> list[dict[str, Any]]:
        """Send a message; return the bot's (or system's) replies.

        On a loaded machine Rasa may answer after the desk's "暂时无法回复" notice: that is the product
        working (the message is kept and answered late), so the notice is dropped and the late answer
        waited for here, rather than arriving among the next question's replies.
        """
        replies = await self._ask(text, payload)
        if replies and replies[-1]["text"] == BOT_UNAVAILABLE_TEXT and self.wait_past_notice:
            replies.pop()
            late = await self.read_until(lambda m: m["role"] != "student", timeout=60)
            replies.append(late)
            with contextlib.suppress(asyncio.TimeoutError):  # the rest of that answer, if it has several parts
                while True:
                    got = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=1))
                    if got["type"] == "message":
                        self.seen.append(got["message"])
                        if got["message"]["role"] != "student":
                            replies.append(got["message"])
        return replies

    async def _ask(self, text: str, payload: str | None = None) -> list[dict[str, Any]]:
        self._n += 1
        frame: dict[str, Any] = {"type": "message", "text": text, "client_id": f"e2e-{self._n}"}
        if payload:
            frame["payload"] = payload
        await self.ws.send(json.dumps(frame, ensure_ascii=False))
        replies = []
        while True:
            got = json.loads(await asyncio.wait_for(self.ws.recv(), timeout=60))
            if got["type"] == "message":
                self.seen.append(got["message"])
            if got["type"] == "typing" and not got["on"]:
                return replies
            if got["type"] == "message" and got["message"]["role"] != "student":
                replies.append(got["message"])
            if got["type"] == "error":
                replies.append({"role": "error", "text": got["text"], "buttons": []})

    async def read_until(self, match: Any, timeout: float = 15) -> dict[str, Any]:
        """Read the socket until a message for which `match(message)` is true (one sent by staff, say)."""

        async def until() -> dict[str, Any]:
            while True:
                got = json.loads(await self.ws.recv())
                if got["type"] == "message":
                    self.seen.append(got["message"])
                    if match(got["message"]):
                        return got["message"]

        return await asyncio.wait_for(until(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        await self.http.aclose()


@pytest.fixture
async def chat(stack: Stack) -> AsyncIterator[ChatClient]:
    client = await ChatClient(stack).open()
    yield client
    await client.close()

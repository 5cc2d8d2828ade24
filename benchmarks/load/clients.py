"""The simulated students: a browser on the web chat, a Telegram user, and a bare-Rasa REST caller.

Each `ask` sends one message and returns its Sample once the answer is in (or the timeout passed).
Web chat: POST /api/webchat/session, then /ws/webchat with the cookie; an answer is the bot messages
before the typing-off frame. Telegram: an update POSTed to the desk's webhook (with the secret
header); the answer is the first sendMessage to that chat at the fake Bot API. Bare Rasa: one POST to
/webhooks/rest/webhook. Anything that arrives while no message is waiting is counted as stray.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any, Protocol

import httpx
from websockets.client import connect
from websockets.exceptions import ConnectionClosed

from benchmarks.load.stack import TELEGRAM_SECRET, RecordingTelegram
from benchmarks.load.stats import Sample
from tests.fake_telegram import message_update

TIMEOUT = 30.0
_update_ids = itertools.count(1)


class Student(Protocol):
    channel: str
    stray: int

    async def open(self) -> None: ...
    async def ask(self, text: str) -> Sample: ...
    async def close(self) -> None: ...


class WebStudent:
    """One browser tab: a session cookie and a websocket, one message in flight at a time."""

    channel = "web"

    def __init__(self, base_url: str, name: str) -> None:
        self.base_url = base_url
        self.name = name
        self.http = httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT)
        self.stray = 0
        self.echoes: dict[str, int] = {}
        self.conversation_id = ""
        self._n = 0
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: tuple[Sample, asyncio.Future[None]] | None = None

    async def open(self) -> None:
        response = await self.http.post("/api/webchat/session")
        response.raise_for_status()
        self.conversation_id = response.json()["conversation_id"]
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        url = self.base_url.replace("http://", "ws://") + "/ws/webchat"
        self._ws = await connect(url, extra_headers={"Cookie": cookie}, open_timeout=TIMEOUT)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self._ws:
                self._frame(json.loads(raw), time.monotonic())

    def _frame(self, frame: dict[str, Any], at: float) -> None:
        kind = frame.get("type")
        pending = self._pending
        if kind == "message":
            message = frame["message"]
            if message.get("role") == "student":
                client_id = str(message.get("client_id") or "")
                self.echoes[client_id] = self.echoes.get(client_id, 0) + 1
            elif pending is not None:
                pending[0].messages += 1
                pending[0].latency = at - pending[0].sent_at
            else:
                self.stray += 1
        elif kind == "typing" and not frame.get("on"):
            if pending is None:
                self.stray += 1
            else:
                pending[0].replies += 1
                if not pending[1].done():
                    pending[1].set_result(None)
        elif kind == "error" and pending is not None:
            pending[0].error = "error frame"
            if not pending[1].done():
                pending[1].set_result(None)

    async def ask(self, text: str) -> Sample:
        self._n += 1
        client_id = f"{self.name}-{self._n}"
        sample = Sample("web", client_id, time.monotonic())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending = (sample, done)
        try:
            await self._ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
            await asyncio.wait_for(done, TIMEOUT)
        except asyncio.TimeoutError:
            sample.error = "timeout"
        except ConnectionClosed:
            sample.error = "socket closed"
        finally:
            await asyncio.sleep(0)  # frames already received are counted for this message
            self._pending = None
        return sample

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=5)
        await self.http.aclose()
        # what `reconcile` reads (echoes, conversation_id) stays; the connection's buffers go (a soak
        # seats about 1,500 students one after another: kept, they made the generator grow by 1 GB)
        self._ws = self._reader = None


class TelegramStudent:
    """A private chat with the bot; updates go to the desk's webhook as Telegram would post them."""

    channel = "tg"

    def __init__(self, http: httpx.AsyncClient, telegram: RecordingTelegram, chat_id: int) -> None:
        self.http = http
        self.telegram = telegram
        self.chat_id = chat_id
        self.stray = 0  # late or extra sends are found by `scenario.reconcile` against the database
        self.asked: set[str] = set()
        self._seen = 0

    async def open(self) -> None:
        return None

    async def ask(self, text: str) -> Sample:
        update_id = next(_update_ids)
        sends = self.telegram.sends[self.chat_id]
        self._seen = len(sends)
        self.asked.add(str(update_id))
        event = self.telegram.event(self.chat_id)
        event.clear()
        sample = Sample("tg", str(update_id), time.monotonic())
        try:
            response = await self.http.post(
                "/telegram/webhook",
                json=message_update(update_id, self.chat_id, text),
                headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
            )
            if response.status_code != 200:
                sample.error = f"webhook {response.status_code}"
                return sample
            await asyncio.wait_for(event.wait(), TIMEOUT)
            first_at = sends[self._seen][0]
            sample.latency = first_at - sample.sent_at
            sample.replies = 1
            sample.messages = len(sends) - self._seen
            self._seen = len(sends)
        except asyncio.TimeoutError:
            sample.error = "timeout"
        except httpx.HTTPError as exc:
            sample.error = type(exc).__name__
        return sample

    async def close(self) -> None:
        return None


class RasaStudent:
    """The same student talking to bare Rasa over its REST channel (no desk in between)."""

    channel = "rasa"

    def __init__(self, http: httpx.AsyncClient, token: str, sender: str) -> None:
        self.http = http
        self.token = token
        self.sender = sender
        self.stray = 0
        self._n = 0

    async def open(self) -> None:
        return None

    async def ask(self, text: str) -> Sample:
        self._n += 1
        sample = Sample("rasa", f"{self.sender}-{self._n}", time.monotonic())
        try:
            response = await self.http.post(
                "/webhooks/rest/webhook",
                params={"token": self.token},
                json={"sender": self.sender, "message": text},
            )
            if response.status_code != 200:
                sample.error = f"rest {response.status_code}"
                return sample
            answers = response.json()
            sample.latency = time.monotonic() - sample.sent_at
            sample.replies = 1
            sample.messages = sum(1 for a in answers if a.get("text"))
        except httpx.HTTPError as exc:
            sample.error = type(exc).__name__
        return sample

    async def close(self) -> None:
        return None

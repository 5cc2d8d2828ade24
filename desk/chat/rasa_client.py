"""The desk's client of the Rasa server (REST channel and HTTP API), with timeouts.

Rasa's REST channel answers HTTP 200 with an empty list when processing fails inside Rasa (it
swallows the exception), and this bot always says something, so an empty answer counts as a failure.
That is also what Rasa answers while the action server is down.

Connecting gets `CONNECT_SECONDS` (Rasa is on loopback: a stopped or restarting Rasa refuses at once,
so the student's notice comes well within 3 s); reading the answer gets the configured timeout.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 1.0


class RasaUnavailable(Exception):
    """Rasa could not be reached, timed out, or answered nothing."""


class RasaUnreachable(RasaUnavailable):
    """The connection failed or was dropped: the server is not there (another replica may answer).

    A timeout is not this: a slow replica may still be working on the message, and sending it to another
    one as well could answer it twice."""


# connection-level failures: refused, reset, or the server died before answering
UNREACHABLE_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.WriteError,
                      httpx.RemoteProtocolError)  # fmt: skip


class BotClient(Protocol):
    """What the gateway needs of Rasa: one server (`RasaClient`) or several (desk/chat/replicas.py)."""

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...  # pragma: no cover

    async def status(self) -> dict[str, Any]: ...  # pragma: no cover

    async def aclose(self) -> None: ...  # pragma: no cover


class RasaClient:
    """Talks to one Rasa server on loopback."""

    def __init__(self, base_url: str, token: str, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=CONNECT_SECONDS))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Send a student's message (or a button payload); returns the bot's messages."""
        body = {"sender": sender, "message": message, "metadata": metadata or {}}
        try:
            resp = await self._client.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json=body,
                timeout=httpx.Timeout(self.timeout, connect=CONNECT_SECONDS),
            )
        except UNREACHABLE_ERRORS as exc:
            raise RasaUnreachable(f"Rasa not reachable: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa not reachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise RasaUnavailable("Rasa answered something that is not JSON") from exc
        if not isinstance(data, list) or not data:
            raise RasaUnavailable("Rasa answered no message (processing failed inside Rasa)")
        return [m for m in data if isinstance(m, dict)]

    async def status(self) -> dict[str, Any]:
        """Rasa's /status (the loaded model), raising RasaUnavailable when it is not up."""
        try:
            resp = await self._client.get(
                f"{self.base_url}/status",
                params={"token": self.token},
                timeout=httpx.Timeout(3.0, connect=CONNECT_SECONDS),
            )
        except UNREACHABLE_ERRORS as exc:
            raise RasaUnreachable(type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        if resp.status_code != 200:
            raise RasaUnavailable(f"HTTP {resp.status_code}")
        data = resp.json()
        if not data.get("model_file"):
            raise RasaUnavailable("no model loaded")
        return data

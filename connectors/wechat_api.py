"""The WeChat customer-service message API (客服消息) for answers that miss the 5-second window.

The access token is fetched once and cached until shortly before it expires; when a send reports
an expired or invalid token (40001, 40014, 42001) the token is refreshed and the send retried once,
and concurrent senders that saw the same stale token share one refresh. 45015 (the 48-hour window
closed) and 45047 (too many messages) are permanent; 45009 (API quota) and WeChat's "system busy"
are retried later with back-off.

With several desk replicas the token lives in a `SharedToken` store (Redis, desk/fanout/shared_state.py):
fetching a new token invalidates the previous one, so the replicas read one token and only one of
them refreshes it at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx

from connectors.base import DeliveryError, OutboundMessage, OutboundPart
from connectors.wechat import CHANNEL, render_text, split_for_wechat

logger = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
PERMANENT_ERRORS = {
    40003: "invalid openid",
    43004: "the student has unfollowed the account",
    45015: "response window closed (48 hours after the student's last message)",
    45047: "too many customer-service messages since the student's last message",
    48001: "the account may not use the customer-service API",
}
TOKEN_MARGIN_SECONDS = 300.0


class SharedToken(Protocol):
    """An access token shared by several processes: read it, store it, refresh it one at a time."""

    async def get(self) -> tuple[str, float] | None: ...  # pragma: no cover  (token, seconds left)

    async def put(self, token: str, seconds: float) -> None: ...  # pragma: no cover

    def refreshing(self) -> AbstractAsyncContextManager[None]: ...  # pragma: no cover


class WeChatApiClient:
    """A small async client of api.weixin.qq.com (or a fake on loopback), with a shared token."""

    def __init__(
        self,
        appid: str,
        secret: str,
        http: httpx.AsyncClient,
        api_base: str = "https://api.weixin.qq.com",
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedToken | None = None,
    ) -> None:
        self._shared = shared
        self._appid = appid
        self._secret = secret
        self._http = http
        self._base = api_base.rstrip("/")
        self._timeout = timeout
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def _get_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = await self._http.request(method, f"{self._base}{path}", timeout=self._timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"wechat api unreachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise DeliveryError(f"wechat api answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise DeliveryError("wechat api answered something that is not JSON") from exc
        if not isinstance(data, dict):
            raise DeliveryError("wechat api answered an unexpected document")
        return data

    async def access_token(self, stale: str | None = None) -> str:
        """The cached token; fetched when missing, near expiry, or equal to `stale` (one fetch at a time)."""
        async with self._lock:
            fresh = self._token is not None and self._clock() < self._expires_at
            if fresh and self._token != stale:
                return self._token  # type: ignore[return-value]
            if self._shared is None:
                return await self._fetch_token()
            async with self._shared.refreshing():  # one desk refreshes; the others then read its token
                current = await self._shared.get()
                if current is not None and current[0] != stale:
                    self._token, self._expires_at = current[0], self._clock() + current[1]
                    return current[0]
                token = await self._fetch_token()
                await self._shared.put(token, self._expires_at - self._clock())
                return token

    async def _fetch_token(self) -> str:
        data = await self._get_json(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self._appid, "secret": self._secret},
        )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError(f"wechat access_token refused: errcode {data.get('errcode')}")
        expires_in = float(data.get("expires_in") or 7200)
        self._token = token
        self._expires_at = self._clock() + max(60.0, expires_in - TOKEN_MARGIN_SECONDS)
        logger.info("wechat access token refreshed")
        return token

    async def send_text(self, openid: str, content: str) -> None:
        """Send one text message to a follower; raises DeliveryError."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token = await self.access_token()
        for attempt in (1, 2):
            data = await self._get_json(
                "POST", "/cgi-bin/message/custom/send", params={"access_token": token}, json=body
            )
            code = int(data.get("errcode") or 0)
            if code == 0:
                return
            if code in TOKEN_ERRORS and attempt == 1:
                token = await self.access_token(stale=token)
                continue
            if code in PERMANENT_ERRORS:
                raise DeliveryError(f"wechat errcode {code}: {PERMANENT_ERRORS[code]}", permanent=True)
            raise DeliveryError(f"wechat errcode {code}: {str(data.get('errmsg', ''))[:200]}")


class WeChatSender:
    """Sends stored messages through the customer-service API: numbered menu, split by bytes."""

    channel = CHANNEL

    def __init__(self, client: WeChatApiClient) -> None:
        self._client = client

    def parts(self, message: OutboundMessage) -> list[OutboundPart]:
        text = render_text(message.text, message.buttons)
        return [OutboundPart(chunk, ref=message.message_id) for chunk in split_for_wechat(text)]

    async def send(self, recipient: str, part: OutboundPart) -> None:
        await self._client.send_text(recipient, part.text)

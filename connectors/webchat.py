"""The WeChat-style web chat channel: session tokens, the websocket frame protocol, fan-out, rate limit.

The server issues the conversation id (`web:<uuid>`) inside a signed cookie; the browser cannot
choose or forge one. Frames (JSON):
  client -> server  {"type": "message", "text": str, "client_id": str, "payload": str?}
  server -> client  {"type": "message", "message": {...}} | {"type": "typing", "on": bool}
                    | {"type": "error", "text": str, "client_id": str?}
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from connectors.base import InboundMessage
from knowledge_base import names

CHANNEL = names.CHANNEL_WEB
COOKIE_NAME = "helpdesk_webchat"
TOKEN_MAX_AGE_SECONDS = 24 * 3600  # the default; HELPDESK_WEBCHAT_COOKIE_HOURS sets it (docs/privacy.md)
MAX_FRAME_BYTES = 8_000
MAX_TEXT_LENGTH = 1000


class WebchatProtocolError(ValueError):
    """A client frame that cannot be accepted; the message says why, in Chinese, for the student."""

    def __init__(self, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id


class SessionTokens:
    """Signs and verifies the cookie that carries a web chat's conversation id."""

    def __init__(self, secret_key: str, max_age_seconds: int = TOKEN_MAX_AGE_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="webchat-session")
        self.max_age_seconds = max_age_seconds

    def issue(self) -> tuple[str, str]:
        """A new conversation id and its signed token."""
        conversation_id = f"{CHANNEL}:{uuid.uuid4()}"
        return conversation_id, self._serializer.dumps(conversation_id)

    def read(self, token: str | None) -> str | None:
        """The conversation id in a valid token, or None for a missing, forged or expired one."""
        if not token:
            return None
        try:
            value = self._serializer.loads(token, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(value, str) or not value.startswith(f"{CHANNEL}:"):
            return None
        return value


def parse_frame(raw: str, conversation_id: str) -> InboundMessage:
    """Turn a client frame into an InboundMessage, or raise WebchatProtocolError."""
    if len(raw.encode("utf-8")) > MAX_FRAME_BYTES:
        raise WebchatProtocolError("消息太长了，请分几次发送。")
    try:
        frame = json.loads(raw)
    except ValueError as exc:
        raise WebchatProtocolError("无法识别的消息格式。") from exc
    if not isinstance(frame, dict):
        raise WebchatProtocolError("无法识别的消息格式。")
    client_id = frame.get("client_id")
    if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 100):
        raise WebchatProtocolError("无法识别的消息格式。")
    if frame.get("type") != "message":
        raise WebchatProtocolError("暂不支持这种消息类型，请发送文字。", client_id)
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise WebchatProtocolError("请输入文字内容。", client_id)
    if len(text) > MAX_TEXT_LENGTH:
        raise WebchatProtocolError(f"消息最长{MAX_TEXT_LENGTH}个字，请分几次发送。", client_id)
    payload = frame.get("payload")
    if payload is not None and (not isinstance(payload, str) or len(payload) > 500):
        raise WebchatProtocolError("无法识别的按钮。", client_id)
    sender = conversation_id.split(":", 1)[1]
    return InboundMessage(
        channel=CHANNEL,
        sender=sender,
        text=text.strip(),
        external_id=client_id or None,
        payload=payload or None,
    )


Send = Callable[[dict[str, Any]], Awaitable[None]]


class WebchatHub:
    """Open sockets per conversation, so every tab of a student sees every message."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[Send]] = {}

    def join(self, conversation_id: str, send: Send) -> None:
        self._sockets.setdefault(conversation_id, set()).add(send)

    def leave(self, conversation_id: str, send: Send) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(send)
            if not sockets:
                del self._sockets[conversation_id]

    def is_online(self, conversation_id: str) -> bool:
        return bool(self._sockets.get(conversation_id))

    async def broadcast(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for send in list(self._sockets.get(conversation_id, ())):
            try:
                await send(frame)
            except Exception:  # a closed socket leaves on its own
                self.leave(conversation_id, send)

    async def deliver(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Gateway listener: push a stored message of a web conversation to its sockets."""
        if conversation_id.startswith(f"{CHANNEL}:"):
            await self.broadcast(conversation_id, {"type": "message", "message": message})


class RateLimiter:
    """At most `limit` events per `window` seconds per key (sliding window, in memory).

    A key whose events have all left the window is dropped (checked at most once per window), so the
    table holds only the keys active in the last window or two, not every student ever seen.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._next_prune = clock() + window

    def __len__(self) -> int:
        return len(self._events)

    def _prune(self, now: float) -> None:
        idle = [key for key, events in self._events.items() if not events or now - events[-1] > self.window]
        for key in idle:
            del self._events[key]
        self._next_prune = now + self.window

    def allow(self, key: str) -> bool:
        now = self._clock()
        if now >= self._next_prune:
            self._prune(now)
        events = self._events.setdefault(key, deque())
        while events and now - events[0] > self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

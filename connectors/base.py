"""The one inbound message type every channel produces, and what the gateway sends back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class InboundMessage:
    """A student's message, verified and parsed by its channel adapter.

    `sender` is the channel's own id of the student (chat id, openid, web uuid); the conversation id
    is `<channel>:<sender>`. `external_id` is the channel's message id (update_id, MsgId, the web
    client's id) used to drop retries and replays. `payload` is a quick-reply button's payload.
    """

    channel: str
    sender: str
    text: str
    external_id: str | None = None
    payload: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.sender}"


@dataclass(frozen=True)
class OutboundMessage:
    """A message to a student: text with optional quick-reply buttons."""

    conversation_id: str
    text: str
    role: str = "bot"
    buttons: list[dict[str, str]] = field(default_factory=list)
    sender_name: str | None = None
    message_id: int | None = None
    created_at: str | None = None

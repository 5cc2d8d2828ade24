"""The one inbound message type every channel produces, and what the gateway sends back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


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


@dataclass(frozen=True)
class OutboundPart:
    """One channel message: a piece of an outbound message, with the buttons it carries.

    `ref` is the stored message's id, so a pressed button can be mapped back to its payload.
    """

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    ref: int | None = None


class DeliveryError(Exception):
    """Sending to a channel failed.

    `permanent` failures (the student blocked the bot, the 48-hour window closed) are not retried;
    `retry_after` is the wait in seconds the channel asked for, if it said one.
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ChannelSender(Protocol):
    """What the delivery worker needs from a channel: split a message into parts, send one part."""

    channel: str

    def parts(self, message: OutboundMessage) -> list[OutboundPart]:
        """The channel messages that carry `message`, in order (empty when there is nothing to send)."""
        ...

    async def send(self, recipient: str, part: OutboundPart) -> None:
        """Send one part to the channel's id of the student; raise DeliveryError on failure."""
        ...

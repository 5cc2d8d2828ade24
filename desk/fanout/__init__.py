"""Fan-out across desk replicas: the bus (bus.py) and what rides on it (this module), plus the state the
replicas share in Redis (shared_state.py).

Two topics: `webchat` (a stored message of a web chat conversation, for the student's open tabs, on
whichever desk they are connected to) and `console` (the handoff service's events: ticket changes,
alerts and a ticket's messages, for every staff console). Each desk publishes what it stores and
delivers what any desk published to its own sockets.
"""

from __future__ import annotations

from typing import Any

from connectors.webchat import CHANNEL, WebchatHub
from desk.chat.transcript import Transcript
from desk.fanout.bus import Bus, Handler

WEBCHAT = "webchat"
CONSOLE = "console"


def connect_webchat(bus: Bus, transcript: Transcript, hub: WebchatHub) -> None:
    """Every stored message of a web conversation reaches its sockets on every desk."""

    async def on_stored(conversation_id: str, message: dict[str, Any]) -> None:
        if conversation_id.startswith(f"{CHANNEL}:"):
            await bus.publish(WEBCHAT, {"conversation_id": conversation_id, "message": message})

    async def deliver(event: dict[str, Any]) -> None:
        await hub.deliver(str(event.get("conversation_id", "")), event.get("message") or {})

    bus.subscribe(WEBCHAT, deliver)
    transcript.add_listener(on_stored)


def connect_console(bus: Bus, handoffs: Any, publish: Handler) -> None:
    """The handoff service's events (`handoffs.add_listener`) reach `publish` (a console hub) on every desk."""

    async def relay(event: dict[str, Any]) -> None:
        await bus.publish(CONSOLE, event)

    bus.subscribe(CONSOLE, publish)
    handoffs.add_listener(relay)

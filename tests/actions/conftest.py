"""Tracker fixtures for action tests (Tracker.from_dict, like rasa-demo and financial-demo)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def make_tracker(
    text: str, intent: str, entities: list[dict[str, Any]] | None = None, history: list[str] | None = None
) -> Tracker:
    """A tracker whose latest message is `text` classified as `intent` with `entities`."""
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_listen"}]
    for past in history or []:
        events.append({"event": "user", "text": past, "parse_data": {"intent": {"name": "faq"}}})
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    events.append({"event": "user", "text": text, "parse_data": latest})
    return Tracker.from_dict(
        {
            "sender_id": "web:test",
            "slots": {},
            "latest_message": latest,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )

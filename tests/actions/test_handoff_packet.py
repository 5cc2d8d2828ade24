"""The handoff packet's slots and FAQ candidates, and two give-ups in a row handing over to a person."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from actions.handoff import ActionHandoff

pytestmark = pytest.mark.usefixtures("kb_env")

UNANSWERABLE = "量子场论的重整化群方程怎么推导"


def user(text: str, intent: str = "faq") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                                                          "entities": []}}  # fmt: skip


def tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> Tracker:
    """A tracker whose latest message is the last user event of `events`."""
    latest = next(e for e in reversed(events) if e["event"] == "user")["parse_data"]
    return Tracker.from_dict(
        {
            "sender_id": "web:test",
            "slots": slots or {},
            "latest_message": latest,
            "events": [{"event": "action", "name": "action_listen"}, *events],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def turn(action: str, response: str) -> list[dict[str, Any]]:
    """What the bot did after a student message: an action, its utterance, then listening."""
    return [
        {"event": "action", "name": action},
        {"event": "bot", "text": "…", "metadata": {"utter_action": response}},
        {"event": "action", "name": "action_listen"},
    ]


async def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return dispatcher.messages, events


async def test_packet_carries_slots_faq_candidates_with_scores_and_no_contact_details() -> None:
    t = tracker(
        [user("校园卡"), *turn("action_answer_faq", "utter_faq_suggest"), user("转人工", "request_human")],
        slots={"booking_service": "counseling", "contact_phone": "gAAAA-sealed", "faq_give_ups": 0.0},
    )
    [packet_msg, reply] = (await run(ActionHandoff(), t))[0]
    packet = packet_msg["custom"]["handoff"]
    assert packet["slots"] == {"booking_service": "counseling", "faq_give_ups": 0.0}
    [tried] = packet["faq_candidates"]  # 转人工 is a command, not a question: only 校园卡 was tried
    assert tried["message"] == "校园卡" and tried["decision"] == "suggest"
    assert len(tried["candidates"]) == 3
    top = tried["candidates"][0]
    assert top["faq_id"].startswith("card_") and "校园卡" in top["question"] and 0 < top["score"] <= 1
    assert [c["score"] for c in tried["candidates"]] == sorted((c["score"] for c in tried["candidates"]), reverse=True)
    assert reply["response"] == "utter_handoff_recorded"


async def test_first_give_up_offers_a_person_the_second_in_a_row_hands_over() -> None:
    first = tracker([user(UNANSWERABLE)])
    [message], events = await run(ActionAnswerFaq(), first)
    assert message["response"] == "utter_faq_none" and message["buttons"][0]["payload"] == "/request_human"
    assert events == [{"event": "slot", "timestamp": None, "name": "faq_give_ups", "value": 1.0}]

    second = tracker(
        [user(UNANSWERABLE), *turn("action_answer_faq", "utter_faq_none"), user("火星上的天气预报怎么看")],
        slots={"faq_give_ups": 1.0},
    )
    (packet_msg, reply), events = await run(ActionAnswerFaq(), second)
    packet = packet_msg["custom"]["handoff"]
    assert (packet["reason"], packet["priority"], packet["department"]) == ("not_understood", "normal", "community")
    assert [c["message"] for c in packet["faq_candidates"]] == [UNANSWERABLE, "火星上的天气预报怎么看"]
    assert reply["response"] == "utter_handoff_not_understood" and reply["department"] == "一站式学生社区服务中心"
    assert events[0]["name"] == "faq_give_ups" and events[0]["value"] == 0.0


async def test_give_ups_not_in_a_row_do_not_hand_over() -> None:
    # a give-up, then small talk answered by another action, then another give-up: not two in a row
    t = tracker(
        [user(UNANSWERABLE), *turn("action_answer_faq", "utter_faq_none"), user("好的", "affirm"),
         *turn("action_small_talk", "utter_anything_else"), user("火星上的天气预报怎么看")],
        slots={"faq_give_ups": 1.0},
    )  # fmt: skip
    [message], events = await run(ActionAnswerFaq(), t)
    assert message["response"] == "utter_faq_none"
    assert events[0]["value"] == 1.0


async def test_an_answer_resets_the_count() -> None:
    t = tracker(
        [user(UNANSWERABLE), *turn("action_answer_faq", "utter_faq_none"), user("心理咨询怎么预约")],
        slots={"faq_give_ups": 1.0},
    )
    [message], events = await run(ActionAnswerFaq(), t)
    assert message["response"] == "utter_faq_answer" and events[0]["value"] == 0.0

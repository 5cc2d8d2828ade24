"""FAQ answering from the knowledge base: answer, suggest the top 3, or say so honestly.

The decision itself is knowledge_base.decisions.route, the same function `make eval` measures.
Two give-ups in a row (no answer, no suggestion, for two consecutive questions) hand the chat to a
person with the reason `not_understood`, instead of a third "I did not find it".
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import ENTITY_FAQ_ID, ENTITY_SERVICE, INTENT_CHOOSE_FAQ
from actions.kb import first_entity, knowledge_base
from knowledge_base.decisions import Outcome, route
from knowledge_base.faq.answering import FaqAnswer, KnowledgeBase
from knowledge_base.repository import NotFound

SLOT_GIVE_UPS = "faq_give_ups"
GIVE_UPS_BEFORE_HANDOFF = 2
ACTION_ANSWER_FAQ = "action_answer_faq"
GIVE_UP_BUTTONS = [
    {"title": "转人工", "payload": "/request_human"},
    {"title": "看看我能做什么", "payload": "/help"},
]


def choose_payload(faq_id: str) -> str:
    return "/" + INTENT_CHOOSE_FAQ + json.dumps({ENTITY_FAQ_ID: faq_id}, ensure_ascii=False)


def utter_answer(dispatcher: CollectingDispatcher, answer: FaqAnswer, guide_button: bool = True) -> None:
    """The answer text, with a button to the service's 一次性告知 card when the entry has one."""
    buttons = []
    if answer.service_id and guide_button:
        payload = "/service_info" + json.dumps({"service": answer.service_id}, ensure_ascii=False)
        buttons.append({"title": "办理指南（材料、地点、时间）", "payload": payload})
    dispatcher.utter_message(response="utter_faq_answer", answer=answer.answer, buttons=buttons)


async def decide(kb: KnowledgeBase, tracker: Tracker) -> Outcome:
    """route() for the tracker's latest message."""
    latest = tracker.latest_message
    intent = (latest.get("intent") or {}).get("name")
    confidence = float((latest.get("intent") or {}).get("confidence") or 0.0)
    text = latest.get("text") or ""
    service = first_entity(tracker, ENTITY_SERVICE)
    return await asyncio.to_thread(route, kb, text, intent, confidence, service)


async def answer_if_confident(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Utter the FAQ answer when route() gives one for the latest message; True if it did.

    For intents whose messages are often campus questions in disguise (a complaint, a time or a phone
    number outside the booking form, 修改联系方式): the knowledge base's confident answer comes first.
    """
    kb = knowledge_base()
    outcome = await decide(kb, tracker)
    return outcome.kind == "faq_answer" and await render_faq(dispatcher, kb, outcome)


async def render_faq(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, outcome: Outcome, guide_button: bool = True
) -> bool:
    """Utter an FAQ outcome; False when the outcome is not an FAQ one."""
    if outcome.kind == "faq_answer":
        try:
            answer = await asyncio.to_thread(kb.faq, outcome.faq_ids[0])
        except NotFound:
            dispatcher.utter_message(response="utter_faq_gone")
            return True
        utter_answer(dispatcher, answer, guide_button)
    elif outcome.kind == "faq_suggest":
        names = await asyncio.to_thread(lambda: {i: kb.faq(i).question for i in outcome.faq_ids[:3]})
        buttons = [{"title": q, "payload": choose_payload(i)} for i, q in names.items()]
        dispatcher.utter_message(response="utter_faq_suggest", buttons=buttons)
    elif outcome.kind == "decline":
        dispatcher.utter_message(response="utter_out_of_scope")
    elif outcome.kind == "faq_none":
        dispatcher.utter_message(response="utter_faq_none", buttons=GIVE_UP_BUTTONS)
    else:
        return False
    return True


class ActionAnswerFaq(Action):
    """Answers a campus question from the FAQ entries in the database (live edits, no retraining)."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        faq_id = first_entity(tracker, ENTITY_FAQ_ID)
        if intent == INTENT_CHOOSE_FAQ and faq_id:
            try:
                answer = await asyncio.to_thread(kb.faq, faq_id)
            except NotFound:
                dispatcher.utter_message(response="utter_faq_gone")
                return []
            utter_answer(dispatcher, answer)
            return [SlotSet(SLOT_GIVE_UPS, 0.0)]
        outcome = await decide(kb, tracker)
        if outcome.kind not in ("faq_none", "faq_answer", "faq_suggest", "decline"):
            outcome = Outcome("faq_none", outcome.intent, outcome.faq_ids)
        if outcome.kind != "faq_none":
            await render_faq(dispatcher, kb, outcome)
            return [SlotSet(SLOT_GIVE_UPS, 0.0)]
        give_ups = consecutive_give_ups(tracker) + 1
        if give_ups >= GIVE_UPS_BEFORE_HANDOFF:
            from actions.handoff import REASON_NOT_UNDERSTOOD, send_handoff

            await send_handoff(dispatcher, tracker, reason=REASON_NOT_UNDERSTOOD)
            return [SlotSet(SLOT_GIVE_UPS, 0.0)]
        dispatcher.utter_message(response="utter_faq_none", buttons=GIVE_UP_BUTTONS)
        return [SlotSet(SLOT_GIVE_UPS, float(give_ups))]


def consecutive_give_ups(tracker: Tracker) -> int:
    """Give-ups counted so far, if the bot's previous turn was a give-up of this action (else 0)."""
    count = int(float(tracker.get_slot(SLOT_GIVE_UPS) or 0))
    if count <= 0:
        return 0
    seen_latest_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_latest_user:
                return 0  # a student turn with no action of ours since
            seen_latest_user = True
        elif seen_latest_user and kind == "action" and event.get("name") not in ("action_listen", None):
            return count if event.get("name") == ACTION_ANSWER_FAQ else 0
    return 0


class ActionSmallTalk(Action):
    """A yes or no out of context ("anything else?") or "are you a bot?" (the bot says what it is),
    unless the message is really a campus topic (then the FAQ answer)."""

    def name(self) -> str:
        return "action_small_talk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        outcome = await decide(kb, tracker)
        if outcome.kind == "reply" or not await render_faq(dispatcher, kb, outcome):
            challenge = outcome.intent == "bot_challenge"
            dispatcher.utter_message(response="utter_bot_challenge" if challenge else "utter_anything_else")
        return []

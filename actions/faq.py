"""FAQ answering from the knowledge base: answer, suggest the top 3, or say so honestly.

The decision itself is knowledge_base.decisions.route, the same function `make eval` measures; its
outcome is uttered by actions.answers.
Two give-ups in a row (no answer, no suggestion, for two consecutive questions) hand the chat to a
person with the reason `not_understood`, instead of a third "I did not find it".
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import GIVE_UP_BUTTONS, decide, decision_json, render_faq, utter_answer
from actions.handoff import REASON_NOT_UNDERSTOOD, send_handoff
from actions.kb import first_entity, knowledge_base
from knowledge_base.decisions import Outcome
from knowledge_base.names import ENTITY_FAQ_ID, INTENT_BOT_CHALLENGE, INTENT_CHOOSE_FAQ, SLOT_FAQ_GIVE_UPS
from knowledge_base.repository import NotFound

SLOT_GIVE_UPS = SLOT_FAQ_GIVE_UPS
GIVE_UPS_BEFORE_HANDOFF = 2
ACTION_ANSWER_FAQ = "action_answer_faq"


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
            await send_handoff(dispatcher, tracker, reason=REASON_NOT_UNDERSTOOD)
            return [SlotSet(SLOT_GIVE_UPS, 0.0)]
        decision = decision_json("faq_none", outcome.faq_ids)
        dispatcher.utter_message(response="utter_faq_none", buttons=GIVE_UP_BUTTONS, json_message=decision)
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
            challenge = outcome.intent == INTENT_BOT_CHALLENGE
            dispatcher.utter_message(response="utter_bot_challenge" if challenge else "utter_anything_else")
        return []

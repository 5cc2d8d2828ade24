"""FAQ answering from the knowledge base: answer, suggest the top 3, or say so honestly."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import ENTITY_FAQ_ID, INTENT_CHOOSE_FAQ, INTENT_OUT_OF_SCOPE, OUT_OF_SCOPE_ANSWER_SCORE
from actions.kb import first_entity, knowledge_base
from knowledge_base.answering import FaqAnswer
from knowledge_base.repository import NotFound

GIVE_UP_BUTTONS = [
    {"title": "转人工", "payload": "/request_human"},
    {"title": "看看我能做什么", "payload": "/help"},
]


def choose_payload(faq_id: str) -> str:
    return "/" + INTENT_CHOOSE_FAQ + json.dumps({ENTITY_FAQ_ID: faq_id}, ensure_ascii=False)


def utter_answer(dispatcher: CollectingDispatcher, answer: FaqAnswer) -> None:
    """The answer text, with a button to the service's 一次性告知 card when the entry has one."""
    buttons = []
    if answer.service_id:
        payload = "/service_info" + json.dumps({"service": answer.service_id}, ensure_ascii=False)
        buttons.append({"title": "办理指南（材料、地点、时间）", "payload": payload})
    dispatcher.utter_message(response="utter_faq_answer", answer=answer.answer, buttons=buttons)


class ActionAnswerFaq(Action):
    """Answers a campus question from the FAQ entries in the database (live edits, no retraining)."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""

        faq_id = first_entity(tracker, ENTITY_FAQ_ID)
        if intent == INTENT_CHOOSE_FAQ and faq_id:
            try:
                answer = await asyncio.to_thread(kb.faq, faq_id)
            except NotFound:
                dispatcher.utter_message(response="utter_faq_gone")
                return []
            utter_answer(dispatcher, answer)
            return []

        decision = await asyncio.to_thread(kb.decide, text)
        if intent == INTENT_OUT_OF_SCOPE and decision.top_score < OUT_OF_SCOPE_ANSWER_SCORE:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        if decision.kind == "answer" and decision.answer is not None:
            utter_answer(dispatcher, decision.answer)
        elif decision.kind == "suggest":
            buttons = [{"title": m.question, "payload": choose_payload(m.faq_id)} for m in decision.matches[:3]]
            dispatcher.utter_message(response="utter_faq_suggest", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_faq_none", buttons=GIVE_UP_BUTTONS)
        return []

"""How the bot utters an FAQ outcome: the answer, three suggestions, an honest "not found", or a decline.

`decide` runs knowledge_base.decisions.route (the function `make eval` measures) on the tracker's
latest message; the FAQ, catalog, booking and handoff actions all utter its outcome through here, so
this module sits below them (it imports no other action module but actions.kb).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.kb import first_entity, knowledge_base
from knowledge_base.decisions import Outcome, route
from knowledge_base.faq.answering import FaqAnswer, KnowledgeBase
from knowledge_base.names import (
    ENTITY_FAQ_ID,
    ENTITY_SERVICE,
    INTENT_CHOOSE_FAQ,
    INTENT_SERVICE_INFO,
    PAYLOAD_HELP,
    PAYLOAD_REQUEST_HUMAN,
)
from knowledge_base.repository import NotFound

logger = logging.getLogger(__name__)

GIVE_UP_BUTTONS = [
    {"title": "转人工", "payload": PAYLOAD_REQUEST_HUMAN},
    {"title": "看看我能做什么", "payload": PAYLOAD_HELP},
]


def choose_payload(faq_id: str) -> str:
    return "/" + INTENT_CHOOSE_FAQ + json.dumps({ENTITY_FAQ_ID: faq_id}, ensure_ascii=False)


def decision_json(kind: str, faq_ids: list[str] | None = None, department: str | None = None) -> dict[str, Any]:
    """What the bot decided, sent to the desk next to the answer (recorded for the insight dashboard)."""
    return {"decision": {"kind": kind, "faq_id": faq_ids[0] if faq_ids else None, "department": department}}


def utter_answer(dispatcher: CollectingDispatcher, answer: FaqAnswer, guide_button: bool = True) -> None:
    """The answer text, with a button to the service's 一次性告知 card when the entry has one."""
    buttons = []
    if answer.service_id and guide_button:
        payload = f"/{INTENT_SERVICE_INFO}" + json.dumps({ENTITY_SERVICE: answer.service_id}, ensure_ascii=False)
        buttons.append({"title": "办理指南（材料、地点、时间）", "payload": payload})
    dispatcher.utter_message(
        response="utter_faq_answer",
        answer=answer.answer,
        buttons=buttons,
        json_message=decision_json("faq_answer", [answer.faq_id]),
    )


async def count_hit(kb: KnowledgeBase, faq_id: str) -> None:
    """Record that the bot answered with this entry; a failure here never stops the answer."""
    try:
        await asyncio.to_thread(kb.record_hit, faq_id)
    except Exception:  # noqa: BLE001  (statistics only)
        logger.warning("could not record a hit of FAQ %s", faq_id, exc_info=True)


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
        await count_hit(kb, answer.faq_id)
    elif outcome.kind == "faq_suggest":
        names = await asyncio.to_thread(lambda: {i: kb.faq(i).question for i in outcome.faq_ids[:3]})
        buttons = [{"title": q, "payload": choose_payload(i)} for i, q in names.items()]
        decision = decision_json("faq_suggest", outcome.faq_ids)
        dispatcher.utter_message(response="utter_faq_suggest", buttons=buttons, json_message=decision)
    elif outcome.kind == "decline" and outcome.other_university:
        dispatcher.utter_message(
            response="utter_other_university",
            university=kb.university_name,
            other=outcome.other_university,
            json_message=decision_json("decline", outcome.faq_ids),
        )
    elif outcome.kind == "decline":
        dispatcher.utter_message(response="utter_out_of_scope", json_message=decision_json("decline", outcome.faq_ids))
    elif outcome.kind == "faq_none":
        decision = decision_json("faq_none", outcome.faq_ids)
        dispatcher.utter_message(response="utter_faq_none", buttons=GIVE_UP_BUTTONS, json_message=decision)
    else:
        return False
    return True

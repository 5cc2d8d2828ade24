"""The service catalog's 一次性告知 card: what to bring, where, when, how long."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import decide, decision_json, render_faq
from actions.kb import knowledge_base, resolve_service
from knowledge_base.faq.answering import KnowledgeBase, ServiceCard
from knowledge_base.names import ENTITY_SERVICE, INTENT_SERVICE_INFO
from knowledge_base.repository import NotFound


def service_buttons(kb: KnowledgeBase, intent: str = INTENT_SERVICE_INFO) -> list[dict[str, str]]:
    """One button per catalog service."""
    return [
        {"title": name, "payload": f"/{intent}" + json.dumps({ENTITY_SERVICE: sid}, ensure_ascii=False)}
        for sid, name in kb.service_names().items()
    ]


def card_kwargs(card: ServiceCard) -> dict[str, Any]:
    """The variables of the utter_service_card response."""
    return {
        "service_name": card.name,
        "department": card.department,
        "location": card.location or "请咨询部门",
        "hours": card.hours or "请咨询部门",
        "materials": card.materials_text(),
        "mode": card.mode,
        "processing_time": card.processing_time,
        "duration": card.duration,
        "phone": card.phone or "请咨询部门",
    }


async def utter_card(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, service: str | None, ask_response: str
) -> bool:
    """The service's card; without a service, `ask_response` with a button per service. True if shown."""
    if service is None:
        buttons = await asyncio.to_thread(service_buttons, kb)
        dispatcher.utter_message(response=ask_response, buttons=buttons)
        return False
    try:
        card = await asyncio.to_thread(kb.service_card, service)
    except NotFound:
        dispatcher.utter_message(response="utter_service_unknown")
        return False
    decision = decision_json("service", department=card.department_id)
    dispatcher.utter_message(response="utter_service_card", json_message=decision, **card_kwargs(card))
    return True


class ActionServiceInfo(Action):
    """A confident FAQ answer if there is one, else the service's card, else asks which service."""

    def name(self) -> str:
        return "action_service_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        outcome = await decide(kb, tracker)
        if outcome.kind == "faq_answer":
            await render_faq(dispatcher, kb, outcome, guide_button=outcome.service is None)
            if outcome.service is None:
                return []
        service = outcome.service or await resolve_service(kb, tracker)
        await utter_card(dispatcher, kb, service, ask_response="utter_ask_which_service")
        return []

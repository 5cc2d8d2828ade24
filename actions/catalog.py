"""The service catalog's 一次性告知 card: what to bring, where, when, how long."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.constants import ENTITY_SERVICE
from actions.kb import first_entity, knowledge_base
from knowledge_base.faq.answering import KnowledgeBase, ServiceCard
from knowledge_base.repository import NotFound


def service_buttons(kb: KnowledgeBase, intent: str = "service_info") -> list[dict[str, str]]:
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


async def resolve_service(kb: KnowledgeBase, tracker: Tracker, loose: bool = False) -> str | None:
    """The service named by the NLU entity, else by the catalog matcher on the raw text."""
    service = first_entity(tracker, ENTITY_SERVICE)
    if service:
        return service
    found = await asyncio.to_thread(kb.find_services, tracker.latest_message.get("text") or "", loose)
    return found[0] if found else None


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
    dispatcher.utter_message(response="utter_service_card", **card_kwargs(card))
    return True


class ActionServiceInfo(Action):
    """A confident FAQ answer if there is one, else the service's card, else asks which service."""

    def name(self) -> str:
        return "action_service_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from actions.faq import decide, render_faq

        kb = knowledge_base()
        outcome = await decide(kb, tracker)
        if outcome.kind == "faq_answer":
            await render_faq(dispatcher, kb, outcome, guide_button=outcome.service is None)
            if outcome.service is None:
                return []
        service = outcome.service or await resolve_service(kb, tracker)
        await utter_card(dispatcher, kb, service, ask_response="utter_ask_which_service")
        return []

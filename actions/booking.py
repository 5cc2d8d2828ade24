"""Appointment intents until online booking opens: the service card and how to arrange a visit."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.catalog import card_kwargs, resolve_service, service_buttons
from actions.constants import INTENT_BOOK
from actions.kb import knowledge_base
from knowledge_base.repository import NotFound


class ActionBookingInfo(Action):
    """Booking: show where/when/how to arrange the visit; list/change/cancel: say how to do it now."""

    def name(self) -> str:
        return "action_booking_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent != INTENT_BOOK:
            dispatcher.utter_message(response="utter_appointments_not_yet")
            return []
        kb = knowledge_base()
        service = await resolve_service(kb, tracker, loose=True)
        if service is None:
            buttons = await asyncio.to_thread(service_buttons, kb)
            dispatcher.utter_message(response="utter_booking_which_service", buttons=buttons)
            return []
        try:
            card = await asyncio.to_thread(kb.service_card, service)
        except NotFound:
            dispatcher.utter_message(response="utter_service_unknown")
            return []
        dispatcher.utter_message(response="utter_service_card", **card_kwargs(card))
        dispatcher.utter_message(response="utter_booking_by_contact")
        return []

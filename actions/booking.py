"""Appointment intents until online booking opens: the service card and how to arrange a visit."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.catalog import resolve_service, utter_card
from actions.constants import INTENT_BOOK
from actions.kb import knowledge_base


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
        if await utter_card(dispatcher, kb, service, ask_response="utter_booking_which_service"):
            dispatcher.utter_message(response="utter_booking_by_contact")
        return []

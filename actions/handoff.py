"""Requests for a person: a structured handoff packet for the gateway and an honest reply."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.catalog import resolve_service
from actions.constants import INTENT_COMPLAIN, INTENT_CRISIS
from actions.kb import knowledge_base
from knowledge_base import safety
from knowledge_base.repository import NotFound

DEFAULT_DEPARTMENT = "community"
CRISIS_DEPARTMENT = "mental_health"


def transcript_summary(tracker: Tracker, limit: int = 6) -> list[str]:
    """The student's last few messages, newest last (for the staff who takes over)."""
    texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return [str(t)[:200] for t in texts[-limit:]]


class ActionHandoff(Action):
    """Sends the gateway a handoff packet (department, reason, priority, summary)."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        department = DEFAULT_DEPARTMENT
        reason, priority = "request", "normal"
        if intent == INTENT_CRISIS:
            department, reason, priority = CRISIS_DEPARTMENT, "crisis", "urgent"
        elif intent == INTENT_COMPLAIN:
            reason, priority = "complaint", "high"
        service = await resolve_service(kb, tracker)
        if service is not None and intent != INTENT_CRISIS:
            with contextlib.suppress(NotFound):
                department = (await asyncio.to_thread(kb.service_card, service)).department_id
        try:
            name, phone = await asyncio.to_thread(kb.department_contact, department)
        except NotFound:
            name, phone = "一站式学生社区服务中心", ""
        packet = {
            "department": department,
            "reason": reason,
            "priority": priority,
            "service": service,
            "intent": intent,
            "summary": transcript_summary(tracker),
        }
        dispatcher.utter_message(json_message={"handoff": packet})
        if intent == INTENT_CRISIS:
            return []  # the hotline answer was already given
        if intent == INTENT_COMPLAIN:
            dispatcher.utter_message(response="utter_complaint_recorded", department=name)
        else:
            dispatcher.utter_message(response="utter_handoff_recorded", department=name, phone=phone or "见官网")
        return []


class ActionCrisis(Action):
    """The crisis intent: hotlines and an urgent handoff, unless only an unsure classifier said so."""

    def name(self) -> str:
        return "action_crisis"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from actions.faq import decide, render_faq

        kb = knowledge_base()
        outcome = await decide(kb, tracker)
        if outcome.kind == "crisis":
            dispatcher.utter_message(response="utter_crisis", hotlines=safety.hotline_text())
            return await ActionHandoff().run(dispatcher, tracker, domain)
        if not await render_faq(dispatcher, kb, outcome):
            dispatcher.utter_message(response="utter_default")
        return []

"""Requests for a person: a structured handoff packet for the gateway and an honest reply.

The packet (docs/handoff.md) tells the staff who takes over what the bot knows: the department (from
the crisis rule, the service named in the conversation, or the front desk), why, how urgent, the slots
collected, the FAQ candidates the bot tried for the student's latest questions with their scores, and
the student's last messages. Reason, priority and a fixed department come from
knowledge_base/handoff_policy.py (the desk's own packets use the same table). The gateway opens the
ticket from it and tells the student their place in the queue (or, outside office hours, when a
teacher will reply); this action only says it hands over.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import answer_if_confident, decide, render_faq
from actions.kb import knowledge_base, resolve_service
from knowledge_base import handoff_policy, safety
from knowledge_base.decisions import FAQ_PATH_INTENTS
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.names import INTENT_COMPLAIN
from knowledge_base.redaction import redact_text
from knowledge_base.repository import NotFound

REASON_NOT_UNDERSTOOD = handoff_policy.REASON_NOT_UNDERSTOOD
# Slots never copied into the packet: contact details (sealed tokens) and the form's internals.
PRIVATE_SLOT_PREFIXES = ("contact_", "booking_offer", "requested_slot", "session_started")
CANDIDATE_MESSAGES = 3


def transcript_summary(tracker: Tracker, limit: int = 6) -> list[str]:
    """The student's last few messages, newest last, masked (for the staff who takes over)."""
    texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return [redact_text(str(t))[:200] for t in texts[-limit:]]


def collected_slots(tracker: Tracker) -> dict[str, Any]:
    """Slots with a value, minus private ones (contact details stay sealed in the booking tables)."""
    return {
        name: value
        for name, value in (tracker.current_slot_values() or {}).items()
        if value not in (None, "", [], {}) and not name.startswith(PRIVATE_SLOT_PREFIXES)
    }


def faq_path_messages(tracker: Tracker, limit: int = CANDIDATE_MESSAGES) -> list[str]:
    """The student's latest messages that went to FAQ retrieval (questions, not commands), newest last."""
    found = []
    for event in tracker.events:
        if event.get("event") != "user" or not event.get("text") or str(event["text"]).startswith("/"):
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in FAQ_PATH_INTENTS:
            found.append(redact_text(str(event["text"]))[:200])
    return found[-limit:]


def faq_candidates(kb: KnowledgeBase, messages: list[str]) -> list[dict[str, Any]]:
    """What the knowledge base offered for each message: its decision and the top matches with scores."""
    out = []
    for text in messages:
        decision = kb.decide(text)
        out.append(
            {
                "message": text,
                "decision": decision.kind,
                "candidates": [
                    {"faq_id": m.faq_id, "question": m.question, "score": round(float(m.score), 3)}
                    for m in decision.matches[:3]
                ],
            }
        )
    return out


def recent_service(tracker: Tracker, limit: int = 6) -> str | None:
    """The service the student named last in their recent messages (NLU entity), if any."""
    users = [e for e in tracker.events if e.get("event") == "user"][-limit:]
    for event in reversed(users):
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "service" and entity.get("value"):
                return str(entity["value"])
    return None


def topic_department(kb: KnowledgeBase, service: str | None, candidates: list[dict[str, Any]]) -> str | None:
    """The office the conversation is about: the named service's department, else the department of
    the latest question the bot answered ("国奖怎么申请" then "转人工" goes to 学生工作处); None: the front desk."""
    if service is not None:
        with contextlib.suppress(NotFound):
            return kb.service_card(service).department_id
    for asked in reversed(candidates):
        if asked["decision"] == "answer" and asked["candidates"]:
            with contextlib.suppress(NotFound):
                return kb.faq(asked["candidates"][0]["faq_id"]).department_id
    return None


async def send_handoff(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str | None = None) -> dict[str, Any]:
    """Utter the packet for the gateway and tell the student the bot hands over; returns the packet."""
    kb = knowledge_base()
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    rule = handoff_policy.policy(reason or handoff_policy.reason_for_intent(intent))
    reason, priority = rule.reason, rule.priority
    service = await resolve_service(kb, tracker) or recent_service(tracker)
    candidates = await asyncio.to_thread(faq_candidates, kb, faq_path_messages(tracker))
    department = rule.department or (
        await asyncio.to_thread(topic_department, kb, service, candidates) or handoff_policy.DEFAULT_DEPARTMENT
    )
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
        "slots": collected_slots(tracker),
        "faq_candidates": candidates,
        "summary": transcript_summary(tracker),
    }
    dispatcher.utter_message(json_message={"handoff": packet})
    if reason == handoff_policy.REASON_CRISIS:
        return packet  # the hotline answer was already given
    if reason == handoff_policy.REASON_COMPLAINT:
        dispatcher.utter_message(response="utter_complaint_recorded", department=name)
    elif reason == REASON_NOT_UNDERSTOOD:
        dispatcher.utter_message(response="utter_handoff_not_understood", department=name, phone=phone or "见官网")
    else:
        dispatcher.utter_message(response="utter_handoff_recorded", department=name, phone=phone or "见官网")
    return packet


class ActionHandoff(Action):
    """Sends the gateway a handoff packet (department, reason, priority, slots, FAQ candidates, summary)."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if (tracker.latest_message.get("intent") or {}).get("name") == INTENT_COMPLAIN:
            # a complaint the knowledge base can answer (报修两天了还没人来修): the answer now, and the
            # complaint still goes to staff (knowledge_base.decisions.route, measured by make eval)
            await answer_if_confident(dispatcher, tracker)
        await send_handoff(dispatcher, tracker)
        return []


class ActionCrisis(Action):
    """The crisis intent: hotlines and an urgent handoff, unless only an unsure classifier said so."""

    def name(self) -> str:
        return "action_crisis"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kb = knowledge_base()
        outcome = await decide(kb, tracker)
        if outcome.kind == "crisis":
            dispatcher.utter_message(response="utter_crisis", hotlines=safety.hotline_text())
            await send_handoff(dispatcher, tracker)
            return []
        text = tracker.latest_message.get("text") or ""
        if outcome.check_in and not safety.assess(text).check_in:  # the gateway has not asked already
            buttons = [{"title": title, "payload": payload} for title, payload in safety.CHECK_IN_BUTTONS]
            dispatcher.utter_message(text=safety.check_in_text(), buttons=buttons)
        if not await render_faq(dispatcher, kb, outcome):
            dispatcher.utter_message(response="utter_default")
        return []

"""What the bot did with a student message, recorded on the message for the insight dashboard.

The action server tells the desk in a custom message next to its answer (`{"decision": {"kind": ...,
"faq_id": ...}}`, actions/answers.py); a handoff packet counts as `handoff` whatever else was said.
The kinds: answer (a confident FAQ answer), service (the 一次性告知 card), suggest (你是想问… buttons),
none (the bot gave up), decline (out of scope), task (booking and the like), reply (small talk),
handoff (the chat went to a person).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from desk.models import Message
from knowledge_base.models import Faq

logger = logging.getLogger(__name__)

KINDS = ("answer", "service", "suggest", "none", "decline", "task", "reply", "handoff")
# Outcome.kind (knowledge_base/decisions.py) -> the stored kind
OUTCOME_KINDS = {
    "faq_answer": "answer",
    "faq_suggest": "suggest",
    "faq_none": "none",
    "decline": "decline",
    "service": "service",
    "task": "task",
    "reply": "reply",
    "crisis": "handoff",
}


@dataclass(frozen=True)
class Decision:
    """One message's decision: its kind, the first FAQ entry involved, the department of a handoff."""

    kind: str
    faq_id: str | None = None
    department_id: str | None = None


def from_answers(answers: list[dict[str, Any]]) -> Decision | None:
    """The decision carried by Rasa's answers (None when the action server said nothing about it)."""
    found: Decision | None = None
    for answer in answers:
        custom = answer.get("custom")
        if not isinstance(custom, dict):
            continue
        handoff = custom.get("handoff")
        if isinstance(handoff, dict):
            department = handoff.get("department")
            faq_id = found.faq_id if found else None
            return Decision("handoff", faq_id, department if isinstance(department, str) else None)
        raw = custom.get("decision")
        if isinstance(raw, dict) and found is None:
            kind = OUTCOME_KINDS.get(str(raw.get("kind")), str(raw.get("kind")))
            if kind in KINDS:
                faq_id, department = raw.get("faq_id"), raw.get("department")
                found = Decision(
                    kind,
                    faq_id if isinstance(faq_id, str) and faq_id else None,
                    department if isinstance(department, str) and department else None,
                )
    return found


def apply(session: Session, message_id: int, decision: Decision) -> None:
    """Store the decision on the student message, in the caller's transaction (one UPDATE); the
    department is the FAQ entry's when no handoff named one."""
    department: Any = decision.department_id
    if department is None and decision.faq_id:
        department = select(Faq.department_id).where(Faq.id == decision.faq_id).scalar_subquery()
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.role == "student")
        .values(decision=decision.kind, faq_id=decision.faq_id, department_id=department)
        .execution_options(synchronize_session=False)
    )


def record(sessions: sessionmaker, message_id: int, decision: Decision) -> None:
    """Store the decision on the student message in its own transaction (sync). A failure is logged:
    the student's answer matters more than the statistics."""
    try:
        with sessions() as session, session.begin():
            apply(session, message_id, decision)
    except Exception:
        logger.exception("decision of message %s not recorded", message_id)

"""Who takes a request for a person, and how urgently: one policy for the actions and the desk.

Every handoff has a reason. The reason fixes the priority and, for a crisis, the department; the
other reasons go to the office the conversation is about (decided by the handoff action from the
service or the last answered question), else to the front desk. The handoff action builds its packet
from here, the gateway's crisis pre-filter too, and the desk's ticket store ranks and validates
priorities with the same table. No rasa / fastapi imports: plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REASON_CRISIS = "crisis"
REASON_COMPLAINT = "complaint"
REASON_REQUEST = "request"
REASON_NOT_UNDERSTOOD = "not_understood"

PRIORITY_NORMAL = "normal"
PRIORITY_HIGH = "high"
PRIORITY_URGENT = "urgent"
PRIORITIES = (PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_URGENT)  # lowest first

DEFAULT_DEPARTMENT = "community"  # the front desk (一站式学生社区服务中心)
CRISIS_DEPARTMENT = "mental_health"


@dataclass(frozen=True)
class HandoffPolicy:
    """What a reason means for the ticket: its priority and, when fixed, its department."""

    reason: str
    priority: str
    department: str | None = None  # None: the conversation's topic decides, else DEFAULT_DEPARTMENT


POLICIES: dict[str, HandoffPolicy] = {
    REASON_CRISIS: HandoffPolicy(REASON_CRISIS, PRIORITY_URGENT, CRISIS_DEPARTMENT),
    REASON_COMPLAINT: HandoffPolicy(REASON_COMPLAINT, PRIORITY_HIGH),
    REASON_REQUEST: HandoffPolicy(REASON_REQUEST, PRIORITY_NORMAL),
    REASON_NOT_UNDERSTOOD: HandoffPolicy(REASON_NOT_UNDERSTOOD, PRIORITY_NORMAL),
}
# The NLU intents that are themselves a reason; any other intent asking for a person is a plain request.
INTENT_REASONS = {"crisis": REASON_CRISIS, "complain": REASON_COMPLAINT}


def policy(reason: str | None) -> HandoffPolicy:
    """The policy of a reason; an unknown or missing reason is a plain request."""
    return POLICIES.get(reason or REASON_REQUEST, POLICIES[REASON_REQUEST])


def reason_for_intent(intent: str | None) -> str:
    """The reason a handoff triggered by this intent has (crisis, complaint, else request)."""
    return INTENT_REASONS.get(intent or "", REASON_REQUEST)


def priority_rank(priority: str | None) -> int:
    """0 for normal (and anything unknown), 1 for high, 2 for urgent."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else 0


def valid_priority(priority: Any) -> str:
    """The priority if it is one of PRIORITIES, else normal (a packet is data from another process)."""
    return priority if priority in PRIORITIES else PRIORITY_NORMAL


def packet(reason: str, *, source: str, summary: list[str], department: str | None = None) -> dict[str, Any]:
    """A minimal handoff packet (the desk's own: the crisis pre-filter, Rasa down) for this reason."""
    rule = policy(reason)
    return {
        "reason": rule.reason,
        "priority": rule.priority,
        "department": rule.department or department or DEFAULT_DEPARTMENT,
        "source": source,
        "summary": summary,
    }

"""One handoff policy: the reason decides the priority and, for a crisis, the department."""

from __future__ import annotations

from knowledge_base import handoff_policy as policy


def test_a_crisis_goes_to_the_psychological_centre_at_once_a_complaint_before_plain_requests() -> None:
    assert policy.packet("crisis", source="pre-filter", summary=["我不想活了"]) == {
        "reason": "crisis",
        "priority": "urgent",
        "department": "mental_health",
        "source": "pre-filter",
        "summary": ["我不想活了"],
    }
    assert (policy.policy("complaint").priority, policy.policy("complaint").department) == ("high", None)
    assert policy.policy("not_understood").priority == "normal"
    request = policy.packet("request", source="gateway", summary=[])
    assert (request["priority"], request["department"]) == ("normal", "community")  # the front desk


def test_intents_and_unknown_values_map_to_the_plain_request() -> None:
    assert [policy.reason_for_intent(i) for i in ("crisis", "complain", "request_human", None)] == [
        "crisis",
        "complaint",
        "request",
        "request",
    ]
    assert policy.policy("something else").reason == "request"
    assert policy.valid_priority("extreme") == "normal"
    ranked = sorted(["urgent", "normal", "high"], key=policy.priority_rank)
    assert ranked == ["normal", "high", "urgent"]

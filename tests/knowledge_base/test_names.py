"""The shared names match the Rasa domain and training data they stand for."""

from __future__ import annotations

import pytest
import yaml

from knowledge_base import names
from knowledge_base.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def trained_intents() -> set[str]:
    found: set[str] = set()
    for path in (PROJECT_ROOT / "bot" / "data" / "nlu").glob("*.yml"):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in entry:
                found.add(entry["intent"])
    return found


def test_the_intents_are_the_domains(domain: dict) -> None:  # type: ignore[type-arg]
    assert set(domain["intents"]) == names.DOMAIN_INTENTS
    assert names.INTENT_NLU_FALLBACK not in domain["intents"]  # Rasa's own, from the FallbackClassifier


def test_every_intent_has_training_examples() -> None:
    assert sorted(names.DOMAIN_INTENTS - trained_intents()) == []


def test_the_entities_slots_and_form_are_the_domains(domain: dict) -> None:  # type: ignore[type-arg]
    assert set(domain["entities"]) == names.ENTITIES
    assert set(domain["slots"]) == names.SLOTS
    assert list(domain["forms"]) == [names.FORM_APPOINTMENT]
    assert names.SLOT_REQUESTED not in domain["slots"]  # Rasa's own slot of an active form


def test_the_bots_payloads_name_domain_intents(domain: dict) -> None:  # type: ignore[type-arg]
    for payload in (names.PAYLOAD_REQUEST_HUMAN, names.PAYLOAD_BOOK, names.PAYLOAD_HELP):
        assert payload[1:] in domain["intents"]
    for desk_only in (names.PAYLOAD_CANCEL_HANDOFF, names.PAYLOAD_SKIP_COMMENT, names.PAYLOAD_RATE):
        assert desk_only[1:] not in domain["intents"]  # the gateway answers these, Rasa must not


@pytest.mark.parametrize(
    ("conversation_id", "channel"),
    [("web:0f1e-uuid", "web"), ("tg:123", "tg"), ("wx:o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "wx"), ("tg:-100:7", "tg")],
)
def test_channel_of_reads_the_prefix(conversation_id: str, channel: str) -> None:
    assert names.channel_of(conversation_id) == channel

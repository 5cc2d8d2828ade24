"""ChineseTimeExtractor: time expressions as `time` entities (明天下午三点 -> 2026-03-10T15:00+08:00).

The parsing lives in knowledge_base.timeexpr (pure Python, shared with the app); this component runs
it in the Rasa pipeline and adds the resolved start as the entity value with its grain, so a vague
"下周三下午" (grain part_of_day) lets the booking form ask for the hour. "Now" is Asia/Shanghai, or
HELPDESK_NOW when set (tests), or the message metadata's "now" when the channel sends one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from knowledge_base import timeexpr


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ChineseTimeExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts one `time` entity per message with knowledge_base.timeexpr."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseTimeExtractor:
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @staticmethod
    def _reference(message: Message) -> datetime:
        metadata = message.get("metadata") or {}
        if isinstance(metadata, dict) and metadata.get("now"):
            try:
                return datetime.fromisoformat(str(metadata["now"]))
            except ValueError:
                pass
        return timeexpr.now()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            value: timeexpr.TimeValue | None = timeexpr.extract(text, self._reference(message))
            if value is None:
                continue
            entity = {
                "entity": "time",
                "start": value.span[0],
                "end": value.span[1],
                "value": value.start.isoformat(),
                "confidence": 1.0,
                "additional_info": {"grain": value.grain, "part_of_day": value.part_of_day},
            }
            entities = message.get(ENTITIES, []) + self.add_extractor_name([entity])
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

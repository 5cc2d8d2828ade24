"""JiebaTokenizer without whitespace tokens.

Rasa 3.6's JiebaTokenizer emits spaces as tokens ("我想 预约" -> "我想", " ", "预约"), which later
components strip, so entity spans and features disagree (RasaHQ/rasa#7910). This subclass drops
them; everything else, including the user dictionary folder persisted inside the model, is Rasa's.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CampusJiebaTokenizer(JiebaTokenizer):
    """jieba tokens with the campus dictionary, whitespace tokens removed."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        return [t for t in super().tokenize(message, attribute) if t.text.strip()]

"""Chinese text processing for retrieval and catalog matching, built on spaCy's Chinese language class.

spaCy's ``zh`` class with the jieba segmenter gives word tokens and a curated Chinese stop-word list;
no model download is involved (no spaCy Chinese model with vectors installs offline). Campus terms
(department and service names, aliases, synonyms) are added to jieba so they stay single tokens,
the same terms the Rasa tokenizer gets through bot/dictionary/.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
_lock = threading.Lock()
_added_terms: set[str] = set()


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower case, collapsed white space."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return " ".join(text.split())


def strip_punct(text: str) -> str:
    """The text with punctuation and white space removed (for character features)."""
    return _PUNCT_RE.sub("", text)


@lru_cache(maxsize=1)
def _nlp() -> Any:
    """spaCy's blank Chinese pipeline with the jieba segmenter (built once, lazily)."""
    import jieba
    import spacy

    jieba.setLogLevel(logging.WARNING)
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


def nlp() -> Any:
    """The shared spaCy Chinese pipeline."""
    return _nlp()


def add_terms(terms: Iterable[str]) -> None:
    """Teach jieba campus terms so each stays one token (idempotent, thread-safe)."""
    import jieba

    _nlp()
    with _lock:
        for term in terms:
            term = normalize(term)
            if len(term) >= 2 and term not in _added_terms and " " not in term:
                jieba.add_word(term)
                _added_terms.add(term)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """spaCy's Chinese stop words, minus the words that carry meaning in student questions."""
    from spacy.lang.zh.stop_words import STOP_WORDS

    keep = {"多少", "多久", "哪里", "哪儿", "几点", "时候", "什么时候", "不", "没", "没有", "能", "可以", "要", "办"}
    return frozenset(w for w in STOP_WORDS if w not in keep)


def words(text: str) -> list[str]:
    """jieba word tokens of normalized text, without punctuation, spaces and stop words."""
    doc = _nlp()(normalize(text))
    stops = stop_words()
    out = []
    for tok in doc:
        w = tok.text.strip()
        if not w or tok.is_punct or not strip_punct(w):
            continue
        if w in stops:
            continue
        out.append(w)
    return out


def char_ngrams(text: str, n: int) -> list[str]:
    """Character n-grams of the text with punctuation and spaces removed."""
    s = strip_punct(normalize(text))
    return [s[i : i + n] for i in range(len(s) - n + 1)]


class SynonymMap:
    """Rewrites colloquial variants to canonical terms (饭卡 -> 校园卡), longest variant first."""

    def __init__(self, pairs: dict[str, str]) -> None:
        cleaned = {normalize(k): normalize(v) for k, v in pairs.items() if k and v and normalize(k) != normalize(v)}
        self._pairs = cleaned
        if cleaned:
            alternatives = sorted(cleaned, key=len, reverse=True)
            self._re: re.Pattern[str] | None = re.compile("|".join(re.escape(a) for a in alternatives))
        else:
            self._re = None

    def apply(self, text: str) -> str:
        text = normalize(text)
        if self._re is None:
            return text
        return self._re.sub(lambda m: self._pairs[m.group(0)], text)

    def __len__(self) -> int:
        return len(self._pairs)


def spreadsheet_safe(value: object) -> object:
    """A CSV cell guarded against spreadsheet formula injection in text someone typed (=, +, -, @)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value

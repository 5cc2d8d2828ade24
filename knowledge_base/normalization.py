"""Text normalisation before every understanding step (NLU input, FAQ retrieval, crisis decision).

- `simplify`: NFKC (full-width letters, digits and punctuation to half-width), Traditional to Simplified
  Chinese with OpenCC (`t2s`), white space collapsed. "學費怎麼繳？" and "学费怎么缴?" become one text.
- `is_traditional` / `to_traditional`: a student who wrote Traditional gets replies in Traditional.
- `PinyinFixer`: phone-keyboard noise against a vocabulary of campus words: a pinyin word typed in
  Latin letters ("chushi 密码" -> 初始密码) and a homophone typo (学废 -> 学费) become the campus word
  whose toneless pinyin they spell. Only words the vocabulary knows are produced, and a Chinese word
  that is itself common (jieba's dictionary) is never rewritten, so ordinary text passes unchanged.
- `understanding_text`: what the desk's gateway sends to Rasa and what `make eval` parses: `simplify`
  and the fixer over the campus dictionary the NLU tokenizer uses (bot/dictionary/).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from knowledge_base.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
_LATIN_RUN = re.compile(r"[a-z]{2,}")
# A common word of jieba's dictionary is never taken for a typo (学会 stays 学会; 学废 is not a word).
COMMON_WORD_FREQ = 3
# Punctuation NFKC leaves alone, mapped to plain forms.
_PUNCT = str.maketrans({"，": ",", "。": ".", "、": ",", "；": ";", "：": ":", "～": "~", "“": '"', "”": '"'})


@lru_cache(maxsize=2)
def _opencc(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional Chinese characters to Simplified (OpenCC t2s); other text unchanged."""
    with _lock:  # the converter is not documented as thread-safe
        return str(_opencc("t2s").convert(text))


def to_traditional(text: str) -> str:
    """Simplified Chinese to Traditional (OpenCC s2t), for replies to a student who writes Traditional."""
    with _lock:
        return str(_opencc("s2t").convert(text))


def is_traditional(text: str) -> bool:
    """True when the text has Chinese characters that are Traditional forms (t2s would change them)."""
    t = unicodedata.normalize("NFKC", text or "")
    return bool(_CJK.search(t)) and to_simplified(t) != t


# Cantonese written words to Mandarin (after t2s): "我唔想活落去" reads as "我不想活下去". Only
# words that are not also ordinary Mandarin (食, 系 and 仲 stay: 食堂, 计算机系, 仲裁).
CANTONESE = {
    "乜嘢": "什么", "点样": "怎么", "边度": "哪里", "边个": "哪个", "几时": "什么时候", "系咪": "是不是",
    "唔该": "谢谢", "唔使": "不用", "冇事": "没事", "落去": "下去", "咩": "什么", "咗": "了", "唔": "不",
    "冇": "没有", "喺": "在", "嘅": "的", "啲": "些", "佢": "他", "俾": "给", "畀": "给", "睇": "看",
    "搵": "找", "揾": "找", "嚟": "来", "咁": "这么", "谂": "想", "嘢": "东西", "攞": "拿", "嘛": "吗",
}  # fmt: skip
_CANTONESE_RE = re.compile("|".join(sorted(CANTONESE, key=len, reverse=True)))


def simplify(text: str) -> str:
    """NFKC, Traditional -> Simplified, Cantonese words -> Mandarin, lower case, Chinese punctuation to
    plain, white space collapsed."""
    t = unicodedata.normalize("NFKC", text or "").lower().translate(_PUNCT)
    if _CJK.search(t):
        t = _CANTONESE_RE.sub(lambda m: CANTONESE[m.group(0)], to_simplified(t))
    return " ".join(t.split())


def _syllables(text: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return [str(s) for s in lazy_pinyin(text, style=Style.NORMAL, errors="default")]


def _jieba_freq() -> dict[str, int]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    freq: dict[str, int] = jieba.dt.FREQ
    return freq


class PinyinFixer:
    """Rewrites pinyin words and homophone typos to campus words of a vocabulary."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        keys: dict[str, set[str]] = {}
        for word in {simplify(w) for w in vocabulary}:
            if _CJK_WORD.match(word):
                keys.setdefault("".join(_syllables(word)), set()).add(word)
        # a pinyin that spells two campus words is ambiguous: neither is produced
        self._by_pinyin = {k: next(iter(v)) for k, v in keys.items() if len(v) == 1}
        self._words = {w for v in keys.values() for w in v}
        self._freq = _jieba_freq()

    def __len__(self) -> int:
        return len(self._by_pinyin)

    def _latin(self, text: str) -> str:
        """A Latin run that spells a campus word (alone, or with the Chinese characters after it)."""
        out, last = [], 0
        for m in _LATIN_RUN.finditer(text):
            run, end = m.group(0), m.end()
            after = text[end:].lstrip(" ")
            skip = len(text[end:]) - len(after)
            hit = None
            for k in range(4, 0, -1):  # "chushi 密码": chushi + mima spells 初始密码
                tail = after[:k]
                if len(tail) == k and all(_CJK.match(c) for c in tail):
                    word = self._by_pinyin.get(run + "".join(_syllables(tail)))
                    if word is not None and word.endswith(tail):
                        hit, end = word, end + skip + k
                        break
            hit = hit or self._by_pinyin.get(run)
            if hit is not None:
                out.append(text[last : m.start()] + hit)
                last = end
        return "".join(out) + text[last:] if out else text

    def _homophones(self, text: str) -> str:
        chars = list(text)
        syl = [(_syllables(c) or [c])[0] if _CJK.match(c) else "" for c in chars]
        i = 0
        while i < len(chars):
            done = False
            for n in (4, 3, 2):
                span = chars[i : i + n]
                if len(span) < n or not all(syl[i + j] for j in range(n)):
                    continue
                window = "".join(span)
                if window in self._words or self._freq.get(window, 0) >= COMMON_WORD_FREQ:
                    continue
                word = self._by_pinyin.get("".join(syl[i : i + n]))
                if word is None or len(word) != n:
                    continue
                differ = sum(a != b for a, b in zip(window, word, strict=True))
                if 0 < differ <= n // 2:
                    chars[i : i + n] = list(word)
                    i += n
                    done = True
                    break
            if not done:
                i += 1
        return "".join(chars)

    def fix(self, text: str) -> str:
        """The text with pinyin words and homophone typos of campus words rewritten."""
        if not self._by_pinyin or not text:
            return text
        return self._homophones(self._latin(text))


def dictionary_words() -> list[str]:
    """The campus words of the NLU tokenizer's dictionary (bot/dictionary/*.txt)."""
    words: list[str] = []
    folder = PROJECT_ROOT / "bot" / "dictionary"
    for path in sorted(folder.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.append(line.split()[0])
    return words


@lru_cache(maxsize=1)
def default_fixer() -> PinyinFixer:
    """The fixer over the campus dictionary (built once)."""
    return PinyinFixer(dictionary_words())


# A parent asking about their child in the third person asks the student's own question:
# "我女儿的校园卡丢了" is "我的校园卡丢了", "孩子他宿舍怎么申请调换" is "我宿舍怎么申请调换".
_CHILD = r"(孩子|小孩|女儿|儿子|闺女|宝贝女儿|宝贝儿子)(?!们)(他|她)?"
_PARENT = re.compile(rf"(我们家|我家|我)的?{_CHILD}|^(我们家|我家)?{_CHILD}")


def first_person(text: str) -> str:
    """A parent's third-person question as the student's first-person one."""
    return _PARENT.sub("我", text)


def understanding_text(text: str) -> str:
    """The text the NLU sees: simplified, half-width, pinyin and homophones of campus words fixed,
    a parent's "我女儿…" as the student's "我…"."""
    return first_person(default_fixer().fix(simplify(text)))

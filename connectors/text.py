"""Splitting long answers for channels with a length limit, never inside a character.

Telegram counts a message's length in UTF-16 code units (an emoji outside the BMP counts two);
WeChat limits bytes of UTF-8. A part ends, by preference, at a blank line, a line end, the end of
a sentence (。！？), a clause (；，、) or a space; only a text with none of these is cut hard, and
then never between a character and its combining mark, variation selector or zero-width joiner.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

Measure = Callable[[str], int]

_BREAKS: tuple[tuple[str, ...], ...] = (
    ("\n\n",),
    ("\n",),
    ("。", "！", "？", "!", "?", "…"),
    ("；", ";", "，", ",", "、", "：", ":"),
    (" ", "\t"),
)
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def utf8_len(text: str) -> int:
    """Length in bytes of UTF-8, as WeChat counts it."""
    return len(text.encode("utf-8"))


def _fits(text: str, limit: int, measure: Measure) -> int:
    """The largest n such that text[:n] measures at most `limit` (measures grow with n)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _glued(text: str, n: int) -> bool:
    """Would cutting before text[n] separate a character from what modifies it?"""
    if n <= 0 or n >= len(text):
        return False
    nxt, prev = text[n], text[n - 1]
    return (
        unicodedata.combining(nxt) != 0
        or nxt in _JOINERS
        or prev == "\u200d"
        or 0x1F3FB <= ord(nxt) <= 0x1F3FF  # skin-tone modifiers
        or (0xDC00 <= ord(nxt) <= 0xDFFF)  # a lone low surrogate (text from a lax decoder)
    )


def _cut(text: str, n: int) -> int:
    """Where to end a part whose longest possible length is n code points."""
    floor = max(1, n // 2)  # a break in the first half would make parts too short
    for group in _BREAKS:
        best = -1
        for sep in group:
            idx = text.rfind(sep, 0, n)
            if idx >= 0 and idx + len(sep) <= n:
                best = max(best, idx + len(sep))
        if best >= floor:
            return best
    cut = n
    while cut > 1 and _glued(text, cut):
        cut -= 1
    return cut if cut > 0 else n


def split_text(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Split `text` into parts that each measure at most `limit`; empty text gives no parts."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if measure(rest) <= limit:
            parts.append(rest)
            break
        n = _fits(rest, limit, measure)
        if n == 0:  # a single character longer than the limit: cannot happen for sane limits
            raise ValueError("limit is smaller than one character")
        cut = _cut(rest, n)
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    return parts

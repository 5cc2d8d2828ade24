"""Splitting long answers: every part within the limit, nothing lost, no character broken."""

from __future__ import annotations

import unicodedata

import pytest

from connectors.text import split_text, utf8_len, utf16_len


def test_short_and_empty_texts() -> None:
    assert split_text("你好", 10) == ["你好"]
    assert split_text("   ", 10) == []


def test_prefers_paragraphs_then_sentences() -> None:
    text = "第一段第一句。第一段第二句。\n\n第二段。"
    assert split_text(text, 16) == ["第一段第一句。第一段第二句。", "第二段。"]
    assert split_text("一二三四五。六七八九十。甲乙丙丁", 12) == ["一二三四五。六七八九十。", "甲乙丙丁"]


def test_text_without_breaks_is_cut_hard_and_kept_whole() -> None:
    text = "长" * 10_000
    parts = split_text(text, 4096)
    assert [len(p) for p in parts] == [4096, 4096, 1808]
    assert "".join(parts) == text


def test_emoji_count_double_in_utf16_and_are_never_halved() -> None:
    text = "😀" * 5000
    parts = split_text(text, 4096, utf16_len)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts) == text
    assert [len(p) for p in parts] == [2048, 2048, 904]


def test_joined_emoji_and_combining_marks_stay_together() -> None:
    family = "👨\u200d👩\u200d👧"
    for part in split_text(family * 60, 50, utf16_len):
        assert part.startswith("👨") and part.endswith("👧")
    accented = "e\u0301" * 100
    for part in split_text(accented, 7):
        assert unicodedata.combining(part[0]) == 0 and part.endswith("\u0301")


def test_utf8_limit_for_wechat() -> None:
    text = "学生证补办需要带一寸照片。" * 300
    parts = split_text(text, 2000, utf8_len)
    assert all(utf8_len(p) <= 2000 for p in parts) and all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_a_nonsense_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)

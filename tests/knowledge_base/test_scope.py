"""Out of scope that knows its own university."""

from __future__ import annotations

import pytest

from knowledge_base.scope import other_university


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("隔壁浙大的图书馆几点开门", "浙大"),
        ("清華的宿舍有空调吗", "清华"),
        ("请问山东师范大学的学费多少", "山东师范大学"),
        ("我想考南京大学的研究生", "南京大学"),
    ],
)
def test_a_question_naming_another_university_is_found(text: str, named: str) -> None:
    assert other_university(text, "示例大学") == named


@pytest.mark.parametrize(
    "text",
    [
        "示例大学的校训是什么",
        "上大学要带什么",
        "大学生医保怎么报销",
        "这所大学的食堂几点开",
        "计算机学院的辅导员在哪",
        "南大门几点开",
    ],
)
def test_our_own_university_and_common_words_are_not_another_one(text: str) -> None:
    assert other_university(text, "示例大学") is None

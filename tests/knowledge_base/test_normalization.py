"""Normalisation before understanding: Traditional to Simplified, width, pinyin and homophones, parents."""

from __future__ import annotations

import pytest

from knowledge_base.normalization import (
    PinyinFixer,
    first_person,
    is_traditional,
    simplify,
    to_traditional,
    understanding_text,
)

CAMPUS_WORDS = ["学费", "初始密码", "校园卡", "挂失", "奖学金", "宿舍", "补考"]


def test_traditional_full_width_and_punctuation_become_one_text() -> None:
    assert simplify("請問學費怎麼繳？") == simplify("请问学费怎么缴?") == "请问学费怎么缴?"
    assert simplify("ＶＰＮ　學號，密碼") == "vpn 学号,密码"
    assert simplify("  校园卡   丢了 ") == "校园卡 丢了"


def test_the_script_of_the_student_is_known_and_replies_can_follow_it() -> None:
    assert is_traditional("我的學生證不見了")
    assert not is_traditional("我的学生证不见了")
    assert not is_traditional("hello 123")
    assert to_traditional("请到学生事务中心办理") == "請到學生事務中心辦理"


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [
        ("学废什么时候交", "学费什么时候交"),  # a homophone typo of a campus word
        ("chushi 密码是多少", "初始密码是多少"),  # a pinyin word before the rest of the term
        ("chushimima忘了", "初始密码忘了"),
        ("校园卡怎么guashi", "校园卡怎么挂失"),
        ("jiangxuejin啥时候评", "奖学金啥时候评"),
    ],
)
def test_pinyin_and_homophones_of_campus_words_are_fixed(typed: str, fixed: str) -> None:
    assert PinyinFixer(CAMPUS_WORDS).fix(simplify(typed)) == fixed


@pytest.mark.parametrize("text", ["我想学会游泳", "明天考试", "hello world", "宿舍几点关门", "ok好的"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert PinyinFixer(CAMPUS_WORDS).fix(text) == text


def test_a_parent_asking_about_their_child_asks_the_students_question() -> None:
    assert first_person("我女儿的校园卡丢了怎么办") == "我的校园卡丢了怎么办"
    assert first_person("孩子他宿舍怎么申请调换") == "我宿舍怎么申请调换"
    assert first_person("我家孩子想转专业") == "我想转专业"
    assert first_person("带孩子能进图书馆吗") == "带孩子能进图书馆吗"  # not a parent's question
    assert first_person("我想要孩子们的照片") == "我想要孩子们的照片"


def test_the_nlu_text_combines_them_with_the_campus_dictionary() -> None:
    assert understanding_text("我兒子的校園卡丟了") == "我的校园卡丢了"

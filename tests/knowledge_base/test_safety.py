"""The crisis pre-filter: catches self-harm and danger in many spellings, ignores everyday hyperbole."""

from __future__ import annotations

import pytest

from knowledge_base.safety import CRISIS_MIN_CONFIDENCE, detect_crisis, hotline_text, is_crisis


@pytest.mark.parametrize(
    "text",
    [
        "我真的不想活了",
        "不 想 活 了",
        "不想活了！！！",
        "感觉活着没有意义",
        "想自杀",
        "我想紫砂",
        "今晚想割腕",
        "站在宿舍楼顶上不想下去",
        "把安眠药都攒起来了",
        "有人一直跟着我 好怕",
        "室友打我 还威胁我",
        "I want to die",
        "想结束自己的生命",
    ],
)
def test_crisis_messages_are_caught(text: str) -> None:
    assert is_crisis(text)


@pytest.mark.parametrize(
    "text",
    [
        "杀毒软件推荐一个",
        "笑死我了哈哈哈",
        "今天累死了",
        "热死了宿舍空调坏了",
        "《活着》这本书写得真好",
        "电影杀青了",
        "电脑死机了怎么办",
        "跳楼价甩卖二手自行车",
        "校园卡丢了怎么办",
        "想死你们了",
    ],
)
def test_everyday_hyperbole_is_not_a_crisis(text: str) -> None:
    assert not is_crisis(text)


def test_hotline_text_names_all_hotlines() -> None:
    text = hotline_text("0531-88361599")
    for number in ("12356", "400-161-9995", "110", "120", "0531-88361599"):
        assert number in text


def test_one_crisis_decision_for_the_pre_filter_the_bot_and_the_evaluation() -> None:
    assert detect_crisis("我真的不想活了") == "lexicon"  # the gateway's pre-filter: the text alone
    assert detect_crisis("我真的不想活了", "greet", 0.99) == "lexicon"
    assert detect_crisis("活着好累", "crisis", CRISIS_MIN_CONFIDENCE) == "classifier"
    assert detect_crisis("活着好累", "crisis", CRISIS_MIN_CONFIDENCE - 0.01) is None  # an unsure classifier
    assert detect_crisis("活着好累") is None

"""The crisis pre-filter: catches self-harm and danger in many spellings, ignores everyday hyperbole."""

from __future__ import annotations

import pytest

from knowledge_base.safety import (
    assess,
    check_in_text,
    detect_crisis,
    escalates_check_in,
    hotline_text,
    is_crisis,
)


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
        "我真的不想活了，太累了。",
        "覺得活著沒有意義，不想活了",  # Traditional
        "ｗａｎｔ ｔｏ ｄｉｅ",  # full width
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
    assert detect_crisis("宿舍几点关门", "crisis", 0.99) is None  # the NLU's intent alone decides nothing


def test_the_lexicon_path_is_urgent() -> None:
    signal = assess("我已经把安眠药攒好了")
    assert (signal.tier, signal.by) == ("urgent", "lexicon")


@pytest.mark.parametrize(
    "text",
    [
        "打游戏又输了，我想自杀哈哈",  # a joke or a game: the near-miss patterns used to drop it
        "剧本里那个角色想割腕，我演得好投入",
        "救命 我撑不住了吗",
    ],
)
def test_a_message_the_near_miss_patterns_take_for_a_joke_gets_the_check_in_not_silence(text: str) -> None:
    assert assess(text).tier in ("check_in", "urgent")


@pytest.mark.parametrize(
    "text",
    [
        "我想听歌",
        "我想听一首周杰伦的歌",
        "我想看电影",
        "我想换宿舍",
        "我想入党，要写什么申请",
        "好焦虑啊，奖学金什么时候公示",
        "心情很差，校园卡丢了怎么补办",
        "饿死了，食堂几点开门",
        "累死我了，今天军训好晒",
    ],
)
def test_requests_hyperbole_and_sad_toned_questions_are_no_crisis(text: str) -> None:
    assert assess(text).tier == "none", assess(text)


def test_the_check_in_names_the_hotline_and_offers_a_counsellor() -> None:
    text = check_in_text()
    assert "12356" in text and "老师" in text and "需要" in text


def test_the_answer_to_the_check_in_escalates_or_not() -> None:
    assert escalates_check_in("需要")
    assert escalates_check_in("需要老师联系我")
    assert escalates_check_in("嗯，帮我联系一下老师吧")
    assert escalates_check_in("其实我真的不想活了")  # a signal again
    assert not escalates_check_in("我没事，开玩笑的")
    assert not escalates_check_in("不用了")
    assert not escalates_check_in("图书馆几点开门")

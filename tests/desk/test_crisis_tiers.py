"""The gateway's crisis tiers, seen from the student's side (Rasa scripted behind HTTP).

Urgent (the lexicon, or the detector very sure): hotlines and an urgent ticket, without the bot. Check-in
(a weaker signal, or a phrase the near-miss patterns take for a joke): the gentle question that names the
hotline, then the bot's answer all the same; the student's answer escalates it. No signal: the answer.
"""

from __future__ import annotations

from knowledge_base.safety import CHECK_IN_MARK, check_in_text, hotline_text
from tests.desk.handoff_helpers import Desk


def texts(replies) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["text"] for r in replies]


async def test_the_lexicon_gets_hotlines_and_an_urgent_ticket_without_the_bot(desk: Desk) -> None:
    replies = await desk.say("我已经把安眠药攒好了")
    assert texts(replies)[0] == hotline_text()
    assert desk.rasa.received == []
    ticket = desk.ticket()
    assert (ticket.reason, ticket.priority) == ("crisis", "urgent")


async def test_traditional_chinese_crisis_gets_the_hotlines_in_traditional(desk: Desk) -> None:
    replies = await desk.say("我真的不想活了，覺得活著沒有意義")
    assert "12356" in replies[0]["text"] and "熱線" in replies[0]["text"]  # answered in the student's script
    assert desk.ticket().priority == "urgent"


async def test_a_joke_about_suicide_gets_the_check_in_and_the_answer_not_silence(desk: Desk) -> None:
    replies = await desk.say("打游戏又输了，我想自杀哈哈")
    assert texts(replies)[0] == check_in_text()
    assert [b["title"] for b in replies[0]["buttons"]] == ["需要老师联系我", "我没事"]
    assert texts(replies)[1] == "机器人回答：打游戏又输了,我想自杀哈哈"  # the bot still answers
    assert desk.tickets() == []


async def test_accepting_the_check_in_escalates_to_the_urgent_path(desk: Desk) -> None:
    await desk.say("打游戏又输了，我想自杀哈哈")
    replies = await desk.say("需要老师联系我")
    assert texts(replies)[0] == hotline_text()
    ticket = desk.ticket()
    assert (ticket.reason, ticket.priority) == ("crisis", "urgent")


async def test_i_am_fine_after_the_check_in_goes_back_to_the_bot(desk: Desk) -> None:
    await desk.say("打游戏又输了，我想自杀哈哈")
    replies = await desk.say("我没事，开玩笑的")
    assert texts(replies) == ["机器人回答：我没事,开玩笑的"]
    assert desk.tickets() == []
    # the check-in is over: a later "需要" is an ordinary answer
    assert texts(await desk.say("需要")) == ["机器人回答：需要"]


async def test_a_sad_toned_ordinary_question_gets_its_answer_and_no_ticket(desk: Desk) -> None:
    replies = await desk.say("好焦虑啊，校园卡丢了怎么补办")
    assert texts(replies) == ["机器人回答：好焦虑啊,校园卡丢了怎么补办"]
    assert not any(CHECK_IN_MARK in t for t in texts(replies))
    assert desk.tickets() == []


async def test_i_want_to_listen_to_a_song_is_no_crisis(desk: Desk) -> None:
    assert texts(await desk.say("我想听歌")) == ["机器人回答：我想听歌"]
    assert desk.tickets() == []


async def test_the_bot_reads_simplified_text_and_the_student_reads_traditional(desk: Desk) -> None:
    replies = await desk.say("請問學費怎麼繳？")
    assert desk.rasa.received == ["请问学费怎么缴?"]
    assert texts(replies) == ["機器人回答：請問學費怎麼繳?"]

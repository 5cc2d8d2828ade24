"""action_answer_faq: answer, suggest, give up, out of scope, a chosen suggestion, a live edit."""

from __future__ import annotations

import json

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from knowledge_base import repository
from knowledge_base.kbfile import FaqIn
from tests.actions.conftest import make_tracker

pytestmark = pytest.mark.usefixtures("kb_env")


async def run(text: str, intent: str = "faq", entities=None) -> list[dict]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq().run(dispatcher, make_tracker(text, intent, entities), {})
    assert all(e["event"] == "slot" and e["name"] == "faq_give_ups" for e in events)  # the give-up count only
    return dispatcher.messages


async def test_confident_question_gets_the_answer_and_a_service_guide_button() -> None:
    [message] = await run("心理咨询怎么预约")
    assert message["response"] == "utter_faq_answer"
    assert "心理" in message["answer"]
    assert [b["title"] for b in message["buttons"]] == ["办理指南（材料、地点、时间）"]
    assert message["buttons"][0]["payload"] == '/service_info{"service": "counseling"}'


async def test_vague_question_offers_three_questions_as_buttons() -> None:
    [message] = await run("校园卡")
    assert message["response"] == "utter_faq_suggest"
    assert len(message["buttons"]) == 3
    first = message["buttons"][0]
    assert first["payload"].startswith("/choose_faq{")
    faq_id = json.loads(first["payload"][len("/choose_faq") :])["faq_id"]
    [chosen] = await run(first["payload"], "choose_faq", [{"entity": "faq_id", "value": faq_id}])
    assert chosen["response"] == "utter_faq_answer"
    assert chosen["answer"]


async def test_unknown_question_is_told_honestly_with_a_way_to_a_person() -> None:
    [message] = await run("薛定谔方程的通解怎么推导", intent="nlu_fallback")
    assert message["response"] == "utter_faq_none"
    assert {"title": "转人工", "payload": "/request_human"} in message["buttons"]


async def test_out_of_scope_small_talk_is_declined() -> None:
    [message] = await run("今天天气怎么样", intent="out_of_scope")
    assert message["response"] == "utter_out_of_scope"


async def test_a_chosen_entry_that_was_removed_is_explained() -> None:
    [message] = await run('/choose_faq{"faq_id": "gone"}', "choose_faq", [{"entity": "faq_id", "value": "gone"}])
    assert message["response"] == "utter_faq_gone"


async def test_an_edit_shows_in_the_next_answer(sessions) -> None:  # type: ignore[no-untyped-def]
    [before] = await run("校园卡丢了怎么办")
    with sessions() as session, session.begin():
        faq = repository.get_faq(session, "card_report_loss")
        repository.save_faq(session, FaqIn(**{**faq.snapshot(), "id": faq.id, "answer": "（更新）先挂失再补卡。"}))
    [after] = await run("校园卡丢了怎么办")
    assert before["answer"] != after["answer"] == "（更新）先挂失再补卡。"


async def test_small_talk_gets_its_reply_but_a_campus_word_gets_answers() -> None:
    from actions.faq import ActionSmallTalk

    dispatcher = CollectingDispatcher()
    await ActionSmallTalk().run(dispatcher, make_tracker("好的", "affirm"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_anything_else"]
    dispatcher = CollectingDispatcher()
    await ActionSmallTalk().run(dispatcher, make_tracker("奖学金", "affirm"), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_faq_suggest"
    assert any("奖学金" in b["title"] for b in message["buttons"])


async def test_are_you_a_bot_gets_its_reply_but_a_worried_campus_question_gets_its_answer() -> None:
    from actions.faq import ActionSmallTalk

    dispatcher = CollectingDispatcher()
    await ActionSmallTalk().run(dispatcher, make_tracker("你是机器人吗", "bot_challenge"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_bot_challenge"]
    dispatcher = CollectingDispatcher()
    worried = "新生那个心理测试做完被叫去谈话 是不是我有问题啊"
    await ActionSmallTalk().run(dispatcher, make_tracker(worried, "bot_challenge"), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_faq_answer" and "测评" in message["answer"]

"""Service cards, how a booking starts from what the student said, and the handoff packet."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import ActionAppointmentStart
from actions.booking_form import ValidateAppointmentForm
from actions.catalog import ActionServiceInfo
from actions.handoff import ActionHandoff
from knowledge_base.privacy import ContactCipher
from tests.actions.conftest import make_tracker

pytestmark = pytest.mark.usefixtures("kb_env")


async def collect(action, text, intent, entities=None, history=None):  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker(text, intent, entities, history), {})
    return dispatcher.messages


async def test_service_card_from_the_entity() -> None:
    *_answer, card = await collect(
        ActionServiceInfo(), "开证明要带啥", "service_info", [{"entity": "service", "value": "certificate_issuing"}]
    )
    assert card["response"] == "utter_service_card"
    assert card["service_name"] == "在读证明与成绩单开具"
    assert card["materials"] == "1. 学生证或校园卡"
    assert "6号窗口" in card["location"]
    assert card["phone"] == "0531-88360000"
    assert len(_answer) <= 1  # at most one specific FAQ answer before the card


async def test_specific_answer_then_the_card_found_by_alias_without_an_entity() -> None:
    answer, card = await collect(ActionServiceInfo(), "医保报销需要哪些材料", "service_info")
    assert answer["response"] == "utter_faq_answer" and "发票" in answer["answer"]
    assert answer["buttons"] == []  # the card follows, no need for a guide button
    assert card["response"] == "utter_service_card"
    assert card["service_name"] == "医保报销办理"
    assert "医疗费发票原件" in card["materials"]


async def test_no_service_named_asks_which_with_a_button_per_service() -> None:
    [ask] = await collect(ActionServiceInfo(), "办事要带什么", "service_info")
    assert ask["response"] == "utter_ask_which_service"
    titles = [b["title"] for b in ask["buttons"]]
    assert "心理咨询" in titles and "在读证明与成绩单开具" in titles


async def start_booking(text: str, intent: str, entities=None) -> tuple[list, dict]:  # type: ignore[no-untyped-def]
    """action_appointment_start, then the form's first step: (messages, slots set)."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text, intent, entities)
    slots = {e["name"]: e["value"] for e in await ActionAppointmentStart().run(dispatcher, tracker, {})}
    tracker.slots.update(slots)
    tracker.events.append({"event": "action", "name": "action_appointment_start"})
    events = await ValidateAppointmentForm().run(dispatcher, tracker, {})
    slots.update({e["name"]: e["value"] for e in events})
    return dispatcher.messages, slots


async def test_booking_finds_the_service_from_a_loose_mention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_BOOKING_KEY", ContactCipher.generate_key())
    _, slots = await start_booking("简历想找老师看看 能约吗", "book_appointment")
    assert slots["booking_service"] == "career_consulting" and slots["requested_slot"] == "booking_time"


async def test_booking_without_a_service_asks_instead_of_guessing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_BOOKING_KEY", ContactCipher.generate_key())
    _, slots = await start_booking("帮我约个时间", "book_appointment")
    assert slots.get("booking_service") is None and slots["requested_slot"] == "booking_service"


async def test_cancel_without_bookings_says_there_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_BOOKING_KEY", ContactCipher.generate_key())
    dispatcher = CollectingDispatcher()
    events = await ActionAppointmentStart().run(dispatcher, make_tracker("取消预约", "cancel_appointment"), {})
    [msg] = dispatcher.messages
    assert msg["response"] == "utter_booking_none"
    assert {"event": "followup", "name": "action_listen", "timestamp": None} in events  # no form to fill


async def test_handoff_packet_names_department_reason_and_summary() -> None:
    packet_msg, reply = await collect(
        ActionHandoff(), "我要找心理老师 转人工", "request_human", history=["心理咨询在哪"]
    )
    packet = packet_msg["custom"]["handoff"]
    assert packet["department"] == "mental_health"
    assert packet["reason"] == "request" and packet["priority"] == "normal"
    assert packet["summary"] == ["心理咨询在哪", "我要找心理老师 转人工"]
    assert reply["response"] == "utter_handoff_recorded"
    assert reply["department"] == "心理健康教育与咨询中心"
    assert reply["phone"] == "0531-88361500"


async def test_complaint_is_high_priority_and_crisis_is_urgent() -> None:
    [packet_msg, reply] = await collect(ActionHandoff(), "窗口老师态度太差了 我要投诉", "complain")
    assert packet_msg["custom"]["handoff"]["priority"] == "high"
    assert reply["response"] == "utter_complaint_recorded"
    [crisis] = await collect(ActionHandoff(), "不想活了", "crisis")
    assert crisis["custom"]["handoff"] == {
        **crisis["custom"]["handoff"],
        "priority": "urgent",
        "department": "mental_health",
        "reason": "crisis",
    }


async def test_crisis_action_sends_the_same_hotlines_as_the_gateway() -> None:
    from actions.handoff import ActionCrisis
    from knowledge_base.safety import hotline_text

    hotline, packet, *_ = await collect(ActionCrisis(), "我不想活了", "crisis")
    assert hotline["response"] == "utter_crisis" and hotline["hotlines"] == hotline_text()
    assert "12356" in hotline["hotlines"] and packet["custom"]["handoff"]["priority"] == "urgent"


async def test_a_complaint_the_knowledge_base_can_answer_gets_the_answer_and_still_reaches_staff() -> None:
    answer, packet_msg, reply = await collect(ActionHandoff(), "宿舍报修三天了还没人来修 太过分了", "complain")
    assert answer["response"] == "utter_faq_answer" and "报修" in answer["answer"]
    assert packet_msg["custom"]["handoff"]["reason"] == "complaint"
    assert reply["response"] == "utter_complaint_recorded"


async def test_a_campus_question_taken_for_a_time_gets_its_answer_not_a_booking() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAppointmentStart().run(dispatcher, make_tracker("图书馆晚上几点关门", "choose_time"), {})
    [answer] = dispatcher.messages
    assert answer["response"] == "utter_faq_answer" and "22:" in answer["answer"]
    assert events == [{"event": "followup", "name": "action_listen", "timestamp": None}]


async def test_contact_details_outside_the_form_get_a_short_note() -> None:
    from actions.booking import ActionContactOutsideForm

    [note] = await collect(ActionContactOutsideForm(), "我叫李华", "inform_contact")
    assert note["response"] == "utter_contact_not_needed"


async def test_a_person_asked_for_after_a_topic_comes_from_that_topics_office() -> None:
    packet_msg, reply = await collect(ActionHandoff(), "转人工", "request_human", history=["国家奖学金怎么申请"])
    assert packet_msg["custom"]["handoff"]["department"] == "student_affairs"
    assert reply["department"] == "学生工作处"
    packet_msg, _ = await collect(ActionHandoff(), "转人工", "request_human", history=["今天天气怎么样"])
    assert packet_msg["custom"]["handoff"]["department"] == "community"  # no topic: the front desk

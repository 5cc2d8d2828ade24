"""The booking dialogue at action level, on a frozen clock and a seeded database.

`Chat` plays Rasa's part: it runs action_appointment_start and the form's validation, asks the form's
next question with its ask action, and runs action_appointment_submit when the form is done, keeping
the slots between turns as the tracker would. The texts are the responses' names and variables the
student's channel renders.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from actions.booking import ActionAppointmentStart, ActionAppointmentSubmit, ActionListBookings
from actions.booking_ask import (
    ActionAskBookingCode,
    ActionAskBookingConfirm,
    ActionAskBookingService,
    ActionAskBookingTime,
)
from actions.booking_common import backend
from actions.booking_form import ValidateAppointmentForm
from actions.booking_parse import contact_parts
from knowledge_base.booking.models import Booking, StudentContact
from knowledge_base.privacy import Contact, ContactCipher
from knowledge_base.timeexpr import TZ
from tests.knowledge_base.booking_helpers import at

# Tuesday 1 December 2026, 10:00 in Shanghai: 下周三 is 9 December, 下周五 11 December.
NOW = "2026-12-01T10:00:00+08:00"
ALICE = "web:alice"

ASK = {
    "booking_service": ActionAskBookingService,
    "booking_code": ActionAskBookingCode,
    "booking_time": ActionAskBookingTime,
    "booking_confirm": ActionAskBookingConfirm,
}
STARTS = {"book_appointment", "reschedule_appointment", "cancel_appointment", "choose_time"}


@pytest.fixture(autouse=True)
def booking_env(kb_env: str, monkeypatch: pytest.MonkeyPatch, freeze_clock: Any) -> None:
    freeze_clock(NOW)
    monkeypatch.setenv("HELPDESK_BOOKING_KEY", ContactCipher.generate_key())


class Chat:
    """One student's conversation with the appointment form."""

    def __init__(self, sender: str = ALICE) -> None:
        self.sender = sender
        self.slots: dict[str, Any] = {}
        self.active = False
        self.rejected = False

    def tracker(self, text: str, intent: str, entities: list[dict[str, Any]], after: list[str]) -> Tracker:
        latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": entities}
        events = [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": latest},
            *({"event": "action", "name": name} for name in after),
        ]
        return Tracker.from_dict(
            {
                "sender_id": self.sender,
                "slots": dict(self.slots),
                "latest_message": latest,
                "events": events,
                "paused": False,
                "followup_action": None,
                "active_loop": {"name": "appointment_form"} if self.active else {},
                "latest_action_name": after[-1] if after else "action_listen",
            }
        )

    async def run(self, action: Any, tracker: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, tracker, {})
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        return dispatcher.messages, events

    async def say(self, text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The bot's messages for one student message (what Rasa would run for it)."""
        entities = entities or []
        said: list[dict[str, Any]] = []
        self.rejected = False
        if not self.active:
            assert intent in STARTS, intent
            messages, events = await self.run(ActionAppointmentStart(), self.tracker(text, intent, entities, []))
            said += messages
            if any(e["event"] == "followup" for e in events):
                return said
            messages, _ = await self.run(
                ValidateAppointmentForm(), self.tracker(text, intent, entities, ["action_appointment_start"])
            )
            self.active = True
        else:
            messages, events = await self.run(ValidateAppointmentForm(), self.tracker(text, intent, entities, []))
            if not events:
                self.rejected = True
                return said
        said += messages
        requested = self.slots.get("requested_slot")
        if requested is None:
            self.active = False
            messages, _ = await self.run(ActionAppointmentSubmit(), self.tracker(text, intent, entities, []))
        elif requested in ASK:
            messages, _ = await self.run(ASK[requested](), self.tracker(text, intent, entities, ["appointment_form"]))
        else:
            messages = [{"response": f"utter_ask_{requested}"}]
        return said + messages

    async def tap(self, button: dict[str, str]) -> list[dict[str, Any]]:
        """Press a button: its payload `/intent{"entity": "value"}` as Rasa parses it."""
        import json

        body = button["payload"][1:]
        intent, _, raw = body.partition("{")
        entities = [{"entity": k, "value": v} for k, v in (json.loads("{" + raw) if raw else {}).items()]
        return await self.say(button["payload"], intent, entities)


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("response") for m in messages]


def titles(message: dict[str, Any]) -> list[str]:
    return [b["title"] for b in message.get("buttons") or []]


def one(messages: list[dict[str, Any]], response: str) -> dict[str, Any]:
    found = [m for m in messages if m.get("response") == response]
    assert len(found) == 1, responses(messages)
    return found[0]


COUNSELING = [{"entity": "service", "value": "counseling"}]


async def book_counseling(chat: Chat, when: str = "下周三下午两点") -> list[dict[str, Any]]:
    """Book 心理咨询 as a student new to the desk, giving the contact details; returns the messages after 确认."""
    await chat.say("我想预约心理咨询", "book_appointment", COUNSELING)
    asked = await chat.say(when, "choose_time")
    assert "utter_ask_contact_name" in responses(asked)  # a new student is asked once
    await chat.say("我叫王小明", "inform_contact")
    await chat.say("2023010123", "inform_contact")
    saved = await chat.say("13812345678", "inform_contact")
    assert "utter_contact_saved" in responses(saved)
    return await chat.say("/affirm", "affirm")


def bookings(sessions: sessionmaker) -> list[Booking]:
    with sessions() as session:
        return list(session.scalars(select(Booking).order_by(Booking.id)))


# ---------------------------------------------------------------------- booking


async def test_book_counseling_vague_time_contact_once_confirm_and_code(sessions: sessionmaker) -> None:
    chat = Chat()
    [ask_time] = await chat.say("我想预约心理咨询", "book_appointment", COUNSELING)
    assert ask_time["response"] == "utter_booking_ask_time" and ask_time["service_name"] == "心理咨询"
    assert titles(ask_time)[0] == "12月1日（周二）10:30"  # the nearest free slot, 30 minutes' notice from 10:00

    [pick] = await chat.say("下周三下午", "choose_time")  # a part of a day: asks the hour
    assert pick["response"] == "utter_booking_pick_time" and pick["label"] == "12月9日（周三）下午"
    assert titles(pick) == ["12月9日（周三）14:00", "12月9日（周三）15:00", "12月9日（周三）16:00"]

    [ask_name] = await chat.tap(pick["buttons"][0])
    assert ask_name["response"] == "utter_ask_contact_name"
    assert responses(await chat.say("我叫王小明", "inform_contact")) == ["utter_ask_contact_student_number"]
    assert responses(await chat.say("2023 0101 23", "inform_contact")) == ["utter_ask_contact_phone"]
    saved, summary = await chat.say("138-1234-5678", "inform_contact")
    assert saved["response"] == "utter_contact_saved"
    assert summary["response"] == "utter_booking_confirm_book"
    assert (summary["when"], summary["location"]) == ("12月9日（周三）14:00", "大学生活动中心3楼 个体咨询室")
    assert (summary["name"], summary["student_number"], summary["phone"]) == ("王**", "20******23", "138****5678")
    assert titles(summary) == ["确认预约", "取消"]
    assert not any(chat.slots[s] for s in ("contact_name", "contact_student_number", "contact_phone"))

    [done] = await chat.say("/affirm", "affirm")
    assert done["response"] == "utter_booking_done"
    assert done["when"] == "12月9日（周三）14:00-14:50" and done["materials"] == "校园卡或电子校园卡"
    [row] = bookings(sessions)
    assert (row.code, row.service_id, row.status) == (done["code"], "counseling", "booked")
    assert row.starts_at.astimezone(TZ) == at(9, 14)
    assert "13812345678" not in row.contact and "王小明" not in row.contact  # encrypted
    assert all(v is None for k, v in chat.slots.items() if k != "requested_slot")


async def test_contact_details_are_stored_encrypted_and_not_asked_again(sessions: sessionmaker) -> None:
    chat = Chat()
    await book_counseling(chat)
    with sessions() as session:
        [row] = session.scalars(select(StudentContact)).all()
    assert "2023010123" not in row.contact and ALICE not in row.student_ref
    assert backend().contacts.recall(ALICE) == Contact("王小明", "2023010123", "13812345678")

    await chat.say("约职业规划咨询", "book_appointment", [{"entity": "service", "value": "career_consulting"}])
    [summary] = await chat.say("下周四下午三点", "choose_time")
    assert summary["response"] == "utter_booking_confirm_book" and summary["service_name"] == "职业规划咨询"


async def test_all_details_in_one_message_and_a_clear_error_for_each_bad_field() -> None:
    chat = Chat("web:bob")
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    await chat.say("下周三下午三点", "choose_time")
    error, again = await chat.say("12345", "inform_contact")
    assert (error["response"], again["response"]) == ("utter_invalid_name", "utter_ask_contact_name")
    assert responses(await chat.say("李华 12", "inform_contact")) == ["utter_ask_contact_student_number"]
    assert responses(await chat.say("12", "inform_contact"))[0] == "utter_invalid_student_number"
    assert responses(await chat.say("2022010234 1381234", "inform_contact")) == ["utter_ask_contact_phone"]
    assert responses(await chat.say("1381234", "inform_contact")) == ["utter_invalid_phone", "utter_ask_contact_phone"]

    carol = Chat("web:carol")
    await carol.say("预约心理咨询", "book_appointment", COUNSELING)
    await carol.say("下周三下午三点", "choose_time")
    saved, summary = await carol.say("我叫张伟，学号2021020111，电话13600001111", "inform_contact")
    assert (saved["response"], summary["name"], summary["phone"]) == ("utter_contact_saved", "张*", "136****1111")


@pytest.mark.parametrize(
    ("said", "response", "requested"),
    [
        ("下周六上午十点", "utter_booking_time_closed", "12月12日（周六）10:00"),
        ("今天上午九点", "utter_booking_time_past", "12月1日（周二）09:00"),
        ("12月28号上午十点", "utter_booking_time_beyond_horizon", "12月28日（周一）10:00"),
        ("下周三下午两点十分", "utter_booking_time_no_slot_at_time", "12月9日（周三）14:10"),
    ],
)
async def test_an_impossible_time_says_why_and_offers_the_nearest_free_slots(
    said: str, response: str, requested: str
) -> None:
    chat = Chat()
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    why, nearest = await chat.say(said, "choose_time")
    assert why["response"] == response and why["requested"] == requested and why["service_name"] == "心理咨询"
    assert nearest["response"] == "utter_booking_nearest" and len(nearest["buttons"]) == 3
    assert nearest["buttons"][0]["payload"].startswith('/choose_time{"time": "2026-12-')
    assert chat.slots["requested_slot"] == "booking_time"


async def test_a_public_holiday_is_named(freeze_clock: Any) -> None:
    freeze_clock("2026-09-28T10:00:00+08:00")
    chat = Chat()
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    why, nearest = await chat.say("10月2号上午十点", "choose_time")
    assert why["response"] == "utter_booking_time_holiday" and why["holiday"] == "国庆节"
    assert why["requested"] == "10月2日（周五）10:00" and nearest["buttons"]


async def test_a_day_with_many_slots_shows_some_from_morning_to_evening_and_an_ordinal_picks_one() -> None:
    chat = Chat()
    await chat.say("预约开在读证明", "book_appointment", [{"entity": "service", "value": "certificate_issuing"}])
    [pick] = await chat.say("下周三", "choose_time")  # 10-minute slots all day: 8 buttons spread over it
    assert pick["label"] == "12月9日（周三）" and len(pick["buttons"]) == 8
    assert titles(pick)[0] == "12月9日（周三）08:30" and titles(pick)[-1] == "12月9日（周三）17:20"
    [ask_name] = await chat.say("第二个", "choose_time")
    assert ask_name["response"] == "utter_ask_contact_name"
    assert chat.slots["booking_time"] == pick["buttons"][1]["payload"].split('"time": "')[1].split('"')[0]


async def test_a_full_slot_offers_alternatives_that_can_be_tapped() -> None:
    other = Contact("赵六", "2020000001", "13900000001")
    backend().bookings.book("counseling", at(7, 8, 30), student_key="web:other", contact=other, now=at(1, 10))
    chat = Chat()
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    full, nearest = await chat.say("下周一上午八点半", "choose_time")  # only 王老师 on Monday mornings
    assert full["response"] == "utter_booking_time_full" and full["requested"] == "12月7日（周一）08:30"
    assert titles(nearest)[0] == "12月7日（周一）09:30"
    [ask_name] = await chat.tap(nearest["buttons"][0])
    assert ask_name["response"] == "utter_ask_contact_name"


async def test_a_service_that_cannot_be_booked_online_lists_those_that_can() -> None:
    chat = Chat()
    [msg] = await chat.say(
        "预约补办校园卡", "book_appointment", [{"entity": "service", "value": "campus_card_replacement"}]
    )
    assert msg["response"] == "utter_booking_not_bookable" and msg["service_name"] == "校园卡补办"
    assert "心理咨询" in titles(msg) and "校园卡补办" not in titles(msg)
    assert msg["buttons"][0]["payload"].startswith("/book_appointment{")
    [ask_time] = await chat.tap(next(b for b in msg["buttons"] if b["title"] == "心理咨询"))
    assert ask_time["response"] == "utter_booking_ask_time"


async def test_time_before_service_is_kept_until_the_service_is_known() -> None:
    chat = Chat()
    [ask] = await chat.say("帮我约下周三下午两点", "book_appointment")
    assert ask["response"] == "utter_booking_which_service"
    [ask_name] = await chat.say("心理咨询", "book_appointment", COUNSELING)
    assert ask_name["response"] == "utter_ask_contact_name"


async def test_never_mind_leaves_politely_and_books_nothing(sessions: sessionmaker) -> None:
    chat = Chat()
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    [bye] = await chat.say("算了", "deny")
    assert bye["response"] == "utter_booking_not_confirmed"
    assert not chat.active and bookings(sessions) == []

    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    await chat.say("下周三下午两点", "choose_time")
    [bye] = await chat.say("不约了", "cancel_appointment")  # also while contact details are asked
    assert bye["response"] == "utter_booking_not_confirmed" and bookings(sessions) == []


async def test_a_question_on_the_side_is_left_to_the_rules() -> None:
    chat = Chat()
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    await chat.say("下周三下午两点", "choose_time")
    assert await chat.say("图书馆几点开门？", "faq") == [] and chat.rejected
    assert await chat.say("转人工", "request_human") == [] and chat.rejected
    assert responses(await chat.say("王小明", "inform_contact")) == ["utter_ask_contact_student_number"]


async def test_a_time_given_at_the_confirmation_changes_the_summary() -> None:
    chat = Chat()
    await book_counseling(chat)
    await chat.say("约职业规划咨询", "book_appointment", [{"entity": "service", "value": "career_consulting"}])
    await chat.say("下周四下午三点", "choose_time")
    [summary] = await chat.say("还是改成下周四下午四点吧", "choose_time")
    assert summary["response"] == "utter_booking_confirm_book" and summary["when"] == "12月10日（周四）16:00"
    hint, again = await chat.say("嗯嗯嗯", "nlu_fallback")
    assert (hint["response"], again["response"]) == ("utter_booking_confirm_hint", "utter_booking_confirm_book")


async def test_one_open_counseling_booking_per_student_is_said_at_once(sessions: sessionmaker) -> None:
    chat = Chat()
    [done] = await book_counseling(chat)
    already, others = await chat.say("再约一次心理咨询", "book_appointment", COUNSELING)
    assert already["response"] == "utter_booking_already_booked" and already["code"] == done["code"]
    assert titles(already) == [f"改时间 {done['code']}", f"取消 {done['code']}"]
    assert others["response"] == "utter_booking_other_service" and "职业规划咨询" in titles(others)
    [ask_time] = await chat.tap(already["buttons"][0])  # 改时间 inside the booking form: moves that one
    assert ask_time["response"] == "utter_booking_ask_new_time" and ask_time["code"] == done["code"]
    assert len(bookings(sessions)) == 1


async def test_the_same_student_number_from_another_conversation_is_refused_at_booking(
    sessions: sessionmaker,
) -> None:
    [done] = await book_counseling(Chat())
    bob = Chat("web:bob")  # the same student on another channel gives the same student number
    await bob.say("预约心理咨询", "book_appointment", COUNSELING)
    await bob.say("下周五下午三点", "choose_time")
    await bob.say("王小明 2023010123 13812345678", "inform_contact")
    [already] = await bob.say("/affirm", "affirm")
    assert already["response"] == "utter_booking_already_booked" and already["code"] == done["code"]
    assert titles(already) == ["我的预约"]  # not bob's booking: nothing to change from here
    assert len(bookings(sessions)) == 1


# ---------------------------------------------------------------------- my bookings, move, cancel


async def test_my_bookings_lists_code_service_time_place_with_buttons() -> None:
    chat = Chat()
    dispatcher = CollectingDispatcher()
    await ActionListBookings().run(dispatcher, chat.tracker("我的预约", "list_appointments", [], []), {})
    assert responses(dispatcher.messages) == ["utter_booking_none"]

    [done] = await book_counseling(chat)
    dispatcher = CollectingDispatcher()
    await ActionListBookings().run(dispatcher, chat.tracker("我的预约", "list_appointments", [], []), {})
    header, item = dispatcher.messages
    assert header["count"] == 1
    assert (item["code"], item["service_name"]) == (done["code"], "心理咨询")
    assert item["when"] == "12月9日（周三）14:00-14:50"
    assert item["location"] == "大学生活动中心3楼 个体咨询室"
    assert [b["payload"] for b in item["buttons"]] == [
        f'/reschedule_appointment{{"booking_code": "{done["code"]}"}}',
        f'/cancel_appointment{{"booking_code": "{done["code"]}"}}',
    ]


async def test_move_with_the_new_time_in_the_message(sessions: sessionmaker) -> None:
    chat = Chat()
    [done] = await book_counseling(chat)
    [confirm] = await chat.say("改到下周五下午三点", "reschedule_appointment")
    assert confirm["response"] == "utter_booking_confirm_reschedule"
    assert (confirm["old_when"], confirm["when"]) == ("12月9日（周三）14:00-14:50", "12月11日（周五）15:00-15:50")
    [moved] = await chat.say("/affirm", "affirm")
    assert moved["response"] == "utter_booking_moved" and moved["code"] == done["code"]
    [row] = bookings(sessions)
    assert row.starts_at.astimezone(TZ) == at(11, 15) and row.reschedule_count == 1


async def test_move_asks_which_booking_then_the_time(sessions: sessionmaker) -> None:
    chat = Chat()
    [first] = await book_counseling(chat)
    await chat.say("约职业规划咨询", "book_appointment", [{"entity": "service", "value": "career_consulting"}])
    await chat.say("下周四下午三点", "choose_time")
    [second] = await chat.say("/affirm", "affirm")

    [which] = await chat.say("改时间", "reschedule_appointment")
    assert which["response"] == "utter_booking_which_booking" and which["count"] == 2
    assert titles(which) == ["心理咨询 12月9日（周三）14:00", "职业规划咨询 12月10日（周四）15:00"]
    [ask_time] = await chat.tap(which["buttons"][1])
    assert ask_time["response"] == "utter_booking_ask_new_time" and ask_time["code"] == second["code"]
    [confirm] = await chat.say("下周四下午四点", "choose_time")
    assert confirm["when"] == "12月10日（周四）16:00-16:30"
    [kept] = await chat.say("不改了", "deny")
    assert kept["response"] == "utter_booking_kept"
    assert [b.starts_at.astimezone(TZ) for b in bookings(sessions)] == [at(9, 14), at(10, 15)]
    assert first["code"] != second["code"]


async def test_cancel_needs_a_confirmation(sessions: sessionmaker) -> None:
    chat = Chat()
    [done] = await book_counseling(chat)
    [confirm] = await chat.say("取消预约", "cancel_appointment")
    assert confirm["response"] == "utter_booking_confirm_cancel" and confirm["code"] == done["code"]
    assert titles(confirm) == ["确认取消", "不取消"]
    [kept] = await chat.say("不取消了", "deny")
    assert kept["response"] == "utter_booking_kept" and bookings(sessions)[0].status == "booked"

    await chat.say("取消预约", "cancel_appointment")
    [cancelled] = await chat.say("确认取消", "book_appointment")  # typed, whatever NLU made of it
    assert cancelled["response"] == "utter_booking_cancelled" and cancelled["code"] == done["code"]
    assert bookings(sessions)[0].status == "cancelled"
    [nothing] = await chat.say("取消预约", "cancel_appointment")
    assert nothing["response"] == "utter_booking_none" and not chat.active


async def test_moving_a_booking_that_was_cancelled_meanwhile_says_so() -> None:
    chat = Chat()
    [done] = await book_counseling(chat)
    await chat.say("改到下周五下午三点", "reschedule_appointment")
    backend().bookings.cancel(done["code"], student_key=ALICE, now=at(1, 10))
    [msg] = await chat.say("/affirm", "affirm")
    assert msg["response"] == "utter_booking_not_changeable" and msg["state"] == "已经取消了"


# ---------------------------------------------------------------------- reading the message


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("我叫王小明", {"name": "王小明"}),
        ("姓名：李为", {"name": "李为"}),
        ("学号是 2023010123", {"student_number": "2023010123"}),
        ("+86 138-1234-5678", {"phone": "13812345678"}),
        ("王小明 2023010123 13812345678", {"name": "王小明", "student_number": "2023010123", "phone": "13812345678"}),
        ("Anna Li", {"name": "Anna Li"}),
    ],
)
def test_contact_parts(text: str, parts: dict[str, str]) -> None:
    assert contact_parts(text) == parts


async def test_change_my_contact_details_forgets_them_and_the_next_booking_asks_again() -> None:
    from actions.booking import ActionForgetContact
    from knowledge_base.timeexpr import now

    backend().contacts.remember(ALICE, Contact("王小明", "2023010123", "13812345678"), now=now())
    chat = Chat()
    dispatcher = CollectingDispatcher()
    await ActionForgetContact().run(dispatcher, chat.tracker("我换手机号了", "update_contact", [], []), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_contact_forgotten"]
    assert backend().contacts.recall(ALICE) is None
    dispatcher = CollectingDispatcher()
    await ActionForgetContact().run(dispatcher, chat.tracker("删除我的联系方式", "update_contact", [], []), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_contact_none"]
    await chat.say("预约心理咨询", "book_appointment", COUNSELING)
    [ask_name] = await chat.say("下周三下午两点", "choose_time")
    assert ask_name["response"] == "utter_ask_contact_name"  # asked again


async def test_a_campus_question_about_a_phone_is_answered_not_taken_for_a_contact_change() -> None:
    from actions.booking import ActionForgetContact

    backend().contacts.remember(ALICE, Contact("王小明", "2023010123", "13812345678"), now=at(1, 10))
    dispatcher = CollectingDispatcher()
    question = "校园网密码忘了 之前绑的手机号也注销了 怎么重置"
    await ActionForgetContact().run(dispatcher, Chat().tracker(question, "update_contact", [], []), {})
    [answer] = dispatcher.messages
    assert answer["response"] == "utter_faq_answer"
    assert backend().contacts.recall(ALICE) is not None  # nothing deleted

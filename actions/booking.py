"""Appointments by chat: start the appointment form, carry out what the student confirmed, list bookings.

The form itself (questions and answers) is in booking_form.py, booking_contact.py and booking_ask.py. The student is the
conversation (`tracker.sender_id`): "my bookings" are the ones made in this conversation, and a
reminder goes back to it. Every booking error becomes a specific Chinese answer with what to do next.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import answer_if_confident
from actions.booking_ask import service_name, utter_options, utter_unavailable
from actions.booking_common import (
    BOOK,
    CANCEL,
    CODE,
    CONFIRM,
    FORM_SLOTS,
    OP,
    OP_BY_INTENT,
    REQUESTED,
    RESCHEDULE,
    SERVICE,
    TIME,
    backend,
    now,
)
from actions.booking_parse import Said
from actions.booking_text import (
    MY_BOOKINGS_BUTTON,
    NOT_CHANGEABLE,
    booking_buttons,
    booking_kwargs,
    materials_text,
    service_buttons,
    when_label,
)
from actions.kb import knowledge_base
from knowledge_base.booking.errors import (
    AlreadyBooked,
    BookingError,
    BookingNotChangeable,
    BookingNotFound,
    InvalidContact,
    OverlappingBooking,
    ServiceNotBookable,
    SlotUnavailable,
    TooManyBookings,
)
from knowledge_base.booking.support import bookable_services
from knowledge_base.booking.types import BookingView
from knowledge_base.names import ENTITY_CODE, INTENT_BOOK, INTENT_CHOOSE_TIME

log = logging.getLogger(__name__)

NEW_BOOKING_BUTTON = {"title": "在线预约", "payload": f"/{INTENT_BOOK}"}


def reset_events() -> list[dict[str, Any]]:
    """Clear every slot of the appointment form."""
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionAppointmentStart(Action):
    """Sets what the form is for (book, reschedule, cancel) and clears what an earlier form left."""

    def name(self) -> str:
        return "action_appointment_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        said = Said.of(tracker)
        op = OP_BY_INTENT.get(said.intent or "")
        if said.intent == INTENT_CHOOSE_TIME:  # a time button or a bare time outside the form
            # a campus question with a time in it (校医院下午几点上班) gets its answer, not a booking
            if not said.entity(ENTITY_CODE) and await answer_if_confident(dispatcher, tracker):
                return [FollowupAction("action_listen")]
            op = RESCHEDULE if said.entity(ENTITY_CODE) else BOOK
        events = [*reset_events(), SlotSet(REQUESTED, None)]
        if op in (RESCHEDULE, CANCEL):
            views = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
            if not views:  # nothing to change: skip the form the rule would start next
                dispatcher.utter_message(response="utter_booking_none", buttons=[NEW_BOOKING_BUTTON])
                return [*events, FollowupAction("action_listen")]
        return [*events, SlotSet(OP, op)]


class ActionContactOutsideForm(Action):
    """Contact details (or what looks like them) while no form asks: a campus question with a number
    in it gets its FAQ answer (knowledge_base.decisions.route), anything else a short note."""

    def name(self) -> str:
        return "action_contact_outside_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if not await answer_if_confident(dispatcher, tracker):
            dispatcher.utter_message(response="utter_contact_not_needed")
        return []


class ActionForgetContact(Action):
    """ "修改联系方式" / "删除我的信息": the remembered contact is deleted; the next booking asks again."""

    def name(self) -> str:
        return "action_forget_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if await answer_if_confident(dispatcher, tracker):  # a campus question about a phone or an account
            return []
        forgotten = await asyncio.to_thread(backend().contacts.forget, tracker.sender_id)
        dispatcher.utter_message(response="utter_contact_forgotten" if forgotten else "utter_contact_none")
        return []


class ActionAppointmentSubmit(Action):
    """After the form: book, move or cancel as confirmed, or say that nothing was changed."""

    def name(self) -> str:
        return "action_appointment_submit"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        op = tracker.get_slot(OP)
        if op is None:
            return reset_events()
        if not tracker.get_slot(CONFIRM):
            dispatcher.utter_message(response="utter_booking_not_confirmed" if op == BOOK else "utter_booking_kept")
            return reset_events()
        try:
            if op == BOOK:
                await self._book(dispatcher, tracker)
            elif op == RESCHEDULE:
                await self._reschedule(dispatcher, tracker)
            else:
                view = await asyncio.to_thread(
                    backend().bookings.cancel, tracker.get_slot(CODE), student_key=tracker.sender_id, now=now()
                )
                dispatcher.utter_message(response="utter_booking_cancelled", **booking_kwargs(view))
        except BookingError as exc:
            await explain(dispatcher, tracker, exc)
        return reset_events()

    @staticmethod
    async def _book(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        service = tracker.get_slot(SERVICE)
        contact = await asyncio.to_thread(backend().contacts.recall, tracker.sender_id)
        if contact is None:
            dispatcher.utter_message(response="utter_booking_contact_missing", buttons=[NEW_BOOKING_BUTTON])
            return
        view = await asyncio.to_thread(
            backend().bookings.book,
            service,
            datetime.fromisoformat(tracker.get_slot(TIME)),
            student_key=tracker.sender_id,
            contact=contact,
            now=now(),
        )
        card = await asyncio.to_thread(knowledge_base().service_card, service)
        dispatcher.utter_message(
            response="utter_booking_done",
            materials=materials_text(card.materials),
            buttons=[MY_BOOKINGS_BUTTON],
            **booking_kwargs(view),
        )

    @staticmethod
    async def _reschedule(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        view = await asyncio.to_thread(
            backend().bookings.reschedule,
            tracker.get_slot(CODE),
            datetime.fromisoformat(tracker.get_slot(TIME)),
            student_key=tracker.sender_id,
            now=now(),
        )
        dispatcher.utter_message(response="utter_booking_moved", buttons=[MY_BOOKINGS_BUTTON], **booking_kwargs(view))


async def explain(dispatcher: CollectingDispatcher, tracker: Tracker, exc: BookingError) -> None:
    """A booking error as the student should read it, with the next step as buttons."""
    code = tracker.get_slot(CODE)
    if isinstance(exc, SlotUnavailable):
        name = await service_name(exc.service_id)
        utter_unavailable(dispatcher, exc.reason, when_label(exc.start), name, getattr(exc, "holiday", None))
        utter_options(dispatcher, exc.alternatives, name, code)
    elif isinstance(exc, AlreadyBooked):
        name = await service_name(exc.service_id)
        mine = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
        # the open one may have been made in another conversation (same student number): no buttons then
        known = exc.code if exc.code and any(v.code == exc.code for v in mine) else None
        buttons = booking_buttons(known) if known else [MY_BOOKINGS_BUTTON]
        dispatcher.utter_message(
            response="utter_booking_already_booked", service_name=name, code=exc.code or "", buttons=buttons
        )
    elif isinstance(exc, OverlappingBooking):
        dispatcher.utter_message(response="utter_booking_overlap", code=exc.code, buttons=[MY_BOOKINGS_BUTTON])
    elif isinstance(exc, TooManyBookings):
        dispatcher.utter_message(response="utter_booking_too_many", limit=exc.limit, buttons=[MY_BOOKINGS_BUTTON])
    elif isinstance(exc, BookingNotFound):
        dispatcher.utter_message(response="utter_booking_not_found", code=exc.code, buttons=[MY_BOOKINGS_BUTTON])
    elif isinstance(exc, BookingNotChangeable):
        state = NOT_CHANGEABLE.get(exc.reason, "当前状态")
        dispatcher.utter_message(response="utter_booking_not_changeable", code=exc.code, state=state)
    elif isinstance(exc, ServiceNotBookable):
        services = await asyncio.to_thread(bookable_services, backend().sessions)
        dispatcher.utter_message(
            response="utter_booking_not_bookable",
            service_name=await service_name(exc.service_id),
            buttons=service_buttons(services),
        )
    elif isinstance(exc, InvalidContact):
        await asyncio.to_thread(backend().contacts.forget, tracker.sender_id)
        dispatcher.utter_message(response="utter_booking_contact_missing", buttons=[NEW_BOOKING_BUTTON])
    else:
        log.error("booking failed: %s", exc.reason)
        dispatcher.utter_message(response="utter_booking_system_error")


class ActionListBookings(Action):
    """我的预约: each open booking (code, service, time, place) with 改时间 / 取消 buttons."""

    def name(self) -> str:
        return "action_list_bookings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        views: list[BookingView] = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
        if not views:
            dispatcher.utter_message(response="utter_booking_none", buttons=[NEW_BOOKING_BUTTON])
            return []
        dispatcher.utter_message(response="utter_booking_list_header", count=len(views))
        for view in views:
            dispatcher.utter_message(
                response="utter_booking_item", buttons=booking_buttons(view.code), **booking_kwargs(view)
            )
        return []

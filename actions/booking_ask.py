"""The appointment form's questions: which service, which booking, what time, and the summary to confirm.

Rasa runs `action_ask_<slot>` when the form needs that slot. Each question shows what the student can
tap: bookable services, their own bookings, free slots (the ones of a vague day, or the nearest ones
when the time asked for is closed, full or past, with the reason), 确认/取消.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.booking_common import (
    BOOK,
    CANCEL,
    CODE,
    OFFER,
    OP,
    RESCHEDULE,
    SERVICE,
    TIME,
    backend,
    now,
)
from actions.booking_text import (
    PART_LABELS,
    booking_buttons,
    choose_booking_buttons,
    confirm_buttons,
    day_label,
    service_buttons,
    slot_buttons,
    when_label,
)
from actions.kb import knowledge_base
from knowledge_base.booking.support import bookable_services
from knowledge_base.booking.types import BookingView, Slot
from knowledge_base.names import INTENT_CANCEL, INTENT_RESCHEDULE
from knowledge_base.repository import NotFound
from knowledge_base.timeexpr import TZ, part_of_day_bucket

MAX_BUTTONS = 8
# offer kinds that explain why the time asked for cannot be booked (utter_booking_time_<kind>)
UNAVAILABLE = ("past", "beyond_horizon", "holiday", "closed", "no_slot_at_time", "full", "staff_unavailable", "same")


def spread(slots: list[Slot], limit: int) -> list[Slot]:
    """At most `limit` slots spread over the list (a whole day of 10-minute slots: morning to evening)."""
    if len(slots) <= limit:
        return slots
    step = (len(slots) - 1) / (limit - 1)
    return [slots[round(i * step)] for i in range(limit)]


def requested_label(start: datetime, grain: str) -> str:
    """How the student's own time is repeated back: 12月12日（周六）, 12月9日（周三）下午, 12月9日（周三）14:00."""
    if grain == "day":
        return day_label(start)
    if grain == "part_of_day":
        return day_label(start) + PART_LABELS[part_of_day_bucket(start.astimezone(TZ).hour)]
    return when_label(start)


async def service_name(service_id: str) -> str:
    try:
        return (await asyncio.to_thread(knowledge_base().service_card, service_id)).name
    except NotFound:
        return service_id


def utter_options(dispatcher: CollectingDispatcher, options: list[Slot], service: str, code: str | None) -> None:
    """The nearest free slots as buttons, or that there are none in the booking window."""
    if options:
        dispatcher.utter_message(response="utter_booking_nearest", buttons=slot_buttons(options, code=code))
        return
    dispatcher.utter_message(
        response="utter_booking_no_free_slots",
        service_name=service,
        days=backend().bookings.policy.horizon_days,
    )


def utter_unavailable(
    dispatcher: CollectingDispatcher,
    reason: str,
    requested: str,
    service: str,
    holiday: str | None = None,
) -> None:
    """Why the time asked for cannot be booked."""
    policy = backend().bookings.policy
    kind = reason if reason in UNAVAILABLE else "closed"
    dispatcher.utter_message(
        response=f"utter_booking_time_{kind}",
        requested=requested,
        service_name=service,
        holiday=holiday or "节假日",
        days=policy.horizon_days,
        notice=int(policy.min_notice.total_seconds() // 60),
    )


async def booking_of(tracker: Tracker) -> BookingView | None:
    code = tracker.get_slot(CODE)
    if not code:
        return None
    views = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
    return next((v for v in views if v.code == code), None)


class ActionAskBookingService(Action):
    """Which service? Buttons for every service that can be booked online."""

    def name(self) -> str:
        return "action_ask_booking_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        services = await asyncio.to_thread(bookable_services, backend().sessions)
        buttons = service_buttons(services)
        offer = tracker.get_slot(OFFER) or {}
        if offer.get("already"):
            views = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
            held = next((v for v in views if v.code == offer["already"]), None)
            if held is not None:
                dispatcher.utter_message(
                    response="utter_booking_already_booked",
                    service_name=held.service_name,
                    code=held.code,
                    buttons=booking_buttons(held.code),
                )
                dispatcher.utter_message(response="utter_booking_other_service", buttons=buttons)
                return []
        if offer.get("not_bookable"):
            name = await service_name(offer["not_bookable"])
            dispatcher.utter_message(response="utter_booking_not_bookable", service_name=name, buttons=buttons)
        elif offer.get("kind") == "not_understood":
            dispatcher.utter_message(response="utter_booking_unknown_service", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_booking_which_service", buttons=buttons)
        return []


class ActionAskBookingCode(Action):
    """Which booking (to move or cancel)? A button per open booking."""

    def name(self) -> str:
        return "action_ask_booking_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        views = await asyncio.to_thread(backend().bookings.my_bookings, tracker.sender_id, now=now())
        op = tracker.get_slot(OP)
        intent, verb = (INTENT_CANCEL, "取消") if op == CANCEL else (INTENT_RESCHEDULE, "改时间")
        dispatcher.utter_message(
            response="utter_booking_which_booking",
            count=len(views),
            verb=verb,
            buttons=choose_booking_buttons(views, intent),
        )
        return []


class ActionAskBookingTime(Action):
    """What time? Free slots of the day asked about, or why that time is not possible and the nearest."""

    def name(self) -> str:
        return "action_ask_booking_time"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        op = tracker.get_slot(OP)
        view = await booking_of(tracker) if op == RESCHEDULE else None
        service_id = view.service_id if view else tracker.get_slot(SERVICE)
        if not service_id:  # the booking to move is gone (cancelled meanwhile)
            dispatcher.utter_message(response="utter_booking_not_found", code=tracker.get_slot(CODE) or "")
            return []
        name = view.service_name if view else await service_name(service_id)
        code = view.code if view else None
        offer = dict(tracker.get_slot(OFFER) or {})
        kind = offer.get("kind")
        options = [datetime.fromisoformat(t) for t in offer.get("options") or []]
        clock = now()
        slots: list[Slot] = []
        if options:
            slots = await asyncio.to_thread(self._slots_at, service_id, options, clock)
        if not slots and kind in (None, "earliest", "not_understood", "pick"):
            nearest = backend().bookings.nearest_free_slots
            slots = await asyncio.to_thread(nearest, service_id, clock, now=clock, limit=4)
        slots = spread(slots, MAX_BUTTONS)  # what is shown is what "第二个" picks from
        events = [SlotSet(OFFER, {**offer, "options": [s.start.isoformat() for s in slots]})]
        buttons = slot_buttons(slots, code=code)
        if kind == "pick" and slots:
            label = requested_label(datetime.fromisoformat(offer["requested"]), offer.get("grain", "day"))
            dispatcher.utter_message(response="utter_booking_pick_time", label=label, buttons=buttons)
        elif kind in UNAVAILABLE:
            label = requested_label(datetime.fromisoformat(offer["requested"]), offer.get("grain", "minute"))
            utter_unavailable(dispatcher, kind, label, name, offer.get("holiday"))
            utter_options(dispatcher, slots, name, code)
        elif not slots:
            utter_options(dispatcher, slots, name, code)
        elif kind == "not_understood":
            dispatcher.utter_message(response="utter_booking_time_not_understood", buttons=buttons)
        elif kind == "earliest":
            dispatcher.utter_message(response="utter_booking_nearest", buttons=buttons)
        elif view is not None:
            dispatcher.utter_message(
                response="utter_booking_ask_new_time",
                code=view.code,
                service_name=name,
                when=when_label(view.start, view.end),
                buttons=buttons,
            )
        else:
            dispatcher.utter_message(response="utter_booking_ask_time", service_name=name, buttons=buttons)
        return events

    @staticmethod
    def _slots_at(service_id: str, starts: list[datetime], clock: datetime) -> list[Slot]:
        """The offered starts that are still free (seats may have gone since they were offered)."""
        free: list[Slot] = []
        for day in sorted({s.astimezone(TZ).date() for s in starts}):
            free += backend().bookings.free_slots(service_id, day, now=clock)
        wanted = {s.astimezone(TZ) for s in starts}
        return [s for s in free if s.start in wanted]


class ActionAskBookingConfirm(Action):
    """The summary to confirm: 确认 / 取消."""

    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        op = tracker.get_slot(OP)
        if op == BOOK:
            await self._book(dispatcher, tracker)
            return []
        view = await booking_of(tracker)
        if view is None:
            dispatcher.utter_message(response="utter_booking_not_found", code=tracker.get_slot(CODE) or "")
            return []
        if op == RESCHEDULE:
            start = datetime.fromisoformat(tracker.get_slot(TIME))
            dispatcher.utter_message(
                response="utter_booking_confirm_reschedule",
                code=view.code,
                service_name=view.service_name,
                old_when=when_label(view.start, view.end),
                when=when_label(start, start + (view.end - view.start)),
                buttons=confirm_buttons("确认修改", "不改了"),
            )
        else:
            dispatcher.utter_message(
                response="utter_booking_confirm_cancel",
                code=view.code,
                service_name=view.service_name,
                when=when_label(view.start, view.end),
                buttons=confirm_buttons("确认取消", "不取消"),
            )
        return []

    @staticmethod
    async def _book(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        card = await asyncio.to_thread(knowledge_base().service_card, tracker.get_slot(SERVICE))
        contact = await asyncio.to_thread(backend().contacts.recall, tracker.sender_id)
        masked = contact.masked() if contact is not None else None
        start = datetime.fromisoformat(tracker.get_slot(TIME))
        dispatcher.utter_message(
            response="utter_booking_confirm_book",
            service_name=card.name,
            department=card.department,
            when=when_label(start),
            duration=card.duration,
            location=card.location or "见预约确认",
            name=masked.name if masked else "",
            student_number=masked.student_number if masked else "",
            phone=masked.phone if masked else "",
            buttons=confirm_buttons("确认预约", "取消"),
        )

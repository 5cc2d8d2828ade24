"""The appointment form's validation: one step of the dialogue per student message.

One form serves booking, rescheduling and cancelling (`appointment_op`, set by action_appointment_start),
so the rules stay few. This action replaces rasa-sdk's per-slot extraction: it reads the latest message
for the question asked (`requested_slot`), fills what the message answers, and names the next question.
It returns no slot at all only for a question on the side or a request for a person; Rasa then rejects
the form and the rules answer it (and come back to the form, or end it). "算了" ends the form unconfirmed.
The contact questions (name, student number, phone) are answered in booking_contact.py.
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
    CONFIRM,
    CONTACT_SLOTS,
    FORM,
    FORM_SLOTS,
    OFFER,
    OP,
    OP_BY_INTENT,
    REQUESTED,
    RESCHEDULE,
    SERVICE,
    TIME,
    backend,
    now,
)
from actions.booking_contact import answer_contact
from actions.booking_parse import Said
from actions.kb import knowledge_base
from knowledge_base.booking.errors import ServiceNotBookable
from knowledge_base.booking.support import bookable_services, one_at_a_time_services
from knowledge_base.booking.types import BookingView
from knowledge_base.names import ENTITY_CODE

# actions that run inside the form's turn; any other action after the student's message was a rule
# answering a question on the side, and the form only asks its question again
_FORM_TURN = {"action_listen", FORM, f"validate_{FORM}"}


def back_from_aside(tracker: Tracker) -> bool:
    """True when a rule already answered the latest message and the form is resumed."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in _FORM_TURN:
            return True
    return False


class Step:
    """One turn of the form: the slots as they are, the updates this message makes, the answer to say."""

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        self.dispatcher = dispatcher
        self.said = Said.of(tracker)
        self.key = tracker.sender_id
        self.slots: dict[str, Any] = {name: tracker.get_slot(name) for name in FORM_SLOTS}
        self.updates: dict[str, Any] = {}
        self.now: datetime = now()
        self.backend = backend()
        self._views: list[BookingView] | None = None
        self._remembered: bool | None = None

    @property
    def op(self) -> str | None:
        return self.slots[OP]

    def set(self, slot: str, value: Any) -> None:
        self.slots[slot] = value
        self.updates[slot] = value

    def offer(self) -> dict[str, Any]:
        return dict(self.slots[OFFER] or {})

    def events(self) -> list[dict[str, Any]]:
        return [SlotSet(k, v) for k, v in self.updates.items()]

    async def views(self) -> list[BookingView]:
        if self._views is None:
            self._views = await asyncio.to_thread(self.backend.bookings.my_bookings, self.key, now=self.now)
        return self._views

    async def remembered(self) -> bool:
        if self._remembered is None:
            self._remembered = await asyncio.to_thread(self.backend.contacts.recall, self.key) is not None
        return self._remembered

    # ------------------------------------------------------------------ what to ask next

    async def next_slot(self) -> str | None:
        if self.op is None or self.slots[CONFIRM] is not None:
            return None
        if self.op == BOOK:
            required = [SERVICE, TIME]
            if not await self.remembered():
                required += list(CONTACT_SLOTS)
        elif self.op == RESCHEDULE:
            required = [CODE, TIME]
        else:
            required = [CODE]
        return next((s for s in [*required, CONFIRM] if self.slots[s] is None), None)

    def finish(self, confirmed: bool) -> None:
        """End the form: confirmed (do it) or not (the submit action says nothing was changed)."""
        self.set(CONFIRM, confirmed)

    def contact_saved(self) -> None:
        """The student's contact details are stored: the form asks them no more."""
        self._remembered = True

    # ------------------------------------------------------------------ the first message

    async def prefill(self) -> None:
        """Fill what the message that started the form already says (service, time, which booking)."""
        if self.op == BOOK:
            service = await self.named_service()
            if service:
                await self.take_service(service)
        elif self.op in (RESCHEDULE, CANCEL):
            await self.pick_booking(quiet=True)
        if self.op in (BOOK, RESCHEDULE):
            when = self.said.time(self.now)
            if when:
                await self.take_time(*when)

    # ------------------------------------------------------------------ answers to each question

    async def answer(self, requested: str) -> bool:
        """Take the message as the answer to `requested`; False when it is not for the form at all."""
        if await self.switch():
            return True
        if requested in CONTACT_SLOTS:
            return await answer_contact(self, requested)
        if requested == CONFIRM:
            return await self.answer_confirm()
        handled = False
        if requested == SERVICE:
            handled = await self.answer_service()
        elif requested == CODE:
            handled = await self.pick_booking(quiet=False)
        elif requested == TIME:
            handled = await self.answer_time()
        if handled:
            return True
        if self.said.wants_out(self.op):
            self.finish(False)
            return True
        if self.said.is_aside() or self.said.is_exit():
            return False
        self.not_understood(requested)
        return True

    def not_understood(self, requested: str) -> None:
        offer = self.offer()
        offer["kind"] = "not_understood"
        offer.pop("not_bookable", None)
        self.set(OFFER, offer)
        if requested == CODE:
            self.set(CODE, None)

    async def answer_service(self) -> bool:
        service = await self.named_service()
        if service is None:
            return False
        await self.take_service(service)
        return True

    async def named_service(self) -> str | None:
        """The service entity, else a catalog match on what the message says beyond "预约" and a time."""
        service = self.said.service()
        topic = self.said.topic(self.now)
        if service is None and topic:
            found = await asyncio.to_thread(knowledge_base().find_services, topic, True)
            service = found[0] if found else None
        return service

    async def take_service(self, service: str) -> None:
        bookable = await asyncio.to_thread(bookable_services, self.backend.sessions)
        offer = self.offer()
        offer.pop("already", None)
        if service not in bookable:
            offer.update(kind="not_bookable", not_bookable=service)
            self.set(OFFER, offer)
            return
        held = await self.held(service)
        if held is not None:  # one open 心理咨询 per student: say so now, not after the contact questions
            offer.update(kind="already", already=held.code, not_bookable=None)
            self.set(OFFER, offer)
            return
        self.set(SERVICE, service)
        self.set(TIME, None)
        offer.pop("not_bookable", None)
        offer.pop("kind", None)
        pending = offer.pop("pending", None)
        self.set(OFFER, offer or None)
        if pending:
            await self.take_time(datetime.fromisoformat(pending["start"]), pending["grain"])

    async def held(self, service: str) -> BookingView | None:
        """The student's open booking of a one-at-a-time service, if any."""
        single = await asyncio.to_thread(one_at_a_time_services, self.backend.sessions)
        if service not in single:
            return None
        return next((v for v in await self.views() if v.service_id == service), None)

    async def switch(self) -> bool:
        """A button of another operation tapped while the form waits (改时间/取消 of a booking, a
        service to book): start that one instead, as action_appointment_start would."""
        op = OP_BY_INTENT.get(self.said.intent or "")
        if not self.said.is_payload or op is None or op == self.op:
            return False
        if op != BOOK and not self.said.entity(ENTITY_CODE):
            return False
        for slot in FORM_SLOTS:
            if slot != OP:
                self.set(slot, None)
        self.set(OP, op)
        await self.prefill()
        return True

    async def service_of_booking(self) -> tuple[str | None, BookingView | None]:
        if self.op == BOOK:
            return self.slots[SERVICE], None
        code = self.slots[CODE]
        view = next((v for v in await self.views() if v.code == code), None)
        return (view.service_id, view) if view else (None, None)

    async def take_time(self, start: datetime, grain: str) -> None:
        """Check a time for the service: a free slot fills booking_time, anything else becomes an offer."""
        service, view = await self.service_of_booking()
        offer = self.offer()
        if service is None:
            offer["pending"] = {"start": start.isoformat(), "grain": grain}
            self.set(OFFER, offer)
            return
        self.set(TIME, None)
        if view is not None and grain in ("hour", "minute") and start == view.start:
            self.set(OFFER, {"kind": "same", "requested": start.isoformat(), "grain": grain})
            return
        try:
            search = await asyncio.to_thread(self.backend.bookings.find_slots, service, start, grain, now=self.now)
        except ServiceNotBookable:
            self.set(SERVICE, None)
            self.set(OFFER, {"kind": "not_bookable", "not_bookable": service})
            return
        if search.exact is not None:
            self.set(TIME, search.exact.start.isoformat())
            self.set(OFFER, None)
            return
        self.set(
            OFFER,
            {
                "kind": search.reason or "pick",
                "holiday": search.holiday,
                "requested": start.isoformat(),
                "grain": grain,
                "options": [s.start.isoformat() for s in search.options],
            },
        )

    async def answer_time(self) -> bool:
        service = self.said.service()
        if self.op == BOOK and service and service != self.slots[SERVICE]:
            await self.take_service(service)
            if self.slots[SERVICE] != service:
                return True  # not bookable: the service question explains
        when = self.said.time(self.now)
        if when:
            await self.take_time(*when)
            return True
        options = self.offer().get("options") or []
        index = self.said.ordinal()
        if index is not None and 0 <= index < len(options):
            await self.take_time(datetime.fromisoformat(options[index]), "minute")
            return True
        if self.said.wants_earliest():
            self.set(OFFER, {"kind": "earliest"})
            return True
        return bool(service)

    async def pick_booking(self, quiet: bool) -> bool:
        """Which of the student's bookings: a code, "第二个", a service or (to cancel) a day named."""
        views = await self.views()
        code = self.said.code([v.code for v in views])
        if code is None:
            index = self.said.ordinal() if not quiet else None
            candidates = views
            if index is not None and 0 <= index < len(views):
                candidates = [views[index]]
            elif self.said.service():
                candidates = [v for v in views if v.service_id == self.said.service()] or views
            if self.op == CANCEL and len(candidates) > 1:
                when = self.said.time(self.now)
                if when:
                    candidates = [v for v in candidates if v.start.date() == when[0].date()] or candidates
            if len(candidates) == 1 and (quiet or candidates is not views or len(views) == 1):
                code = candidates[0].code
        if code is None:
            return False
        self.set(CODE, code)
        pending = self.offer().get("pending")
        if self.op == RESCHEDULE and pending:
            self.set(OFFER, None)
            await self.take_time(datetime.fromisoformat(pending["start"]), pending["grain"])
        return True

    async def answer_confirm(self) -> bool:
        yes = self.said.yes_no(self.op)
        if yes is not None:
            self.finish(yes)
            return True
        when = self.said.time(self.now) if self.op in (BOOK, RESCHEDULE) else None
        if when:
            await self.take_time(*when)
            return True
        if self.said.is_aside() or self.said.is_exit():
            return False
        self.dispatcher.utter_message(response="utter_booking_confirm_hint")
        self.set(CONFIRM, None)
        return True


class ValidateAppointmentForm(Action):
    """Extracts and checks the answer to the form's question; decides the next question."""

    def name(self) -> str:
        return f"validate_{FORM}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        step = Step(dispatcher, tracker)
        requested = tracker.get_slot(REQUESTED)
        if requested is None:
            await step.prefill()
        elif not back_from_aside(tracker) and not await step.answer(requested):
            return []  # not an answer: the form is rejected and a rule answers the message
        return [*step.events(), SlotSet(REQUESTED, await step.next_slot())]

"""The appointment form's contact questions: name, student number and phone, asked once per student.

The answers are checked (knowledge_base.privacy's rules), held in the slots only as Fernet tokens,
and stored encrypted in the contact book as soon as all three are known; the slots are emptied then.
Several details given in one message ("张三 2023123456 13800138000") fill several questions at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from rasa_sdk.executor import CollectingDispatcher

from actions.booking_common import CONTACT_SLOTS, NAME, PHONE, STUDENT_NUMBER, Backend
from actions.booking_parse import Said, contact_parts, field_value, looks_like_name, name_candidate, number_candidate
from knowledge_base.booking.errors import BookingError, InvalidContact
from knowledge_base.privacy import Contact

log = logging.getLogger(__name__)

FIELD_OF_SLOT = {NAME: "name", STUDENT_NUMBER: "student_number", PHONE: "phone"}


class FormStep(Protocol):
    """What the contact questions need of the form's turn (actions.booking_form.Step)."""

    dispatcher: CollectingDispatcher
    said: Said
    key: str
    slots: dict[str, Any]
    now: datetime
    backend: Backend

    @property
    def op(self) -> str | None: ...

    def set(self, slot: str, value: Any) -> None: ...

    def finish(self, confirmed: bool) -> None: ...

    def contact_saved(self) -> None: ...


def seal(backend_: Backend, slot: str, value: str, student_key: str) -> str:
    """A contact field as a Fernet token, so the tracker never holds it in clear."""
    fields = {"name": "", "student_number": "", "phone": ""}
    fields[FIELD_OF_SLOT[slot]] = value
    return backend_.cipher.seal(Contact(**fields), student_key)


def unseal(backend_: Backend, slot: str, token: str) -> str:
    """The clear value of one contact slot's token."""
    contact, _ = backend_.cipher.open(token)
    return str(getattr(contact, FIELD_OF_SLOT[slot]))


def checked(field: str, value: str) -> str | None:
    """The normalized value of a contact field, or None when it is not a valid one."""
    if field == "name" and not looks_like_name(value):
        return None
    try:
        return field_value(field, value)
    except InvalidContact:
        return None


async def answer_contact(step: FormStep, requested: str) -> bool:
    """Take the message as the answer to the contact question `requested`; False when it is not one."""
    said = step.said
    if said.is_exit():
        return False
    if said.wants_out(step.op):
        step.finish(False)
        return True
    parts = contact_parts(said.text)
    field = FIELD_OF_SLOT[requested]
    compact = "".join(said.text.split())
    if field == "name":
        candidate = name_candidate(said.text)
    elif field == "student_number":
        candidate = number_candidate(said.text)
    else:
        candidate = parts.get(field, compact)
    value = checked(field, candidate)
    if value is None and said.is_aside():
        return False
    if value is None:
        step.dispatcher.utter_message(response=f"utter_invalid_{field}")
        step.set(requested, None)
        return True
    step.set(requested, seal(step.backend, requested, value, step.key))
    for slot in CONTACT_SLOTS:  # the other details, when given in the same message
        other = FIELD_OF_SLOT[slot]
        if slot != requested and step.slots[slot] is None and other in parts:
            other_value = checked(other, parts[other])
            if other_value is not None:
                step.set(slot, seal(step.backend, slot, other_value, step.key))
    if all(step.slots[s] for s in CONTACT_SLOTS):
        await save_contact(step)
    return True


async def save_contact(step: FormStep) -> None:
    """Store the three details encrypted and take them out of the slots."""
    values = {FIELD_OF_SLOT[s]: unseal(step.backend, s, step.slots[s]) for s in CONTACT_SLOTS}
    try:
        await asyncio.to_thread(step.backend.contacts.remember, step.key, Contact(**values), now=step.now)
    except BookingError:
        log.exception("contact details could not be stored")
        step.dispatcher.utter_message(response="utter_booking_system_error")
        step.finish(False)
        return
    for slot in CONTACT_SLOTS:
        step.set(slot, None)
    step.contact_saved()
    step.dispatcher.utter_message(response="utter_contact_saved")

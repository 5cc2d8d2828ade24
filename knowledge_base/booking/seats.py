"""Seat counters: the only code that changes `booking_slots`, and what makes double booking impossible.

A slot of a resource (staff member or desk) has one counter row, unique per (service, resource,
start). A seat is taken by a conditional UPDATE that succeeds only while `taken < capacity`, so two
transactions can never both take the last seat: on PostgreSQL the second UPDATE waits for the first
to commit and re-checks the row; on SQLite the write transaction (BEGIN IMMEDIATE) runs alone. A
CHECK constraint (`0 <= taken <= capacity`) backs it up.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from knowledge_base.booking.availability import taken_seats
from knowledge_base.booking.errors import SlotFull, StaffUnavailable
from knowledge_base.booking.models import BookingSlot
from knowledge_base.booking.schedule import SlotSpec

_KEYS = ["service_id", "resource", "starts_at"]


def _where(service_id: str, resource: str, start: datetime) -> tuple[Any, ...]:
    return (BookingSlot.service_id == service_id, BookingSlot.resource == resource, BookingSlot.starts_at == start)


def ensure_counter(session: Session, service_id: str, resource: str, spec: SlotSpec) -> None:
    """Create the slot's seat counter unless it exists (safe against a concurrent insert)."""
    values = {
        "service_id": service_id,
        "resource": resource,
        "starts_at": spec.start,
        "ends_at": spec.end,
        "capacity": spec.seats_per_resource,
        "taken": 0,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(BookingSlot).values(**values).on_conflict_do_nothing(index_elements=_KEYS))
    elif dialect == "sqlite":
        session.execute(sqlite.insert(BookingSlot).values(**values).on_conflict_do_nothing(index_elements=_KEYS))
    elif session.scalar(select(BookingSlot.id).where(*_where(service_id, resource, spec.start))) is None:
        with session.begin_nested():
            session.add(BookingSlot(**values))


def take_seat(session: Session, service_id: str, spec: SlotSpec, staff_id: str | None = None) -> tuple[int, str]:
    """Take one seat of the slot, the least busy resource first: (counter id, resource); SlotFull if none."""
    resources = spec.resources
    if staff_id is not None:
        if staff_id not in resources:
            raise StaffUnavailable(service_id, spec.start, f"staff '{staff_id}' is not on duty")
        resources = (staff_id,)
    taken = taken_seats(session, service_id, spec.start, spec.start)
    for resource in sorted(resources, key=lambda r: taken.get((r, spec.start), 0)):
        ensure_counter(session, service_id, resource, spec)
        where = _where(service_id, resource, spec.start)
        result = session.execute(
            update(BookingSlot)
            .where(*where, BookingSlot.taken < spec.seats_per_resource)
            .values(taken=BookingSlot.taken + 1, capacity=spec.seats_per_resource)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            slot_id = session.scalar(select(BookingSlot.id).where(*where))
            if slot_id is None:  # cannot happen: the row was just updated in this transaction
                raise RuntimeError("seat counter vanished")
            return slot_id, resource
    raise SlotFull(service_id, spec.start)


def release_seat(session: Session, slot_id: int) -> None:
    """Give a seat back (cancel, or the old slot of a rescheduled booking)."""
    session.execute(
        update(BookingSlot)
        .where(BookingSlot.id == slot_id, BookingSlot.taken > 0)
        .values(taken=BookingSlot.taken - 1)
        .execution_options(synchronize_session=False)
    )


def lock_counters(session: Session, service_id: str, spec: SlotSpec, also: Iterable[int]) -> None:
    """Create and lock (PostgreSQL: FOR UPDATE) the counters of a slot and `also`, in id order.

    A reschedule touches two slots; locking both in one order means two students swapping slots
    cannot deadlock. SQLite needs no row locks (its write transaction is exclusive).
    """
    for resource in spec.resources:
        ensure_counter(session, service_id, resource, spec)
    ids = session.scalars(
        select(BookingSlot.id).where(BookingSlot.service_id == service_id, BookingSlot.starts_at == spec.start)
    ).all()
    session.execute(
        select(BookingSlot.id).where(BookingSlot.id.in_([*ids, *also])).order_by(BookingSlot.id).with_for_update()
    ).all()

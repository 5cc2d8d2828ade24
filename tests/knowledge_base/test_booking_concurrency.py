"""Never double-booked: concurrent students (threads, each call its own session) on SQLite and PostgreSQL.

The PostgreSQL cases use the machine's server (127.0.0.1:5432); they are skipped with the reason when
there is none, and fail when CI=true.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking.errors import AlreadyBooked, BookingError
from knowledge_base.booking.models import CANCELLED, Booking, BookingSlot
from knowledge_base.booking.service import BookingService
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.privacy import ContactCipher
from tests.knowledge_base.booking_helpers import NOW, at, student

Outcome = tuple[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def race(request: pytest.FixtureRequest, db_url: str, sessions: sessionmaker) -> Iterator[sessionmaker]:
    """The seeded database of each backend, with a pool as big as the crowd."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_sessions")
        return
    engine = make_engine(db_url, pool_size=20, max_overflow=40)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def service(race: sessionmaker, cipher: ContactCipher) -> BookingService:
    return BookingService(race, cipher)


def crowd(calls: list[Callable[[], Any]]) -> list[Outcome]:
    """Run the calls at once, one thread each; every outcome is ("ok", value) or (error type, error)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome] = [("missing", None)] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[i] = ("ok", call())
        except BookingError as exc:
            outcomes[i] = (type(exc).__name__, exc)
        except Exception as exc:  # anything else (database is locked, deadlock) fails the test below
            outcomes[i] = ("unexpected", repr(exc))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def kinds(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, _ in outcomes:
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def assert_counters_match_bookings(sessions: sessionmaker) -> None:
    """Every seat counter equals the bookings holding it, and never exceeds its capacity."""
    with sessions() as session:
        for slot in session.scalars(select(BookingSlot)).all():
            holders = session.scalar(
                select(func.count()).where(Booking.slot_id == slot.id, Booking.status != CANCELLED)
            )
            assert slot.taken == holders, (slot.service_id, slot.starts_at)
            assert 0 <= slot.taken <= slot.capacity


def open_at(sessions: sessionmaker, service_id: str, start: datetime) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).where(
                Booking.service_id == service_id, Booking.starts_at == start, Booking.status == "booked"
            )
        )


def test_fifty_students_race_for_the_last_seat(race: sessionmaker, service: BookingService) -> None:
    last_seat = at(1, 10, 0)  # 在读证明: three seats every ten minutes
    for i in (1, 2):
        service.book("certificate_issuing", last_seat, student_key=f"web:{i}", contact=student(i), now=NOW)
    outcomes = crowd(
        [
            lambda i=i: service.book(  # type: ignore[misc]
                "certificate_issuing", last_seat, student_key=f"web:{i}", contact=student(i), now=NOW
            )
            for i in range(100, 150)
        ]
    )
    assert kinds(outcomes) == {"ok": 1, "SlotFull": 49}
    for kind, exc in outcomes:
        if kind == "SlotFull":
            assert exc.reason == "full" and last_seat not in [s.start for s in exc.alternatives]
            assert len(exc.alternatives) == 3
    assert open_at(race, "certificate_issuing", last_seat) == 3
    assert_counters_match_bookings(race)


def test_cancel_and_rebook_race(race: sessionmaker, service: BookingService) -> None:
    seat = at(1, 9, 50)  # 资助咨询: one seat
    for round_ in range(4):
        holder = service.book("financial_aid_consulting", seat, student_key="web:h", contact=student(1), now=NOW)
        others = [f"web:{round_}-{i}" for i in range(20)]
        calls: list[Callable[[], Any]] = [
            lambda code=holder.code: service.cancel(code, student_key="web:h", now=NOW),  # type: ignore[misc]
            lambda: service.book("financial_aid_consulting", seat, student_key="web:h", contact=student(1), now=NOW),
        ]
        calls += [
            lambda k=k, i=i: service.book(  # type: ignore[misc]
                "financial_aid_consulting", seat, student_key=k, contact=student(100 + i), now=NOW
            )
            for i, k in enumerate(others)
        ]
        outcomes = crowd(calls)
        assert outcomes[0][0] == "ok"  # the cancel always goes through
        counts = kinds(outcomes[1:])
        assert set(counts) <= {"ok", "SlotFull", "OverlappingBooking"} and counts.get("ok", 0) <= 1
        assert open_at(race, "financial_aid_consulting", seat) == counts.get("ok", 0)
        assert_counters_match_bookings(race)
        for key, (kind, made) in zip(["web:h", *others], outcomes[1:], strict=True):  # free the seat for the next round
            if kind == "ok":
                service.cancel(made.code, student_key=key, now=NOW)
    assert open_at(race, "financial_aid_consulting", seat) == 0
    assert service.book("financial_aid_consulting", seat, student_key="web:z", contact=student(9), now=NOW)


def test_a_booking_cancelled_twice_at_once_frees_one_seat(race: sessionmaker, service: BookingService) -> None:
    made = service.book("certificate_issuing", at(2, 9, 0), student_key="web:a", contact=student(1), now=NOW)
    outcomes = crowd([lambda: service.cancel(made.code, student_key="web:a", now=NOW) for _ in range(10)])
    assert kinds(outcomes) == {"ok": 1, "BookingNotChangeable": 9}
    assert all(exc.reason == "cancelled" for kind, exc in outcomes if kind != "ok")
    assert_counters_match_bookings(race)


def test_reschedules_race_for_the_last_seat_and_losers_keep_theirs(race: sessionmaker, service: BookingService) -> None:
    target = at(2, 10, 10)  # 资助咨询: one seat
    starts = [at(2, 8, 30), at(2, 8, 50), at(2, 9, 10), at(2, 9, 30), at(2, 9, 50), at(2, 10, 30), at(2, 10, 50)]
    held = [
        service.book("financial_aid_consulting", start, student_key=f"web:{i}", contact=student(i), now=NOW)
        for i, start in enumerate(starts)
    ]
    outcomes = crowd(
        [
            lambda i=i, b=b: service.reschedule(b.code, target, student_key=f"web:{i}", now=NOW)  # type: ignore[misc]
            for i, b in enumerate(held)
        ]
    )
    assert kinds(outcomes) == {"ok": 1, "SlotFull": 6}
    winner = next(i for i, (kind, _) in enumerate(outcomes) if kind == "ok")
    for i, b in enumerate(held):
        now_at = service.get_booking(b.code, student_key=f"web:{i}").start
        assert now_at == (target if i == winner else starts[i])
    assert open_at(race, "financial_aid_consulting", starts[winner]) == 0
    assert_counters_match_bookings(race)


def test_students_swapping_slots_at_once_never_deadlock(race: sessionmaker, service: BookingService) -> None:
    x, y = at(3, 10, 0), at(3, 10, 10)  # 在读证明: three seats each
    a = service.book("certificate_issuing", x, student_key="web:a", contact=student(1), now=NOW)
    b = service.book("certificate_issuing", y, student_key="web:b", contact=student(2), now=NOW)
    for _ in range(5):
        outcomes = crowd(
            [
                lambda to=y: service.reschedule(a.code, to, student_key="web:a", now=NOW),  # type: ignore[misc]
                lambda to=x: service.reschedule(b.code, to, student_key="web:b", now=NOW),  # type: ignore[misc]
            ]
        )
        assert kinds(outcomes) == {"ok": 2}
        x, y = y, x
    assert_counters_match_bookings(race)


def test_one_student_double_booking_counselling_at_once_gets_one(race: sessionmaker, service: BookingService) -> None:
    times = [at(1, 14), at(1, 15), at(1, 16), at(2, 14), at(2, 15), at(2, 16), at(3, 14), at(3, 15)]
    outcomes = crowd(
        [
            lambda t=t, k=k: service.book(  # type: ignore[misc]
                "counseling", t, student_key=f"web:{k}", contact=student(7), now=NOW
            )
            for k, t in enumerate(times)
        ]
    )
    assert kinds(outcomes) == {"ok": 1, "AlreadyBooked": 7}
    assert all(isinstance(exc, AlreadyBooked) for kind, exc in outcomes if kind != "ok")
    assert_counters_match_bookings(race)


def test_one_student_booking_overlapping_times_at_once_gets_one(race: sessionmaker, service: BookingService) -> None:
    same_time = at(4, 10, 10)  # 在读证明, 学籍异动 and 资助咨询 all have a slot then
    services = ["certificate_issuing", "enrollment_status", "financial_aid_consulting"] * 2
    outcomes = crowd(
        [
            lambda s=s: service.book(s, same_time, student_key="web:one", contact=student(8), now=NOW)  # type: ignore[misc]
            for s in services
        ]
    )
    assert kinds(outcomes) == {"ok": 1, "OverlappingBooking": 5}
    assert len(service.my_bookings("web:one", now=NOW)) == 1
    assert_counters_match_bookings(race)

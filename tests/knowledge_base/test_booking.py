"""Booking as a student sees it: codes, limits with the reason and nearest free slots, change and cancel."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking.errors import (
    AlreadyBooked,
    BeyondHorizon,
    BookingNotChangeable,
    BookingNotFound,
    ClosedOnHoliday,
    ContactKeyError,
    InvalidContact,
    InvalidMode,
    OutsideOpeningHours,
    OverlappingBooking,
    ServiceNotBookable,
    SlotFull,
    SlotInPast,
    StaffUnavailable,
    TooManyBookings,
)
from knowledge_base.booking.models import Booking, BookingSlot
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.types import BookingPolicy
from knowledge_base.privacy import Contact, ContactCipher
from knowledge_base.timeexpr import extract
from tests.knowledge_base.booking_helpers import NOW, at, student

CODE = re.compile(r"^[2-9A-HJ-NP-Z]{8}$")  # no 0/O/1/I


def hm(slots) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{s.start:%m-%d %H:%M}" for s in slots]


def test_a_booking_has_a_readable_code_and_shows_in_my_bookings(booking: BookingService) -> None:
    made = booking.book("certificate_issuing", at(1, 10, 0), student_key="web:a", contact=student(1), now=NOW)
    assert CODE.match(made.code)
    assert (made.service_name, made.department_name) == ("在读证明与成绩单开具", "一站式学生社区服务中心")
    assert (made.location, made.mode, made.status) == ("一站式学生社区服务大厅6号窗口", "offline", "booked")
    assert (made.start, made.end) == (at(1, 10, 0), at(1, 10, 10))
    assert made.phone_masked == "138****0001" and made.staff_name is None
    assert [b.code for b in booking.my_bookings("web:a", now=NOW)] == [made.code]
    assert booking.my_bookings("web:b", now=NOW) == []
    typed = f"{made.code[:4].lower()}-{made.code[4:].lower()}"
    assert booking.get_booking(typed, student_key="web:a").code == made.code
    with pytest.raises(BookingNotFound):
        booking.get_booking(made.code, student_key="web:b")  # somebody else's code reveals nothing


def test_contact_details_are_encrypted_at_rest(sessions: sessionmaker, booking: BookingService) -> None:
    contact = Contact("欧阳娜娜", "2023123456", "13912345678")
    booking.book("counseling", at(1, 14, 0), student_key="tg:424242", contact=contact, now=NOW)
    with sessions() as session:
        row = session.execute(text("SELECT * FROM bookings")).one()
    stored = " ".join(str(v) for v in row)
    for secret in ("欧阳", "2023123456", "13912345678", "424242"):
        assert secret not in stored
    other = BookingService(sessions, ContactCipher(ContactCipher.generate_key()))
    assert other.my_bookings("tg:424242", now=NOW) == []  # lookups are keyed too
    with sessions() as session:
        token = session.scalar(select(Booking.contact))
    assert token is not None
    with pytest.raises(ContactKeyError):
        ContactCipher(ContactCipher.generate_key()).open(token)


def test_logs_and_reprs_never_show_the_student(booking: BookingService, caplog: pytest.LogCaptureFixture) -> None:
    contact = Contact("欧阳娜娜", "2023123456", "13912345678")
    with caplog.at_level(logging.DEBUG):
        made = booking.book("counseling", at(1, 14, 0), student_key="tg:424242", contact=contact, now=NOW)
        booking.reschedule(made.code, at(1, 15, 0), student_key="tg:424242", now=NOW)
        booking.cancel(made.code, student_key="tg:424242", now=NOW)
    logged = caplog.text
    assert made.code in logged
    for secret in ("欧阳", "2023123456", "13912345678", "424242"):
        assert secret not in logged
    assert repr(contact) == "Contact('欧***', '20******56', '139****5678')"
    assert "key" in repr(ContactCipher(ContactCipher.generate_key())).lower()
    assert ContactCipher.generate_key() not in repr(ContactCipher(ContactCipher.generate_key()))


def test_contact_details_are_checked_and_normalised(booking: BookingService) -> None:
    for contact, field in (
        (Contact("", "2023000001", "13800000001"), "name"),
        (Contact("张三", "学号", "13800000001"), "student_number"),
        (Contact("张三", "2023000001", "12345"), "phone"),
    ):
        with pytest.raises(InvalidContact) as err:
            booking.book("certificate_issuing", at(1, 10), student_key="web:a", contact=contact, now=NOW)
        assert err.value.field == field
    spaced = Contact(" 张三 ", "2023 000001", "+86 138-0000-0001")
    assert booking.book(
        "certificate_issuing", at(1, 10), student_key="web:a", contact=spaced, now=NOW
    ).phone_masked == ("138****0001")


def test_past_and_too_far_ahead_are_refused(booking: BookingService) -> None:
    with pytest.raises(SlotInPast) as err:
        booking.book("certificate_issuing", at(30, 8, 30, month=11), student_key="web:a", contact=student(1), now=NOW)
    assert err.value.alternatives and all(s.start >= NOW + timedelta(minutes=30) for s in err.value.alternatives)
    with pytest.raises(SlotInPast):  # starts in 20 minutes: less than the 30-minute notice
        booking.book("certificate_issuing", at(30, 9, 20, month=11), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(BeyondHorizon) as far:
        booking.book("certificate_issuing", at(15, 10, 10), student_key="web:a", contact=student(1), now=NOW)
    assert far.value.reason == "beyond_horizon"
    assert hm(far.value.alternatives) == ["12-14 17:00", "12-14 17:10", "12-14 17:20"]  # the last slot ends at 17:30
    last_day = booking.book("certificate_issuing", at(14, 10, 10), student_key="web:a", contact=student(1), now=NOW)
    assert last_day.start == at(14, 10, 10)


def test_closed_days_and_times_say_why_and_offer_the_nearest(booking: BookingService) -> None:
    with pytest.raises(OutsideOpeningHours) as saturday:
        booking.book("counseling", at(5, 9, 30), student_key="web:a", contact=student(1), now=NOW)
    assert saturday.value.reason == "closed"
    assert hm(saturday.value.alternatives) == ["12-04 14:00", "12-04 15:00", "12-04 16:00"]
    with pytest.raises(OutsideOpeningHours) as between:
        booking.book("counseling", at(1, 9, 0), student_key="web:a", contact=student(1), now=NOW)
    assert between.value.reason == "no_slot_at_time"
    assert hm(between.value.alternatives) == ["12-01 08:30", "12-01 09:30", "12-01 10:30"]


def test_public_holidays_are_closed(sessions: sessionmaker, cipher: ContactCipher) -> None:
    before_national_day = datetime(2026, 9, 28, 9, 0, tzinfo=NOW.tzinfo)
    service = BookingService(sessions, cipher)
    with pytest.raises(ClosedOnHoliday) as err:
        service.book(
            "certificate_issuing",
            at(2, 10, 0, month=10),
            student_key="web:a",
            contact=student(1),
            now=before_national_day,
        )
    assert (err.value.reason, err.value.holiday) == ("holiday", "国庆节")
    assert {s.start.date() for s in err.value.alternatives} <= {date(2026, 9, 30), date(2026, 10, 8)}
    search = service.find_slots("counseling", at(3, 9, 0, month=10), "part_of_day", now=before_national_day)
    assert (search.reason, search.holiday) == ("holiday", "国庆节")
    makeup = service.free_slots("counseling", date(2026, 10, 10), now=before_national_day)  # Saturday, 调休上班
    assert hm(makeup)[:1] == ["10-10 08:30"]


def test_a_full_slot_offers_the_nearest_free_ones(booking: BookingService) -> None:
    booking.book("financial_aid_consulting", at(1, 9, 50), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(SlotFull) as err:
        booking.book("financial_aid_consulting", at(1, 9, 50), student_key="web:b", contact=student(2), now=NOW)
    assert err.value.reason == "full"
    assert hm(err.value.alternatives) == ["12-01 09:30", "12-01 10:10", "12-01 10:30"]


def test_time_expressions_find_slots(booking: BookingService) -> None:
    afternoon = extract("明天下午", NOW)
    assert afternoon is not None
    search = booking.find_slots("counseling", afternoon.start, afternoon.grain, now=NOW)
    assert (search.exact, search.reason) == (None, None)
    assert hm(search.options) == ["12-01 14:00", "12-01 15:00", "12-01 16:00"]
    evening = extract("明晚", NOW)
    assert evening is not None
    assert hm(booking.find_slots("counseling", evening.start, evening.grain, now=NOW).options) == [
        "12-01 18:30",
        "12-01 19:30",
    ]
    three = extract("明天下午三点", NOW)
    assert three is not None
    exact = booking.find_slots("counseling", three.start, three.grain, now=NOW).exact
    assert exact is not None and exact.start == at(1, 15) and exact.seats_left == 2
    saturday = extract("周六上午", NOW)
    assert saturday is not None
    closed = booking.find_slots("counseling", saturday.start, saturday.grain, now=NOW)
    assert closed.reason == "closed" and len(closed.options) == 3
    monday_evening = booking.find_slots("counseling", at(7, 18), "part_of_day", now=NOW)
    assert monday_evening.reason == "closed"  # open that day, but not in the evening
    this_morning = booking.find_slots("counseling", at(30, 9, month=11), "part_of_day", now=at(30, 11, month=11))
    assert this_morning.reason == "past" and this_morning.options[0].start == at(30, 14, month=11)
    assert booking.free_slots("counseling", date(2026, 12, 1), now=NOW, part_of_day="晚上")[0].start == at(1, 18, 30)


def test_a_taken_exact_time_is_reported_full_with_options(booking: BookingService) -> None:
    for i in (1, 2):
        booking.book("counseling", at(1, 15), student_key=f"web:{i}", contact=student(i), now=NOW)
    search = booking.find_slots("counseling", at(1, 15), "hour", now=NOW)
    assert (search.exact, search.reason) == (None, "full")
    assert hm(search.options) == ["12-01 14:00", "12-01 16:00", "12-01 18:30"]


def test_one_open_counselling_booking_per_student(booking: BookingService) -> None:
    first = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(AlreadyBooked) as err:
        booking.book("counseling", at(2, 14), student_key="web:a", contact=student(1), now=NOW)
    assert err.value.code == first.code
    with pytest.raises(AlreadyBooked):  # the same student number from another channel
        booking.book("counseling", at(2, 14), student_key="tg:77", contact=student(1), now=NOW)
    booking.book("career_consulting", at(2, 14), student_key="web:a", contact=student(1), now=NOW)
    booking.cancel(first.code, student_key="web:a", now=NOW)
    second = booking.book("counseling", at(3, 14), student_key="web:a", contact=student(1), now=NOW)
    after_it = at(3, 15)
    third = booking.book("counseling", at(8, 14), student_key="web:a", contact=student(1), now=after_it)
    assert second.code != third.code  # a past session, unmarked by staff, no longer counts as open


def test_a_student_cannot_be_in_two_places_or_hoard_slots(sessions: sessionmaker, cipher: ContactCipher) -> None:
    service = BookingService(sessions, cipher, BookingPolicy(max_open_per_student=2))
    held = service.book("certificate_issuing", at(1, 10, 0), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(OverlappingBooking) as err:
        service.book("employment_paperwork", at(1, 10, 0), student_key="web:a", contact=student(1), now=NOW)
    assert err.value.code == held.code
    service.book("employment_paperwork", at(1, 14, 0), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(TooManyBookings):
        service.book("enrollment_status", at(2, 14, 0), student_key="web:a", contact=student(1), now=NOW)


def test_modes_staff_and_services_that_cannot_be_booked(booking: BookingService) -> None:
    with pytest.raises(InvalidMode):
        booking.book("certificate_issuing", at(1, 10), student_key="web:a", contact=student(1), now=NOW, mode="online")
    online = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW, mode="online")
    assert online.mode == "online"
    chosen = booking.book(
        "career_consulting", at(2, 14), student_key="web:a", contact=student(1), now=NOW, staff_id="career_liu"
    )
    assert chosen.staff_name == "刘老师"
    with pytest.raises(StaffUnavailable):  # 刘老师 advises Tuesday to Thursday afternoons only
        booking.book(
            "career_consulting", at(7, 14), student_key="web:b", contact=student(2), now=NOW, staff_id="career_liu"
        )
    for not_bookable in ("campus_card_replacement", "no_such_service"):
        with pytest.raises(ServiceNotBookable):
            booking.book(not_bookable, at(1, 10), student_key="web:a", contact=student(1), now=NOW)


def taken(sessions: sessionmaker, service_id: str, start: datetime) -> int:
    with sessions() as session:
        return sum(
            session.scalars(
                select(BookingSlot.taken).where(BookingSlot.service_id == service_id, BookingSlot.starts_at == start)
            ).all()
        )


def test_reschedule_moves_the_booking_and_frees_the_old_seat(sessions: sessionmaker, booking: BookingService) -> None:
    made = booking.book("financial_aid_consulting", at(1, 9, 30), student_key="web:a", contact=student(1), now=NOW)
    moved = booking.reschedule(made.code, at(1, 10, 10), student_key="web:a", now=NOW)
    assert (moved.code, moved.start) == (made.code, at(1, 10, 10))
    assert (
        taken(sessions, "financial_aid_consulting", at(1, 9, 30)),
        taken(sessions, "financial_aid_consulting", at(1, 10, 10)),
    ) == (0, 1)
    other = booking.book("financial_aid_consulting", at(1, 9, 30), student_key="web:b", contact=student(2), now=NOW)
    with pytest.raises(SlotFull) as err:  # the new slot is taken: nothing changes
        booking.reschedule(made.code, at(1, 9, 30), student_key="web:a", now=NOW)
    assert at(1, 9, 30) not in [s.start for s in err.value.alternatives]
    assert [b.start for b in booking.my_bookings("web:a", now=NOW)] == [at(1, 10, 10)]
    assert taken(sessions, "financial_aid_consulting", at(1, 10, 10)) == 1
    with pytest.raises(BookingNotFound):
        booking.reschedule(other.code, at(1, 10, 30), student_key="web:a", now=NOW)
    assert booking.reschedule(made.code, at(1, 10, 10), student_key="web:a", now=NOW).start == at(1, 10, 10)


def test_cancel_frees_the_seat_once(sessions: sessionmaker, booking: BookingService) -> None:
    made = booking.book("financial_aid_consulting", at(1, 9, 30), student_key="web:a", contact=student(1), now=NOW)
    cancelled = booking.cancel(made.code, student_key="web:a", now=NOW)
    assert cancelled.status == "cancelled" and booking.my_bookings("web:a", now=NOW) == []
    with pytest.raises(BookingNotChangeable) as err:
        booking.cancel(made.code, student_key="web:a", now=NOW)
    assert err.value.reason == "cancelled"
    assert taken(sessions, "financial_aid_consulting", at(1, 9, 30)) == 0
    with pytest.raises(BookingNotChangeable):
        booking.reschedule(made.code, at(1, 10, 10), student_key="web:a", now=NOW)
    later = booking.book("financial_aid_consulting", at(1, 9, 30), student_key="web:b", contact=student(2), now=NOW)
    with pytest.raises(BookingNotChangeable) as started:
        booking.cancel(later.code, student_key="web:b", now=at(1, 9, 35))
    assert started.value.reason == "started"
    assert len(booking.my_bookings("web:a", now=NOW, include_past=True)) == 1

"""The staff side: a department's bookings with masked contacts, attendance, CSV; reminders sent once."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking.errors import BookingNotChangeable, BookingNotFound
from knowledge_base.booking.reminders import Reminders
from knowledge_base.booking.service import BookingService
from knowledge_base.booking.staff import StaffBookings, export_csv
from knowledge_base.privacy import Contact, ContactCipher
from tests.knowledge_base.booking_helpers import NOW, at, student


@pytest.fixture
def staff(sessions: sessionmaker, cipher: ContactCipher) -> StaffBookings:
    return StaffBookings(sessions, cipher)


@pytest.fixture
def reminders(sessions: sessionmaker, cipher: ContactCipher) -> Reminders:
    return Reminders(sessions, cipher, lead=timedelta(hours=2))


def test_the_department_sees_its_day_with_masked_contacts(booking: BookingService, staff: StaffBookings) -> None:
    zhang = booking.book("counseling", at(1, 15), student_key="web:a", contact=student(1), now=NOW)
    ouyang = booking.book(
        "counseling", at(1, 14), student_key="web:b", contact=Contact("欧阳娜娜", "2023123456", "13912345678"), now=NOW
    )
    booking.book("certificate_issuing", at(1, 10), student_key="web:c", contact=student(3), now=NOW)
    gone = booking.book("counseling", at(1, 16), student_key="web:d", contact=student(4), now=NOW)
    booking.cancel(gone.code, student_key="web:d", now=NOW)

    rows = staff.for_day("mental_health", date(2026, 12, 1))
    assert [(r.code, f"{r.start:%H:%M}", r.name, r.student_number, r.phone) for r in rows] == [
        (ouyang.code, "14:00", "欧***", "20******56", "139****5678"),
        (zhang.code, "15:00", "张*", "20******01", "138****0001"),
    ]
    assert {r.staff_name for r in rows} <= {"李老师", "陈老师"}
    with_cancelled = staff.for_day("mental_health", date(2026, 12, 1), include_cancelled=True)
    assert [r.status for r in with_cancelled] == ["booked", "booked", "cancelled"]
    revealed = staff.for_day("mental_health", date(2026, 12, 1), reveal=True)
    assert (revealed[0].name, revealed[0].student_number, revealed[0].phone) == (
        "欧阳娜娜",
        "2023123456",
        "13912345678",
    )
    assert [r.service_id for r in staff.for_day("community", date(2026, 12, 1))] == ["certificate_issuing"]


def test_the_week_view_runs_monday_to_sunday(booking: BookingService, staff: StaffBookings) -> None:
    booking.book("career_consulting", at(1, 9), student_key="web:a", contact=student(1), now=NOW)
    booking.book("career_consulting", at(4, 16), student_key="web:b", contact=student(2), now=NOW)
    booking.book("employment_paperwork", at(7, 9), student_key="web:c", contact=student(3), now=NOW)
    week = staff.for_week("career", date(2026, 12, 3))
    assert [f"{r.start:%m-%d %H:%M}" for r in week] == ["12-01 09:00", "12-04 16:00"]
    assert [r.service_name for r in staff.for_week("career", date(2026, 12, 13))] == ["就业手续办理"]


def test_attendance_is_marked_from_the_start_of_the_slot(booking: BookingService, staff: StaffBookings) -> None:
    made = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW)
    with pytest.raises(BookingNotChangeable) as early:
        staff.mark_attended("mental_health", made.code, now=at(1, 13, 59))
    assert early.value.reason == "not_started"
    with pytest.raises(BookingNotFound):  # another department cannot touch it
        staff.mark_attended("career", made.code, now=at(1, 14))
    assert staff.mark_no_show("mental_health", made.code, now=at(1, 14, 20)).status == "no_show"
    assert staff.mark_attended("mental_health", made.code.lower(), now=at(1, 14, 25)).status == "attended"
    assert booking.my_bookings("web:a", now=NOW) == []  # no longer open for the student
    gone = booking.book("counseling", at(1, 15), student_key="web:b", contact=student(2), now=NOW)
    booking.cancel(gone.code, student_key="web:b", now=NOW)
    with pytest.raises(BookingNotChangeable):
        staff.mark_no_show("mental_health", gone.code, now=at(1, 15, 30))


def test_csv_export_is_what_staff_open_in_excel(booking: BookingService, staff: StaffBookings) -> None:
    made = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW)
    booking.book(
        "counseling",
        at(1, 15),
        student_key="web:b",
        contact=Contact("=HYPERLINK", "2023000002", "13800000002"),
        now=NOW,
    )
    staff.mark_attended("mental_health", made.code, now=at(1, 14, 5))
    text = export_csv(staff.for_day("mental_health", date(2026, 12, 1)))
    assert text.startswith("\ufeff预约码,服务,日期,开始,结束,老师/窗口,方式,姓名,学号,电话,状态\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[1][0] == made.code
    assert rows[1][1:5] == ["心理咨询", "2026-12-01", "14:00", "14:50"]
    assert rows[1][6:] == ["线下", "张*", "20******01", "138****0001", "已到"]
    assert rows[2][7] == "'=*********"  # a formula typed by a student stays text
    clear = list(csv.reader(io.StringIO(export_csv(staff.for_day("mental_health", date(2026, 12, 1), reveal=True)))))
    assert clear[2][7:10] == ["'=HYPERLINK", "2023000002", "13800000002"]
    assert export_csv([], excel_bom=False) == "预约码,服务,日期,开始,结束,老师/窗口,方式,姓名,学号,电话,状态\r\n"


def test_a_reminder_is_due_within_the_lead_time_and_sent_once(booking: BookingService, reminders: Reminders) -> None:
    made = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW)
    assert reminders.due(now=at(1, 11, 59)) == []
    due = reminders.due(now=at(1, 12, 0))
    assert [(r.code, r.student_key, r.service_name, f"{r.start:%H:%M}") for r in due] == [
        (made.code, "web:a", "心理咨询", "14:00")
    ]
    assert due[0].location == "大学生活动中心3楼 个体咨询室" and due[0].staff_name in {"李老师", "陈老师"}
    assert reminders.mark_reminded(made.code, now=at(1, 12, 0)) is True
    assert reminders.mark_reminded(made.code, now=at(1, 12, 1)) is False
    assert reminders.due(now=at(1, 12, 30)) == []
    moved = booking.reschedule(made.code, at(2, 15), student_key="web:a", now=at(1, 12, 30))
    assert [r.code for r in reminders.due(now=at(2, 13, 30))] == [moved.code]  # a new time, a new reminder
    assert reminders.due(now=at(2, 15, 0)) == []  # started: too late to remind


def test_no_reminder_for_a_booking_made_inside_the_lead_time_or_cancelled(
    booking: BookingService, reminders: Reminders
) -> None:
    booking.book("certificate_issuing", at(1, 14), student_key="web:a", contact=student(1), now=at(1, 13))
    gone = booking.book("certificate_issuing", at(1, 15), student_key="web:b", contact=student(2), now=NOW)
    booking.cancel(gone.code, student_key="web:b", now=NOW)
    assert reminders.due(now=at(1, 13, 30)) == []
    assert reminders.mark_reminded(gone.code, now=at(1, 13, 30)) is False


def test_two_workers_marking_the_same_reminder_send_it_once(booking: BookingService, reminders: Reminders) -> None:
    made = booking.book("counseling", at(1, 14), student_key="web:a", contact=student(1), now=NOW)
    start = threading.Barrier(8)
    results: list[bool] = []

    def worker() -> None:
        start.wait()
        results.append(reminders.mark_reminded(made.code, now=at(1, 12, 30)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [False] * 7 + [True]

"""Staff appointments as the desk shows them: who may see which department, lists, marks, contacts, CSV.

Staff see the departments they belong to, admins every department (in the picker: those with a
schedule). Access is decided here, as typed errors that `desk.errors` answers: a department the
person does not belong to is `DepartmentNotAllowed` (403), an unknown one `UnknownDepartment`
(404); a booking of a department the person does not belong to is `BookingNotFound` (404), as if it
did not exist. Opening a full contact writes an access event (who, which booking; never the data) to
the `desk.access` log. Every method is sync (SQL and decryption): routes run it in a worker thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.staff import access_log as access_table
from desk.staff.accounts import CurrentUser
from desk.staff.schemas import AppointmentList, AppointmentPublic, ContactPublic, DepartmentPublic
from knowledge_base.booking import models as bm
from knowledge_base.booking.errors import BookingNotFound
from knowledge_base.booking.service import normalize_code
from knowledge_base.booking.staff import MODE_ZH, STATUS_ZH, StaffBookings, export_csv
from knowledge_base.booking.types import StaffBookingRow
from knowledge_base.models import Department, Service, utcnow
from knowledge_base.privacy import ContactCipher
from knowledge_base.timeexpr import TZ, WEEKDAYS_ZH

logger = logging.getLogger(__name__)
# (who, booking code, before, after) of a mark: desk.deps writes it to the admins' audit (desk.admin.audit)
AuditHook = Callable[[CurrentUser, str, dict[str, Any], dict[str, Any]], None]
access_log = logging.getLogger("desk.access")  # who looked at which student's contact (never the contact)

CODE = re.compile(r"^[0-9A-Z]{4,16}$")


class DepartmentNotAllowed(PermissionError):
    """The department exists, but the person is not one of its staff."""


class UnknownDepartment(LookupError):
    """No department has this id."""


def today(now: datetime) -> date:
    """The day `now` falls on in Shanghai."""
    return now.astimezone(TZ).date()


def date_range(day: date, view: str) -> tuple[date, date]:
    """First and last day shown: the day itself, or the Monday-to-Sunday week containing it."""
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


def day_label(day: date) -> str:
    """2026年12月1日（周二）."""
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_ZH[day.weekday()]}）"


def public(dep: str, row: StaffBookingRow, names: dict[str, str], now: datetime) -> AppointmentPublic:
    """One booking as the page and the JSON API show it."""
    return AppointmentPublic(
        code=row.code,
        department_id=dep,
        department=names.get(dep, dep),
        service_id=row.service_id,
        service=row.service_name,
        start=row.start.isoformat(),
        end=row.end.isoformat(),
        date=row.start.date().isoformat(),
        date_label=f"{row.start.month}月{row.start.day}日 {WEEKDAYS_ZH[row.start.weekday()]}",
        time=f"{row.start:%H:%M}-{row.end:%H:%M}",
        staff_name=row.staff_name or "",
        mode=MODE_ZH.get(row.mode, row.mode),
        status=row.status,
        status_label=STATUS_ZH.get(row.status, row.status),
        name=row.name,
        student_number=row.student_number,
        phone=row.phone,
        markable=row.status != bm.CANCELLED and row.start <= now,
    )


class StaffAppointments:
    """The appointments pages' data, for one request's person."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher, audit: AuditHook | None = None) -> None:
        self._sessions = sessions
        self._audit = audit
        self._cipher = cipher
        self._bookings = StaffBookings(sessions, cipher)

    # -- who may see what -------------------------------------------------------------------------

    def allowed_departments(self, user: CurrentUser) -> dict[str, str]:
        """Departments this person may look at, id -> name: an admin's are those with bookable services."""
        with self._sessions() as session:
            names = {d.id: d.name for d in session.scalars(select(Department).order_by(Department.id))}
            if user.is_admin:
                bookable = set(session.scalars(select(Service.department_id).join(bm.ServiceScheduleRow)))
                return {dep: name for dep, name in names.items() if dep in bookable}
        return {dep: names[dep] for dep in sorted(user.departments) if dep in names}

    def scope(self, user: CurrentUser, department: str) -> tuple[dict[str, str], list[str]]:
        """(departments the person may pick, departments shown); raises for an unknown or another's department."""
        allowed = self.allowed_departments(user)
        if not department:
            return allowed, list(allowed)
        if department in allowed:
            return allowed, [department]
        with self._sessions() as session:
            exists = session.get(Department, department) is not None
        if not exists:
            raise UnknownDepartment(department)
        if not user.is_admin:
            raise DepartmentNotAllowed(department)
        return allowed, [department]  # a department without online booking: an empty list, not an error

    def visible_booking(self, user: CurrentUser, code: str) -> tuple[str, str]:
        """(normalised code, department) of a booking this person may act on; `BookingNotFound` otherwise."""
        code = normalize_code(code)
        department = None
        if CODE.match(code):
            with self._sessions() as session:
                department = session.scalar(
                    select(Service.department_id)
                    .join(bm.Booking, bm.Booking.service_id == Service.id)
                    .where(bm.Booking.code == code)
                )
        if department is None or not (user.is_admin or department in user.departments):
            raise BookingNotFound(code)
        return code, department

    # -- reading ----------------------------------------------------------------------------------

    def rows_between(
        self, departments: list[str], first: date, last: date, *, reveal: bool, cancelled: bool
    ) -> list[tuple[str, StaffBookingRow]]:
        """(department id, row) of the departments' bookings from `first` to `last` (inclusive), in time order."""
        out: list[tuple[str, StaffBookingRow]] = []
        for dep in departments:
            monday = first - timedelta(days=first.weekday())
            while monday <= last:
                for row in self._bookings.for_week(dep, monday, reveal=reveal, include_cancelled=cancelled):
                    if first <= row.start.date() <= last:
                        out.append((dep, row))
                monday += timedelta(days=7)
        out.sort(key=lambda pair: (pair[1].start, pair[1].code))
        return out

    def listing(
        self, user: CurrentUser, day: date, view: str, department: str, cancelled: bool, now: datetime
    ) -> AppointmentList:
        """The person's bookings of a day or week (contacts masked), one department or all of theirs."""
        allowed, shown = self.scope(user, department)
        first, last = date_range(day, view)
        pairs = self.rows_between(shown, first, last, reveal=False, cancelled=cancelled)
        return AppointmentList(
            day=day.isoformat(),
            view=view,
            first=first.isoformat(),
            last=last.isoformat(),
            department=department,
            departments=[DepartmentPublic(id=k, name=v) for k, v in allowed.items()],
            cancelled=cancelled,
            appointments=[public(dep, row, allowed, now) for dep, row in pairs],
        )

    def export(self, user: CurrentUser, first: date, last: date, department: str, *, full: bool) -> str:
        """The CSV of the bookings from `first` to `last`, cancelled included; `full` contacts are audited."""
        _, shown = self.scope(user, department)
        pairs = self.rows_between(shown, first, last, reveal=full, cancelled=True)
        if full:
            access_log.info(
                "staff user %d (%s) exported the full contacts of %d bookings (%s, %s to %s)",
                user.id, user.username, len(pairs), department or "all departments", first, last,
            )  # fmt: skip
            detail = f"{len(pairs)} bookings, {department or 'all departments'}, {first} to {last}"
            access_table.write(
                self._sessions, user.id, user.username, access_table.CONTACT_EXPORT, utcnow(), detail=detail
            )
        return export_csv(row for _, row in pairs)

    # -- acting -----------------------------------------------------------------------------------

    def mark(self, user: CurrentUser, code: str, status: str, now: datetime) -> AppointmentPublic:
        """已到 / 未到 on a visible booking; `BookingNotChangeable` before its start or once cancelled. The
        change goes to the audit hook with the statuses before and after (the booking layer commits the
        mark in its own transaction, so the audit entry follows in another)."""
        code, department = self.visible_booking(user, code)
        with self._sessions() as session:
            before = session.scalar(select(bm.Booking.status).where(bm.Booking.code == code))
        mark = self._bookings.mark_attended if status == bm.ATTENDED else self._bookings.mark_no_show
        row = mark(department, code, now=now)
        logger.info("staff user %d marked booking %s %s", user.id, code, status)
        marked = public(department, row, self.allowed_departments(user), now)
        if self._audit is not None:
            self._audit(user, marked.code, {"status": before}, {"status": marked.status})
        return marked

    def reveal(self, user: CurrentUser, code: str) -> ContactPublic:
        """One visible booking's full contact, decrypted for a person who asked on purpose (audited)."""
        code, department = self.visible_booking(user, code)
        with self._sessions() as session:
            token = session.scalar(select(bm.Booking.contact).where(bm.Booking.code == code))
        if token is None:
            raise BookingNotFound(code)
        contact = self._cipher.open(token)[0]
        access_table.write(
            self._sessions, user.id, user.username, access_table.CONTACT, utcnow(), booking_code=code, detail=department
        )
        access_log.info(
            "staff user %d (%s) viewed the contact of booking %s (%s)", user.id, user.username, code, department
        )
        return ContactPublic(code=code, name=contact.name, student_number=contact.student_number, phone=contact.phone)

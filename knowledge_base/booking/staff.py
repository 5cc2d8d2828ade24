"""The staff side of bookings (data only): a department's day or week, attendance, CSV export.

Contacts are masked (张*, 20******12, 138****1234) unless the caller asks to reveal them; the desk
decides who may, and revealing is logged (counts only, never the data).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from knowledge_base.booking import models as bm
from knowledge_base.booking.availability import aware
from knowledge_base.booking.errors import BookingNotChangeable, BookingNotFound
from knowledge_base.booking.service import normalize_code
from knowledge_base.booking.types import StaffBookingRow
from knowledge_base.db import write_session
from knowledge_base.models import Service
from knowledge_base.privacy import ContactCipher
from knowledge_base.text import spreadsheet_safe
from knowledge_base.timeexpr import TZ

log = logging.getLogger(__name__)

CSV_HEADER = ("预约码", "服务", "日期", "开始", "结束", "老师/窗口", "方式", "姓名", "学号", "电话", "状态")
STATUS_ZH = {bm.BOOKED: "已预约", bm.CANCELLED: "已取消", bm.ATTENDED: "已到", bm.NO_SHOW: "未到"}
MODE_ZH = {"offline": "线下", "online": "线上"}


class StaffBookings:
    """Bookings of one department, as its staff see and mark them."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher) -> None:
        self._sessions = sessions
        self._cipher = cipher

    def for_day(
        self, department_id: str, day: date, *, reveal: bool = False, include_cancelled: bool = False
    ) -> list[StaffBookingRow]:
        """The department's bookings on a day, in time order."""
        return self._between(department_id, day, day + timedelta(days=1), reveal, include_cancelled)

    def for_week(
        self, department_id: str, day: date, *, reveal: bool = False, include_cancelled: bool = False
    ) -> list[StaffBookingRow]:
        """The department's bookings in the Monday-to-Sunday week containing `day`."""
        monday = day - timedelta(days=day.weekday())
        return self._between(department_id, monday, monday + timedelta(days=7), reveal, include_cancelled)

    def _between(
        self, department_id: str, first: date, stop: date, reveal: bool, include_cancelled: bool
    ) -> list[StaffBookingRow]:
        lo = datetime.combine(first, datetime.min.time(), tzinfo=TZ)
        hi = datetime.combine(stop, datetime.min.time(), tzinfo=TZ)
        query = (
            select(bm.Booking, Service)
            .join(Service, Service.id == bm.Booking.service_id)
            .where(Service.department_id == department_id, bm.Booking.starts_at >= lo, bm.Booking.starts_at < hi)
            .order_by(bm.Booking.starts_at, bm.Booking.id)
        )
        if not include_cancelled:
            query = query.where(bm.Booking.status != bm.CANCELLED)
        with self._sessions() as session:
            rows = [self._row(session, b, svc, reveal) for b, svc in session.execute(query).all()]
        if reveal:
            log.info("staff view of %s revealed the contacts of %d bookings", department_id, len(rows))
        return rows

    def mark_attended(self, department_id: str, code: str, *, now: datetime) -> StaffBookingRow:
        """The student came. Allowed from the slot's start; corrects an earlier no-show."""
        return self._mark(department_id, code, bm.ATTENDED, now)

    def mark_no_show(self, department_id: str, code: str, *, now: datetime) -> StaffBookingRow:
        """The student did not come. Allowed from the slot's start; corrects an earlier attended."""
        return self._mark(department_id, code, bm.NO_SHOW, now)

    def _mark(self, department_id: str, code: str, status: str, now: datetime) -> StaffBookingRow:
        code, now = normalize_code(code), aware(now)
        with write_session(self._sessions) as session:
            found = session.execute(
                select(bm.Booking, Service)
                .join(Service, Service.id == bm.Booking.service_id)
                .where(bm.Booking.code == code, Service.department_id == department_id)
                .with_for_update(of=bm.Booking)
            ).first()
            if found is None:
                raise BookingNotFound(code)
            booking, service = found
            if booking.status == bm.CANCELLED:
                raise BookingNotChangeable(code, bm.CANCELLED)
            if booking.starts_at > now:
                raise BookingNotChangeable(code, "not_started")
            session.execute(
                update(bm.Booking)
                .where(bm.Booking.id == booking.id, bm.Booking.status != bm.CANCELLED)
                .values(status=status, marked_at=now, updated_at=now, exclusive_key=None)
                .execution_options(synchronize_session=False)
            )
            session.refresh(booking)
            row = self._row(session, booking, service, reveal=False)
        log.info("booking %s: marked %s", code, status)
        return row

    def _row(self, session: Session, booking: bm.Booking, service: Service, reveal: bool) -> StaffBookingRow:
        contact, _ = self._cipher.open(booking.contact)
        if not reveal:
            contact = contact.masked()
        staff = session.get(bm.ServiceStaff, booking.resource)
        return StaffBookingRow(
            code=booking.code,
            service_id=service.id,
            service_name=service.name,
            start=booking.starts_at.astimezone(TZ),
            end=booking.ends_at.astimezone(TZ),
            staff_name=staff.name if staff is not None else None,
            mode=booking.mode,
            status=booking.status,
            name=contact.name,
            student_number=contact.student_number,
            phone=contact.phone,
        )


def export_csv(rows: Iterable[StaffBookingRow], *, excel_bom: bool = True) -> str:
    """The rows as CSV with Chinese headers; with `excel_bom` Excel opens the UTF-8 text correctly."""
    out = io.StringIO()
    if excel_bom:
        out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            (
                r.code,
                r.service_name,
                r.start.strftime("%Y-%m-%d"),
                r.start.strftime("%H:%M"),
                r.end.strftime("%H:%M"),
                r.staff_name or "",
                MODE_ZH.get(r.mode, r.mode),
                spreadsheet_safe(r.name),
                spreadsheet_safe(r.student_number),
                spreadsheet_safe(r.phone),
                STATUS_ZH.get(r.status, r.status),
            )
        )
    return out.getvalue()

"""Known rows for the insight tests: messages with decisions, tickets with ratings, bookings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import sessionmaker

from desk.models import Conversation, HandoffRequest, Message
from desk.staff import accounts
from knowledge_base.booking import models as bm

UTC = timezone.utc


def z(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A UTC instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def seed(sessions: sessionmaker) -> dict[str, str]:
    """The rows the dashboard tests count; returns the staff passwords."""
    with sessions() as session, session.begin():
        _, admin_pw = accounts.create_user(session, "admin", is_admin=True)
        wang, wang_pw = accounts.create_user(session, "wang", display_name="王老师", departments=["mental_health"])
        li, li_pw = accounts.create_user(session, "li", display_name="李老师", departments=["campus_card"])
        for cid in ("web:a", "tg:b", "web:c"):
            session.add(Conversation(id=cid, channel=cid.split(":")[0]))
        session.flush()

        def msg(cid: str, at: datetime, text: str, decision: str | None, faq: str | None, dept: str | None) -> None:
            channel = cid.split(":")[0]
            session.add(Message(conversation_id=cid, role="student", text=text, created_at=at, channel=channel,
                                decision=decision, faq_id=faq, department_id=dept))  # fmt: skip

        # Tuesday 1 December, 10:00 in Beijing (02:00 UTC): three web messages
        msg("web:a", z(1, 2), "国家奖学金怎么申请", "answer", "scholarship_national", "student_affairs")
        msg("web:a", z(1, 2, 5), "国奖申请条件", "answer", "scholarship_national", "student_affairs")
        msg("web:a", z(1, 2, 9), "宿舍能养猫吗", "none", None, None)
        # Monday 30 November, 21:30 in Beijing: two Telegram messages
        msg("tg:b", z(30, 13, 30, 11), "奖学金", "suggest", "scholarship_national", "student_affairs")
        msg("tg:b", z(30, 13, 31, 11), "我想找心理老师聊聊", "handoff", None, "mental_health")
        # outside the range, and not a student's
        msg("web:c", z(28, 2, 0, 11), "国家奖学金", "answer", "scholarship_national", "student_affairs")
        session.add(Message(conversation_id="web:a", role="bot", text="答案", created_at=z(1, 2, 1)))

        def ticket(cid: str, dept: str, wait: int, close_min: int, rating: int, comment: str | None, by: int) -> None:
            created = z(1, 1)
            session.add(HandoffRequest(
                conversation_id=cid, department_id=dept, reason="request", status="closed", created_at=created,
                queued_at=created, claim_wait_seconds=wait, claimed_at=created + timedelta(seconds=wait),
                closed_at=created + timedelta(minutes=close_min), closed_by=by, rating=rating,
                rating_comment=comment, rated_at=created + timedelta(minutes=close_min + 1),
            ))  # fmt: skip

        ticket("tg:b", "mental_health", 120, 30, 5, "很耐心", wang.id)
        ticket("tg:b", "mental_health", 600, 90, 3, None, wang.id)
        ticket("web:a", "campus_card", 60, 10, 1, "没解决", li.id)

        def booking(n: int, service: str, status: str) -> None:
            start = z(1, 6 + n)
            slot = bm.BookingSlot(service_id=service, resource="desk", starts_at=start,
                                  ends_at=start + timedelta(minutes=30), capacity=1, taken=1)  # fmt: skip
            session.add(slot)
            session.flush()
            session.add(bm.Booking(
                code=f"C{n}", service_id=service, slot_id=slot.id, resource="desk", starts_at=start,
                ends_at=slot.ends_at, status=status, student_ref=f"ref{n}", contact="x", created_at=z(1, 0),
                slot_booked_at=z(1, 0), updated_at=z(1, 0),
            ))  # fmt: skip

        booking(0, "counseling", bm.BOOKED)
        booking(1, "counseling", bm.ATTENDED)
        booking(2, "counseling", bm.NO_SHOW)
        booking(3, "counseling", bm.CANCELLED)
        booking(4, "certificate_issuing", bm.BOOKED)
    return {"admin": admin_pw, "wang": wang_pw, "li": li_pw}

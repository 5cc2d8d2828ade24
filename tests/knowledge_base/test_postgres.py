"""The same schema, seed and answers on the machine's PostgreSQL (the scale-out database)."""

from __future__ import annotations

import os
import subprocess
import sys

from knowledge_base.booking.service import BookingService
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.privacy import Contact, ContactCipher
from tests.knowledge_base.booking_helpers import NOW, at


def test_migrate_seed_and_answer_on_postgres(pg_url: str) -> None:
    env = dict(os.environ, HELPDESK_DATABASE_URL=pg_url)
    for args in (["db", "upgrade"], ["db", "seed"]):
        result = subprocess.run(
            [sys.executable, "-m", "desk.ops.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    engine = make_engine(pg_url)
    try:
        kb = KnowledgeBase(make_session_factory(engine))
        decision = kb.decide("校园卡丢了怎么办")
        assert decision.kind == "answer" and decision.answer is not None
        assert decision.answer.faq_id == "card_report_loss"
        assert kb.service_card("counseling").department == "心理健康教育与咨询中心"
        # the migrated schema takes bookings from the seeded schedules
        booking = BookingService(make_session_factory(engine), ContactCipher(ContactCipher.generate_key()))
        contact = Contact("张三", "2023010123", "13812341234")
        made = booking.book("counseling", at(1, 18, 30), student_key="tg:1", contact=contact, now=NOW)
        assert made.staff_name in {"李老师", "陈老师"} and made.phone_masked == "138****1234"
    finally:
        engine.dispose()

"""A generated year of help-desk traffic, loaded with PostgreSQL's COPY: messages, tickets, bookings.

Deterministic (a seeded random generator): the same rows every run. Student messages carry the bot's
decision as the desk records it; about half the messages are the bot's answers.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge_base.models import Faq, Service

UTC = timezone.utc
START = datetime(2025, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 2025, 00:00 in Beijing
DAYS = 365
CHANNELS = [("web", 0.6), ("wx", 0.25), ("tg", 0.15)]
DECISIONS = [("answer", 0.55), ("service", 0.05), ("suggest", 0.15), ("none", 0.08), ("decline", 0.04),
             ("handoff", 0.03), ("task", 0.05), ("reply", 0.05)]  # fmt: skip
# Beijing hours: quiet at night, busy mornings and evenings
HOUR_WEIGHTS = [1, 1, 0, 0, 0, 0, 1, 3, 6, 9, 9, 8, 5, 5, 8, 9, 8, 6, 5, 6, 8, 8, 6, 3]
TOPICS = ["宿舍能养猫吗", "食堂几点关门", "快递柜在哪", "图书馆能带吃的吗", "游泳馆开放时间",
          "校车时刻表", "打印店在哪", "自习室预约", "二手书交易", "社团招新"]  # fmt: skip
GIVE_UPS = [f"{topic}{ask}" for topic in TOPICS for ask in ("", "？", "呀", "请问一下")]


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def _instant(rng: random.Random) -> datetime:
    day = rng.randrange(DAYS)
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    return START + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))


def _copy(engine: Engine, table: str, columns: list[str], rows: Iterator[list[Any]], chunk: int = 100_000) -> int:
    """COPY the rows into the table in chunks; the number copied."""
    raw = engine.raw_connection()
    count = 0
    try:
        cursor = raw.cursor()
        buf = io.StringIO()
        for n, row in enumerate(rows, 1):
            buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            count = n
            if n % chunk == 0:
                buf.seek(0)
                cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
                buf = io.StringIO()
        buf.seek(0)
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
        raw.commit()
    finally:
        raw.close()
    return count


def generate(engine: Engine, messages: int = 1_000_000, seed: int = 13) -> dict[str, int]:
    """Load `messages` messages (half from students), their conversations, tickets and bookings."""
    rng = random.Random(seed)
    with Session(engine) as session:
        faqs = [(f.id, f.department_id) for f in session.scalars(select(Faq).order_by(Faq.id))]
        services = [(s.id, s.department_id) for s in session.scalars(select(Service).order_by(Service.id))]
    departments = sorted({d for _, d in faqs if d})
    conversations = max(1, messages // 10)
    conv_ids = [f"{_pick(rng, CHANNELS)}:{n}" for n in range(conversations)]
    _copy(engine, "conversations", ["id", "channel", "state", "created_at", "last_activity_at"],
          ([c, c.split(":")[0], "bot", START, START] for c in conv_ids))  # fmt: skip

    def message_rows() -> Iterator[list[Any]]:
        for _ in range(messages // 2):
            conv = rng.choice(conv_ids)
            at = _instant(rng)
            decision = _pick(rng, DECISIONS)
            faq_id, dept, text = None, None, "请问这个怎么办理"
            if decision in ("answer", "suggest"):
                faq_id, dept = rng.choice(faqs)
            elif decision in ("none", "decline"):
                text = rng.choice(GIVE_UPS)
            elif decision in ("handoff", "service"):
                dept = rng.choice(departments)
            yield [conv, "student", text, "[]", at, conv.split(":")[0], decision, faq_id, dept]
            yield [conv, "bot", "好的", "[]", at + timedelta(seconds=1), None, None, None, None]

    columns = ["conversation_id", "role", "text", "buttons", "created_at", "channel", "decision", "faq_id",
               "department_id"]  # fmt: skip
    stored = _copy(engine, "messages", columns, message_rows())

    def ticket_rows() -> Iterator[list[Any]]:
        for _ in range(messages // 50):
            created = _instant(rng)
            wait = rng.randint(10, 1800)
            closed = created + timedelta(seconds=wait + rng.randint(120, 3600))
            rating = rng.choice([None, 1, 2, 3, 4, 5, 5, 5, 4])
            comment = rng.choice([None, None, "很耐心", "解决了", "等太久"]) if rating else None
            yield [rng.choice(conv_ids), rng.choice(departments), "request", "normal", "closed", "{}", created,
                   created, wait, created + timedelta(seconds=wait), closed, rating, comment,
                   closed + timedelta(minutes=1) if rating else None]  # fmt: skip

    tickets = _copy(engine, "handoff_requests", ["conversation_id", "department_id", "reason", "priority", "status",
                    "packet", "created_at", "queued_at", "claim_wait_seconds", "claimed_at", "closed_at", "rating",
                    "rating_comment", "rated_at"], ticket_rows())  # fmt: skip
    count = messages // 40
    slots = [(n, rng.choice(services)[0], _instant(rng)) for n in range(count)]
    _copy(engine, "booking_slots", ["id", "service_id", "resource", "starts_at", "ends_at", "capacity", "taken"],
          ([n, s, f"r{n}", at, at + timedelta(minutes=30), 1, 1] for n, s, at in slots))  # fmt: skip
    statuses = ["booked", "attended", "attended", "attended", "no_show", "cancelled"]
    booked = _copy(engine, "bookings", ["code", "service_id", "slot_id", "resource", "starts_at", "ends_at", "mode",
                   "status", "student_ref", "contact", "created_at", "slot_booked_at", "updated_at",
                   "reschedule_count"],
                   ([f"B{n}", s, n, f"r{n}", at, at + timedelta(minutes=30), "offline", rng.choice(statuses),
                     f"ref{n}", "x", at, at, at, 0] for n, s, at in slots))  # fmt: skip
    return {"messages": stored, "conversations": conversations, "tickets": tickets, "bookings": booked}

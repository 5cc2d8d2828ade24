"""Related entries after an FAQ answer (全周期: what students ask next), and their click-through.

After a confident answer, up to two other published entries of the same service, else of the same
department, are offered as buttons ("你可能还想了解") whose payload is the question itself, so a click
is an ordinary question on every channel. Each offer is a row of `insight_suggestions`; a student
message that repeats an offered question within 30 minutes marks it clicked. Off unless
HELPDESK_INSIGHT_RELATED=true.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from desk.insight.models import Suggestion
from desk.models import Message
from knowledge_base import clock
from knowledge_base.models import Faq, utcnow

RELATED = 2
CLICK_WINDOW = timedelta(minutes=30)
INTRO = "你可能还想了解："


def related_entries(session: Session, faq_id: str) -> list[Faq]:
    """Up to RELATED other published entries valid today: the same service's first, then the department's."""
    today = clock.local_now().date()
    faq = session.get(Faq, faq_id)
    if faq is None:
        return []
    found: list[Faq] = []
    for same in (Faq.service_id == faq.service_id if faq.service_id else None,
                 Faq.department_id == faq.department_id if faq.department_id else None):  # fmt: skip
        if same is None:
            continue
        found += [
            f
            for f in session.scalars(
                select(Faq).where(same, Faq.published.is_(True), Faq.id != faq_id).order_by(Faq.id).limit(RELATED)
            )
            if f not in found and f.valid_on(today)  # as the bot: outside its dates an entry is not offered
        ]
    return found[:RELATED]


def offer(sessions: sessionmaker, conversation_id: str, message_id: int | None) -> list[dict[str, Any]]:
    """After the bot answered student message `message_id` from an FAQ entry: the related entries as a
    message with buttons, recorded as offered (sync); [] when there is nothing to offer."""
    if message_id is None:
        return []
    now = utcnow()
    with sessions() as session, session.begin():
        message = session.get(Message, message_id)
        if message is None or message.decision != "answer" or not message.faq_id:
            return []
        entries = related_entries(session, message.faq_id)
        for entry in entries:
            session.add(Suggestion(conversation_id=conversation_id, faq_id=message.faq_id, suggested_id=entry.id,
                                   title=entry.question, offered_at=now))  # fmt: skip
    if not entries:
        return []
    return [{"role": "bot", "text": INTRO, "buttons": [{"title": e.question, "payload": e.question} for e in entries]}]


def clicked(sessions: sessionmaker, conversation_id: str, text: str) -> bool:
    """Mark an offered suggestion clicked when the student's message is its question (sync)."""
    now = utcnow()
    with sessions() as session, session.begin():
        row = session.scalars(
            select(Suggestion)
            .where(Suggestion.conversation_id == conversation_id, Suggestion.title == text.strip(),
                   Suggestion.clicked_at.is_(None), Suggestion.offered_at >= now - CLICK_WINDOW)
            .order_by(Suggestion.id.desc())
        ).first()  # fmt: skip
        if row is None:
            return False
        row.clicked_at = now
        return True

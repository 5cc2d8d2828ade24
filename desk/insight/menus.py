"""Stage- and calendar-aware greeting menu and "大家都在问" (全周期服务).

The menu is the admins' items for the student's stage (新生 / 在读 / 毕业生, from desk/insight/surveys.py)
and for everyone, in their calendar window, stage items first (none: the built-in menu of
desk/chat/welcome.py), followed by two of the FAQ questions students asked most in the last 7 days
(of that stage when it is known), then 转人工.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from desk.chat.welcome import WELCOME_BUTTONS
from desk.insight.models import MenuItem, StudentStage
from desk.insight.scope import Filters, local_today
from desk.models import Message
from knowledge_base.models import Faq, utcnow

MENU_SIZE = 3
HOT_EXTRA = 2  # "大家都在问": the week's most asked questions after the menu
HOT_DAYS = 7
MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def in_window(today: date, first: str, last: str) -> bool:
    """Whether `today` is within MM-DD `first`..`last` (inclusive; wraps around the new year; empty: always)."""
    if not first or not last:
        return True
    day = today.strftime("%m-%d")
    return first <= day <= last if first <= last else day >= first or day <= last


def hot_questions(session: Session, stage: str | None, today: date) -> list[str]:
    """The menu for a student of `stage` (None: unknown) on `today`: the admins' items in their window
    (the stage's first; none: the built-in menu), then up to HOT_EXTRA of the week's most asked questions."""
    items = session.scalars(select(MenuItem).order_by(MenuItem.position, MenuItem.id)).all()
    chosen = [i for i in items if stage and i.stage == stage] + [i for i in items if not i.stage]
    menu = [i.title for i in chosen if in_window(today, i.first_day, i.last_day)][:MENU_SIZE]
    if not menu:
        menu = [b["title"] for b in WELCOME_BUTTONS if not b["payload"]]
    week = Filters(today - timedelta(days=HOT_DAYS), today)
    n = func.count().label("n")
    query = (
        select(Faq.question, n)
        .join(Message, Message.faq_id == Faq.id)
        .where(Message.role == "student", Message.decision == "answer", Message.created_at >= week.start,
               Message.created_at < week.end, Faq.published.is_(True))
        .group_by(Faq.question)
        .order_by(n.desc(), Faq.question)
        .limit(MENU_SIZE + HOT_EXTRA)
    )  # fmt: skip
    if stage:
        query = query.join(StudentStage, StudentStage.conversation_id == Message.conversation_id).where(
            StudentStage.stage == stage
        )
    hot = [q for q, _ in session.execute(query).all() if q not in menu][:HOT_EXTRA]
    return menu + hot


def hot_for(sessions: sessionmaker, conversation_id: str | None) -> list[str]:
    """The menu's questions for this conversation now (sync)."""
    with sessions() as session:
        row = session.get(StudentStage, conversation_id) if conversation_id else None
        stage = row.stage if row is not None and row.stage != "?" else None
        return hot_questions(session, stage, local_today(utcnow()))

"""Whether surveys can touch a chat at all right now, so the gateway's survey hooks cost nothing on the
usual day with no survey open (they read up to six rows per student message otherwise).

Surveys are *quiet* when no survey is active today, no greeting-menu item is for one stage (the stage
question is asked only then) and no survey question was asked within `OPEN_FOR` (an answer may still
come). Then `Surveys.answer` has work only for a survey button or a student naming their stage, and
`Surveys.ask_after` has nothing to ask (desk/insight/surveys.py).

The state is read with one query and kept `TTL_SECONDS`. A commit in this process that adds, changes or
deletes a survey or a menu item (the admin pages, the table editors, anything through the ORM) drops it at
once, so the next message sees a new survey; other desk replicas see it within `TTL_SECONDS`, as does a
survey whose first day comes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from desk.insight.models import MenuItem, Survey, SurveyResponse
from desk.insight.scope import local_today

OPEN_FOR = timedelta(minutes=30)  # an unanswered survey question is dropped after this
TTL_SECONDS = 5.0
WATCHED = (Survey, MenuItem)  # a commit touching one of these drops every cached state of the process
_CHANGED = "insight_surveys_changed"


class _Generation:
    """Counts the commits that changed a survey or a menu item in this process (SQLAlchemy session events)."""

    def __init__(self) -> None:
        self.value = 0
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        """Listen to every ORM session of the process (once)."""
        with self._lock:
            if self._installed:
                return
            event.listen(Session, "after_flush", _note_changes)
            event.listen(Session, "after_commit", self._after_commit)
            event.listen(Session, "after_rollback", _forget_changes)
            self._installed = True

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self.bump()

    def bump(self) -> None:
        with self._lock:
            self.value += 1


GENERATION = _Generation()


def _note_changes(session: Session, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WATCHED) for obj in touched):
        session.info[_CHANGED] = True


def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def surveys_busy(session: Session, now: datetime) -> bool:
    """Whether any survey, stage menu item or recently asked question exists (one query)."""
    today = local_today(now)
    active = select(Survey.id).where(Survey.active.is_(True), Survey.starts_on <= today, Survey.ends_on >= today)
    staged = select(MenuItem.id).where(MenuItem.stage != "")
    asked = select(SurveyResponse.id).where(SurveyResponse.status == "asked", SurveyResponse.asked_at >= now - OPEN_FOR)
    return bool(session.scalar(select(or_(exists(active), exists(staged), exists(asked)))))


class SurveyActivity:
    """The cached answer to "are surveys quiet?" for one desk process."""

    def __init__(
        self, sessions: sessionmaker, ttl: float = TTL_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._sessions = sessions
        self.ttl = ttl
        self._monotonic = monotonic
        self._state: tuple[int, date, float, bool] | None = None  # generation, day, expiry, quiet
        GENERATION.install()

    def cached(self, now: datetime) -> bool | None:
        """Quiet (True) or not (False) from the cache; None when it must be read (`read`)."""
        state = self._state
        if state is None:
            return None
        generation, day, expires, quiet = state
        if generation != GENERATION.value or day != local_today(now) or self._monotonic() >= expires:
            return None
        return quiet

    def read(self, now: datetime) -> bool:
        """Read the state from the database (sync: in a worker thread) and cache it."""
        generation = GENERATION.value  # before the read: a change committed meanwhile reads again next time
        with self._sessions() as session:
            quiet = not surveys_busy(session, now)
        self._state = (generation, local_today(now), self._monotonic() + self.ttl, quiet)
        return quiet

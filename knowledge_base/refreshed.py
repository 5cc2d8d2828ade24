"""A value read from the database and re-read at most every few seconds, shared by the long-lived readers
of admin-edited tables (the holiday calendar's dates, the departments' office hours): an admin's change
reaches every process within `REFRESH_SECONDS`, without a restart and without a query per use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

REFRESH_SECONDS = 5.0
T = TypeVar("T")


class Refreshed(Generic[T]):
    """Call it for `load(session)`'s value, read again once it is older than `refresh_seconds`."""

    def __init__(
        self, sessions: sessionmaker, load: Callable[[Session], T], initial: T, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self._sessions = sessions
        self._load = load
        self._value = initial
        self.refresh_seconds = refresh_seconds
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self) -> T:
        # a cache age, not business time: the monotonic clock is right here
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            with self._lock, self._sessions() as session:
                self._value = self._load(session)
                self._loaded_at = time.monotonic()
        return self._value

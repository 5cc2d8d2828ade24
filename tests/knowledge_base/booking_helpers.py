"""Shared values of the booking tests: the frozen clock, times in Shanghai, distinct students."""

from __future__ import annotations

from datetime import datetime

from knowledge_base.privacy import Contact
from knowledge_base.timeexpr import TZ

# Monday 30 November 2026, 09:00 in Shanghai: the frozen "now" of the booking tests.
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A time in Shanghai in December 2026 (or another month of 2026)."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


def student(i: int, name: str = "张三") -> Contact:
    """A distinct, valid student contact."""
    return Contact(name, f"2023{i:06d}", f"138{i:08d}")

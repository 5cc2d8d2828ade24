"""The action server's handle on the knowledge base, built lazily on first use (not at import)."""

from __future__ import annotations

from functools import lru_cache

from knowledge_base import config
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The process-wide KnowledgeBase over the configured database."""
    return KnowledgeBase(make_session_factory(make_engine(config.database_url())))


def first_entity(tracker, name: str) -> str | None:  # type: ignore[no-untyped-def]
    """The first value of an entity in the latest message."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None

"""The action server's handle on the knowledge base, built lazily on first use (not at import).

One engine and session factory per database URL for the whole action server: the FAQ and catalog
actions (`knowledge_base()`) and the booking back end (actions.booking_common) share it. The URL is
read from the settings on every call, so a test that points HELPDESK_DATABASE_URL elsewhere gets a
fresh engine. Every other module of actions/ may import this one; it imports none of them.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from rasa_sdk import Tracker
from sqlalchemy.orm import sessionmaker

from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.names import ENTITY_SERVICE
from knowledge_base.settings import database_url


@lru_cache(maxsize=4)
def session_factory(url: str) -> sessionmaker:
    """The action server's one engine (and its session factory) for a database URL."""
    return make_session_factory(make_engine(url))


@lru_cache(maxsize=4)
def _knowledge_base(url: str) -> KnowledgeBase:
    return KnowledgeBase(session_factory(url))


def knowledge_base() -> KnowledgeBase:
    """The process-wide KnowledgeBase over the configured database."""
    return _knowledge_base(database_url())


def reset() -> None:
    """Forget the engines and knowledge bases built so far (tests that recreate a database)."""
    _knowledge_base.cache_clear()
    session_factory.cache_clear()


def first_entity(tracker: Tracker, name: str) -> str | None:
    """The first value of an entity in the latest message."""
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value else None


async def resolve_service(kb: KnowledgeBase, tracker: Tracker, loose: bool = False) -> str | None:
    """The service named by the NLU entity, else by the catalog matcher on the raw text."""
    service = first_entity(tracker, ENTITY_SERVICE)
    if service:
        return service
    found = await asyncio.to_thread(kb.find_services, tracker.latest_message.get("text") or "", loose)
    return found[0] if found else None

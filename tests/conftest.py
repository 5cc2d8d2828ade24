"""Shared fixtures: a seeded knowledge base in a temporary SQLite file, and the running stack.

The suite's clock (knowledge_base.clock) runs from a fixed workday morning, so no test depends on the
hour it runs at. `HELPDESK_NOW=2026-12-05T22:00:00+08:00 make test-py` runs the whole suite at another
moment (the e2e stacks keep their own clocks, one inside and one outside office hours).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

import desk.tables  # noqa: F401  (registers every table on the shared metadata)
from knowledge_base import repository
from knowledge_base.config import seed_file
from knowledge_base.db import Base, make_engine, make_session_factory
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.kbfile import KbFileIn, load_kb_file

pytest_plugins = ["tests.stack", "tests.fake_telegram", "tests.fake_wechat"]

SUITE_NOW = "2026-12-01T09:00:00+08:00"  # a Tuesday, a workday, inside office hours
os.environ.setdefault("HELPDESK_NOW", SUITE_NOW)
os.environ.setdefault("HELPDESK_NOW_SINCE", repr(time.time()))


@pytest.fixture(scope="session")
def seed_kb():  # type: ignore[no-untyped-def]
    """The shipped sample university, parsed once."""
    return load_kb_file(seed_file())


def seeded(engine: Engine, kb: KbFileIn) -> sessionmaker:
    """Create the schema on `engine` and import the knowledge base `kb`."""
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        repository.import_kb(session, kb, changed_by="test")
    return factory


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helpdesk.db'}"


@pytest.fixture
def sessions(db_url: str, seed_kb) -> Iterator[sessionmaker]:  # type: ignore[no-untyped-def]
    """A fresh database with the schema and the sample university."""
    engine = make_engine(db_url)
    yield seeded(engine, seed_kb)
    engine.dispose()


@pytest.fixture
def kb(sessions: sessionmaker) -> KnowledgeBase:
    return KnowledgeBase(sessions)


@pytest.fixture
def kb_env(db_url: str, sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point knowledge_base.config (used by actions) at the seeded test database."""
    from actions import kb as actions_kb

    monkeypatch.setenv("HELPDESK_DATABASE_URL", db_url)
    actions_kb.reset()
    yield db_url
    actions_kb.reset()


@pytest.fixture
def freeze_clock(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`freeze_clock("2026-12-01T10:00:00+08:00")` stops the one clock at that instant for this test."""

    def freeze(at: str) -> None:
        monkeypatch.setenv("HELPDESK_NOW", at)
        monkeypatch.delenv("HELPDESK_NOW_SINCE", raising=False)

    return freeze

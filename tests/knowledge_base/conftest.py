"""Fixtures for knowledge-base tests: the machine's PostgreSQL, and booking services on a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from knowledge_base.booking.service import BookingService
from knowledge_base.db import make_engine
from knowledge_base.privacy import ContactCipher
from tests.conftest import seeded
from tests.stack import missing

ADMIN_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")

KEY = ContactCipher.generate_key()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server (required when CI=true)."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server here
        admin.dispose()
        missing(f"no PostgreSQL at {ADMIN_URL}: {type(exc).__name__}: {exc}")
    name = f"helpdesk_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_sessions(pg_url: str, seed_kb) -> Iterator[sessionmaker]:  # type: ignore[no-untyped-def]
    """The sample university on PostgreSQL, with a pool big enough for the concurrency tests."""
    engine = make_engine(pg_url, pool_size=20, max_overflow=40)
    yield seeded(engine, seed_kb)
    engine.dispose()


@pytest.fixture
def cipher() -> ContactCipher:
    return ContactCipher(KEY)


@pytest.fixture
def booking(sessions: sessionmaker, cipher: ContactCipher) -> BookingService:
    """Bookings on the seeded SQLite database."""
    return BookingService(sessions, cipher)

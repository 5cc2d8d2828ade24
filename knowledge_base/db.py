"""Database plumbing: the declarative base, engine and session factories.

SQLite (a file under var/) is the embedded default; any SQLAlchemy URL works, PostgreSQL included.
Nothing is created at import time: callers build engines with :func:`make_engine`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base shared by knowledge_base and desk models (one Alembic metadata)."""


SQLITE_POOL_SIZE = 40  # anyio's default worker-thread limit


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite turn on foreign keys, WAL (synced at checkpoints) and a busy timeout.

    SQL errors never carry their bound values (`hide_parameters`): an error while storing a message
    must not put the student's text, phone or ids into a log or a traceback.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        if ":memory:" not in url and "poolclass" not in kwargs:
            # as many kept connections as worker threads may use at once: the default 5 (+10 closed after
            # use) made a loaded desk reopen connections, each with the PRAGMAs below
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", SQLITE_POOL_SIZE)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                # under WAL, NORMAL syncs at checkpoints, not at every commit: a committed transaction
                # survives a crashed or killed process (not a power cut: PostgreSQL for that)
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def write_session(factory: sessionmaker) -> Iterator[Session]:
    """A session in one write transaction: committed at the end, rolled back on any error.

    On SQLite the transaction starts with BEGIN IMMEDIATE, so it holds the write lock from its first
    read: check-then-write sequences (take a seat, then record the booking) never interleave, and a
    second writer waits for the busy timeout instead of failing with "database is locked" when it
    upgrades a read. Other databases start a normal transaction (READ COMMITTED on PostgreSQL).
    """
    session: Session = factory()
    try:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

"""Migration 0006 on SQLite and PostgreSQL: old open requests become queued tickets, one per conversation."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import make_engine
from tests.knowledge_base.conftest import pg_url  # noqa: F401  (the PostgreSQL fixture)


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'old.db'}"


def test_open_requests_become_queued_tickets_and_back(empty_url: str) -> None:
    cfg = alembic_config(empty_url)
    command.upgrade(cfg, "0005")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for conv in ("web:a", "web:b"):
                conn.execute(
                    text("INSERT INTO conversations (id, channel, state, created_at, last_activity_at) "
                         "VALUES (:id, 'web', 'bot', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"id": conv},
                )  # fmt: skip
            for conv, status in (("web:a", "open"), ("web:a", "open"), ("web:b", "done")):
                conn.execute(
                    text("INSERT INTO handoff_requests (conversation_id, reason, priority, status, packet, created_at) "
                         "VALUES (:c, 'request', 'normal', :s, '{}', CURRENT_TIMESTAMP)"),
                    {"c": conv, "s": status},
                )  # fmt: skip
        command.upgrade(cfg, "0006")
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, status, open_key, queued_at IS NOT NULL FROM handoff_requests ORDER BY id")
            ).all()
            states = dict(conn.execute(text("SELECT id, state FROM conversations")).all())
        assert [tuple(r[1:]) for r in rows] == [
            ("closed", None, False),
            ("queued", "web:a", True),
            ("done", None, False),
        ]
        assert states == {"web:a": "queued", "web:b": "bot"}
        with engine.begin() as conn, pytest.raises(IntegrityError):  # one open ticket per conversation
            conn.execute(text("UPDATE handoff_requests SET open_key = 'web:a' WHERE id = :id"), {"id": rows[0][0]})
        command.downgrade(cfg, "0005")
        with engine.connect() as conn:
            statuses = conn.execute(text("SELECT status FROM handoff_requests ORDER BY id")).scalars().all()
            state = conn.execute(text("SELECT state FROM conversations WHERE id = 'web:a'")).scalar()
        assert statuses == ["closed", "open", "done"] and state == "bot"
    finally:
        engine.dispose()

"""The same schema, seed and answers on the machine's PostgreSQL (the scale-out database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from knowledge_base.answering import KnowledgeBase
from knowledge_base.db import make_engine, make_session_factory

ADMIN_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server here
        admin.dispose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {ADMIN_URL} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {type(exc).__name__}")
    name = f"helpdesk_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrate_seed_and_answer_on_postgres(pg_url: str) -> None:
    env = dict(os.environ, HELPDESK_DATABASE_URL=pg_url)
    for args in (["db", "upgrade"], ["db", "seed"]):
        result = subprocess.run(
            [sys.executable, "-m", "desk.cli", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    engine = make_engine(pg_url)
    try:
        kb = KnowledgeBase(make_session_factory(engine))
        decision = kb.decide("校园卡丢了怎么办")
        assert decision.kind == "answer" and decision.answer is not None
        assert decision.answer.faq_id == "card_report_loss"
        assert kb.service_card("counseling").department == "心理健康教育与咨询中心"
    finally:
        engine.dispose()

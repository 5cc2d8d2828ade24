"""The database helpers: SQL errors never carry what the student wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from knowledge_base.db import make_engine


def test_a_failed_insert_does_not_repeat_the_students_text(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    secret = "我的手机号是13812345678"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
        conn.execute(text("INSERT INTO notes (id, body) VALUES (1, :body)"), {"body": secret})
    with pytest.raises(IntegrityError) as failed, engine.begin() as conn:
        conn.execute(text("INSERT INTO notes (id, body) VALUES (1, :body)"), {"body": secret})
    assert "13812345678" not in str(failed.value)
    assert "UNIQUE" in str(failed.value)  # the error itself is still there
    engine.dispose()

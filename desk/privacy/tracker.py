"""Rasa's tracker store as the desk reads and erases it: the `events` table of Rasa's SQLTrackerStore.

The store is where the desk told Rasa to keep it (desk/ops/supervisor.py writes var/endpoints.yml):
HELPDESK_RASA_TRACKER_URL, else the SQLite file var/rasa_tracker.db. Rasa creates the table on its
first start; before that there is nothing to read or erase. Rows are keyed by `sender_id`, which is
the desk's conversation id (`web:<uuid>`, `tg:<chat id>`, `wx:<openid>`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, inspect, text

from desk.settings import Settings


def _overwrite_deleted(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":  # deleted rows' bytes are overwritten, not left in free pages
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def _checkpoint(engine: Engine) -> None:
    """Rasa keeps its SQLite file in WAL mode (bot/tracker_store.py): the old versions of the deleted rows
    stay in the -wal file until a checkpoint, so empty it now (best effort: a busy file is emptied later)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def tracker_url(settings: Settings) -> str:
    """The SQLAlchemy URL of Rasa's tracker store."""
    return settings.rasa.tracker_url or f"sqlite:///{settings.var_dir / 'rasa_tracker.db'}"


class TrackerEvents:
    """Read, erase and expire rows of Rasa's `events` table (no-ops while the table does not exist)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: Engine | None = None

    def _ready(self) -> Engine | None:
        if self._url.startswith("sqlite:///"):
            from pathlib import Path

            if not Path(self._url.removeprefix("sqlite:///")).exists():
                return None  # never create Rasa's file from here
        if self._engine is None:
            self._engine = create_engine(self._url)
        return self._engine if inspect(self._engine).has_table("events") else None

    def events(self, sender_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Every stored event of these conversations, oldest first."""
        ids = list(sender_ids)
        engine = self._ready()
        out: dict[str, list[dict[str, Any]]] = {sid: [] for sid in ids}
        if engine is None or not ids:
            return out
        query = text("SELECT sender_id, data FROM events WHERE sender_id IN :ids ORDER BY id").bindparams(
            bindparam("ids", expanding=True)
        )
        with engine.connect() as conn:
            for sender_id, data in conn.execute(query, {"ids": ids}):
                out[sender_id].append(json.loads(data) if data else {})
        return out

    def erase(self, sender_ids: Iterable[str]) -> int:
        """Delete every event of these conversations; how many rows went."""
        ids = list(sender_ids)
        engine = self._ready()
        if engine is None or not ids:
            return 0
        query = text("DELETE FROM events WHERE sender_id IN :ids").bindparams(bindparam("ids", expanding=True))
        with engine.begin() as conn:
            _overwrite_deleted(conn)
            deleted = int(conn.execute(query, {"ids": ids}).rowcount or 0)
        _checkpoint(engine)
        return deleted

    def expire(self, before: datetime) -> int:
        """Delete the events older than `before`; how many rows went."""
        engine = self._ready()
        if engine is None:
            return 0
        with engine.begin() as conn:
            _overwrite_deleted(conn)
            result = conn.execute(text("DELETE FROM events WHERE timestamp < :t"), {"t": before.timestamp()})
        _checkpoint(engine)
        return int(result.rowcount or 0)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

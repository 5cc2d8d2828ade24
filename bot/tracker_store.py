"""RedactingTrackerStore: Rasa's SQLTrackerStore that stores students' words masked (runs in Rasa only).

Rasa keeps every event of a conversation in its tracker store. This subclass (configured by the
desk in var/endpoints.yml, `type: bot.tracker_store.RedactingTrackerStore`; Rasa's own extension
point for custom tracker stores) masks each event before it is written, with the same rules as the
desk (knowledge_base/redaction.py): phone, ID-card and student numbers in every user message, the
answers to the booking form's contact questions as a whole (the question is the form's
`requested_slot`), and the contact slots unless they hold a Fernet token sealed with the booking key.

Only persistence is masked: the live conversation (the form validating the name just typed) works
on Rasa's in-memory tracker, which still has the real text. The next message's tracker is read back
from the store, so earlier messages reach the actions (the handoff summary) already masked.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot import action_validation
from knowledge_base.redaction import install_log_redaction, redact_events

logger = logging.getLogger(__name__)


def sqlite_write_ahead(engine: Any) -> None:
    """The embedded SQLite tracker database in WAL mode, synced at checkpoints rather than at every commit
    (as the desk's database, knowledge_base/db.py): Rasa commits once or twice per message, and each
    commit of the default rollback journal waited for the disk. A committed event survives a killed Rasa;
    a power cut may lose the last ones, which the desk's own database, the record of every message, does not."""
    from sqlalchemy import event

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    with engine.connect() as connection:  # the journal mode is kept in the database file
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()  # connections made before the listener are not reused


class RedactingTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose rows hold the masked form of every event."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install_log_redaction()  # the Rasa process's logs follow the same rules (idempotent)
        action_validation.install()  # action-server replies validated without re-checking the schema
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            sqlite_write_ahead(self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events of the tracker that are not stored yet, masked."""
        await self.stream_events(tracker)
        events = list(tracker.events)
        with self.session_scope() as session:
            stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            # only the new events are masked (the older ones are read for the contact question being asked)
            masked = redact_events([event.as_dict() for event in events], start=stored)
            for event, data in zip(events[stored:], masked, strict=True):
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        logger.debug("tracker stored (masked)")

"""The desk app under TestClient, on the seeded test database, with nothing listening for Rasa."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from desk.main import create_app
from desk.settings import Settings
from tests.desk.handoff_helpers import MONDAY_10AM, Clock, Desk, make_staff
from tests.stack import free_port


@pytest.fixture
def settings(tmp_path: Path, db_url: str, sessions) -> Settings:  # type: ignore[no-untyped-def]
    dead = free_port()  # nothing listens here: Rasa and the action server are "down"
    return Settings(
        var_dir=tmp_path,
        database_url=db_url,
        rasa_url=f"http://127.0.0.1:{dead}",
        action_server_url=f"http://127.0.0.1:{dead}",
        rasa_token="t" * 32,
        secret_key="s" * 32,
        rasa_timeout_seconds=2,
        webchat_rate_limit=5,
        webchat_rate_window_seconds=60,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def staff(sessions):  # type: ignore[no-untyped-def]
    """Staff accounts of the handoff tests (handoff_helpers.make_staff)."""
    return make_staff(sessions)


@pytest.fixture
async def desk(sessions) -> Desk:  # type: ignore[no-untyped-def]
    """A gateway + ticket service on a frozen Monday 10:00 (some modules define their own `desk`)."""
    return Desk(sessions, Clock(MONDAY_10AM))

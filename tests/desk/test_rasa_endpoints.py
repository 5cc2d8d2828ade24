"""The endpoints file `helpdesk run` writes for Rasa: PostgreSQL tracker store through psycopg2, Redis lock store."""

from __future__ import annotations

from pathlib import Path

import yaml

from desk.ops.supervisor import lock_store_yaml, rasa_tracker_url, write_rasa_config
from desk.settings import Settings


def test_rasa_gets_a_psycopg2_url_its_sqlalchemy_can_use() -> None:
    assert rasa_tracker_url("postgresql+psycopg://u:p@db:5432/rasa") == "postgresql+psycopg2://u:p@db:5432/rasa"
    assert rasa_tracker_url("postgresql://u@db/rasa") == "postgresql+psycopg2://u@db/rasa"
    assert rasa_tracker_url("postgres://u@db/rasa") == "postgresql+psycopg2://u@db/rasa"
    assert rasa_tracker_url("sqlite:////tmp/t.db") == "sqlite:////tmp/t.db"


def test_without_redis_rasa_keeps_its_in_memory_lock_store(tmp_path: Path) -> None:
    assert lock_store_yaml("", "helpdesk") == ""
    endpoints, _ = write_rasa_config(Settings(var_dir=tmp_path))
    config = yaml.safe_load(endpoints.read_text())
    assert "lock_store" not in config
    assert config["tracker_store"] == {"type": "bot.tracker_store.RedactingTrackerStore", "dialect": "sqlite", "db": str(tmp_path / "rasa_tracker.db")}


def test_with_redis_and_postgresql_the_replicas_share_trackers_and_locks(tmp_path: Path) -> None:
    settings = Settings(
        var_dir=tmp_path,
        redis_url="rediss://:s3cr%3At@redis.example.edu.cn:6380/3",
        redis_prefix="help-desk:prod",
        rasa_tracker_url="postgresql+psycopg://helpdesk:pw@db:5432/rasa",
    )
    endpoints, _ = write_rasa_config(settings)
    config = yaml.safe_load(endpoints.read_text())
    assert config["tracker_store"] == {"type": "bot.tracker_store.RedactingTrackerStore", "url": "postgresql+psycopg2://helpdesk:pw@db:5432/rasa"}
    assert config["lock_store"] == {
        "type": "redis",
        "url": "redis.example.edu.cn",
        "port": 6380,
        "db": 3,
        "key_prefix": "helpdeskprod",  # Rasa accepts letters and digits only
        "password": "s3cr:t",
        "use_ssl": True,
    }

"""One settings class for every process: the documented HELPDESK_* variables, groups, secrets."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from knowledge_base.booking.types import BookingPolicy
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.settings import Settings, booking_key, database_url, load_settings

# read by knowledge_base/clock.py (also in the Rasa environment), or only by tests and scripts
NOT_SETTINGS = {"HELPDESK_NOW", "HELPDESK_NOW_SINCE", "HELPDESK_DOC_SCREENSHOTS", "HELPDESK_TEST_POSTGRES_URL"}


def documented() -> set[str]:
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    text += (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for doc in (PROJECT_ROOT / "docs").glob("*.md"):
        text += doc.read_text(encoding="utf-8")
    return {name for name in re.findall(r"HELPDESK_[A-Z_]*[A-Z]", text)} - NOT_SETTINGS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("HELPDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file
    return monkeypatch


def sample_value(name: str) -> str:
    default = Settings().environ().get(name, "")
    if name.endswith("_MODE"):
        return "polling"
    if default in ("True", "False"):
        return "false" if default == "True" else "true"
    if re.fullmatch(r"\d+", default):
        return str(int(default) + 3)
    if re.fullmatch(r"\d+\.\d+", default):
        return str(float(default) + 1.5)
    if name.endswith(("_DIR", "MODEL")):
        return "/srv/helpdesk/" + name.lower()
    return "value-of-" + name.lower()


def test_env_example_lists_every_setting(clean_env: pytest.MonkeyPatch) -> None:
    listed = set(re.findall(r"HELPDESK_[A-Z_]*[A-Z]", (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")))
    every = set(Settings(model="m").environ()) | {"HELPDESK_EMBEDDINGS_DIR"}  # an empty one is not exported
    assert sorted(every - listed) == []


def test_every_documented_variable_is_a_setting(clean_env: pytest.MonkeyPatch) -> None:
    names = documented()
    assert {"HELPDESK_DATABASE_URL", "HELPDESK_RASA_URL", "HELPDESK_DENSE", "HELPDESK_BOOKING_MAX_OPEN"} <= names
    values = {name: sample_value(name) for name in names}
    values["HELPDESK_TELEGRAM_TOKEN"] = "123:abc"  # polling needs a token
    values["HELPDESK_WECHAT_AES_KEY"] = "k" * 43
    for name, value in values.items():
        clean_env.setenv(name, value)
    exported = Settings().environ()
    for name, value in values.items():
        got = exported.get(name)
        if name == "HELPDESK_DENSE":
            assert got == "False" or value != "false", name
            continue
        if name.endswith("_DIR") or name == "HELPDESK_MODEL":
            assert got == str(Path(value).resolve()), name
            continue
        assert got is not None and got.lower() == value.lower(), (name, got, value)


def test_groups_and_flat_names_are_one_setting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("HELPDESK_RASA_URL", "http://127.0.0.1:6000")
    settings = Settings(rasa_token="t" * 32, telegram_mode="polling", telegram_token="1:a")
    assert (settings.rasa.token, settings.rasa.url) == ("t" * 32, "http://127.0.0.1:6000")  # the rest from the env
    assert settings.telegram.mode == "polling"
    again = Settings(**settings.model_dump())
    assert again == settings
    assert settings.updated(rasa_url="http://x").rasa.url == "http://x"
    for name, value in settings.environ().items():  # what `helpdesk run` hands the desk
        clean_env.setenv(name, value)
    assert Settings() == settings


def test_the_database_defaults_to_sqlite_under_var(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings(var_dir=tmp_path).database_url == f"sqlite:///{tmp_path.resolve() / 'helpdesk.db'}"
    clean_env.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    assert database_url() == f"sqlite:///{tmp_path.resolve() / 'helpdesk.db'}"
    assert load_settings().embeddings_dir == tmp_path.resolve() / "embeddings"
    clean_env.setenv("HELPDESK_DATABASE_URL", "postgresql+psycopg2://helpdesk@127.0.0.1/helpdesk")
    assert database_url() == "postgresql+psycopg2://helpdesk@127.0.0.1/helpdesk"  # read again when it changes


def test_booking_limits_can_be_set_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().booking.policy() == BookingPolicy()
    clean_env.setenv("HELPDESK_BOOKING_HORIZON_DAYS", "7")
    clean_env.setenv("HELPDESK_BOOKING_REMINDER_LEAD_MINUTES", "30")
    policy = load_settings().booking.policy()
    assert (policy.horizon_days, policy.reminder_lead) == (7, timedelta(minutes=30))
    assert policy.min_notice == BookingPolicy().min_notice


def test_dense_retrieval_is_on_unless_switched_off(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().retrieval.dense
    for off in ("off", "0", "false", "NO"):
        clean_env.setenv("HELPDESK_DENSE", off)
        assert not load_settings().retrieval.dense
    clean_env.setenv("HELPDESK_DENSE", "on")
    assert load_settings().retrieval.dense


def test_missing_secrets_are_generated_once(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    first = Settings().with_generated_secrets()
    assert first.rasa.token and first.secret_key and first.booking.key
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert Settings().with_generated_secrets() == first
    assert booking_key() == first.booking.key  # the action server's key is the desk's
    clean_env.setenv("HELPDESK_BOOKING_KEY", "given")
    assert booking_key() == "given"


def test_placeholder_secrets_are_refused(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Settings(rasa_token="changeme")
    with pytest.raises(ValueError, match="placeholder"):
        Settings(secret_key="secret")

"""The environment the supervisor gives the action server: one OpenMP thread unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk.ops import supervisor
from desk.settings import Settings


def actions_env(tmp_path: Path) -> dict[str, str]:
    settings = Settings(var_dir=tmp_path, rasa_token="t" * 32, secret_key="s" * 32)
    [actions] = [c for c in supervisor.build_children(settings, tmp_path / "model.tar.gz") if c.name == "actions"]
    return actions.env


def test_the_action_server_embeds_with_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert actions_env(tmp_path)["OMP_NUM_THREADS"] == "1"


def test_an_operators_thread_count_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert actions_env(tmp_path)["OMP_NUM_THREADS"] == "4"

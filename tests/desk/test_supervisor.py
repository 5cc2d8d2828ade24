"""The supervisor: its command lines, restarts with back-off, giving a crash loop up, telling /healthz."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from desk.ops import supervisor
from desk.ops.restarts import GIVEN_UP, RestartPolicy, StatusFile, given_up, status_path
from desk.settings import Settings


def test_rasa_accepts_a_token_that_starts_with_a_dash(tmp_path: Path) -> None:
    # secrets.token_urlsafe gives such tokens about once in 64; argparse used to take them for options
    settings = Settings(var_dir=tmp_path, rasa_token="-Ab3" + "x" * 40, secret_key="s" * 32)
    [rasa] = [c for c in supervisor.build_children(settings, tmp_path / "model.tar.gz") if c.name == "rasa"]
    result = subprocess.run([*rasa.argv, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_back_off_doubles_and_a_crash_loop_is_given_up() -> None:
    policy = RestartPolicy(limit=4, window=60.0, base_delay=1.0, max_delay=3.0)
    assert [policy.record_exit(t) for t in (0.0, 1.0, 2.0)] == [1.0, 2.0, 3.0]
    assert policy.record_exit(3.0) is None  # 4 exits within a minute


def test_exits_older_than_the_window_are_forgotten() -> None:
    policy = RestartPolicy(limit=3, window=60.0, base_delay=1.0, max_delay=30.0)
    assert policy.record_exit(0.0) == 1.0
    assert policy.record_exit(30.0) == 2.0
    assert policy.record_exit(200.0) == 1.0  # hours apart: a fresh start, not a loop


def child(tmp_path: Path, name: str, code: str) -> supervisor.Child:
    return supervisor.Child(name, [sys.executable, "-c", code], dict(os.environ), tmp_path / f"{name}.log")


def test_a_crashing_child_is_restarted_then_given_up_while_the_others_keep_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        var_dir=tmp_path, rasa_token="t" * 32, secret_key="s" * 32,
        supervisor_restart_limit=3, supervisor_backoff_seconds=0.05, supervisor_backoff_max_seconds=0.1,
    )  # fmt: skip
    desk = child(tmp_path, "desk", "import time; time.sleep(60)")
    rasa = child(tmp_path, "rasa", "import sys; print('starting', flush=True); sys.exit(3)")
    sup = supervisor.Supervisor([rasa, desk], settings)
    sup.start_all()
    desk_pid = desk.proc.pid  # type: ignore[union-attr]
    try:
        deadline = time.monotonic() + 30
        with caplog.at_level(logging.WARNING, logger="desk.ops.supervisor"):
            sup.watch(lambda: "rasa" in sup.given_up or time.monotonic() > deadline, interval=0.02)
        assert sup.given_up == {"rasa"}
        assert rasa.log.read_text().count("starting") == 3  # started, restarted twice, then left down
        assert desk.proc is not None and desk.proc.poll() is None and desk.proc.pid == desk_pid
        assert "restarting rasa" in caplog.text
        assert "giving up on rasa" in caplog.text
        assert given_up(tmp_path) == ["rasa"]  # what the desk's /healthz reads
    finally:
        sup.stop(timeout=5)
    assert desk.proc.poll() is not None
    assert given_up(tmp_path) == []  # no verdict outlives its supervisor


def test_healthz_names_the_child_that_was_given_up(client: TestClient, settings: Settings) -> None:
    status = StatusFile(status_path(settings.var_dir), ["rasa", "actions", "desk"])
    status.update("actions", GIVEN_UP, last_exit=-9)
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["supervisor"]["given_up"] == ["actions"]
    assert "actions" in resp.json()["checks"]["supervisor"]["error"]


def test_the_desk_drains_on_sigterm(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, rasa_token="t" * 32, secret_key="s" * 32, desk_drain_seconds=12)
    [desk] = [c for c in supervisor.build_children(settings, tmp_path / "model.tar.gz") if c.name == "desk"]
    assert desk.argv[-2:] == ["--timeout-graceful-shutdown", "12"]

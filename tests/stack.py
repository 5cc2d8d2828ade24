"""The running help desk for end-to-end and browser tests: real Rasa, action server and desk processes.

One stack per test session and clock, on free loopback ports, with its own var/ folder and a freshly
migrated and seeded SQLite database. Every process of a stack reads the same running clock
(knowledge_base.clock): `stack` starts on a workday morning inside office hours, `closed_stack` (started
only when a test asks for it) on the same workday's evening, so both branches of anything that depends
on the hour run in every run, whatever the real time. The model is the one `make test` trained
(HELPDESK_MODEL), else the newest under var/models.

`launch(..., supervised=True)` runs the children under `helpdesk run`'s restart loop (in a thread), for
the fault tests, which kill processes of their own stack only; settings overrides configure channels.
`launch_replicas` starts the scale-out set-up on PostgreSQL and Redis: several Rasa servers and desks
around one action server, one `Stack` per desk (tests/e2e/test_replicas.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from desk.lifecycle import active
from desk.ops import replicas, supervisor
from desk.settings import Settings
from knowledge_base import clock
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import make_engine, make_session_factory

free_port = supervisor.free_port


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(message: str) -> NoReturn:
    """A dependency of the test is absent: skip with the reason, but fail in CI, where it must exist."""
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


# The stacks' "now" (Tuesday 1 December 2026, a workday, in Shanghai): bookings and times such as 下周三
# resolve the same on every run. 10:00 is inside office hours (08:30-11:30), 20:00 outside.
E2E_NOW = "2026-12-01T10:00:00+08:00"
E2E_CLOSED_NOW = "2026-12-01T20:00:00+08:00"

# Sentence embeddings are cached by text: share the checkout's cache between test runs.
EMBEDDINGS = str(PROJECT_ROOT / "var" / "embeddings")


def find_model() -> Path | None:
    env = os.environ.get("HELPDESK_MODEL")
    if env:
        path = Path(env)
        return path if path.is_absolute() else PROJECT_ROOT / path
    return active.newest_model(PROJECT_ROOT / "var")


@dataclass
class Stack:
    settings: Settings
    children: list[supervisor.Child]
    db_url: str
    clock_env: dict[str, str]
    watcher: supervisor.Supervisor | None = None  # restarts children that exit (launch(supervised=True))

    def now(self) -> datetime:
        """The stack's "now" (its processes' running clock), timezone-aware UTC."""
        return clock.read(self.clock_env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def sessions(self):  # type: ignore[no-untyped-def]
        return make_session_factory(make_engine(self.db_url))

    def child(self, name: str) -> supervisor.Child:
        return next(c for c in self.children if c.name == name)


def launch(
    tmp_path_factory: pytest.TempPathFactory, now: str, *, supervised: bool = False, **overrides: Any
) -> Iterator[Stack]:
    """Start Rasa, the action server and the desk with their clock at `now` (ticking); stop them after.

    `supervised`: a child that exits is restarted as under `helpdesk run`. `overrides`: more settings.
    """
    model = find_model()
    if model is None or not model.exists():
        missing("no trained Rasa model: run `make train` (make test does it)")
    var = tmp_path_factory.mktemp("var")
    db_url = f"sqlite:///{var / 'helpdesk.db'}"
    prepare_database(var, db_url)
    rasa_port, action_port, desk_port = free_port(), free_port(), free_port()
    settings = Settings(
        var_dir=var,
        database_url=db_url,
        port=desk_port,
        rasa_port=rasa_port,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_server_port=action_port,
        action_server_url=f"http://127.0.0.1:{action_port}",
        rasa_token="test-token-" + os.urandom(8).hex(),
        secret_key=os.urandom(16).hex(),
        webchat_rate_limit=1000,
        **overrides,
    )
    children = supervisor.build_children(settings, model)
    clock_env = clock.environment(now)
    for child in children:  # one clock for the desk, Rasa's time extractor and the actions
        child.env.update(clock_env)
    watcher = supervisor.Supervisor(children, settings) if supervised else None
    done = threading.Event()

    def supervise() -> None:
        if watcher is not None:
            watcher.watch(done.is_set, interval=0.2)

    thread = threading.Thread(target=supervise, daemon=True, name="stack-supervisor")
    for child in children:
        supervisor.start(child)
    try:
        if not supervisor.wait_ready(settings, children, timeout=240):
            logs = {c.name: c.log.read_text(errors="replace")[-3000:] for c in children if c.log.exists()}
            pytest.fail("the help desk did not become healthy:\n" + json.dumps(logs, ensure_ascii=False, indent=1))
        if watcher is not None:
            thread.start()
        yield Stack(settings, children, db_url, clock_env, watcher)
    finally:
        done.set()
        if thread.is_alive():
            thread.join(timeout=5)
        if watcher is not None:
            watcher.stop(timeout=20)
        else:
            supervisor.stop(children)


def prepare_database(var: Path, db_url: str) -> None:
    """Migrate and seed the database and build the FAQ index, as `make run` does."""
    os.environ.setdefault("HELPDESK_EMBEDDINGS_DIR", EMBEDDINGS)  # the action server inherits it
    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url, HELPDESK_VAR_DIR=str(var))
    helpdesk = supervisor.venv_bin("app", "helpdesk")
    # the first warm-up of a fresh clone embeds every FAQ text (minutes on a slow or busy 2-core machine);
    # later ones read var/embeddings: the limits only keep a hung command from stalling the suite
    for args, limit in ((["db", "upgrade"], 120), (["db", "seed"], 120), (["kb", "warmup"], 900)):
        subprocess.run([helpdesk, *args], env=env, check=True, capture_output=True, timeout=limit)


def launch_replicas(
    tmp_path_factory: pytest.TempPathFactory,
    now: str,
    *,
    database_url: str,
    tracker_url: str,
    redis_url: str,
    redis_prefix: str,
    rasa_replicas: int = 2,
    desk_replicas: int = 2,
) -> Iterator[list[Stack]]:
    """Several Rasa servers (one tracker store, Redis lock store) and desks (one database, Redis bus)
    around one action server; one `Stack` per desk, sharing the children ("rasa-1", "desk-2", ...)."""
    model = find_model()
    if model is None or not model.exists():
        missing("no trained Rasa model: run `make train` (make test does it)")
    var = tmp_path_factory.mktemp("var")
    prepare_database(var, database_url)
    rasa_ports = [free_port() for _ in range(rasa_replicas)]
    desk_ports = [free_port() for _ in range(desk_replicas)]
    action_port = free_port()
    settings = Settings(
        var_dir=var,
        database_url=database_url,
        port=desk_ports[0],
        rasa_port=rasa_ports[0],
        rasa_url=f"http://127.0.0.1:{rasa_ports[0]}",
        rasa_urls=",".join(f"http://127.0.0.1:{p}" for p in rasa_ports),
        rasa_tracker_url=tracker_url,
        action_server_port=action_port,
        action_server_url=f"http://127.0.0.1:{action_port}",
        rasa_token="test-token-" + os.urandom(8).hex(),
        secret_key=os.urandom(16).hex(),
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        webchat_rate_limit=1000,
    )
    children = replicas.build_replicas(settings, model, rasa_ports, [action_port], desk_ports)
    clock_env = clock.environment(now)
    for child in children:
        child.env.update(clock_env)
    try:
        try:
            replicas.start_replicas(children, tracker_url)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        stacks = [Stack(settings.updated(port=port), children, database_url, clock_env) for port in desk_ports]
        for one in stacks:
            if not supervisor.wait_ready(one.settings, children, timeout=300):
                logs = {c.name: c.log.read_text(errors="replace")[-3000:] for c in children if c.log.exists()}
                pytest.fail("the replicas did not become healthy:\n" + json.dumps(logs, ensure_ascii=False, indent=1))
        yield stacks
    finally:
        replicas.stop_replicas(children)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The help desk on a workday morning, inside office hours."""
    yield from launch(tmp_path_factory, E2E_NOW)


@pytest.fixture(scope="session")
def closed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The help desk on the same workday's evening, outside office hours."""
    yield from launch(tmp_path_factory, E2E_CLOSED_NOW)


def health(stack: Stack) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{stack.base_url}/healthz", timeout=5).json()

"""`helpdesk run`: start Rasa, the action server and the desk, keep them running, stop them in order.

Rasa runs from the Rasa environment (.venv/rasa), the action server and the desk from the app
environment. Everything binds to loopback except the desk, whose address is configurable. Logs go to
var/log/<process>.log.

A child that exits is started again with the same command line (Rasa with the model an admin loaded
since, if any: desk/lifecycle/active.py) after a back-off, while the others keep running
(desk/ops/restarts.py); a crash loop (N exits in M minutes, docs/operations.md) gives that child up,
says so in the log and in var/supervisor.json, which the desk's /healthz turns into a 503 naming it.
Only a desk given up ends `helpdesk run` (exit code 1), since nothing is served any more. Ctrl-C or
SIGTERM drains: the desk stops first (uvicorn finishes the requests in flight, the channels finish the
messages they hold), then Rasa and the action server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from desk.guard.http import uvicorn_proxy_args
from desk.lifecycle import active
from desk.ops.restarts import GIVEN_UP, RESTARTING, RUNNING, STOPPED, RestartPolicy, StatusFile, status_path
from desk.settings import Settings, get_settings
from knowledge_base import config as kb_config

logger = logging.getLogger(__name__)
ROOT = kb_config.PROJECT_ROOT
FRONT = "desk"  # stopped first, so the messages it holds can still reach Rasa
TRACKER_STORE = "bot.tracker_store.RedactingTrackerStore"
# every child runs under knowledge_base/redacted_run.py: its log lines are masked (knowledge_base/redaction.py)
REDACTED = ["-m", "knowledge_base.redacted_run"]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None


def free_port() -> int:
    """A free TCP port on loopback (for test and evaluation servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venv_bin(env_name: str, program: str) -> str:
    """A program of one of the project's virtual environments."""
    return str(ROOT / ".venv" / env_name / "bin" / program)


def rasa_tracker_url(url: str) -> str:
    """The tracker store URL for Rasa's SQLAlchemy 1.4, which has no psycopg 3 dialect: its psycopg2."""
    return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql+psycopg2://", url)


def lock_store_yaml(redis_url: str, prefix: str) -> str:
    """Rasa's RedisLockStore on the desks' Redis (several Rasa replicas); "" without Redis (in-memory)."""
    if not redis_url:
        return ""
    parts = urlsplit(redis_url)
    db = parts.path.strip("/") or "0"
    lines = ["lock_store:", "  type: redis", f"  url: {parts.hostname or '127.0.0.1'}", f"  port: {parts.port or 6379}",
             f"  db: {int(db)}", f"  key_prefix: {re.sub(r'[^A-Za-z0-9]', '', prefix) or 'helpdesk'}"]  # fmt: skip
    if parts.password:
        lines.append(f"  password: {json.dumps(unquote(parts.password))}")
    if parts.scheme == "rediss":
        lines.append("  use_ssl: true")
    return "\n".join(lines) + "\n"


def write_rasa_config(settings: Settings) -> tuple[Path, Path]:
    """endpoints.yml and credentials.yml for the Rasa server, under var/: the action server, the tracker
    store (SQLite under var/, or HELPDESK_RASA_TRACKER_URL) and, with HELPDESK_REDIS_URL, the lock store."""
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    endpoints = var / "endpoints.yml"
    tracker_url = settings.rasa.tracker_url
    # Rasa's SQL tracker store, masking students' words before they are written (bot/tracker_store.py)
    store = f"tracker_store:\n  type: {TRACKER_STORE}\n"
    if tracker_url:
        tracker = f"{store}  url: {json.dumps(rasa_tracker_url(tracker_url))}\n"
    else:
        tracker = f"{store}  dialect: sqlite\n  db: {var / 'rasa_tracker.db'}\n"
    endpoints.write_text(
        f"action_endpoint:\n  url: {settings.action_server.url.rstrip('/')}/webhook\n"
        + tracker
        + lock_store_yaml(settings.redis_url, settings.redis_prefix),
        encoding="utf-8",
    )
    credentials = var / "credentials.yml"
    credentials.write_text("rest: {}\n", encoding="utf-8")
    return endpoints, credentials


def rasa_argv(model: Path, port: int, token: str) -> list[str]:
    """`rasa run` with its HTTP API on loopback, behind `token` (for the desk and for `make eval`)."""
    # the token as one argument: one starting with "-" (token_urlsafe makes them) is not an option
    return [venv_bin("rasa", "python"), *REDACTED, "rasa", "run", "--enable-api", f"--auth-token={token}",
            "-i", "127.0.0.1", "-p", str(port), "-m", str(model)]  # fmt: skip


def build_children(settings: Settings, model: Path) -> list[Child]:
    """The three processes of the embedded set-up."""
    endpoints, credentials = write_rasa_config(settings)
    logs = settings.var_dir / "log"
    logs.mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = str(ROOT)
    base_env["HELPDESK_DATABASE_URL"] = settings.database_url
    base_env["HELPDESK_VAR_DIR"] = str(settings.var_dir)
    base_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base_env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    rasa_env = dict(base_env)
    actions_env = dict(base_env, SANIC_HOST="127.0.0.1", HELPDESK_BOOKING_KEY=settings.booking.key)
    # one OpenMP thread for the e5 query embedding: with two, the action server used about 30 % more CPU per
    # message under load on 2 cores (docs/benchmarks.md, "Load"); an explicit setting wins
    actions_env.setdefault("OMP_NUM_THREADS", "1")
    desk_env = dict(base_env)
    desk_env.update(settings.environ())  # the desk sees exactly these settings
    return [
        Child(
            "rasa",
            [
                *rasa_argv(model, settings.rasa.port, settings.rasa.token),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(credentials),
            ],
            rasa_env,
            logs / "rasa.log",
        ),
        Child(
            "actions",
            [
                venv_bin("app", "python"),
                *REDACTED,
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(settings.action_server.port),
            ],
            actions_env,
            logs / "actions.log",
        ),
        Child(
            "desk",
            [
                venv_bin("app", "python"),
                *REDACTED,
                "uvicorn",
                "--factory",
                "desk.main:create_app",
                "--host",
                settings.host,
                "--port",
                str(settings.port),
                "--no-server-header",
                "--ws",
                "wsproto",
                *uvicorn_proxy_args(settings),  # X-Forwarded-For only from HELPDESK_SECURITY_TRUSTED_PROXIES
                "--timeout-graceful-shutdown",
                str(settings.desk_drain_seconds),
            ],
            desk_env,
            logs / "desk.log",
        ),
    ]


def start(child: Child) -> None:
    log = open(child.log, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
    child.proc = subprocess.Popen(
        child.argv,
        cwd=ROOT,
        env=child.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def terminate(children: list[Child], timeout: float) -> None:
    """SIGTERM these children's process groups, then SIGKILL what is left after `timeout`."""
    for child in children:
        if child.proc and child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0f s: killed", child.name, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()


def stop(children: list[Child], timeout: float = 20.0) -> None:
    """Stop the desk first (it drains within `timeout`), then Rasa and the action server."""
    terminate([c for c in children if c.name == FRONT], timeout)
    terminate([c for c in children if c.name != FRONT], timeout)


class Supervisor:
    """Restarts children that exit, with back-off, and gives a crash-looping one up (never silently)."""

    def __init__(self, children: list[Child], settings: Settings) -> None:
        self.children = children
        self.policies = {
            c.name: RestartPolicy(
                limit=settings.supervisor.restart_limit,
                window=settings.supervisor.restart_window_minutes * 60,
                base_delay=settings.supervisor.backoff_seconds,
                max_delay=settings.supervisor.backoff_max_seconds,
            )
            for c in children
        }
        self.status = StatusFile(status_path(settings.var_dir), [c.name for c in children])
        self.restart_at: dict[str, float] = {}
        self.given_up: set[str] = set()
        self.var_dir, self.since = settings.var_dir, time.time()  # a model an admin loads later survives restarts

    def start_all(self) -> None:
        for child in self.children:
            start(child)
        self.status.write()

    @property
    def front_given_up(self) -> bool:
        """The desk itself is given up: nothing serves the students any more."""
        return FRONT in self.given_up

    def check(self, now: float | None = None) -> None:
        """One round: notice exits, schedule restarts, start the children whose back-off is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.name in self.given_up:
                continue
            due = self.restart_at.get(child.name)
            if due is not None:
                if now >= due:
                    del self.restart_at[child.name]
                    logger.warning("restarting %s", child.name)
                    if child.name.startswith("rasa"):  # with the model an admin loaded since (desk/lifecycle)
                        active.refresh_rasa_argv(child.argv, self.var_dir, self.since)
                    try:
                        start(child)
                    except OSError as exc:  # counts as one more exit: retried, or given up
                        logger.error("%s could not be started: %s", child.name, exc)
                        self._exited(child, None, now)
                        continue
                    self.status.update(child.name, RUNNING, restarted=True)
                continue
            if child.proc is None or child.proc.poll() is None:
                continue
            self._exited(child, child.proc.returncode, now)

    def _exited(self, child: Child, code: int | None, now: float) -> None:
        """Schedule the restart of a child that exited, or give it up."""
        policy = self.policies[child.name]
        delay = policy.record_exit(now)
        if delay is None:
            self.given_up.add(child.name)
            logger.error(
                "%s exited with code %s, %d times within %.0f minutes: giving up on %s "
                "(restart the help desk to try again); see %s",
                child.name, code, policy.recent_exits, policy.window / 60, child.name, child.log,
            )  # fmt: skip
            self.status.update(child.name, GIVEN_UP, last_exit=code)
            return
        logger.warning(
            "%s exited with code %s; restarting it in %.1f s (exit %d of %d allowed within %.0f minutes); see %s",
            child.name, code, delay, policy.recent_exits, policy.limit - 1, policy.window / 60, child.log,
        )  # fmt: skip
        self.restart_at[child.name] = now + delay
        self.status.update(child.name, RESTARTING, last_exit=code)

    def watch(self, should_stop: Callable[[], bool], interval: float = 0.5) -> None:
        """Keep the children running until `should_stop()` or the desk is given up."""
        while not should_stop() and not self.front_given_up:
            self.check()
            time.sleep(interval)

    def stop(self, timeout: float) -> None:
        """Drain and stop everything; the status file goes (no verdict outlives its supervisor)."""
        self.restart_at.clear()
        stop(self.children, timeout)
        for name in self.status.children:
            self.status.children[name]["state"] = STOPPED
        self.status.remove()


def wait_ready(
    settings: Settings,
    children: list[Child],
    timeout: float = 300.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll until the desk reports Rasa, the action server and the database healthy."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{settings.port}/healthz"
    while time.monotonic() < deadline and not should_stop():
        for child in children:
            if child.proc is not None and child.proc.poll() is not None:
                print(f"{child.name} exited with code {child.proc.returncode}; see {child.log}", file=sys.stderr)
                return False
        try:
            if httpx.get(url, timeout=3.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1.0)
    return False


def run_all(model: str | None = None) -> int:
    """Run everything until a signal arrives or a process dies."""
    settings = get_settings()
    default = active.default_model(settings.var_dir, settings.model)  # or the model an admin loaded since
    model_path = active.startup_model(settings.var_dir, Path(model) if model else None, default)
    if model_path is None or not model_path.exists():
        print("no trained model found under var/models; run `make train` first", file=sys.stderr)
        return 2
    warmup = subprocess.run(
        [venv_bin("app", "helpdesk"), "kb", "warmup"],
        env=dict(os.environ, HELPDESK_DATABASE_URL=settings.database_url, HELPDESK_VAR_DIR=str(settings.var_dir)),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if warmup.returncode != 0:
        print(f"could not build the retrieval index:\n{warmup.stderr[-2000:]}", file=sys.stderr)
        return 1
    print(warmup.stdout.strip())
    children = build_children(settings, model_path)
    supervisor = Supervisor(children, settings)
    stopping = {"signal": 0}

    def _on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor.start_all()
    print(
        f"starting Rasa (model {model_path.name}), the action server and the desk; logs in {settings.var_dir / 'log'}"
    )
    code = 0
    try:
        if not wait_ready(settings, children, should_stop=lambda: bool(stopping["signal"])):
            if not stopping["signal"]:
                print("the help desk did not become healthy; see the logs above", file=sys.stderr)
                code = 1
        else:
            base = settings.base_url
            print(f"\n  Web chat:  {base}/\n  Health:    {base}/healthz\n  Press Ctrl-C to stop.\n")
            supervisor.watch(lambda: bool(stopping["signal"]))
            if supervisor.front_given_up:
                code = 1
    finally:
        print("stopping ...")
        supervisor.stop(settings.desk_drain_seconds + 5.0)
        print("stopped")
    return code

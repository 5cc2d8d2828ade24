"""`helpdesk run`: start Rasa, the action server and the desk, watch them, stop them together.

Rasa runs from the Rasa environment (.venv/rasa), the action server and the desk from the app
environment. Everything binds to loopback except the desk, whose address is configurable. Logs go to
var/log/<process>.log. Ctrl-C or SIGTERM stops all three; if one dies, the others are stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from desk.settings import Settings, get_settings
from knowledge_base import config as kb_config

ROOT = kb_config.PROJECT_ROOT


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


def newest_model(var_dir: Path) -> Path | None:
    """The most recently trained model archive under var/models."""
    models = sorted((var_dir / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def write_rasa_config(settings: Settings) -> tuple[Path, Path]:
    """endpoints.yml and credentials.yml for the Rasa server, under var/."""
    var = settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    endpoints = var / "endpoints.yml"
    tracker_url = os.environ.get("HELPDESK_RASA_TRACKER_URL", "")
    if tracker_url:
        tracker = f"tracker_store:\n  type: SQL\n  url: {tracker_url}\n"
    else:
        tracker = f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {var / 'rasa_tracker.db'}\n"
    endpoints.write_text(
        f"action_endpoint:\n  url: {settings.action_server_url.rstrip('/')}/webhook\n" + tracker,
        encoding="utf-8",
    )
    credentials = var / "credentials.yml"
    credentials.write_text("rest: {}\n", encoding="utf-8")
    return endpoints, credentials


def rasa_argv(model: Path, port: int, token: str) -> list[str]:
    """`rasa run` with its HTTP API on loopback, behind `token` (for the desk and for `make eval`)."""
    # the token as one argument: one starting with "-" (token_urlsafe makes them) is not an option
    return [venv_bin("rasa", "rasa"), "run", "--enable-api", f"--auth-token={token}",
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
    actions_env = dict(base_env, SANIC_HOST="127.0.0.1", HELPDESK_BOOKING_KEY=settings.booking_key)
    # one OpenMP thread for the e5 query embedding: with two, the action server used about 30 % more CPU per
    # message under load on 2 cores (docs/benchmarks.md, "Load"); an explicit setting wins
    actions_env.setdefault("OMP_NUM_THREADS", "1")
    desk_env = dict(base_env)
    for name, value in settings.model_dump().items():  # the desk sees exactly these settings
        desk_env[f"HELPDESK_{name.upper()}"] = str(value)
    return [
        Child(
            "rasa",
            [
                *rasa_argv(model, settings.rasa_port, settings.rasa_token),
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
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(settings.action_server_port),
            ],
            actions_env,
            logs / "actions.log",
        ),
        Child(
            "desk",
            [
                venv_bin("app", "python"),
                "-m",
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


def stop(children: list[Child], timeout: float = 20.0) -> None:
    """SIGTERM every child's process group, then SIGKILL what is left after `timeout`."""
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
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()


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
    model_path = (
        Path(model)
        if model
        else (
            Path(os.environ["HELPDESK_MODEL"]) if os.environ.get("HELPDESK_MODEL") else newest_model(settings.var_dir)
        )
    )
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
    stopping = {"signal": 0}

    def _on_signal(signum: int, _frame: object) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    for child in children:
        start(child)
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
            while not stopping["signal"]:
                dead = [c for c in children if c.proc is not None and c.proc.poll() is not None]
                if dead:
                    for c in dead:
                        print(f"{c.name} exited with code {c.proc.returncode}; see {c.log}", file=sys.stderr)  # type: ignore[union-attr]
                    code = 1
                    break
                time.sleep(0.5)
    finally:
        print("stopping ...")
        stop(children)
        print("stopped")
    return code

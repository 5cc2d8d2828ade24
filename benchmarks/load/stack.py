"""The stack under load: Rasa, the action server and the desk on loopback, as `helpdesk run` starts them.

Like tests/stack.py: free loopback ports, a fresh var/ folder with a migrated and seeded SQLite
database, the supervisor's own `build_children` / `wait_ready`. The desk also serves the Telegram
webhook, whose answers go through the outbox to a fake Bot API on loopback (tests/fake_telegram.py).

`replicas=N` (`--replicas N`) runs the scale-out set-up instead (desk/ops/replicas.py): N Rasa servers,
N action servers and N desks on a fresh PostgreSQL database (and one for Rasa's trackers) and a Redis key
prefix of the run's own; students are spread over the desks. Every process runs under
benchmarks/load/sqlcount.py, which counts its SQL statements and commits (SQLAlchemy events), in
both modes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from benchmarks.load import sqlcount
from desk.models import Message
from desk.ops import replicas as scale
from desk.ops import supervisor
from desk.settings import Settings
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import make_engine, make_session_factory
from tests.fake_telegram import TOKEN, FakeTelegram

logger = logging.getLogger(__name__)

TELEGRAM_SECRET = "bench-webhook-secret_0123456789abcdef"
POSTGRES_ADMIN = os.environ.get("HELPDESK_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HELPDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
EMBEDDINGS = PROJECT_ROOT / "var" / "embeddings"  # shared sentence-embedding cache, as the tests use


class RecordingTelegram(FakeTelegram):
    """The fake Bot API, telling the load generator's event loop about every message sent to a chat."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: dict[int, list[tuple[float, str]]] = defaultdict(list)  # chat -> [(monotonic, text)]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.arrived: dict[int, asyncio.Event] = {}

    def event(self, chat_id: int) -> asyncio.Event:
        return self.arrived.setdefault(chat_id, asyncio.Event())

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        result = await super()._result(method, params)
        if method == "sendmessage" and self.loop is not None:
            chat_id = int(params["chat_id"])
            at = time.monotonic()
            self.loop.call_soon_threadsafe(self._record, chat_id, at, str(params.get("text", "")))
        return result

    def _record(self, chat_id: int, at: float, text: str) -> None:
        self.sends[chat_id].append((at, text))
        self.event(chat_id).set()


@dataclass
class BenchStack:
    settings: Settings
    children: list[supervisor.Child]
    telegram: RecordingTelegram
    workdir: Path
    pids: dict[str, int] = field(default_factory=dict)
    desk_ports: list[int] = field(default_factory=list)
    cleanup: list[Any] = field(default_factory=list)  # (callable) after the processes stopped

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def desk_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.desk_ports] or [self.desk_url]

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa.url

    def sql_counts(self) -> dict[str, dict[str, int]]:
        """Statements and commits each process sent so far (replicas mode; {} otherwise)."""
        files = sorted(self.workdir.glob("sqlcount-*.json"))
        return {f.stem.removeprefix("sqlcount-"): sqlcount.read(str(f)) for f in files}

    def replies_per_message(self, channel: str) -> dict[str, int]:
        """From the desk's database: bot/system messages stored after each student message (by client id)."""
        sessions = make_session_factory(make_engine(self.settings.database_url))
        counts: dict[str, int] = {}
        with sessions() as session:
            rows = session.execute(
                select(Message.conversation_id, Message.role, Message.external_id)
                .where(Message.conversation_id.like(f"{channel}:%"))
                .order_by(Message.conversation_id, Message.id)
            ).all()
        current: str | None = None
        for conversation_id, role, external_id in rows:
            if role == "student":
                current = f"{conversation_id}/{external_id}"
                counts[current] = 0
            elif current is not None and current.startswith(conversation_id + "/"):
                counts[current] += 1
        return counts


def launch(model: Path, workdir: Path | None = None, extra_env: dict[str, dict[str, str]] | None = None) -> BenchStack:
    """Start the fake Telegram, Rasa, the action server and the desk; return when the desk is healthy.

    `extra_env` adds variables to one process's environment ({"actions": {"OMP_NUM_THREADS": "1"}}),
    to measure a setting before it is made the default.
    """
    var = workdir or Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    db_url = f"sqlite:///{var / 'helpdesk.db'}"
    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url, HELPDESK_VAR_DIR=str(var))
    env.setdefault("HELPDESK_EMBEDDINGS_DIR", str(EMBEDDINGS))
    os.environ.setdefault("HELPDESK_EMBEDDINGS_DIR", str(EMBEDDINGS))  # the action server inherits it
    helpdesk = supervisor.venv_bin("app", "helpdesk")
    for args in (["db", "upgrade"], ["db", "seed"], ["kb", "warmup"]):
        subprocess.run([helpdesk, *args], env=env, check=True, capture_output=True, timeout=300)
    telegram = RecordingTelegram()
    telegram.server.start()
    rasa_port = supervisor.free_port()
    action_port = supervisor.free_port()
    settings = Settings(
        var_dir=var,
        database_url=db_url,
        port=supervisor.free_port(),
        rasa_port=rasa_port,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_server_port=action_port,
        action_server_url=f"http://127.0.0.1:{action_port}",
        rasa_token="bench-token-" + os.urandom(8).hex(),
        secret_key=os.urandom(16).hex(),
        webchat_rate_limit=1_000_000,  # the bench measures throughput, not the per-student limit
        security_new_chats_per_hour=1_000_000,  # every simulated student comes from 127.0.0.1
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram_api_base=telegram.api_base,
    )
    children = supervisor.build_children(settings, model)
    for child in children:
        _counted(child, var)
        child.env.update((extra_env or {}).get(child.name, {}))
        supervisor.start(child)
    stack = BenchStack(settings, children, telegram, var)
    if not supervisor.wait_ready(settings, children, timeout=300):
        logs = {c.name: c.log.read_text(errors="replace")[-2000:] for c in children if c.log.exists()}
        stop(stack, keep=True)
        raise RuntimeError("the help desk did not become healthy:\n" + json.dumps(logs, ensure_ascii=False, indent=1))
    stack.pids = {c.name: c.proc.pid for c in children if c.proc is not None}
    return stack


def _fresh_databases(run: str) -> tuple[str, str, Any]:
    """Two fresh PostgreSQL databases (the desk's on psycopg 3, Rasa's trackers) and how to drop them."""
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    names = [f"helpdesk_bench_{run}", f"helpdesk_bench_{run}_rasa"]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]

    def drop() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{base.replace('+psycopg2', '+psycopg')}/{names[0]}", f"{base}/{names[1]}", drop


def _counted(child: supervisor.Child, workdir: Path) -> None:
    """Run the child under benchmarks/load/sqlcount.py (its SQL statements counted into the work folder)."""
    out = str(workdir / f"sqlcount-{child.name}.json")
    argv = child.argv
    if argv[1] == "-m":  # python -m <module> ...
        child.argv = [argv[0], "-m", "benchmarks.load.sqlcount", out, *argv[2:]]
    else:  # the rasa console script: its environment's python, module rasa
        python = str(Path(argv[0]).with_name("python"))
        child.argv = [python, "-m", "benchmarks.load.sqlcount", out, "rasa", *argv[1:]]


def launch_replicas(model: Path, n: int, extra_env: dict[str, dict[str, str]] | None = None) -> BenchStack:
    """N of each process on PostgreSQL and Redis (see the module's docstring)."""
    import redis

    var = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    run = os.urandom(4).hex()
    db_url, tracker_url, drop = _fresh_databases(run)
    prefix = f"hdbench{run}"
    env = dict(os.environ, HELPDESK_DATABASE_URL=db_url, HELPDESK_VAR_DIR=str(var))
    env.setdefault("HELPDESK_EMBEDDINGS_DIR", str(EMBEDDINGS))
    os.environ.setdefault("HELPDESK_EMBEDDINGS_DIR", str(EMBEDDINGS))
    helpdesk = supervisor.venv_bin("app", "helpdesk")
    for args in (["db", "upgrade"], ["db", "seed"], ["kb", "warmup"]):
        subprocess.run([helpdesk, *args], env=env, check=True, capture_output=True, timeout=300)
    telegram = RecordingTelegram()
    telegram.server.start()
    rasa_ports = [supervisor.free_port() for _ in range(n)]
    action_ports = [supervisor.free_port() for _ in range(n)]
    desk_ports = [supervisor.free_port() for _ in range(n)]
    settings = Settings(
        var_dir=var,
        database_url=db_url,
        port=desk_ports[0],
        rasa_port=rasa_ports[0],
        rasa_url=f"http://127.0.0.1:{rasa_ports[0]}",
        rasa_urls=",".join(f"http://127.0.0.1:{p}" for p in rasa_ports),
        rasa_tracker_url=tracker_url,
        action_server_port=action_ports[0],
        action_server_url=f"http://127.0.0.1:{action_ports[0]}",
        rasa_token="bench-token-" + os.urandom(8).hex(),
        secret_key=os.urandom(16).hex(),
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        webchat_rate_limit=1_000_000,
        security_new_chats_per_hour=1_000_000,
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram_api_base=telegram.api_base,
    )
    children = scale.build_replicas(settings, model, rasa_ports, action_ports, desk_ports)
    for child in children:
        _counted(child, var)
        child.env.update((extra_env or {}).get(child.name.rsplit("-", 1)[0], {}))

    def flush_redis() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()

    stack = BenchStack(settings, children, telegram, var, desk_ports=desk_ports, cleanup=[drop, flush_redis])
    try:
        scale.start_replicas(children, tracker_url)
        for port in desk_ports:
            if not supervisor.wait_ready(settings.updated(port=port), children, timeout=300):
                raise RuntimeError("the replicas did not become healthy; see " + str(var / "log"))
        for child in children:
            if not _healthy(child):
                raise RuntimeError(f"{child.name} did not become healthy; see {child.log}")
    except Exception:
        stop(stack, keep=True)
        raise
    stack.pids = {c.name: c.proc.pid for c in children if c.proc is not None}
    return stack


def restart(stack: BenchStack, name: str) -> None:
    """Restart one process, or each replica of it ("actions": actions-1, actions-2, ...), e.g. to empty the
    action server's caches between two measured runs."""
    for child in [c for c in stack.children if c.name == name or c.name.startswith(f"{name}-")]:
        supervisor.stop([child])
        supervisor.start(child)
        if not supervisor.wait_ready(stack.settings, stack.children, timeout=300) or not _healthy(child):
            raise RuntimeError(f"{child.name} did not come back; see {child.log}")
        if child.proc is not None:
            stack.pids[child.name] = child.proc.pid


HEALTH = {"rasa": ("-p", "/"), "actions": ("-p", "/health"), "desk": ("--port", "/livez")}


def _healthy(child: supervisor.Child, timeout: float = 300) -> bool:
    """The process answers on its own port (a desk's /healthz is green when one Rasa of several is)."""
    flag, path = HEALTH[child.name.split("-")[0]]
    url = f"http://127.0.0.1:{child.argv[child.argv.index(flag) + 1]}{path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def stop(stack: BenchStack, keep: bool = False) -> None:
    """Stop every process; drop the run's databases and Redis keys; remove the work folder unless `keep`."""
    scale.stop_replicas(stack.children)
    stack.telegram.server.stop()
    for step in stack.cleanup:
        try:
            step()
        except Exception as exc:  # a cleanup step must not hide the result
            logger.warning("bench cleanup failed: %s", exc)
    if not keep:
        shutil.rmtree(stack.workdir, ignore_errors=True)

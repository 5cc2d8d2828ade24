"""The stack under load: Rasa, the action server and the desk on loopback, as `helpdesk run` starts them.

Like tests/stack.py: free loopback ports, a fresh var/ folder with a migrated and seeded SQLite
database, the supervisor's own `build_children` / `wait_ready`. The desk also serves the Telegram
webhook, whose answers go through the outbox to a fake Bot API on loopback (tests/fake_telegram.py).
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

from sqlalchemy import select

from desk.models import Message
from desk.ops import supervisor
from desk.settings import Settings
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import make_engine, make_session_factory
from tests.fake_telegram import TOKEN, FakeTelegram

logger = logging.getLogger(__name__)

TELEGRAM_SECRET = "bench-webhook-secret_0123456789abcdef"
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

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa.url

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
        telegram_mode="webhook",
        telegram_token=TOKEN,
        telegram_secret=TELEGRAM_SECRET,
        telegram_api_base=telegram.api_base,
    )
    children = supervisor.build_children(settings, model)
    for child in children:
        child.env.update((extra_env or {}).get(child.name, {}))
        supervisor.start(child)
    stack = BenchStack(settings, children, telegram, var)
    if not supervisor.wait_ready(settings, children, timeout=300):
        logs = {c.name: c.log.read_text(errors="replace")[-2000:] for c in children if c.log.exists()}
        stop(stack, keep=True)
        raise RuntimeError("the help desk did not become healthy:\n" + json.dumps(logs, ensure_ascii=False, indent=1))
    stack.pids = {c.name: c.proc.pid for c in children if c.proc is not None}
    return stack


def restart(stack: BenchStack, name: str) -> None:
    """Restart one process (e.g. the action server, to empty its caches between two measured runs)."""
    child = next(c for c in stack.children if c.name == name)
    supervisor.stop([child])
    supervisor.start(child)
    if not supervisor.wait_ready(stack.settings, stack.children, timeout=300):
        raise RuntimeError(f"{name} did not come back; see {child.log}")
    if child.proc is not None:
        stack.pids[name] = child.proc.pid


def stop(stack: BenchStack, keep: bool = False) -> None:
    """Stop every process; remove the work folder unless `keep`."""
    supervisor.stop(stack.children)
    stack.telegram.server.stop()
    if not keep:
        shutil.rmtree(stack.workdir, ignore_errors=True)

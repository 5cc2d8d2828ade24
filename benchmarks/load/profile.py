"""Where the CPU goes: py-spy sampling each process of the stack while a scenario runs.

`py-spy record --format raw` writes collapsed stacks ("frame;frame;... count") of the threads that
were running (py-spy leaves idle threads out; a few waiting frames it still reports are dropped here);
`top` turns them into the functions with the largest inclusive share (the function and what it calls)
and self share, and the CPU seconds they stand for at the sampling rate.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desk.ops import supervisor

logger = logging.getLogger(__name__)


@dataclass
class Recording:
    name: str
    output: Path
    proc: subprocess.Popen[bytes]


def py_spy() -> str | None:
    """The py-spy program of the app environment (or on PATH), if installed."""
    local = Path(supervisor.venv_bin("app", "py-spy"))
    return str(local) if local.exists() else shutil.which("py-spy")


def start(pids: dict[str, int], folder: Path, rate: int = 50) -> list[Recording]:
    """Start one py-spy per process (with its subprocesses); empty when py-spy is missing."""
    program = py_spy()
    if program is None:
        logger.warning("py-spy is not installed: no profile (pip install py-spy)")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    recordings = []
    for name, pid in pids.items():
        output = folder / f"{name}.txt"
        argv = [program, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                "--output", str(output), "--subprocesses"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(folder / f"{name}.log", "wb"))  # noqa: SIM115
        recordings.append(Recording(name, output, proc))
    return recordings


def stop(recordings: list[Recording]) -> None:
    """Ask every py-spy to write its output (SIGINT) and wait for it."""
    for rec in recordings:
        if rec.proc.poll() is None:
            rec.proc.send_signal(signal.SIGINT)
    for rec in recordings:
        try:
            rec.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rec.proc.kill()


# frames where a thread waits rather than works (a pool worker's queue.get, an event loop's select)
IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py:81)",
    "serve (sanic/server/runners.py",
    "asyncio_run (uvicorn/_compat.py",
)


PROJECT_PACKAGES = ("desk/", "connectors/", "knowledge_base/", "actions/", "bot/")


def top(raw: Path, n: int = 15, rate: int = 50) -> dict[str, Any]:
    """The `n` functions with the most samples, inclusive and self, from a raw py-spy output."""
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()  # the project's own functions, inclusive
    own: Counter[str] = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0, "inclusive": [], "self": []}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        if not frames or frames[-1].startswith(IDLE_LEAVES):
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
            if frame.split("(", 1)[-1].startswith(PROJECT_PACKAGES):
                ours[frame] += count
        own[frames[-1]] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": f, "share": round(c / total, 3)} for f, c in counter.most_common(n)] if total else []

    return {
        "samples": total,
        "cpu_seconds": round(total / rate, 1),
        "inclusive": rows(inclusive),
        "project": rows(ours),
        "self": rows(own),
    }

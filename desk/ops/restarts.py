"""When the supervisor restarts a child, and when it gives up; what it tells the desk about it.

`RestartPolicy` is pure bookkeeping on a monotonic clock: a child that exits is started again after a
back-off that doubles with each exit inside the window (base, 2 x base, ... up to a ceiling); after
`limit` exits within `window` seconds it is given up (a crash loop), and stays down until an operator
restarts the help desk.

`StatusFile` is how the desk learns about it: the supervisor writes var/supervisor.json (atomically)
whenever a child's state changes, and the desk's /healthz reads it and answers 503 naming any child
that was given up. No file (the desk run on its own, or by tests) means nothing to report.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge_base import clock

logger = logging.getLogger(__name__)

STATUS_FILE_NAME = "supervisor.json"
RUNNING = "running"
RESTARTING = "restarting"
GIVEN_UP = "given_up"
STOPPED = "stopped"


@dataclass
class RestartPolicy:
    """Back-off and crash-loop detection for one child."""

    limit: int = 5
    window: float = 300.0
    base_delay: float = 1.0
    max_delay: float = 30.0
    exits: deque[float] = field(default_factory=deque)

    def record_exit(self, at: float) -> float | None:
        """Note an exit at monotonic time `at`: seconds to wait before the restart, or None to give up."""
        self.exits.append(at)
        while self.exits and self.exits[0] < at - self.window:
            self.exits.popleft()
        if len(self.exits) >= self.limit:
            return None
        return min(self.max_delay, self.base_delay * 2 ** (len(self.exits) - 1))

    @property
    def recent_exits(self) -> int:
        return len(self.exits)


def status_path(var_dir: Path) -> Path:
    """Where the supervisor of this var/ folder writes its status."""
    return var_dir / STATUS_FILE_NAME


class StatusFile:
    """The supervisor's view of its children, written for the desk's /healthz."""

    def __init__(self, path: Path, names: list[str]) -> None:
        self.path = path
        self.children: dict[str, dict[str, Any]] = {
            name: {"state": RUNNING, "restarts": 0, "last_exit": None, "since": None} for name in names
        }

    def update(self, name: str, state: str, *, last_exit: int | None = None, restarted: bool = False) -> None:
        """Record `name`'s new state and rewrite the file."""
        entry = self.children[name]
        entry["state"] = state
        entry["since"] = clock.now().isoformat()
        if last_exit is not None:
            entry["last_exit"] = last_exit
        if restarted:
            entry["restarts"] += 1
        self.write()

    def write(self) -> None:
        body = {"supervisor_pid": os.getpid(), "children": self.children}
        tmp = self.path.with_suffix(".json.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not stop supervision
            logger.error("could not write the supervisor status %s: %s", self.path, exc)

    def remove(self) -> None:
        """At a clean stop: the next desk started alone must not read a stale verdict."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            logger.error("could not remove the supervisor status %s: %s", self.path, exc)


def given_up(var_dir: Path) -> list[str]:
    """The children a running supervisor has given up on ([] without a status file or when unreadable)."""
    try:
        body = json.loads(status_path(var_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    children = body.get("children") if isinstance(body, dict) else None
    if not isinstance(children, dict) or not _alive(body.get("supervisor_pid")):
        return []  # a supervisor that was killed left its file behind: no verdict
    return sorted(
        name for name, entry in children.items() if isinstance(entry, dict) and entry.get("state") == GIVEN_UP
    )


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True

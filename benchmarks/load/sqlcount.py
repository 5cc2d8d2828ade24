"""Run a Python program with every SQL statement and commit it sends counted (SQLAlchemy events).

`python -m benchmarks.load.sqlcount <file> <module> [args...]` installs listeners on SQLAlchemy's Engine
class (so every engine the program builds is counted: the desk's, the action server's, Rasa's tracker
store), then runs `<module>` as `__main__` with the given arguments. The counts are written to `<file>`
as JSON once a second (and at exit), so `make bench --replicas` reads the database round trips per
answered message of each process from outside. Works with SQLAlchemy 1.4 (Rasa) and 2 (the app).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import time
from typing import Any

COUNTS = {"statements": 0, "commits": 0}
_lock = threading.Lock()


def _count(key: str) -> None:
    with _lock:
        COUNTS[key] += 1


def write(path: str) -> None:
    with _lock:
        data = dict(COUNTS)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def install(path: str) -> None:
    """Count statements and commits of every engine of this process; write them to `path` every second."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_execute(*_args: Any, **_kwargs: Any) -> None:
        _count("statements")

    def on_commit(*_args: Any) -> None:
        _count("commits")

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", on_commit)

    def flush_forever() -> None:
        while True:
            time.sleep(1.0)
            write(path)

    threading.Thread(target=flush_forever, daemon=True, name="sqlcount").start()
    atexit.register(write, path)


def read(path: str) -> dict[str, int]:
    """The counts a program wrote (zeros before its first write)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return {k: int(v) for k, v in json.load(fh).items()}
    except (OSError, ValueError):
        return {"statements": 0, "commits": 0}


def main() -> None:
    path, module, *args = sys.argv[1:]
    install(path)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

"""Which model Rasa serves: <var>/active_model.json, written when an admin's model is loaded into the running
Rasa or the previous one restored, and read by `helpdesk run` when it starts or restarts Rasa.

`helpdesk run --model X` serves X. Otherwise the default model (HELPDESK_MODEL, else the newest under
var/models) is served, unless the active record was written after that model file: the admin's choice
survives a restart of the help desk, while a model trained later from changed bot data (`make train`) wins
over an older choice (the model page then says whether the catalog terms still need a retrain). A Rasa
child restarted by the supervisor takes the active record's model when it was written after the supervisor
started, so a crash after a reload does not bring the old model back.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

ACTIVE_FILE = "active_model.json"
BUILDS_DIR = "builds"


@dataclass(frozen=True)
class ActiveModel:
    """The model an admin put into service, the one it replaced, and the build that made it (if any)."""

    model: Path
    previous: Path | None
    build_id: int | None
    by: str
    written: float  # the record's modification time (seconds since the epoch)


def read(var_dir: Path) -> ActiveModel | None:
    """The active record, or None when no admin has loaded a model (or the file is unreadable)."""
    path = var_dir / ACTIVE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        written = path.stat().st_mtime
        previous = data.get("previous")
        return ActiveModel(Path(data["model"]), Path(previous) if previous else None, data.get("build_id"),
                           str(data.get("by", "")), written)  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(var_dir: Path, model: Path, previous: Path | None, build_id: int | None, by: str) -> ActiveModel:
    """Record the served model (atomically: a reader sees the old record or the new one, never half)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / ACTIVE_FILE
    data = {"model": str(model), "previous": str(previous) if previous else None, "build_id": build_id, "by": by}
    tmp = path.with_name(f".{ACTIVE_FILE}.{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    found = read(var_dir)
    assert found is not None
    return found


def _mtime(path: Path | None) -> float:
    try:
        return path.stat().st_mtime if path is not None else 0.0
    except OSError:
        return 0.0


def newest_model(var_dir: Path) -> Path | None:
    """The most recently trained model archive under var/models."""
    with contextlib.suppress(OSError):  # a file removed meanwhile (`make train` keeps three)
        models = sorted((var_dir / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        return models[-1] if models else None
    return None


def default_model(var_dir: Path, configured: Path | None) -> Path | None:
    """The model served when no admin chose one: HELPDESK_MODEL, else the newest trained."""
    return configured or newest_model(var_dir)


def startup_model(var_dir: Path, given: Path | None, default: Path | None) -> Path | None:
    """The model `helpdesk run` starts Rasa with (see the module's docstring)."""
    if given is not None:
        return given
    record = read(var_dir)
    if record is not None and record.model.exists() and (default is None or record.written >= _mtime(default)):
        return record.model
    return default


def refresh_rasa_argv(argv: list[str], var_dir: Path, since: float) -> None:
    """Before a Rasa child is restarted: serve the active record's model if it was written after `since`."""
    record = read(var_dir)
    if "-m" not in argv or record is None or record.written < since or not record.model.exists():
        return
    argv[len(argv) - argv[::-1].index("-m")] = str(record.model)  # the last -m: `rasa run ... -m <model>`


def known_models(var_dir: Path, configured: Path | None) -> list[Path]:
    """Every model archive the help desk may be serving: the active record's, the configured one, those under
    var/models and those of admins' builds (var/builds/<id>/)."""
    found: list[Path] = []
    record = read(var_dir)
    if record is not None:
        found += [record.model, *([record.previous] if record.previous else [])]
    if configured is not None:
        found.append(configured)
    with contextlib.suppress(OSError):
        found += sorted((var_dir / "models").glob("*.tar.gz"), key=_mtime, reverse=True)
        found += sorted((var_dir / BUILDS_DIR).glob("*/*.tar.gz"), key=_mtime, reverse=True)
    return list(dict.fromkeys(p for p in found if p.exists()))


def resolve(name: str, candidates: list[Path]) -> Path | None:
    """The archive Rasa reports as loaded (`model_file` of its /status is the file's name)."""
    return next((p for p in candidates if p.name == Path(name).name), None)

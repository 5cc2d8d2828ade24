"""The served model survives restarts: `helpdesk run` starts Rasa with the model an admin loaded (unless a
model was trained after it or one is named on the command line), and a Rasa restarted by the supervisor
keeps a model loaded since it started. Old builds' folders go, the served and the previous model's never."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from desk.lifecycle import active, builds
from desk.lifecycle.models import FAILED, READY
from desk.ops import supervisor
from desk.settings import Settings


def archive(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"model")
    os.utime(path, (mtime, mtime))
    return path


def test_the_admins_model_wins_over_an_older_default_and_loses_to_a_newer_one(tmp_path: Path) -> None:
    now = time.time()
    default = archive(tmp_path / "models" / "seed.tar.gz", now - 3600)
    chosen = archive(tmp_path / "builds" / "4" / "build-4.tar.gz", now - 60)
    assert active.startup_model(tmp_path, None, default) == default  # nobody chose: the default
    active.write(tmp_path, chosen, default, 4, "boss")
    assert active.startup_model(tmp_path, None, default) == chosen
    given = tmp_path / "given.tar.gz"
    assert active.startup_model(tmp_path, given, default) == given  # `helpdesk run --model` always wins
    retrained = archive(tmp_path / "models" / "new.tar.gz", now + 60)  # `make train` after the admin's choice
    assert active.startup_model(tmp_path, None, retrained) == retrained
    chosen.unlink()
    assert active.startup_model(tmp_path, None, default) == default  # a record of a vanished file is ignored


def test_the_record_is_read_back_and_models_are_found_by_name(tmp_path: Path) -> None:
    default = archive(tmp_path / "models" / "seed.tar.gz", time.time())
    chosen = archive(tmp_path / "builds" / "4" / "build-4.tar.gz", time.time())
    record = active.write(tmp_path, chosen, default, 4, "boss")
    assert (record.model, record.previous, record.build_id, record.by) == (chosen, default, 4, "boss")
    assert active.read(tmp_path) == record
    assert active.resolve("build-4.tar.gz", active.known_models(tmp_path, None)) == chosen
    assert active.resolve("seed.tar.gz", active.known_models(tmp_path, None)) == default
    assert active.resolve("other.tar.gz", active.known_models(tmp_path, None)) is None
    (tmp_path / active.ACTIVE_FILE).write_text("{not json", encoding="utf-8")
    assert active.read(tmp_path) is None


def test_a_restarted_rasa_serves_the_model_loaded_since_the_supervisor_started(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, rasa_token="t" * 32, secret_key="s" * 32,
                        supervisor_backoff_seconds=0.05, supervisor_backoff_max_seconds=0.1)  # fmt: skip
    old = archive(tmp_path / "models" / "old.tar.gz", time.time() - 60)
    new = archive(tmp_path / "builds" / "1" / "build-1.tar.gz", time.time())
    # like `rasa run ... -m <model>` under knowledge_base.redacted_run (whose own "-m" comes first): says its model
    code = "import sys; print('serving', sys.argv[-1], flush=True)"
    rasa = supervisor.Child("rasa", [sys.executable, "-c", code, "-m", str(old)], dict(os.environ),
                            tmp_path / "rasa.log")  # fmt: skip
    desk = supervisor.Child("desk", [sys.executable, "-m", "this"], dict(os.environ), tmp_path / "desk.log")
    sup = supervisor.Supervisor([rasa, desk], settings)
    sup.start_all()
    try:
        assert rasa.proc is not None and rasa.proc.wait(timeout=30) == 0
        time.sleep(0.05)
        active.write(tmp_path, new, old, 1, "boss")  # an admin's model is loaded into the running Rasa
        deadline = time.monotonic() + 30
        while rasa.log.read_text().count("serving") < 2 and time.monotonic() < deadline:
            sup.check()
            time.sleep(0.05)
    finally:
        sup.stop(timeout=5)
    assert rasa.log.read_text().splitlines()[:2] == [f"serving {old}", f"serving {new}"]
    assert desk.argv == [sys.executable, "-m", "this"]  # only Rasa's model is changed


def test_old_builds_are_cleaned_but_never_the_served_or_previous_model(tmp_path: Path, sessions: sessionmaker) -> None:
    folders = {}
    with sessions() as session, session.begin():
        for n in range(6):
            build = builds.start(session, "boss", None, "f" * 16, {})
            builds.finish(session, build, READY if n != 2 else FAILED)
            folders[build.id] = archive(tmp_path / str(build.id) / f"build-{build.id}.tar.gz", time.time())
        ids = sorted(folders)
        serving, previous = folders[ids[0]], folders[ids[1]]
        cleaned = builds.prune(session, tmp_path, {serving, previous}, keep=3)
    assert cleaned == [ids[2]]  # the three newest are kept, and the served and the previous one
    assert [i for i in ids if (tmp_path / str(i)).exists()] == [ids[0], ids[1], ids[3], ids[4], ids[5]]

"""`python -m desk.lifecycle.runner <build id>`: one model build, in its own process (started by the desk in
its own session, so it outlives a restart of the desk), reporting into its `model_builds` row.

1. A staging folder var/builds/<id>/ gets copies of config.yml, domain.yml and bot/, with the jieba dictionary
   and bot/data/nlu/catalog.yml generated from the database (the checkout's bot/ is never written).
2. `rasa data validate --fail-on-warnings` (as `make validate`): an admin's alias that breaks the training
   data stops the build here, before a minute of training.
3. `rasa train --out var/builds/<id>/models`, its output read into a percentage (progress.py).
4. `rasa test core` on the new model with the story tests (tests/stories, as `make test-stories`).
5. Loaded into every running Rasa server (serving.put_into_service); the model served so far is the previous
   model, which 恢复上一版 brings back. Old builds' folders are removed (builds.prune).
Any failure ends the build as `failed` with the reason and nothing is loaded; a model that passed its checks
but could not be loaded (Rasa down) stays `ready`, for 启用 later. The full output is var/builds/<id>/build.log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy.orm import sessionmaker

from desk.lifecycle import active, builds
from desk.lifecycle.loading import LoadError
from desk.lifecycle.models import ACTIVE, FAILED, LOADING, QUEUED, READY, TESTING, TRAINING, VALIDATING
from desk.lifecycle.progress import TrainProgress, expected_components
from desk.lifecycle.serving import put_into_service
from desk.settings import get_settings
from knowledge_base import catalog_terms, nlu_assets
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.db import make_engine, make_session_factory
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)
RASA = PROJECT_ROOT / ".venv" / "rasa" / "bin" / "rasa"
STORIES = PROJECT_ROOT / "tests" / "stories"
HEARTBEAT_SECONDS = 5.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\(.")
NOISE = ("is not used in any story or rule", "DeprecationWarning", "declare_namespace", "pkg_resources")
TRAIN_SHARE = (10, 85)  # the share of the whole build that training takes, in percent


class StageFailed(Exception):
    """A stage failed; the message (Chinese) is shown on the model page."""


def reason(lines: list[str], default: str) -> str:
    """The most telling line of a failed command's output: its last error or warning, else `default`."""
    for line in reversed(lines):
        if any(n in line for n in NOISE):
            continue
        if re.search(r"Error|error|Exception|UserWarning|WARNING|failed", line):
            return line.strip()[:400]
    return default


class Runner:
    """Runs the stages of one build and reports them."""

    def __init__(self, settings: Settings, sessions: sessionmaker, build_id: int) -> None:
        self.settings, self.sessions, self.build_id = settings, sessions, build_id
        self.folder = settings.var_dir / active.BUILDS_DIR / str(build_id)
        self.tail: deque[str] = deque(maxlen=builds.LOG_TAIL_LINES)

    def report(self, **fields: object) -> None:
        with self.sessions() as session, session.begin():
            builds.report(session, self.build_id, log_tail="\n".join(self.tail), **fields)

    def prepare(self) -> str:
        """The staging folder with the database's terms; returns their fingerprint."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in ("config.yml", "domain.yml"):
            shutil.copy2(PROJECT_ROOT / name, self.folder / name)
        shutil.rmtree(self.folder / "bot", ignore_errors=True)
        shutil.copytree(PROJECT_ROOT / "bot", self.folder / "bot", ignore=shutil.ignore_patterns("__pycache__"))
        with self.sessions() as session:
            kb = catalog_terms.kb_from_db(session)
        nlu_assets.write_assets(kb, self.folder / "bot")
        return catalog_terms.terms_of(kb).fingerprint()

    def command(self, argv: list[str], on_line: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
        """Run a Rasa command in the staging folder, its output into build.log and the row's log tail."""
        env = dict(os.environ, PYTHONPATH=f"{self.folder}{os.pathsep}{PROJECT_ROOT}", TF_CPP_MIN_LOG_LEVEL="2",
                   SQLALCHEMY_SILENCE_UBER_WARNING="1", RASA_TELEMETRY_ENABLED="false",
                   RASA_CACHE_DIRECTORY=str(self.folder.parent / ".cache"), RASA_MAX_CACHE_SIZE="300")  # fmt: skip
        lines: list[str] = []
        with open(self.folder / "build.log", "a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            proc = subprocess.Popen(argv, cwd=self.folder, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
            out: queue.Queue[str | None] = queue.Queue()

            def pump() -> None:
                assert proc.stdout is not None
                for raw in iter(proc.stdout.readline, b""):
                    out.put(raw.decode("utf-8", "replace"))
                out.put(None)

            threading.Thread(target=pump, daemon=True).start()
            beat = time.monotonic()
            while True:
                try:
                    line = out.get(timeout=HEARTBEAT_SECONDS)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line:
                    log.write(line)
                    clean = ANSI.sub("", line).rstrip("\n")
                    visible = clean.split("\r")[-1].strip()  # a progress bar's latest state
                    if visible and not any(n in visible for n in NOISE):
                        self.tail.append(visible[:300])
                        lines.append(visible)
                    if on_line is not None:
                        on_line(clean)
                if time.monotonic() - beat >= HEARTBEAT_SECONDS / 2 or not line:
                    self.report()
                    beat = time.monotonic()
            return proc.wait(), lines

    def train(self, name: str) -> tuple[Path, int]:
        """Train into models/<name>.tar.gz with progress; returns the archive and the components trained."""
        with self.sessions() as session:
            expected = builds.last_train_steps(session) or expected_components(self.folder / "config.yml")
        progress = TrainProgress(expected)
        low, high = TRAIN_SHARE

        def on_line(line: str) -> None:
            if progress.feed(line):
                self.report(progress=low + (high - low) * progress.percent // 100, stage=progress.text)

        self.report(status=TRAINING, progress=low, stage="开始训练（rasa train）")
        argv = [str(RASA), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "bot/data",
                "--out", "models", "--fixed-model-name", name]  # fmt: skip
        code, lines = self.command(argv, on_line)
        model = self.folder / "models" / f"{name}.tar.gz"
        if code != 0 or not model.exists():
            raise StageFailed("训练失败（rasa train）：" + reason(lines, f"退出码 {code}"))
        return model, progress.finished

    def run(self) -> None:
        with self.sessions() as session:
            build = builds.get(session, self.build_id)
            if build.status != QUEUED:
                return
            started_by, started_by_id = build.started_by, build.started_by_id
        self.report(pid=os.getpid(), status=VALIDATING, progress=1, stage="准备训练目录")
        if not RASA.exists():
            raise StageFailed(f"找不到 Rasa 环境（{RASA}），无法训练")
        fingerprint = self.prepare()
        self.report(terms_fingerprint=fingerprint, progress=2, stage="检查训练数据（rasa data validate）")
        code, lines = self.command([str(RASA), "data", "validate", "--config", "config.yml", "--domain",
                                    "domain.yml", "--data", "bot/data", "--fail-on-warnings"])  # fmt: skip
        if code != 0:
            raise StageFailed("训练数据检查未通过（rasa data validate）：" + reason(lines, f"退出码 {code}"))
        model, steps = self.train(f"build-{self.build_id}-{fingerprint[:8]}")
        self.report(model_path=str(model), train_steps=steps, status=TESTING, progress=TRAIN_SHARE[1] + 1,
                    stage="故事测试（rasa test core）")  # fmt: skip
        if STORIES.is_dir():
            code, lines = self.command([str(RASA), "test", "core", "--model", str(model), "--stories", str(STORIES),
                                        "--out", "results", "--fail-on-prediction-errors", "--no-plot"])  # fmt: skip
            if code != 0:
                raise StageFailed("故事测试未通过（rasa test core）：" + reason(lines, f"退出码 {code}"))
        self.report(status=LOADING, progress=97, stage="加载到正在运行的 Rasa")
        try:
            record = asyncio.run(self.load(model, started_by, started_by_id))
        except (LoadError, builds.NotUsable) as exc:
            self.end(READY, f"模型已训练并通过检查，但没有加载：{exc}。Rasa 恢复后可点击“启用”。", "已就绪（未加载）")
            return
        self.end(ACTIVE, None, "已启用")
        with self.sessions() as session, session.begin():
            protect = {record.model, *([record.previous] if record.previous else [])}
            builds.prune(session, self.folder.parent, protect)

    async def load(self, model: Path, by: str, by_id: int | None) -> active.ActiveModel:
        """Put the model into service, still reporting: loading may take longer than builds.STALE_SECONDS
        (up to loading.LOAD_SECONDS per Rasa server), and a silent build would be failed meanwhile."""

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_SECONDS)
                await asyncio.to_thread(self.report)

        beating = asyncio.create_task(heartbeat())
        try:
            async with httpx.AsyncClient() as http:
                return await put_into_service(self.sessions, self.settings, http, model, by=by, by_id=by_id,
                                              action="model.activate")  # fmt: skip
        finally:
            beating.cancel()

    def end(self, status: str, error: str | None, stage: str) -> None:
        with self.sessions() as session, session.begin():
            build = builds.get(session, self.build_id)
            builds.finish(session, build, status, error)
            build.stage, build.log_tail = stage, "\n".join(self.tail)
            if status != FAILED:
                build.progress = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_id", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry Rasa's token (?token=)
    settings = get_settings()
    engine = make_engine(settings.database_url)
    runner = Runner(settings, make_session_factory(engine), args.build_id)

    def stopped(signum: int, _frame: object) -> None:  # SIGTERM to the group: Rasa stops too, the row says so
        raise StageFailed(f"训练进程被终止（信号 {signum}）")

    signal.signal(signal.SIGTERM, stopped)
    try:
        runner.run()
    except StageFailed as exc:
        logger.warning("model build %d failed: %s", args.build_id, exc)
        runner.end(FAILED, str(exc), "失败")
    except Exception as exc:  # the row must not stay "running": say what happened, keep the traceback in the log
        logger.exception("model build %d crashed", args.build_id)
        runner.end(FAILED, f"内部错误：{type(exc).__name__}（详见 {runner.folder / 'runner.log'}）", "失败")
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The model page's service: the overview (served model, terms to retrain, builds), starting a build in its
own process, putting a checked build into service and restoring the previous model. Every change is in the
audit log (model.build.start, model.activate, model.restore)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from desk.admin import audit
from desk.lifecycle import active, builds
from desk.lifecycle.models import ACTIVE, FAILED, READY
from desk.lifecycle.schemas import BuildOut, ModelOverview, ReplicaOut, TermsChanges
from desk.lifecycle.serving import Serving, current, put_into_service
from desk.staff.accounts import CurrentUser
from knowledge_base import catalog_terms
from knowledge_base.config import PROJECT_ROOT
from knowledge_base.settings import Settings

logger = logging.getLogger(__name__)


def _changes(diff: catalog_terms.TermsDiff) -> TermsChanges:
    return TermsChanges.model_validate(diff.as_dict())


class ModelLifecycle:
    """One per desk (built in the lifespan)."""

    def __init__(self, sessions: sessionmaker, settings: Settings, http: httpx.AsyncClient) -> None:
        self.sessions, self.settings, self.http = sessions, settings, http
        self._changing = asyncio.Lock()  # 启用 / 恢复上一版 of this desk, one at a time
        self.processes: dict[int, subprocess.Popen[bytes]] = {}  # the build runners this desk started

    async def _terms(self, serving: Serving) -> tuple[catalog_terms.CatalogTerms, catalog_terms.CatalogTerms | None]:
        def read() -> tuple[catalog_terms.CatalogTerms, catalog_terms.CatalogTerms | None]:
            with self.sessions() as session:
                database = catalog_terms.database_terms(session)
            return database, catalog_terms.model_terms(serving.model) if serving.model else None

        return await to_thread.run_sync(read)

    async def overview(self) -> ModelOverview:
        """What the model page shows."""
        serving = await current(self.settings, self.http)
        database, model = await self._terms(serving)
        diff = catalog_terms.diff(model, database) if model is not None else None
        record = active.read(self.settings.var_dir)
        previous = record.previous if record is not None and record.model == serving.model else None

        def rows() -> tuple[BuildOut | None, list[BuildOut], int | None]:
            with self.sessions() as session, session.begin():
                recent = builds.recent(session)  # the running build, if any, is the newest (one at a time)
                running = next((b for b in recent if b.running is not None), None)
                made = builds.by_model(session, serving.model) if serving.model else None
                return (BuildOut.of(running) if running else None, [BuildOut.of(b) for b in recent],
                        made.id if made else None)  # fmt: skip

        running, recent, build_id = await to_thread.run_sync(rows)
        return ModelOverview(
            serving=serving.name, serving_source=serving.source, serving_build_id=build_id,  # type: ignore[arg-type]
            replicas=[ReplicaOut(**r) for r in serving.replicas], terms_fingerprint=database.fingerprint(),
            model_terms_fingerprint=model.fingerprint() if model else None,
            retrain_due=diff is None or not diff.empty, changes=_changes(diff) if diff else TermsChanges(),
            previous=previous.name if previous and previous.exists() else None, running=running, builds=recent,
        )  # fmt: skip

    async def start(self, user: CurrentUser) -> BuildOut:
        """Queue a build of the database's terms and start its process; Busy (409) when one is under way."""
        serving = await current(self.settings, self.http)
        database, model = await self._terms(serving)
        changes = catalog_terms.diff(model, database).as_dict() if model else {}

        def create() -> BuildOut:
            with self.sessions() as session, session.begin():
                build = builds.start(session, user.username, user.id, database.fingerprint(), changes)
                counts = {k: len(v) for k, v in changes.items()}
                audit.record(session, user.username, user.id, "model.build.start", "model_build", str(build.id),
                             None, {"terms_fingerprint": database.fingerprint(), "changes": counts})  # fmt: skip
                return BuildOut.of(build)

        build = await to_thread.run_sync(create)
        try:
            self._spawn(build.id)
        except OSError as exc:
            logger.error("could not start the model build process: %s", exc)
            why = f"无法启动训练进程：{exc}"

            def fail() -> None:
                with self.sessions() as session, session.begin():
                    builds.finish(session, builds.get(session, build.id), FAILED, why)

            await to_thread.run_sync(fail)
        return await self.build(build.id)

    def _spawn(self, build_id: int) -> None:
        """The runner in its own session (a restart of the desk does not stop it), with the desk's settings."""
        folder = self.settings.var_dir / active.BUILDS_DIR / str(build_id)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.environ()}
        with open(folder / "runner.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "desk.lifecycle.runner", str(build_id)], cwd=PROJECT_ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.processes[build_id] = proc
        threading.Thread(target=proc.wait, daemon=True, name=f"model-build-{build_id}").start()  # no zombie

    async def build(self, build_id: int) -> BuildOut:
        def read() -> BuildOut:
            with self.sessions() as session, session.begin():
                builds.expire_stale(session)
                return BuildOut.of(builds.get(session, build_id))

        return await to_thread.run_sync(read)

    def _idle(self, session: Session) -> None:
        if builds.running_build(session) is not None:
            raise builds.Busy("正在训练或加载新模型，请等它完成后再切换")

    async def activate(self, user: CurrentUser, build_id: int) -> ModelOverview:
        """Put a checked build's model into service (the served one becomes the previous model)."""

        def find() -> Path:
            with self.sessions() as session, session.begin():
                self._idle(session)
                build = builds.get(session, build_id)
                if build.status not in (READY, ACTIVE) or not build.model_path:
                    raise builds.NotUsable("只有训练完成并通过检查的模型才能启用")
                return Path(build.model_path)

        return await self._put(find, user, "model.activate")

    async def restore(self, user: CurrentUser) -> ModelOverview:
        """Serve the previous model again (the current one becomes the previous: restoring twice goes back)."""
        serving = await current(self.settings, self.http)

        def find() -> Path:
            with self.sessions() as session, session.begin():
                self._idle(session)
            record = active.read(self.settings.var_dir)
            if record is None or record.previous is None or record.model != serving.model:
                raise builds.NotUsable("没有可以恢复的上一版模型")
            return record.previous

        return await self._put(find, user, "model.restore")

    async def _put(self, find: Callable[[], Path], user: CurrentUser, action: str) -> ModelOverview:
        async with self._changing:
            model = await to_thread.run_sync(find)
            await put_into_service(self.sessions, self.settings, self.http, model, by=user.username, by_id=user.id,
                                   action=action)  # fmt: skip
        return await self.overview()

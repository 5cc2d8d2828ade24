"""The rows of `model_builds`: start one (one at a time), report progress with a heartbeat, finish, list, and
clean up old builds' folders.

A build runs in a separate process (runner.py) that writes its row every few seconds (`updated_at` is the
heartbeat). A build whose heartbeat stopped for `STALE_SECONDS` (the process was killed, the machine
rebooted) is marked failed when anyone looks, so it never blocks the next one forever.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desk.admin.errors import AdminError, NotFoundError
from desk.lifecycle.models import ACTIVE, FAILED, QUEUED, READY, RUNNING_SLOT, ModelBuild
from knowledge_base.models import utcnow

logger = logging.getLogger(__name__)
STALE_SECONDS = 120
KEEP_BUILDS = 3  # finished builds whose folder is kept (besides the served and the previous model's)
LOG_TAIL_LINES = 40


class Busy(AdminError):
    """A build is already under way (or a model is being loaded)."""

    status = 409


class NotUsable(AdminError):
    """The model cannot be put into service (not checked, file gone, nothing to restore)."""

    status = 409


def expire_stale(session: Session) -> None:
    """Fail the running build whose process stopped reporting."""
    cutoff = utcnow() - timedelta(seconds=STALE_SECONDS)
    for build in session.scalars(select(ModelBuild).where(ModelBuild.running.is_not(None))):
        if _aware(build.updated_at) < cutoff:
            logger.warning("model build %d stopped reporting since %s: marked failed", build.id, build.updated_at)
            finish(session, build, FAILED, "构建进程没有响应（可能已退出或机器重启），请重新开始训练")


def _aware(value: Any) -> Any:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def running_build(session: Session) -> ModelBuild | None:
    """The build under way, if any (after failing a stale one)."""
    expire_stale(session)
    return session.scalars(select(ModelBuild).where(ModelBuild.running.is_not(None))).first()


def start(
    session: Session, started_by: str, started_by_id: int | None, fingerprint: str, changes: dict[str, Any]
) -> ModelBuild:
    """A new queued build; Busy when one is under way (the unique `running` column decides a race)."""
    if running_build(session) is not None:
        raise Busy("已有一个模型正在训练，请等它完成")
    build = ModelBuild(
        started_by=started_by, started_by_id=started_by_id, status=QUEUED, running=RUNNING_SLOT, progress=0,
        stage="排队中", terms_fingerprint=fingerprint, changes=changes, started_at=utcnow(), updated_at=utcnow(),
    )  # fmt: skip
    session.add(build)
    try:
        session.flush()
    except IntegrityError as exc:  # another desk started one meanwhile; the caller's transaction rolls back
        raise Busy("已有一个模型正在训练，请等它完成") from exc
    return build


def get(session: Session, build_id: int) -> ModelBuild:
    build = session.get(ModelBuild, build_id)
    if build is None:
        raise NotFoundError("没有这次训练")
    return build


def report(session: Session, build_id: int, **fields: Any) -> None:
    """Write progress fields and the heartbeat."""
    session.execute(update(ModelBuild).where(ModelBuild.id == build_id).values(updated_at=utcnow(), **fields))


def finish(session: Session, build: ModelBuild, status: str, error: str | None = None) -> None:
    """The build is over: its status, the reason of a failure; the slot is free for the next one."""
    build.status, build.error, build.running = status, error, None
    build.finished_at = build.updated_at = utcnow()
    if status == FAILED:
        build.stage = "失败"
    session.flush()


def recent(session: Session, limit: int = 20) -> list[ModelBuild]:
    """The latest builds, newest first."""
    expire_stale(session)
    return list(session.scalars(select(ModelBuild).order_by(ModelBuild.id.desc()).limit(limit)))


def last_train_steps(session: Session) -> int | None:
    """How many components the latest successful build trained (for the next one's progress)."""
    return session.scalars(
        select(ModelBuild.train_steps)
        .where(ModelBuild.train_steps.is_not(None), ModelBuild.status.in_((ACTIVE, READY)))
        .order_by(ModelBuild.id.desc())
    ).first()


def by_model(session: Session, model: Path) -> ModelBuild | None:
    """The build that made this archive, if an admin's build did."""
    return session.scalars(select(ModelBuild).where(ModelBuild.model_path == str(model))).first()


def mark_serving(session: Session, model: Path) -> ModelBuild | None:
    """The build of `model` (if any) becomes the active one; the previously active build is ready again."""
    serving = by_model(session, model)
    for build in session.scalars(select(ModelBuild).where(ModelBuild.status == ACTIVE)):
        if serving is None or build.id != serving.id:
            build.status = READY
    if serving is not None:
        serving.status, serving.activated_at = ACTIVE, utcnow()
    session.flush()
    return serving


def prune(session: Session, builds_dir: Path, protect: set[Path], keep: int = KEEP_BUILDS) -> list[int]:
    """Delete the folders of older finished builds; never a running build's, the served or the previous model's
    (`protect`), nor the newest `keep` finished ones. Returns the ids cleaned."""
    protected_dirs = {p.parent.resolve() for p in protect}
    finished = session.scalars(
        select(ModelBuild).where(ModelBuild.running.is_(None)).order_by(ModelBuild.id.desc())
    ).all()
    cleaned = []
    for build in finished[keep:]:
        folder = builds_dir / str(build.id)
        if not folder.is_dir() or folder.resolve() in protected_dirs:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        cleaned.append(build.id)
    return cleaned

"""The `model_builds` table: one row per retrain an admin started, with its progress and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.db import Base
from knowledge_base.models import utcnow

QUEUED, VALIDATING, TRAINING, TESTING, LOADING = "queued", "validating", "training", "testing", "loading"
ACTIVE, READY, FAILED = "active", "ready", "failed"
RUNNING = (QUEUED, VALIDATING, TRAINING, TESTING, LOADING)
RUNNING_SLOT = 1  # the value of `running` while a build is under way: unique, so only one at a time


class ModelBuild(Base):
    """A model trained from the database's catalog terms: queued → validating → training → testing →
    loading → active (serving), or failed; `ready` is a checked model that is not (or no longer) served."""

    __tablename__ = "model_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_by: Mapped[str] = mapped_column(String(64))
    started_by_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    # RUNNING_SLOT while under way, NULL afterwards: a unique column lets one build run at a time across desks
    running: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    stage: Mapped[str] = mapped_column(String(200), default="")  # what it is doing, for the page
    log_tail: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    terms_fingerprint: Mapped[str] = mapped_column(String(32), default="")
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the terms diff at the start
    train_steps: Mapped[int | None] = mapped_column(Integer, nullable=True)  # components trained (for progress)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # the heartbeat
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

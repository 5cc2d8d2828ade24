"""What the model page's JSON API answers (OpenAPI at /docs, tag "admin: model")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from desk.lifecycle.models import ModelBuild

STATUS_TEXT = {
    "queued": "排队中",
    "validating": "检查训练数据",
    "training": "训练中",
    "testing": "故事测试",
    "loading": "加载中",
    "active": "使用中",
    "ready": "已就绪（未使用）",
    "failed": "失败",
}


class BuildOut(BaseModel):
    """One retrain: who started it, how far it is, and how it ended."""

    id: int
    started_by: str
    status: Literal["queued", "validating", "training", "testing", "loading", "active", "ready", "failed"]
    status_text: str
    progress: int = Field(description="0-100")
    stage: str = Field(description="what it is doing now")
    log_tail: str = Field(description="the last lines of its output")
    error: str | None = Field(description="why it failed (or why a checked model was not loaded)")
    model: str | None = Field(description="the model archive's file name once trained")
    terms_fingerprint: str
    changes: dict[str, Any] | None = Field(description="the catalog terms it brings in, as at its start")
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    activated_at: datetime | None

    @classmethod
    def of(cls, build: ModelBuild) -> BuildOut:
        return cls(
            id=build.id, started_by=build.started_by, status=build.status,  # type: ignore[arg-type]
            status_text=STATUS_TEXT.get(build.status, build.status), progress=build.progress, stage=build.stage,
            log_tail=build.log_tail, error=build.error,
            model=build.model_path.rsplit("/", 1)[-1] if build.model_path else None,
            terms_fingerprint=build.terms_fingerprint, changes=build.changes, started_at=build.started_at,
            updated_at=build.updated_at, finished_at=build.finished_at, activated_at=build.activated_at,
        )  # fmt: skip


class ServiceName(BaseModel):
    name: str
    service: str


class TermsChanges(BaseModel):
    """Catalog terms in the database but not in the served model (added), and the reverse (removed)."""

    added_words: list[str] = []
    removed_words: list[str] = []
    added_names: list[ServiceName] = []
    removed_names: list[ServiceName] = []


class ReplicaOut(BaseModel):
    url: str
    model: str
    error: str


class ModelOverview(BaseModel):
    """The served model, whether the catalog terms changed since it was trained, and the builds."""

    serving: str = Field(description="the served model's file name ('' unknown)")
    serving_source: Literal["rasa", "config"] = Field(
        description="rasa: reported by the running Rasa; config: Rasa is down, the model it would start with"
    )
    serving_build_id: int | None
    replicas: list[ReplicaOut]
    terms_fingerprint: str = Field(description="the catalog terms in the database")
    model_terms_fingerprint: str | None = Field(description="those inside the served model (None: unreadable)")
    retrain_due: bool = Field(description="the database's terms differ from the served model's (需要重新训练)")
    changes: TermsChanges
    previous: str | None = Field(description="the model 恢复上一版 brings back")
    running: BuildOut | None
    builds: list[BuildOut]

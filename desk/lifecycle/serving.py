"""What Rasa serves now, and putting another model into service: loaded into every Rasa server (loading.py),
recorded in <var>/active_model.json (active.py), the builds' rows updated and the change audited. Used by
the model page (启用, 恢复上一版) and by the build runner once a new model passed its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from desk.admin import audit
from desk.lifecycle import active, builds
from desk.lifecycle.loading import LoadError, load_everywhere, loaded_model
from knowledge_base.settings import Settings

RASA = "rasa"  # the model was reported by a running Rasa server
CONFIGURED = "config"  # Rasa is down: the model `helpdesk run` would start it with


@dataclass
class Serving:
    """The model archive served (None when unknown), its file name and where that is known from."""

    model: Path | None
    name: str
    source: str
    replicas: list[dict[str, str]] = field(default_factory=list)  # per Rasa server: url, model or error


async def current(settings: Settings, http: httpx.AsyncClient) -> Serving:
    """The model the Rasa servers report (the first one that answers), else the one they would start with."""
    replicas: list[dict[str, str]] = []
    name = ""
    for url in settings.rasa.replica_urls:
        try:
            served = await loaded_model(http, url, settings.rasa.token)
        except LoadError as exc:
            replicas.append({"url": url, "model": "", "error": str(exc)})
            continue
        replicas.append({"url": url, "model": served, "error": ""})
        name = name or served
    if name:
        return Serving(
            active.resolve(name, active.known_models(settings.var_dir, settings.model)), name, RASA, replicas
        )
    model = active.startup_model(settings.var_dir, None, active.default_model(settings.var_dir, settings.model))
    return Serving(model, model.name if model else "", CONFIGURED, replicas)


def _record(session: Session, model: Path, previous: Path | None, by: str, by_id: int | None, action: str) -> None:
    build = builds.mark_serving(session, model)
    after = {"model": model.name, "path": str(model), "build_id": build.id if build else None}
    if build is not None:
        after["terms_fingerprint"] = build.terms_fingerprint
    before = {"model": previous.name, "path": str(previous)} if previous else None
    audit.record(session, by, by_id, action, "model", model.name, before, after)


async def put_into_service(
    sessions: sessionmaker,
    settings: Settings,
    http: httpx.AsyncClient,
    model: Path,
    *,
    by: str,
    by_id: int | None,
    action: str,
) -> active.ActiveModel:
    """Load `model` into every Rasa server (the one served so far becomes the previous model), then record
    it, mark its build active and append `action` (model.activate, model.restore) to the audit log.
    LoadError (nothing changed: servers already loaded got the previous model back) when a server fails."""
    if not model.exists():
        raise builds.NotUsable(f"模型文件已不存在：{model.name}")
    now = await current(settings, http)
    previous = now.model if now.model != model else None
    if previous is None:
        record = active.read(settings.var_dir)
        previous = record.previous if record is not None and record.model == model else None
    await load_everywhere(http, settings.rasa.replica_urls, settings.rasa.token, model, previous)

    def build_of() -> int | None:
        with sessions() as session:
            build = builds.by_model(session, model)
            return build.id if build else None

    def save() -> None:
        with sessions() as session, session.begin():
            _record(session, model, previous, by, by_id, action)

    # the file first: Rasa serves the model now, and a restarted Rasa must keep it
    record = active.write(settings.var_dir, model, previous, await to_thread.run_sync(build_of), by)
    await to_thread.run_sync(save)
    return record

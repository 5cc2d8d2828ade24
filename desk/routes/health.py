"""`/healthz`: Rasa, the action server and the database, each reported on its own, and the supervisor's
verdict: a child it gave up on after a crash loop (var/supervisor.json, desk/ops/restarts.py) is named
under `supervisor` and makes the answer 503 until the help desk is restarted. With HELPDESK_REDIS_URL, Redis
(the replicas' fan-out) is checked too.

`/healthz` is the readiness check of a deployment (docs/deployment.md): a desk whose Rasa replicas are all
down answers 503 and gets no new traffic. `/livez` is the liveness check: 200 while the process serves
requests at all, so a container is not restarted for what another component does."""

from __future__ import annotations

from typing import Any

import httpx
from anyio import to_thread
from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from desk.chat.rasa_client import RasaUnavailable
from desk.ops.restarts import given_up

router = APIRouter()


def _check_database(sessions: Any) -> dict[str, Any]:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:  # any driver error means "down"
        return {"ok": False, "error": type(exc).__name__}


@router.get("/healthz")
async def healthz(request: Request, response: Response) -> dict[str, Any]:
    """Each dependency's state; HTTP 503 when any of them is down."""
    state = request.app.state
    checks: dict[str, Any] = {"database": await to_thread.run_sync(_check_database, state.sessions)}
    try:
        status = await state.rasa.status()
        checks["rasa"] = {"ok": True, "model": str(status.get("model_file", "")).rsplit("/", 1)[-1]}
        if "replicas" in status:  # several Rasa replicas: ok while one is up, and how many are
            checks["rasa"]["replicas_up"] = f"{status['replicas_up']}/{status['replicas']}"
    except RasaUnavailable as exc:
        checks["rasa"] = {"ok": False, "error": str(exc)}
    try:
        resp = await state.http.get(f"{state.settings.action_server.url.rstrip('/')}/health", timeout=3.0)
        checks["action_server"] = {"ok": resp.status_code == 200}
        if resp.status_code != 200:
            checks["action_server"]["error"] = f"HTTP {resp.status_code}"
    except httpx.HTTPError as exc:
        checks["action_server"] = {"ok": False, "error": type(exc).__name__}
    ping = getattr(state.bus, "ping", None)  # a RedisBus; the in-process bus has nothing to check
    if ping is not None:
        checks["redis"] = {"ok": await ping()}
    abandoned = await to_thread.run_sync(given_up, state.settings.var_dir)
    if abandoned:
        checks["supervisor"] = {"ok": False, "given_up": abandoned,
                                "error": "gave up restarting " + ", ".join(abandoned) + " (crash loop)"}  # fmt: skip
    ok = all(c["ok"] for c in checks.values())
    if not ok:
        response.status_code = 503
    return {"status": "ok" if ok else "degraded", "checks": checks}


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process answers requests (a liveness probe: no dependency is checked)."""
    return {"status": "ok"}

"""/healthz reports each dependency separately."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_reports_each_dependency(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["rasa"]["ok"] is False
    assert body["checks"]["action_server"] == {"ok": False, "error": "ConnectError"}
    assert "redis" not in body["checks"]  # the embedded default has no Redis to check


def test_a_desk_with_its_rasa_down_is_not_ready_but_alive(client: TestClient) -> None:
    """Readiness (/healthz) takes the desk out of the load balancer; liveness (/livez) does not restart it."""
    assert client.get("/healthz").status_code == 503
    live = client.get("/livez")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})

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

"""The dashboard over HTTP: admins see all, staff only their departments (403 for another), CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from desk.main import create_app
from desk.settings import Settings
from tests.desk.insight.seed import seed

RANGE = {"from": "2026-11-30", "to": "2026-12-01"}


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return seed(sessions)


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def log_in(client: TestClient, username: str, password: str) -> None:
    form = client.get("/staff/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    client.post("/staff/login", data={"username": username, "password": password, "csrf_token": token})


def charts(client: TestClient, **params: str) -> dict[str, dict]:  # type: ignore[type-arg]
    resp = client.get("/api/insight/dashboard", params={**RANGE, **params})
    assert resp.status_code == 200, resp.text
    return {c["name"]: c for c in resp.json()["charts"]}


def test_the_page_needs_a_login(app_client: TestClient) -> None:
    resp = app_client.get("/staff/insight", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/staff/login"
    assert app_client.get("/api/insight/dashboard").status_code == 401


def test_admin_sees_every_department(app_client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(app_client, "admin", people["admin"])
    page = app_client.get("/staff/insight")
    assert page.status_code == 200 and "/static/vendor/echarts/echarts.min.js" in page.text
    data = charts(app_client)
    assert {r[0] for r in data["handoff_times"]["rows"]} == {"campus_card", "mental_health"}
    assert sum(r[2] for r in data["messages_per_day"]["rows"]) == 5


def test_staff_see_only_their_department_and_are_refused_another(app_client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(app_client, "wang", people["wang"])
    data = charts(app_client)
    assert [r[0] for r in data["handoff_times"]["rows"]] == ["mental_health"]
    assert [r[:2] for r in data["satisfaction"]["rows"]] == [["mental_health", "王老师"]]
    assert sum(r[2] for r in data["messages_per_day"]["rows"]) == 1
    refused = app_client.get("/api/insight/dashboard", params={**RANGE, "department": "campus_card"})
    assert refused.status_code == 403 and "其他部门" in refused.json()["detail"]
    csv_refused = app_client.get("/api/insight/charts/satisfaction.csv", params={"department": "campus_card"})
    assert csv_refused.status_code == 403


def test_bad_filters_get_a_clear_400(app_client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(app_client, "admin", people["admin"])
    assert "YYYY-MM-DD" in app_client.get("/api/insight/dashboard", params={"from": "yesterday"}).json()["detail"]
    assert app_client.get("/api/insight/dashboard", params={"channel": "sms"}).status_code == 400
    assert app_client.get("/api/insight/charts/nope.csv").status_code == 404


def test_each_chart_exports_its_rows_as_csv(app_client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    log_in(app_client, "admin", people["admin"])
    resp = app_client.get("/api/insight/charts/bookings.csv", params=RANGE)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0] == ["service", "name", "booked", "attended", "no_show", "cancelled"]
    assert [r[0] for r in rows[1:]] == ["certificate_issuing", "counseling"] and rows[2][2:] == ["1", "1", "1", "1"]
    text = app_client.get("/api/insight/charts/satisfaction.csv", params=RANGE).content.decode("utf-8-sig")
    assert "很耐心" in text and "李老师" in text

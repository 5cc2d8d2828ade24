"""Property-based run over the OpenAPI schema of the admin API (schemathesis): whatever a logged-in
admin sends, generated from the documented schemas, no endpoint answers with a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import sessionmaker

from desk.main import create_app
from desk.settings import Settings
from tests.desk.admin_helpers import Browser, make_people

EXAMPLES = 25


@pytest.fixture
def admin_app(settings: Settings, sessions: sessionmaker) -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    people = make_people(sessions)
    app = create_app(settings)
    with TestClient(app) as client:
        boss = Browser(client, people["boss"])
        yield app, boss.cookies, {"X-CSRF-Token": boss.csrf}


def test_no_admin_endpoint_answers_5xx_to_schema_generated_requests(admin_app) -> None:  # type: ignore[no-untyped-def]
    app, cookies, headers = admin_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/admin")
    # starting a build trains a real model in a process of its own: tests/desk/test_model_lifecycle.py
    schema = schema.exclude(method="POST", path="/api/admin/model/builds")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    statuses: set[int] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            response = case.call(headers=headers, cookies=cookies)
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r}: {response.status_code}")
            assert response.status_code < 500

        check()
    assert failures == []
    assert {200, 201} <= statuses and 401 not in statuses  # the admin's requests got through, too

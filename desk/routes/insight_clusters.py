"""Unanswered-question clusters for admins: `GET /api/insight/clusters` (desk/insight/mining.py).

Each cluster comes with the draft the page sends to the FAQ editor (`POST /api/admin/faq/drafts`).
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from desk.deps import ClockDep, SessionsDep
from desk.insight.mining import MiningUnavailable, draft_payload, mine
from desk.insight.scope import ScopeError
from desk.insight.service import parse_filters
from desk.staff.security import AdminDep
from knowledge_base.faq.answering import KnowledgeBase

router = APIRouter()
DRAFTS_URL = "/api/admin/faq/drafts"


def _kb(request: Request) -> KnowledgeBase:
    """One knowledge base for the clusters' nearest entries (it follows the KB's edits by itself)."""
    kb = getattr(request.app.state, "insight_kb", None)
    if kb is None:
        kb = request.app.state.insight_kb = KnowledgeBase(request.app.state.sessions)
    return kb


@router.get("/api/insight/clusters")
async def clusters(
    request: Request,
    user: AdminDep,
    sessions: SessionsDep,
    clock: ClockDep,
    first: Annotated[str | None, Query(alias="from")] = None,
    last: Annotated[str | None, Query(alias="to")] = None,
    channel: str | None = None,
) -> JSONResponse:
    """The period's unanswered questions grouped by meaning, biggest first, each with its FAQ draft."""
    now = clock()
    try:
        filters = parse_filters(user, now, first, last, channel, None)
    except ScopeError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    kb = _kb(request)

    def work() -> list[dict[str, Any]]:
        found = mine(sessions, kb, filters, now)
        return [{**item, "draft": draft_payload(sessions, item)} for item in found]

    try:
        items = await to_thread.run_sync(work)
    except MiningUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    body = {"from": filters.first.isoformat(), "to": filters.last.isoformat(), "drafts_url": DRAFTS_URL,
            "clusters": items}  # fmt: skip
    return JSONResponse(body, headers={"Cache-Control": "no-store"})

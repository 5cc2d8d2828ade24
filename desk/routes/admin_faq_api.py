"""The FAQ editor's JSON API under /api/admin (admins; editors for their departments)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from desk.admin import faq_service, preview
from desk.admin.access import EditorDep, IfMatchDep, etag, run
from desk.admin.schemas import (
    DraftCreated,
    DraftIn,
    FaqCreate,
    FaqDetail,
    FaqSummary,
    FaqUpdate,
    Revision,
    RollbackIn,
    TryIn,
    TryOut,
    VersionIn,
)
from desk.deps import SessionsDep
from knowledge_base.faq.answering import KnowledgeBase

router = APIRouter(prefix="/api/admin", tags=["admin: FAQ"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "内容不合规"},
    401: {"description": "请先登录"},
    403: {"description": "没有权限"},
    404: {"description": "没有这条问答"},
}
STALE: dict[int | str, dict[str, Any]] = {
    409: {"description": "版本冲突：别人已修改（响应头 ETag 是当前版本）"},
    412: {"description": "If-Match 的版本不是当前版本"},
}


def editor_url(faq_id: str) -> str:
    return f"/admin/faqs/{faq_id}"


def _detail_response(item: FaqDetail, status_code: int = 200) -> JSONResponse:
    return JSONResponse(item.model_dump(mode="json"), status_code=status_code, headers={"ETag": etag(item.version)})


@router.get("/faqs", responses=ERRORS)
async def list_faqs(
    sessions: SessionsDep,
    editor: EditorDep,
    q: Annotated[str, Query(max_length=200, description="在问题、相似问法、答案中搜索")] = "",
    department: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    state: Literal["draft", "published"] | None = None,
    edited_since: datetime | None = None,
    no_hits_days: Annotated[int | None, Query(ge=1, le=3650, description="最近 N 天机器人没用它回答过")] = None,
) -> list[FaqSummary]:
    """FAQ entries, most recently edited first, filtered."""
    return await run(sessions, faq_service.list_faqs, q, department, tag, state, edited_since, no_hits_days)


@router.post("/faqs", status_code=201, responses=ERRORS, response_model=FaqDetail)
async def create_faq(sessions: SessionsDep, editor: EditorDep, body: FaqCreate) -> JSONResponse:
    """A new entry: a draft, or live at once with `publish: true`."""
    faq = await run(sessions, faq_service.create, editor, body)
    return _detail_response(await run(sessions, faq_service.detail, faq.id), 201)


@router.post("/faq/drafts", status_code=201, responses=ERRORS)
async def create_draft(sessions: SessionsDep, editor: EditorDep, body: DraftIn) -> DraftCreated:
    """A draft entry suggested from elsewhere (the insight dashboard); `url` opens it in the editor."""
    faq = await run(sessions, faq_service.create_draft, editor, body)
    return DraftCreated(id=faq.id, url=editor_url(faq.id))


@router.get("/faqs/{faq_id}", responses=ERRORS, response_model=FaqDetail)
async def get_faq(sessions: SessionsDep, editor: EditorDep, faq_id: str) -> JSONResponse:
    """One entry with its pending draft; the ETag header is its version (send it back in If-Match)."""
    return _detail_response(await run(sessions, faq_service.detail, faq_id))


@router.put("/faqs/{faq_id}", responses={**ERRORS, **STALE}, response_model=FaqDetail)
async def update_faq(
    sessions: SessionsDep, editor: EditorDep, faq_id: str, body: FaqUpdate, if_match: IfMatchDep
) -> JSONResponse:
    """Save an edit made on `version`: live with `publish: true`, else as the draft of a published entry."""
    await run(sessions, faq_service.update, editor, faq_id, body, if_match)
    return _detail_response(await run(sessions, faq_service.detail, faq_id))


@router.post("/faqs/{faq_id}/publish", responses={**ERRORS, **STALE}, response_model=FaqDetail)
async def publish_faq(
    sessions: SessionsDep, editor: EditorDep, faq_id: str, body: VersionIn, if_match: IfMatchDep
) -> JSONResponse:
    """Put the entry and its draft live: the bot uses it from the next student message."""
    await run(sessions, faq_service.publish, editor, faq_id, body.version, if_match)
    return _detail_response(await run(sessions, faq_service.detail, faq_id))


@router.post("/faqs/{faq_id}/unpublish", responses={**ERRORS, **STALE}, response_model=FaqDetail)
async def unpublish_faq(
    sessions: SessionsDep, editor: EditorDep, faq_id: str, body: VersionIn, if_match: IfMatchDep
) -> JSONResponse:
    """Take the entry out of the bot's answers (kept as a draft)."""
    await run(sessions, faq_service.unpublish, editor, faq_id, body.version, if_match)
    return _detail_response(await run(sessions, faq_service.detail, faq_id))


@router.get("/faqs/{faq_id}/history", responses=ERRORS)
async def faq_history(sessions: SessionsDep, editor: EditorDep, faq_id: str) -> list[Revision]:
    """Every saved version, newest first, with the fields that changed."""
    return await run(sessions, faq_service.history, faq_id)


@router.post("/faqs/{faq_id}/rollback", responses={**ERRORS, **STALE}, response_model=FaqDetail)
async def rollback_faq(
    sessions: SessionsDep, editor: EditorDep, faq_id: str, body: RollbackIn, if_match: IfMatchDep
) -> JSONResponse:
    """Make an earlier version current again (saved as a new version; live at once)."""
    await run(sessions, faq_service.rollback, editor, faq_id, body.to_version, body.version, if_match)
    return _detail_response(await run(sessions, faq_service.detail, faq_id))


def live_kb(request: Request) -> KnowledgeBase:
    """The desk's own KnowledgeBase (same code and thresholds as the action server's), built on first use."""
    kb = getattr(request.app.state, "admin_kb", None)
    if kb is None:
        kb = request.app.state.admin_kb = KnowledgeBase(request.app.state.sessions)
    return kb


@router.post("/try", responses=ERRORS)
async def try_question(request: Request, sessions: SessionsDep, editor: EditorDep, body: TryIn) -> TryOut:
    """试一试: what the bot answers now (route(), top 3 with scores) and what it would answer with the draft."""
    settings = request.app.state.settings
    parsed = await preview.parse(request.app.state.http, settings.rasa.url, settings.rasa.token, body.question)
    live, draft = await to_thread.run_sync(
        preview.try_question, live_kb(request), sessions, body.question, parsed, body.faq_id, body.draft
    )
    return TryOut(live=live, draft=draft, note=parsed.note)

"""Bulk FAQ import/export (YAML, CSV, Excel) and the audit log, under /api/admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from desk.admin import audit, transfer
from desk.admin.access import AdminEditorDep, EditorDep, run
from desk.admin.roles import Editor
from desk.admin.schemas import AuditOut, ImportResult
from desk.deps import SessionsDep

router = APIRouter(prefix="/api/admin", tags=["admin: import, export, audit"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "文件无法读取"},
    401: {"description": "请先登录"},
    403: {"description": "没有权限"},
}
MEDIA = {
    "yaml": "application/yaml; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_BYTES = 5 * 1024 * 1024
Format = Literal["yaml", "csv", "xlsx"]


@router.get("/export/faqs", responses=ERRORS)
async def export_faqs(sessions: SessionsDep, editor: EditorDep, format: Format = "yaml") -> Response:
    """The entries you may edit, as a file the import reads back (list columns joined with `|`)."""
    data = await run(sessions, transfer.export, editor, format)
    headers = {"Content-Disposition": f'attachment; filename="faqs.{format}"'}
    return Response(data, media_type=MEDIA[format], headers=headers)


def _import(session: Session, editor: Editor, data: bytes, fmt: str, dry_run: bool) -> ImportResult:
    items = transfer.read_rows(data, fmt)
    checked = transfer.check(session, editor, items)
    if checked.issues or dry_run:
        return ImportResult(
            ok=not checked.issues, dry_run=dry_run, rows=len(items), created=0, updated=0, issues=checked.issues
        )
    created, updated = transfer.apply(session, editor, checked.rows)
    return ImportResult(ok=True, dry_run=False, rows=len(items), created=created, updated=updated, issues=[])


@router.post("/import/faqs", responses=ERRORS)
async def import_faqs(
    sessions: SessionsDep,
    editor: EditorDep,
    file: Annotated[UploadFile, File(description="YAML (faqs: 列表), CSV 或 Excel")],
    format: Annotated[Format, Form()] = "yaml",
    dry_run: Annotated[bool, Form()] = True,
) -> ImportResult:
    """Check (dry run) or import a file: every problem with its row and field; nothing is half-imported."""
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise HTTPException(status_code=400, detail="文件超过 5 MB")
    try:
        return await run(sessions, _import, editor, data, format, dry_run)
    except transfer.ImportFileError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


@router.get("/audit", responses=ERRORS)
async def audit_log(
    sessions: SessionsDep,
    editor: AdminEditorDep,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AuditOut]:
    """Changes by staff and admins, newest first (admins only; the log cannot be edited)."""
    where = audit.AuditFilter(actor, action, entity, entity_id, since, until, limit)

    def read(session: Session) -> list[AuditOut]:
        return [AuditOut.model_validate(e, from_attributes=True) for e in audit.query(session, where)]

    return await run(sessions, read)

"""FastAPI dependencies of the admin area: who may edit (401 anonymous, 403 ordinary staff), and one
helper that runs a service call in its own transaction in a worker thread and maps admin errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from anyio import to_thread
from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.orm import sessionmaker

from desk.admin.errors import AdminError, Conflict
from desk.admin.roles import Editor, load_editor
from desk.staff.security import StaffDep

T = TypeVar("T")
NO_RIGHTS = "需要管理员或本部门编辑权限"


async def current_editor(request: Request, user: StaffDep) -> Editor:
    """The logged-in admin or editor; 403 for other staff (anonymous is already 401)."""
    sessions: sessionmaker = request.app.state.sessions

    def load() -> Editor | None:
        with sessions() as session:
            return load_editor(session, user)

    editor = await to_thread.run_sync(load)
    if editor is None:
        raise HTTPException(status_code=403, detail=NO_RIGHTS)
    return editor


async def current_admin_editor(editor: Annotated[Editor, Depends(current_editor)]) -> Editor:
    if not editor.is_admin:
        raise HTTPException(status_code=403, detail="需要管理员权限")
    return editor


EditorDep = Annotated[Editor, Depends(current_editor)]
AdminEditorDep = Annotated[Editor, Depends(current_admin_editor)]


def etag(version: int) -> str:
    return f'"v{version}"'


def if_match_version(if_match: Annotated[str | None, Header(include_in_schema=True)] = None) -> int | None:
    """The version named by an If-Match header (`"v3"`); a header naming none is a stale precondition."""
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"').removeprefix("v")
    return int(value) if value.isdigit() and len(value) < 10 else -1


IfMatchDep = Annotated[int | None, Depends(if_match_version)]


def _in_transaction(sessions: sessionmaker, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with sessions() as session, session.begin():
        return fn(session, *args)


async def run(sessions: sessionmaker, fn: Callable[..., T], *args: Any) -> T:
    """`fn(session, *args)` in one transaction in a worker thread; admin errors become HTTP errors."""
    try:
        return await to_thread.run_sync(partial(_in_transaction, sessions, fn, args))
    except Conflict as exc:
        headers = {"ETag": etag(exc.current_version)}
        raise HTTPException(status_code=exc.status, detail=str(exc), headers=headers) from exc
    except AdminError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc

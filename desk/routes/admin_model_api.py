"""The model lifecycle's JSON API under /api/admin/model (admins only): whether a retrain is due, start one,
follow it, put a checked model into service, restore the previous model (docs/admin.md, "模型管理")."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam

from desk.admin.errors import AdminError
from desk.lifecycle.loading import LoadError
from desk.lifecycle.schemas import BuildOut, ModelOverview
from desk.lifecycle.service import ModelLifecycle
from desk.staff.security import AdminDep

router = APIRouter(prefix="/api/admin/model", tags=["admin: model"])
T = TypeVar("T")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "请先登录"},
    403: {"description": "需要管理员权限"},
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"description": "没有这次训练"},
    409: {"description": "正在训练或加载模型，或没有可用的模型"},
    502: {"description": "Rasa 没能加载模型（已恢复原来的模型）"},
}


def get_lifecycle(request: Request) -> ModelLifecycle:
    return request.app.state.models


LifecycleDep = Annotated[ModelLifecycle, Depends(get_lifecycle)]
BuildId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="the build's number")]


async def _answer(call: Awaitable[T]) -> T:
    try:
        return await call
    except AdminError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc
    except LoadError as exc:
        raise HTTPException(status_code=502, detail=f"加载失败：{exc}") from exc


@router.get("", responses=ERRORS)
async def model_overview(models: LifecycleDep, admin: AdminDep) -> ModelOverview:
    """The served model, the catalog terms changed since it was trained (`retrain_due`), the builds."""
    return await models.overview()


@router.post("/builds", status_code=202, responses=CHANGE_ERRORS)
async def start_build(models: LifecycleDep, admin: AdminDep) -> BuildOut:
    """Retrain with the database's catalog terms, in the background: validate, train, story tests, then load
    into every running Rasa. 409 while another build is under way. Follow it with GET /builds/{id}."""
    return await _answer(models.start(admin))


@router.get("/builds/{build_id}", responses=CHANGE_ERRORS)
async def get_build(models: LifecycleDep, admin: AdminDep, build_id: BuildId) -> BuildOut:
    """One build's status, progress (0-100), stage, last output lines and error."""
    return await _answer(models.build(build_id))


@router.post("/builds/{build_id}/activate", responses=CHANGE_ERRORS)
async def activate_build(models: LifecycleDep, admin: AdminDep, build_id: BuildId) -> ModelOverview:
    """Serve a checked build's model (loaded into every running Rasa, no restart)."""
    return await _answer(models.activate(admin, build_id))


@router.post("/restore", responses=CHANGE_ERRORS)
async def restore_previous(models: LifecycleDep, admin: AdminDep) -> ModelOverview:
    """恢复上一版: serve the model that was served before the current one."""
    return await _answer(models.restore(admin))

"""Staff accounts from the admin page, as a JSON API under /api/admin/staff (admins only).

The answers to a create and a reset carry a generated one-time password, once (`Cache-Control: no-store`);
the database keeps only its argon2 hash, the audit log neither.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from desk.admin import staff_admin
from desk.admin.access import run
from desk.admin.account_schemas import AccountCreate, AccountOut, AccountUpdate, OneTimePassword
from desk.deps import SessionsDep
from desk.staff.security import AdminDep

router = APIRouter(prefix="/api/admin/staff", tags=["admin: staff accounts"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "内容有误（用户名已被使用、部门不存在……）"},
    401: {"description": "请先登录"},
    403: {"description": "需要管理员权限；不能停用、降级或重置自己"},
    404: {"description": "没有这个账号"},
}
NO_STORE = {"Cache-Control": "no-store"}
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _once(result: OneTimePassword, status_code: int = 200) -> JSONResponse:
    return JSONResponse(result.model_dump(mode="json"), status_code=status_code, headers=NO_STORE)


@router.get("", responses=ERRORS)
async def list_accounts(sessions: SessionsDep, admin: AdminDep) -> list[AccountOut]:
    """Every staff account with its roles and departments (never a password hash)."""
    return await run(sessions, staff_admin.list_accounts)


@router.post("", status_code=201, responses=ERRORS, response_model=OneTimePassword)
async def create_account(sessions: SessionsDep, admin: AdminDep, body: AccountCreate) -> JSONResponse:
    """A new account; the answer holds its generated password, shown this once."""
    return _once(await run(sessions, staff_admin.create, admin, body), 201)


@router.put("/{user_id}", responses=ERRORS)
async def update_account(sessions: SessionsDep, admin: AdminDep, user_id: UserId, body: AccountUpdate) -> AccountOut:
    """Change display name, admin flag, departments, editor departments, enabled (disabling ends its sessions)."""
    return await run(sessions, staff_admin.update, admin, user_id, body)


@router.post("/{user_id}/reset-password", responses=ERRORS, response_model=OneTimePassword)
async def reset_password(sessions: SessionsDep, admin: AdminDep, user_id: UserId) -> JSONResponse:
    """重置密码: a new generated password, shown this once; every session of the person ends."""
    return _once(await run(sessions, staff_admin.reset_password, admin, user_id))

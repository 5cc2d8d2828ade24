"""Staff accounts from the admin page: create (a one-time password shown once), change roles and
departments, disable / enable, reset the password (a new one-time password; every session of the person
ends). Admins only. Every change goes to the audit log, never a password or its hash.

An admin cannot disable, demote or reset their own account here (their own password: /staff/password),
so nobody locks the last admin out by a slip. Callers own the transaction (desk/admin/access.run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.admin import audit
from desk.admin.account_schemas import (
    USERNAME_PATTERN,
    AccountCreate,
    AccountFields,
    AccountOut,
    AccountUpdate,
    OneTimePassword,
)
from desk.admin.errors import Forbidden, Invalid, NotFoundError
from desk.admin.models import EditorRole
from desk.admin.roles import editor_departments, set_editor
from desk.staff import accounts
from knowledge_base.models import Department

ENTITY = "staff_user"


def _out(session: Session, user: accounts.StaffUser, editing: Iterable[str] | None = None) -> AccountOut:
    """The account as the page shows it; `editing`: its editor departments when the caller has them already."""
    return AccountOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        departments=list(user.departments or []),
        editor_departments=sorted(editor_departments(session, user.id) if editing is None else editing),
        active=user.active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _snapshot(session: Session, user: accounts.StaffUser) -> dict[str, Any]:
    """What the audit keeps of an account (no password hash)."""
    return _out(session, user).model_dump(mode="json", exclude={"created_at", "last_login_at"})


def _check_departments(session: Session, fields: AccountFields) -> None:
    known = set(session.scalars(select(Department.id)))
    for label, wanted in (("接待部门", fields.departments), ("编辑权限部门", fields.editor_departments)):
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise Invalid(f"{label}中有不存在的部门：{'、'.join(unknown)}")


def _account(session: Session, user_id: int) -> accounts.StaffUser:
    user = session.get(accounts.StaffUser, user_id)
    if user is None:
        raise NotFoundError("没有这个账号")
    return user


def list_accounts(session: Session) -> list[AccountOut]:
    """Every account, by username."""
    users = session.scalars(select(accounts.StaffUser).order_by(accounts.StaffUser.username))
    roles = {r.staff_user_id: r.departments or [] for r in session.scalars(select(EditorRole))}  # one query
    return [_out(session, u, roles.get(u.id, [])) for u in users]


def create(session: Session, admin: accounts.CurrentUser, body: AccountCreate) -> OneTimePassword:
    """A new account with a generated password, returned once."""
    username = body.username.lower()
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise Invalid("用户名只能用小写字母、数字、点、横线和下划线，2–64 个字符，以字母或数字开头")
    _check_departments(session, body)
    try:
        user, password = accounts.create_user(
            session,
            username,
            display_name=body.display_name,
            is_admin=body.is_admin,
            departments=body.departments,
            must_change_password=True,  # the one-time password is changed at the first login
        )
    except accounts.UsernameTaken as exc:
        raise Invalid(f"用户名「{username}」已被使用") from exc
    set_editor(session, user.id, body.editor_departments)
    audit.record(
        session, admin.username, admin.id, "staff.create", ENTITY, str(user.id), None, _snapshot(session, user)
    )
    return OneTimePassword(account=_out(session, user), password=password)


def update(session: Session, admin: accounts.CurrentUser, user_id: int, body: AccountUpdate) -> AccountOut:
    """Change name, roles, departments, enabled; disabling ends every session of the person at once."""
    user = _account(session, user_id)
    if user.id == admin.id and (not body.active or not body.is_admin):
        raise Forbidden("不能停用自己或取消自己的管理员权限（请让另一位管理员操作）")
    _check_departments(session, body)
    before = _snapshot(session, user)
    user.display_name = body.display_name or user.username
    user.is_admin = body.is_admin
    user.departments = sorted(set(body.departments))
    ended = accounts.switch_active(session, user, body.active)  # disabling ends the sessions
    set_editor(session, user.id, body.editor_departments)
    after = _snapshot(session, user)
    if after != before:
        if ended:
            after["sessions_ended"] = ended
        audit.record(session, admin.username, admin.id, "staff.update", ENTITY, str(user.id), before, after)
    return _out(session, user)


def reset_password(session: Session, admin: accounts.CurrentUser, user_id: int) -> OneTimePassword:
    """A new generated password (returned once); every session of the person ends."""
    user = _account(session, user_id)
    if user.id == admin.id:
        raise Forbidden("自己的密码请在「修改密码」页面修改")
    password, ended = accounts.reset_password(session, user)
    snapshot = _snapshot(session, user)
    audit.record(
        session, admin.username, admin.id, "staff.reset_password", ENTITY, str(user.id), snapshot,
        {**snapshot, "password_reset": True, "sessions_ended": ended},
    )  # fmt: skip
    return OneTimePassword(account=_out(session, user), password=password, sessions_ended=ended)

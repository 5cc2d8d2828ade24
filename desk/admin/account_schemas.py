"""JSON shapes of the staff-account admin (/api/admin/staff): never a password hash; a one-time password
only in the answer to a create or a reset, once."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{1,63}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountFields(_In):
    display_name: str = Field(default="", max_length=100)
    is_admin: bool = False
    departments: list[str] = Field(default_factory=list, max_length=50, description="接待哪些部门的学生（工作台队列）")
    editor_departments: list[str] = Field(
        default_factory=list, max_length=50, description="可编辑哪些部门的问答和预约排班（编辑权限）"
    )


class AccountCreate(AccountFields):
    username: str = Field(min_length=2, max_length=64, description="小写字母、数字、点、横线、下划线")


class AccountUpdate(AccountFields):
    active: bool = True


class AccountOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_admin: bool
    departments: list[str]
    editor_departments: list[str]
    active: bool
    created_at: dt.datetime | None
    last_login_at: dt.datetime | None


class OneTimePassword(BaseModel):
    """The account and its new password: shown once, stored only as an argon2 hash."""

    account: AccountOut
    password: str
    sessions_ended: int = 0

"""Plain table editors (sqladmin, under /admin/db) for what needs no workflow of its own: departments,
staff accounts (enable/disable, admin flag, departments) and editor roles. Admins only, through the
staff login; every change is written to the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from sqladmin import Admin, ModelView
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import ValidationError

from desk.admin import audit
from desk.admin.models import EditorRole
from desk.staff.accounts import StaffUser
from desk.staff.security import current_staff
from knowledge_base import repository
from knowledge_base.models import CalendarDay, Department, Service
from knowledge_base.office_hours import DEFAULT_HOURS, check_hours

BASE_URL = "/admin/db"


class StaffLoginBackend(AuthenticationBackend):
    """The desk's staff session decides: admins in, everyone else to the login page (or refused)."""

    def __init__(self, app: FastAPI, secret_key: str) -> None:
        super().__init__(secret_key)
        self.desk = app

    async def _admin(self, request: Request) -> Any:
        # read the staff session against the desk app (its settings and database), identity only
        scope = {**request.scope, "app": self.desk, "method": "GET"}
        user = await current_staff(Request(scope))
        if not user.is_admin:
            raise HTTPException(status_code=403, detail="需要管理员权限")
        return user

    async def login(self, request: Request) -> bool:
        return False

    async def logout(self, request: Request) -> Response | bool:
        return RedirectResponse("/staff/login", status_code=303)

    async def authenticate(self, request: Request) -> Response | bool:
        try:
            user = await self._admin(request)
        except HTTPException as exc:
            if exc.status_code == 401:
                return RedirectResponse("/staff/login", status_code=303)
            return Response("需要管理员权限", status_code=403, media_type="text/plain; charset=utf-8")
        request.state.admin_user = user
        return True


def _row(model: Any) -> dict[str, Any]:
    out = {}
    for attr in sa_inspect(model).mapper.column_attrs:
        if attr.key == "password_hash":
            continue
        value = getattr(model, attr.key)
        out[attr.key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


class AuditedView(ModelView):
    """A table view whose creates, edits and deletes land in the audit log."""

    desk_sessions: sessionmaker | None = None
    changes_kb = False  # the bot's catalog index is rebuilt (KB revision bumped) after a change

    def _record(
        self, request: Request, action: str, model: Any, after: dict[str, Any] | None, before: dict[str, Any] | None
    ) -> None:
        user = getattr(request.state, "admin_user", None)
        sessions = AuditedView.desk_sessions
        if sessions is None:
            return
        key = ",".join(str(v) for v in sa_inspect(model).identity or ())
        with sessions() as session, session.begin():
            audit.record(
                session,
                user.username if user else "?",
                user.id if user else None,
                f"{self.identity}.{action}",
                str(self.identity),
                key,
                before,
                after,
            )
            if self.changes_kb:
                repository.bump_revision(session)

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        request.state.audit_before = None if is_created else _row(model)  # the row before the form's values

    async def after_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        before = None if is_created else getattr(request.state, "audit_before", None)
        self._record(request, "create" if is_created else "update", model, _row(model), before)

    async def after_model_delete(self, model: Any, request: Request) -> None:
        self._record(request, "delete", model, None, _row(model))


def _valid_office_hours(form: Any, field: Any) -> None:
    """A form validator: office hours that the desk cannot read are refused on the form, in Chinese."""
    problem = check_hours(field.data or "")
    if problem:
        raise ValidationError(problem)


class DepartmentView(AuditedView, model=Department):
    """Departments, with their own office hours for the handoff desk (empty = HELPDESK_HANDOFF_HOURS)."""

    changes_kb = True
    name = "部门"
    name_plural = "部门"
    form_include_pk = True  # a new department is added here with its id
    column_list = [Department.id, Department.name, Department.location, Department.hours,
                   Department.office_hours, Department.phone]  # fmt: skip
    column_labels = {Department.hours: "办公时间（向学生显示）", Department.office_hours: "人工服务时间"}
    column_searchable_list = [Department.id, Department.name]
    form_excluded_columns = [Department.services]
    form_args = {
        "office_hours": {
            "validators": [_valid_office_hours],
            "description": f"老师在线接人工的时间，例如 {DEFAULT_HOURS}; sat: 09:00-12:00"
            "（北京时间，法定节假日关闭，调休上班日按周一）。留空 = 全局设置 HELPDESK_HANDOFF_HOURS。",
        },
        "hours": {"description": "留空时，学生看到的是本部门的人工服务时间。"},
    }


class ServiceView(AuditedView, model=Service):
    """The catalog's services and their 一次性告知 fields (materials, place, hours, processing time, mode)."""

    changes_kb = True
    name = "服务（一次性告知）"
    name_plural = "服务（一次性告知）"
    form_include_pk = True
    column_list = [Service.id, Service.name, Service.department_id, Service.mode, Service.bookable,
                   Service.capacity_per_slot, Service.location, Service.hours]  # fmt: skip
    column_searchable_list = [Service.id, Service.name]
    form_columns = [Service.id, Service.name, Service.aliases, Service.department, Service.mode, Service.bookable,
                    Service.duration_minutes, Service.capacity_per_slot, Service.location, Service.hours,
                    Service.processing_time, Service.materials, Service.notes]  # fmt: skip


class StaffUserView(AuditedView, model=StaffUser):
    name = "工作人员账号"
    name_plural = "工作人员账号"
    can_create = False  # accounts are created with `helpdesk user create` (the password is shown once)
    column_list = [StaffUser.id, StaffUser.username, StaffUser.display_name, StaffUser.is_admin,
                   StaffUser.departments, StaffUser.active, StaffUser.last_login_at]  # fmt: skip
    form_columns = [StaffUser.display_name, StaffUser.is_admin, StaffUser.departments, StaffUser.active]
    column_searchable_list = [StaffUser.username, StaffUser.display_name]
    can_delete = False  # disable instead: history keeps pointing at the account


class EditorRoleView(AuditedView, model=EditorRole):
    name = "问答编辑权限"
    name_plural = "问答编辑权限"
    column_list = [EditorRole.staff_user_id, EditorRole.staff_user, EditorRole.departments]
    form_columns = [EditorRole.staff_user, EditorRole.departments]


class CalendarDayView(AuditedView, model=CalendarDay):
    name = "节假日与调休"
    name_plural = "节假日与调休"
    column_list = [CalendarDay.day, CalendarDay.workday, CalendarDay.name]
    column_default_sort = [(CalendarDay.day, True)]
    column_labels = {CalendarDay.day: "日期", CalendarDay.workday: "上班（调休）", CalendarDay.name: "名称"}
    form_include_pk = True
    form_columns = [CalendarDay.day, CalendarDay.workday, CalendarDay.name]


def mount(app: FastAPI, secret_key: str) -> sessionmaker:
    """Mount the table editors on the app; returns their unbound session factory (bind it in the lifespan)."""
    tables = sessionmaker(class_=Session)
    admin = Admin(
        app,
        session_maker=tables,
        base_url=BASE_URL,
        title="部门与账号",
        authentication_backend=StaffLoginBackend(app, secret_key),
    )
    for view in (DepartmentView, ServiceView, StaffUserView, EditorRoleView, CalendarDayView):
        admin.add_view(view)
    return tables

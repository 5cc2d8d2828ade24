"""The admin pages (FAQ list, editor with 试一试, import/export, audit, model): shells that admin.js fills from
the JSON API. Without a session the browser goes to the login page; staff without rights get a 403 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from desk.admin.access import current_editor
from desk.deps import SessionsDep
from desk.staff.security import current_staff
from knowledge_base.models import Department, Service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


async def _page(
    request: Request, sessions: SessionsDep, template: str, admin_only: bool = False, **extra: Any
) -> Response:
    try:
        user = await current_staff(request)
        editor = await current_editor(request, user)
    except HTTPException as exc:
        if exc.status_code in (401, 303):  # not logged in; or a one-time password to change first
            return RedirectResponse((exc.headers or {}).get("Location", "/staff/login"), status_code=303)
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{exc.detail}</p><a href=/staff/>返回</a>", 403)
    if admin_only and not editor.is_admin:
        return HTMLResponse("<!doctype html><meta charset=utf-8><p>需要管理员权限</p><a href=/admin/faqs>返回</a>", 403)
    with sessions() as session:
        departments = [(d.id, d.name) for d in session.scalars(select(Department).order_by(Department.id))]
        services = [(s.id, s.name) for s in session.scalars(select(Service).order_by(Service.id))]
    if not editor.is_admin:
        departments = [d for d in departments if d[0] in editor.departments]
    return templates.TemplateResponse(
        request,
        template,
        {
            "editor": editor,
            "departments": departments,
            "services": services,
            "csrf_token": request.state.csrf_token,
            "static_version": request.app.version,
            **extra,
        },
    )


@router.get("/admin/")
async def admin_home() -> Response:
    return RedirectResponse("/admin/faqs", status_code=303)


@router.get("/admin/faqs", response_class=HTMLResponse)
async def faq_list_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_faqs.html")


@router.get("/admin/faqs/new", response_class=HTMLResponse)
async def faq_new_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_faq_edit.html", faq_id="")


@router.get("/admin/faqs/{faq_id}", response_class=HTMLResponse)
async def faq_edit_page(request: Request, sessions: SessionsDep, faq_id: str) -> Response:
    return await _page(request, sessions, "admin_faq_edit.html", faq_id=faq_id)


@router.get("/admin/import", response_class=HTMLResponse)
async def import_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_import.html")


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_audit.html", admin_only=True)


@router.get("/admin/model", response_class=HTMLResponse)
async def model_page(request: Request, sessions: SessionsDep) -> Response:
    """模型管理: retrain with the catalog terms, progress, restore (admin_model.js over /api/admin/model)."""
    return await _page(request, sessions, "admin_model.html", admin_only=True)


@router.get("/admin/schedules", response_class=HTMLResponse)
async def schedules_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_schedules.html")


@router.get("/admin/services/{service_id}/schedule", response_class=HTMLResponse)
async def schedule_page(request: Request, sessions: SessionsDep, service_id: str) -> Response:
    return await _page(request, sessions, "admin_schedule_edit.html", service_id=service_id)


@router.get("/admin/staff", response_class=HTMLResponse)
async def staff_accounts_page(request: Request, sessions: SessionsDep) -> Response:
    return await _page(request, sessions, "admin_staff.html", admin_only=True)

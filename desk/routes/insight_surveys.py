"""Surveys for admins: the page `/staff/insight/surveys`, and the JSON to define, list and close them.
The students' side is desk/insight/surveys.py (called by the gateway)."""

from __future__ import annotations

from pathlib import Path

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from desk.deps import SessionsDep
from desk.insight import survey_admin
from desk.staff.security import AdminDep, current_admin, current_staff

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/staff/insight/surveys", response_class=HTMLResponse)
async def surveys_page(request: Request) -> Response:
    """The surveys page (admins): a form for a new survey, and each survey's results as charts."""
    try:
        user = await current_admin(await current_staff(request))
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/staff/login", status_code=303)
        raise
    context = {"user": user, "csrf_token": request.state.csrf_token, "static_version": request.app.version}
    return templates.TemplateResponse(request, "insight_surveys.html", context, headers=NO_STORE)


@router.get("/api/insight/surveys")
async def list_surveys(user: AdminDep, sessions: SessionsDep) -> JSONResponse:
    """Every survey with its results."""
    return JSONResponse({"surveys": await to_thread.run_sync(survey_admin.results, sessions)}, headers=NO_STORE)


@router.post("/api/insight/surveys", status_code=201)
async def create_survey(data: survey_admin.SurveyIn, user: AdminDep, sessions: SessionsDep) -> dict[str, int]:
    """Define a survey; students in its audience are asked from its first day."""
    try:
        survey_id = await to_thread.run_sync(survey_admin.create, sessions, data, user.username, user.id)
    except survey_admin.SurveyError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"id": survey_id}


@router.post("/api/insight/surveys/{survey_id}/close")
async def close_survey(survey_id: int, user: AdminDep, sessions: SessionsDep) -> dict[str, bool]:
    """Stop asking a survey (its answers stay)."""

    if not await to_thread.run_sync(survey_admin.close, sessions, survey_id, user.username, user.id):
        raise HTTPException(status_code=404, detail="没有这个调查")
    return {"closed": True}

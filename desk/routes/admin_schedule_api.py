"""The booking-schedule editor's JSON API under /api/admin (admins; editors for their departments' services)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from desk.admin import schedule_editor
from desk.admin.access import EditorDep, run
from desk.admin.schedule_schemas import PreviewOut, ScheduleFields, ScheduleOut, ScheduleSave, ScheduleSummary
from desk.deps import ClockDep, SessionsDep
from knowledge_base.booking.types import BookingPolicy

router = APIRouter(prefix="/api/admin", tags=["admin: booking schedules"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "请先登录"},
    403: {"description": "没有权限（管理员，或该服务所属部门的编辑）"},
    404: {"description": "没有这个可预约的服务"},
}
SAVE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"description": "排班内容有误：`errors` 逐项列出字段（如 `hours.mon`、`staff.0.name`）和中文说明"},
    409: {
        "description": "`reason: stale`：别人已在你打开之后保存（重新加载）；`reason: affected_bookings`："
        "`affected` 中的已有预约不在新的时间内，确认后把它们的 id 放进 `confirm_affected` 再保存（预约不会被取消）"
    },
}


def _policy(request: Request) -> BookingPolicy:
    return request.app.state.settings.booking.policy()


@router.get("/schedules", responses=ERRORS)
async def list_schedules(sessions: SessionsDep, editor: EditorDep) -> list[ScheduleSummary]:
    """The bookable services you may edit, with their weekly hours."""
    return await run(sessions, schedule_editor.list_schedules, editor)


@router.get("/services/{service_id}/schedule", responses=ERRORS)
async def get_schedule(
    request: Request, sessions: SessionsDep, editor: EditorDep, clock: ClockDep, service_id: str
) -> ScheduleOut:
    """A service's schedule, capacity, staff and exceptions, with the next free slots the bot offers now."""
    return await run(sessions, schedule_editor.load, editor, service_id, _policy(request), clock())


@router.post("/services/{service_id}/schedule/preview", responses=ERRORS)
async def preview_schedule(
    request: Request, sessions: SessionsDep, editor: EditorDep, clock: ClockDep, service_id: str, body: ScheduleFields
) -> PreviewOut:
    """Nothing is saved: the form's problems, the next free slots the bot would offer with it, and the
    existing bookings it would leave outside the hours."""
    return await run(sessions, schedule_editor.preview, editor, service_id, body, _policy(request), clock())


@router.put("/services/{service_id}/schedule", responses=SAVE_ERRORS, response_model=ScheduleOut)
async def save_schedule(
    request: Request, sessions: SessionsDep, editor: EditorDep, clock: ClockDep, service_id: str, body: ScheduleSave
) -> Any:
    """Save (live for the bot's next question): with the `version` you loaded, confirming the affected bookings."""
    try:
        return await run(sessions, schedule_editor.save, editor, service_id, body, _policy(request), clock())
    except schedule_editor.ScheduleProblem as exc:
        return JSONResponse(exc.payload(), status_code=exc.status)

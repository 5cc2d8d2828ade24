"""How bookings, slots and times are shown to a student: Chinese date labels and button payloads.

Buttons carry intents with entities, so a tap works the same inside the form and long after it
(`/choose_time{"time": ..., "service": ...}` starts a booking at that time when no form is active).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from knowledge_base.booking.types import BookingView, Slot
from knowledge_base.names import (
    ENTITY_CODE,
    ENTITY_SERVICE,
    ENTITY_TIME,
    INTENT_AFFIRM,
    INTENT_BOOK,
    INTENT_CANCEL,
    INTENT_CHOOSE_TIME,
    INTENT_DENY,
    INTENT_LIST,
    INTENT_RESCHEDULE,
)
from knowledge_base.timeexpr import TZ

WEEKDAYS = "一二三四五六日"
PART_LABELS = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}

# BookingNotChangeable.reason -> what the student is told
NOT_CHANGEABLE = {
    "cancelled": "已经取消了",
    "started": "已经开始或已过时间",
    "attended": "已经办理完成",
    "no_show": "已过时间（记为未到）",
    "not_started": "还没有开始",
}


def payload(intent: str, **entities: str | None) -> str:
    """`/intent{"entity": "value"}` with the given (non-empty) entities."""
    given = {k: v for k, v in entities.items() if v}
    return f"/{intent}" + (json.dumps(given, ensure_ascii=False) if given else "")


def day_label(value: datetime) -> str:
    """12月9日（周三）"""
    value = value.astimezone(TZ)
    return f"{value.month}月{value.day}日（周{WEEKDAYS[value.weekday()]}）"


def when_label(start: datetime, end: datetime | None = None) -> str:
    """12月9日（周三）14:00-14:50, or without the end."""
    start = start.astimezone(TZ)
    text = f"{day_label(start)}{start:%H:%M}"
    return text + (f"-{end.astimezone(TZ):%H:%M}" if end is not None else "")


def slot_button(slot: Slot, service_id: str | None = None, code: str | None = None) -> dict[str, str]:
    """A button that picks this slot (for a new booking of `service_id`, or to move booking `code`)."""
    title = when_label(slot.start)
    entities: dict[str, str | None] = {ENTITY_TIME: slot.start.isoformat()}
    if code:
        entities[ENTITY_CODE] = code
    else:
        entities[ENTITY_SERVICE] = service_id or slot.service_id
    return {"title": title, "payload": payload(INTENT_CHOOSE_TIME, **entities)}


def slot_buttons(slots: list[Slot], code: str | None = None) -> list[dict[str, str]]:
    return [slot_button(s, code=code) for s in slots]


def service_buttons(services: dict[str, str]) -> list[dict[str, str]]:
    """One button per bookable service, starting a booking of it."""
    return [{"title": name, "payload": payload(INTENT_BOOK, **{ENTITY_SERVICE: sid})} for sid, name in services.items()]


def confirm_buttons(yes: str = "确认", no: str = "取消") -> list[dict[str, str]]:
    return [{"title": yes, "payload": f"/{INTENT_AFFIRM}"}, {"title": no, "payload": f"/{INTENT_DENY}"}]


def booking_buttons(code: str) -> list[dict[str, str]]:
    """改时间 / 取消 for one booking."""
    return [
        {"title": f"改时间 {code}", "payload": payload(INTENT_RESCHEDULE, **{ENTITY_CODE: code})},
        {"title": f"取消 {code}", "payload": payload(INTENT_CANCEL, **{ENTITY_CODE: code})},
    ]


def choose_booking_buttons(views: list[BookingView], intent: str) -> list[dict[str, str]]:
    """One button per booking, for "which one?"."""
    return [
        {"title": f"{v.service_name} {when_label(v.start)}", "payload": payload(intent, **{ENTITY_CODE: v.code})}
        for v in views
    ]


MY_BOOKINGS_BUTTON = {"title": "我的预约", "payload": f"/{INTENT_LIST}"}


def booking_kwargs(view: BookingView) -> dict[str, Any]:
    """Variables of the responses that describe one booking."""
    return {
        "code": view.code,
        "service_name": view.service_name,
        "department": view.department_name,
        "when": when_label(view.start, view.end),
        "location": view.location or "见预约确认",
        "staff": f"\n· 老师：{view.staff_name}" if view.staff_name else "",
    }


def materials_text(materials: list[str]) -> str:
    return "、".join(materials) if materials else "无需特别材料"

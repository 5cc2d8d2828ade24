"""The greeting menu's items for admins (desk/insight/menus.py): list, add, delete."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select

from desk.admin import audit
from desk.deps import SessionsDep
from desk.insight.menus import MONTH_DAY
from desk.insight.models import MenuItem
from desk.staff.security import AdminDep

router = APIRouter()
MonthDay = (
    Annotated[str, StringConstraints(pattern=MONTH_DAY.pattern)] | Annotated[str, StringConstraints(max_length=0)]
)


class MenuItemIn(BaseModel):
    """A menu question: for a stage ("" = everyone), optionally between two MM-DD days."""

    title: str = Field(min_length=2, max_length=60)
    stage: Annotated[str, StringConstraints(pattern=r"^(|新生|在读|毕业生)$")] = ""
    first_day: MonthDay = ""
    last_day: MonthDay = ""
    position: int = 0


def _public(item: MenuItem) -> dict[str, object]:
    return {"id": item.id, "title": item.title, "stage": item.stage, "first_day": item.first_day,
            "last_day": item.last_day, "position": item.position}  # fmt: skip


@router.get("/api/insight/menu")
async def list_items(user: AdminDep, sessions: SessionsDep) -> dict[str, list[dict[str, object]]]:
    """Every menu item, in menu order."""

    def read() -> list[dict[str, object]]:
        with sessions() as session:
            return [_public(i) for i in session.scalars(select(MenuItem).order_by(MenuItem.position, MenuItem.id))]

    return {"items": await to_thread.run_sync(read)}


@router.post("/api/insight/menu", status_code=201)
async def add_item(data: MenuItemIn, user: AdminDep, sessions: SessionsDep) -> dict[str, object]:
    """Add a question to the greeting menu (both days or neither)."""
    if bool(data.first_day) != bool(data.last_day):
        raise HTTPException(status_code=400, detail="开始和结束日期（MM-DD）需同时填写或都不填")

    def add() -> dict[str, object]:
        with sessions() as session, session.begin():
            item = MenuItem(**data.model_dump())
            session.add(item)
            session.flush()
            added = _public(item)
            audit.record(session, user.username, user.id, "menu.create", "menu_item", str(item.id), None, added)
            return added

    return await to_thread.run_sync(add)


@router.delete("/api/insight/menu/{item_id}")
async def delete_item(item_id: int, user: AdminDep, sessions: SessionsDep) -> dict[str, bool]:
    """Remove a question from the menu."""

    def delete() -> bool:
        with sessions() as session, session.begin():
            item = session.get(MenuItem, item_id)
            if item is None:
                return False
            audit.record(session, user.username, user.id, "menu.delete", "menu_item", str(item_id), _public(item), None)
            session.delete(item)
            return True

    if not await to_thread.run_sync(delete):
        raise HTTPException(status_code=404, detail="没有这个菜单项")
    return {"deleted": True}

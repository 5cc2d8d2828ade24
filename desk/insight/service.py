"""The dashboard's entry point for routes: filters checked for the person, charts read in one session."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from desk.insight import rollup
from desk.insight.queries import CHARTS, Chart, all_charts
from desk.insight.scope import Filters, ScopeError, filters_for
from desk.staff.accounts import CurrentUser
from knowledge_base.models import Department


def dashboard(sessions: sessionmaker, filters: Filters) -> dict[str, Any]:
    """Every chart, the filters they were read with, and the departments' names."""
    with sessions() as session:
        with session.begin():
            rollup.prepare(session, filters)
        charts = all_charts(session, filters)
        names = dict(session.execute(select(Department.id, Department.name)).all())
    return {
        "from": filters.first.isoformat(),
        "to": filters.last.isoformat(),
        "channel": filters.channel,
        "departments": list(filters.departments) if filters.departments is not None else None,
        "department_names": names,
        "charts": [c.public() for c in charts],
    }


def one_chart(sessions: sessionmaker, name: str, filters: Filters) -> Chart:
    """One chart by name; ScopeError for an unknown one."""
    query = CHARTS.get(name)
    if query is None:
        raise ScopeError(f"没有这个图表：{name}")
    with sessions() as session:
        with session.begin():
            rollup.prepare(session, filters)
        return query(session, filters)


def parse_filters(
    user: CurrentUser,
    now: datetime,
    first: str | None,
    last: str | None,
    channel: str | None,
    department: str | None,
) -> Filters:
    """Filters from query-string text; ScopeError with a clear message on a bad date."""
    try:
        start = date.fromisoformat(first) if first else None
        end = date.fromisoformat(last) if last else None
    except ValueError:
        raise ScopeError("日期格式应为 YYYY-MM-DD") from None
    return filters_for(user, now, start, end, channel or None, department or None)

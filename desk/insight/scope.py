"""Who sees what on the dashboard, and the filters of one request (dates, channel, departments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from desk.staff.accounts import CurrentUser
from knowledge_base.names import CHANNELS

SHANGHAI = timezone(timedelta(hours=8))  # China has no daylight saving time
MAX_DAYS = 366


class ScopeError(ValueError):
    """A filter the person may not use (another department) or that makes no sense (bad dates)."""

    def __init__(self, message: str, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True)
class Filters:
    """One dashboard request: local days `first`..`last` (inclusive), a channel or all, and the
    departments whose figures may be shown (None: every department, admins only)."""

    first: date
    last: date
    channel: str | None = None
    departments: tuple[str, ...] | None = None
    # the days before this one are read from the daily roll-up (desk/insight/rollup.py); None: all live
    today: date | None = None

    @property
    def start(self) -> datetime:
        """The first instant, in UTC (SQLite stores UTC wall time)."""
        return datetime.combine(self.first, time(0), SHANGHAI).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        """The instant after the last day, in UTC."""
        return datetime.combine(self.last + timedelta(days=1), time(0), SHANGHAI).astimezone(timezone.utc)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def local_today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def filters_for(
    user: CurrentUser,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    channel: str | None = None,
    department: str | None = None,
) -> Filters:
    """The filters of a request by `user`: by default the last 30 days, every channel, and every
    department for admins or the person's own departments for staff. Raises ScopeError."""
    last = last or local_today(now)
    first = first or last - timedelta(days=29)
    if first > last:
        raise ScopeError("开始日期需早于结束日期")
    if (last - first).days >= MAX_DAYS:
        raise ScopeError(f"时间范围不超过{MAX_DAYS}天")
    if channel and channel not in CHANNELS:
        raise ScopeError(f"未知渠道：{channel}（可选 {', '.join(CHANNELS)}）")
    departments: tuple[str, ...] | None
    if user.is_admin:
        departments = (department,) if department else None
    elif department:
        if department not in user.departments:
            raise ScopeError("无权查看其他部门的数据", forbidden=True)
        departments = (department,)
    else:
        departments = tuple(user.departments)
    return Filters(first, last, channel or None, departments, local_today(now))

"""The weekly digest of a department (or of all, for admins): new question clusters, the worst-rated
handoffs and the longest waits of a Monday-to-Sunday week. Shown at /staff/insight/digest and posted
to a WeCom group robot (`HELPDESK_INSIGHT_WECOM_WEBHOOK`) by `helpdesk insight digest --send`."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from desk.insight.models import QuestionCluster
from desk.insight.scope import Filters
from desk.models import HandoffRequest
from desk.staff.accounts import StaffUser
from knowledge_base.models import Department

logger = logging.getLogger(__name__)
WORST = 5
LONGEST = 5


def week_of(day: date) -> Filters:
    """The Monday-to-Sunday week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return Filters(monday, monday + timedelta(days=6))


def weekly(sessions: sessionmaker, week: Filters, departments: tuple[str, ...] | None) -> dict[str, Any]:
    """The week's digest for these departments (None: every department)."""
    in_scope: list[Any] = [] if departments is None else [HandoffRequest.department_id.in_(departments)]
    staff = func.coalesce(StaffUser.display_name, StaffUser.username)
    with sessions() as session:
        names = dict(session.execute(select(Department.id, Department.name)).all())
        clusters = [
            {"id": c.id, "medoid": c.medoid, "size": c.size, "department": (c.meta or {}).get("department")}
            for c in session.scalars(
                select(QuestionCluster)
                .where(QuestionCluster.first_seen_at >= week.start, QuestionCluster.first_seen_at < week.end)
                .order_by(QuestionCluster.size.desc(), QuestionCluster.id)
            )
        ]
        worst = session.execute(
            select(HandoffRequest.id, HandoffRequest.department_id, staff, HandoffRequest.rating,
                   HandoffRequest.rating_comment, HandoffRequest.resolution)
            .outerjoin(StaffUser, StaffUser.id == HandoffRequest.closed_by)
            .where(HandoffRequest.rated_at >= week.start, HandoffRequest.rated_at < week.end,
                   HandoffRequest.rating <= 2, *in_scope)
            .order_by(HandoffRequest.rating, HandoffRequest.id)
            .limit(WORST)
        ).all()  # fmt: skip
        waits = session.execute(
            select(HandoffRequest.id, HandoffRequest.department_id, HandoffRequest.reason,
                   HandoffRequest.claim_wait_seconds)
            .where(HandoffRequest.created_at >= week.start, HandoffRequest.created_at < week.end,
                   HandoffRequest.claim_wait_seconds.is_not(None), *in_scope)
            .order_by(HandoffRequest.claim_wait_seconds.desc(), HandoffRequest.id)
            .limit(LONGEST)
        ).all()  # fmt: skip
    if departments is not None:
        clusters = [c for c in clusters if c["department"] in departments]
    return {
        "first": week.first.isoformat(),
        "last": week.last.isoformat(),
        "departments": [names.get(d, d) for d in departments] if departments is not None else None,
        "new_clusters": [{**c, "department": names.get(c["department"], c["department"] or "")} for c in clusters],
        "worst_rated": [
            {
                "ticket": t,
                "department": names.get(d, d or ""),
                "staff": s or "—",
                "rating": r,
                "comment": c or "",
                "resolution": res or "",
            }
            for t, d, s, r, c, res in worst
        ],  # fmt: skip
        "longest_waits": [
            {"ticket": t, "department": names.get(d, d or ""), "reason": reason, "minutes": round(w / 60, 1)}
            for t, d, reason, w in waits
        ],
    }


_NUMBERS = re.compile(r"\d{6,}")  # student numbers, phones: never leave the desk in a digest


def markdown(digest: dict[str, Any]) -> str:
    """The digest as WeCom robot markdown: cluster names and comments, long numbers masked."""
    scope = "、".join(digest["departments"]) if digest["departments"] else "全部部门"
    lines = [f"### 一站式学生社区 周报（{digest['first']} 至 {digest['last']}，{scope}）", "**新出现的未答问题**"]
    lines += [f"> {c['medoid']}（{c['size']} 次）" for c in digest["new_clusters"]] or ["> 无"]
    lines.append("**评分最低的服务**")
    lines += [f"> 工单#{w['ticket']} {w['department']} {w['staff']}：{w['rating']}分 {w['comment']}"
              for w in digest["worst_rated"]] or ["> 无"]  # fmt: skip
    lines.append("**等待最久**")
    lines += [f"> 工单#{w['ticket']} {w['department']}：{w['minutes']} 分钟" for w in digest["longest_waits"]] or [
        "> 无"
    ]
    return _NUMBERS.sub("******", "\n".join(lines))


def send_wecom(webhook: str, text: str, client: httpx.Client | None = None) -> None:
    """Post the markdown to a WeCom group robot; raises RuntimeError with WeCom's answer on failure."""
    http = client or httpx.Client(timeout=10.0)
    try:
        resp = http.post(webhook, json={"msgtype": "markdown", "markdown": {"content": text[:4000]}})
        data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        if resp.status_code != 200 or data.get("errcode", 0) != 0:
            raise RuntimeError(f"WeCom refused the digest: HTTP {resp.status_code} {data.get('errmsg', '')}")
    finally:
        if client is None:
            http.close()

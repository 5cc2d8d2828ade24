"""Messages a channel refused for good, as the console lists them (per the staff member's rights)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from desk.models import OPEN_TICKET_STATUSES, OUTBOX_FAILED, HandoffRequest, Message, OutboxItem
from desk.staff import accounts


def undelivered(sessions: Any, user: accounts.CurrentUser) -> list[dict[str, Any]]:
    """Messages a channel refused for good (blocked bot, closed WeChat window...), newest first.

    Admins see all; staff see those of conversations with a request they may read (need to know:
    `CurrentUser.can_read`, so an urgent chat's words stay with its claimer and the counselling centre).
    """
    with sessions() as session:
        rows = session.execute(
            select(OutboxItem, Message)
            .join(Message, Message.id == OutboxItem.message_id)
            .where(OutboxItem.status == OUTBOX_FAILED)
            .order_by(OutboxItem.id.desc())
            .limit(200)
        ).all()
        if not user.is_admin:
            requests = session.scalars(select(HandoffRequest)).all()
            allowed = {
                r.conversation_id
                for r in requests
                if user.can_read(r.department_id, r.priority, r.claimed_by, r.status in OPEN_TICKET_STATUSES)
            }
            rows = [row for row in rows if row[0].conversation_id in allowed]
        return [
            {
                "conversation_id": item.conversation_id,
                "channel": item.channel,
                "text": message.text,
                "error": item.last_error or "",
                "attempts": item.attempts,
                "created_at": item.created_at.isoformat() if item.created_at else None,
            }
            for item, message in rows
        ]

"""The outbox: every bot, system or staff message of a Telegram or WeChat conversation, until delivered.

`Outbox.on_message` is a gateway listener: each stored outbound message of a `tg:` or `wx:`
conversation gets an `outbox` row. The delivery worker (desk/delivery/worker.py) takes the oldest pending
row of each conversation (so order is kept per conversation), leasing it with a compare-and-set so
two desk processes never send the same row.

WeChat may answer passively inside the HTTP response when the bot is fast. While such a window is
open for a conversation, its new rows are held (not due until the window's end); the WeChat route
then either marks them delivered passively or releases them to the worker. A crash in between only
delays them: held rows become due by themselves.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from connectors.base import OutboundMessage
from desk.models import OUTBOX_FAILED, OUTBOX_PENDING, OUTBOX_SENT, Conversation, Message, OutboxItem
from knowledge_base.models import utcnow
from knowledge_base.names import channel_of

logger = logging.getLogger(__name__)

DELIVERED_CHANNELS = ("tg", "wx")


def channel_text(message: Message) -> str:
    """Telegram and WeChat show no sender names: a teacher's message starts with who wrote it."""
    if message.role == "staff" and message.sender_name:
        return f"{message.sender_name}：{message.text}"
    return message.text


class _Taken(Exception):
    """A row meant for a passive reply was leased by the worker meanwhile."""


@dataclass(frozen=True)
class DeliveryJob:
    """A leased outbox row with its message."""

    item_id: int
    channel: str
    recipient: str
    attempts: int
    parts_sent: int
    message: OutboundMessage


class Outbox:
    """Outbox rows of the tg and wx channels: enqueue, passive-reply windows, and the worker's claims."""

    def __init__(self, sessions: sessionmaker, hold_seconds: float = 6.0) -> None:
        self._sessions = sessions
        self._hold_seconds = hold_seconds
        self._holds: dict[str, int] = {}
        self.wake = asyncio.Event()

    # -- the gateway listener ----------------------------------------------------------------------
    async def on_message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Queue a stored outbound message of a Telegram or WeChat conversation."""
        channel = channel_of(conversation_id)
        if channel not in DELIVERED_CHANNELS or message.get("role") == "student" or message.get("id") is None:
            return
        held = conversation_id in self._holds
        not_before = utcnow() + timedelta(seconds=self._hold_seconds) if held else None
        await to_thread.run_sync(self._enqueue, int(message["id"]), conversation_id, channel, not_before)
        if not held:
            self.wake.set()

    def _enqueue(self, message_id: int, conversation_id: str, channel: str, not_before: datetime | None) -> None:
        with self._sessions() as session:
            try:
                with session.begin():
                    session.add(
                        OutboxItem(
                            message_id=message_id,
                            conversation_id=conversation_id,
                            channel=channel,
                            next_attempt_at=not_before or utcnow(),
                        )
                    )
            except IntegrityError:
                pass  # already queued

    def enqueue_missing(self, since: datetime) -> int:
        """Queue outbound tg/wx messages stored since `since` that have no outbox row (after a crash)."""
        with self._sessions() as session, session.begin():
            rows = session.execute(
                select(Message.id, Message.conversation_id, Conversation.channel)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
                .where(
                    OutboxItem.id.is_(None),
                    Message.role != "student",
                    Message.created_at >= since,
                    Conversation.channel.in_(DELIVERED_CHANNELS),
                )
                .order_by(Message.id)
            ).all()
            for message_id, conversation_id, channel in rows:
                session.add(OutboxItem(message_id=message_id, conversation_id=conversation_id, channel=channel))
        return len(rows)

    # -- passive reply windows (WeChat) ------------------------------------------------------------
    def hold(self, conversation_id: str) -> None:
        """Open a passive-reply window: new rows of this conversation wait for its end."""
        self._holds[conversation_id] = self._holds.get(conversation_id, 0) + 1

    async def unhold(self, conversation_id: str) -> None:
        """Close a window; when it was the last one, what is still held becomes due now."""
        count = self._holds.get(conversation_id, 0) - 1
        if count > 0:
            self._holds[conversation_id] = count
            return
        self._holds.pop(conversation_id, None)
        await to_thread.run_sync(self._release, conversation_id)
        self.wake.set()

    def _release(self, conversation_id: str) -> None:
        now = utcnow()
        with self._sessions() as session, session.begin():
            session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.conversation_id == conversation_id,
                    OutboxItem.status == OUTBOX_PENDING,
                    OutboxItem.attempts == 0,
                    OutboxItem.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )

    async def mark_passive(self, conversation_id: str, message_ids: list[int]) -> bool:
        """Record these messages as answered in the HTTP response; False if that would break order."""
        return await to_thread.run_sync(self._mark_passive, conversation_id, message_ids)

    def _mark_passive(self, conversation_id: str, message_ids: list[int]) -> bool:
        if not message_ids:
            return False
        try:
            return self._claim_passive(conversation_id, message_ids)
        except _Taken:
            return False

    def _claim_passive(self, conversation_id: str, message_ids: list[int]) -> bool:
        now = utcnow()
        with self._sessions() as session, session.begin():
            earlier = session.scalar(
                select(func.count(OutboxItem.id)).where(
                    OutboxItem.conversation_id == conversation_id,
                    OutboxItem.status == OUTBOX_PENDING,
                    OutboxItem.message_id < min(message_ids),
                )
            )
            if earlier:
                return False  # an older message is still on its way: it must arrive first
            queued = set(session.scalars(select(OutboxItem.message_id).where(OutboxItem.message_id.in_(message_ids))))
            for message_id in sorted(set(message_ids) - queued):  # the listener did not get to them
                session.add(
                    OutboxItem(
                        message_id=message_id,
                        conversation_id=conversation_id,
                        channel="wx",
                        status=OUTBOX_SENT,
                        delivered_via="passive",
                        sent_at=now,
                    )
                )
            if queued:
                claimed = session.execute(
                    update(OutboxItem)
                    .where(
                        OutboxItem.message_id.in_(queued),
                        OutboxItem.status == OUTBOX_PENDING,
                        OutboxItem.attempts == 0,
                        OutboxItem.lease_until.is_(None),
                    )
                    .values(status=OUTBOX_SENT, delivered_via="passive", sent_at=now)
                ).rowcount
                if claimed != len(queued):
                    raise _Taken  # the worker got there first: roll back, it delivers them
        return True

    # -- the worker's side -------------------------------------------------------------------------
    def due(self, channels: list[str], limit: int, busy: set[str]) -> list[int]:
        """Ids of the oldest pending row of each conversation, when it is due and not leased."""
        now = utcnow()
        heads = (
            select(func.min(OutboxItem.id))
            .where(OutboxItem.status == OUTBOX_PENDING)
            .group_by(OutboxItem.conversation_id)
        )
        query = (
            select(OutboxItem.id)
            .where(
                OutboxItem.id.in_(heads),
                OutboxItem.channel.in_(channels),
                OutboxItem.next_attempt_at <= now,
                or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
            )
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if busy:
            query = query.where(OutboxItem.conversation_id.not_in(busy))
        with self._sessions() as session:
            return list(session.scalars(query))

    def claim(self, item_id: int, lease_seconds: float) -> DeliveryJob | None:
        """Lease a row (compare-and-set) and load its message; None if someone else has it."""
        now = utcnow()
        with self._sessions() as session, session.begin():
            won = session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == item_id,
                    OutboxItem.status == OUTBOX_PENDING,
                    or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=lease_seconds))
            ).rowcount
            if not won:
                return None
            item = session.get(OutboxItem, item_id)
            message = session.get(Message, item.message_id) if item is not None else None
            if item is None or message is None:
                return None
            return DeliveryJob(
                item_id=item.id,
                channel=item.channel,
                recipient=item.conversation_id.split(":", 1)[1],
                attempts=item.attempts,
                parts_sent=item.parts_sent,
                message=OutboundMessage(
                    conversation_id=item.conversation_id,
                    text=channel_text(message),
                    role=message.role,
                    buttons=list(message.buttons or []),
                    sender_name=message.sender_name,
                    message_id=message.id,
                ),
            )

    def _set(self, item_id: int, **values: Any) -> None:
        with self._sessions() as session, session.begin():
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))

    def progress(self, item_id: int, parts_sent: int) -> None:
        """Remember that the first `parts_sent` parts are out."""
        self._set(item_id, parts_sent=parts_sent)

    def sent(self, item_id: int) -> None:
        self._set(item_id, status=OUTBOX_SENT, delivered_via="api", sent_at=utcnow(), lease_until=None)

    def retry_later(self, item_id: int, attempts: int, error: str, delay: float) -> None:
        self._set(
            item_id,
            attempts=attempts,
            last_error=error[:500],
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            lease_until=None,
        )

    def fail(self, item_id: int, attempts: int, error: str) -> None:
        """A permanent failure: kept with its error, never retried."""
        self._set(item_id, status=OUTBOX_FAILED, attempts=attempts, last_error=error[:500], lease_until=None)
        logger.warning("outbox row %s failed for good: %s", item_id, error[:200])

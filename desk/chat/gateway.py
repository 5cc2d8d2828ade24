"""The gateway: every inbound message passes here, from every channel.

Order of work for one message: store it (dropping a replayed one), run the crisis pre-filter in every
conversation state (hotline answer, urgent ticket, alert to the console, without Rasa), then route by
the conversation's state (docs/handoff.md):

- `queued` / `human`: the message is for staff (the console sees it through the listeners) and never
  goes to Rasa; a queued student may cancel with 不用了 and gets a queue reminder at most every 2 minutes;
- a pending satisfaction survey (`awaiting`) takes a 1-5 rating and then an optional comment;
- otherwise Rasa answers; a handoff packet in its answer opens a ticket, and the student is told the
  queue position and wait, or outside office hours when a teacher will reply.

Replies are stored, then published to the conversation's listeners (web chat sockets, outbox, console).
Messages of one conversation are handled one at a time, in arrival order. Rasa failures become a plain
notice to the student at once (a refused connection fails in milliseconds, a hung Rasa after
`rasa_timeout_seconds`); nothing is lost, since the inbound message is stored first, and the message is
kept and answered when Rasa is back (desk/chat/pending.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage
from desk.chat.locks import ConversationLock, ConversationLocks
from desk.chat.rasa_client import RasaClient, RasaUnavailable
from desk.handoff import texts
from desk.models import (
    OPEN_TICKET_STATUSES,
    STATE_BOT,
    STATE_HUMAN,
    STATE_QUEUED,
    TICKET_QUEUED,
    Conversation,
    HandoffRequest,
    Message,
)
from knowledge_base import safety
from knowledge_base.models import utcnow
from knowledge_base.names import PAYLOAD_RATE, PAYLOAD_REQUEST_HUMAN, channel_of

logger = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], Awaitable[None]]

BOT_UNAVAILABLE_TEXT = (
    "抱歉，智能助手暂时无法回复（系统繁忙或维护中）。你的消息已经记录，恢复后会稍后回复你；"
    "需要老师帮助请发送「转人工」。如有紧急情况请拨打 110 / 120，心理援助热线 12356。"
)
MAX_TEXT_LENGTH = 1000
BOT_DOWN_HANDOFF_TEXT = "智能助手暂时无法回复，已为你转人工服务。"
CRISIS_PACKET = {"reason": "crisis", "priority": "urgent", "department": "mental_health", "source": "pre-filter"}
# While Rasa is down, these still reach a person (the bot would have understood them as request_human).
HUMAN_REQUEST = re.compile(r"转人工|人工服务|人工客服|找老师|真人")
CANCEL_WORDS = frozenset({"不用了", "不用", "取消", "不用了谢谢", "不需要了", "算了", "取消排队", "不等了"})
SKIP_WORDS = frozenset({"跳过", "不用了", "不用", "没有", "没有了", "无"})
_SCORE = re.compile(r"^\s*([1-5一二三四五])\s*(?:分|星)?\s*[。.!！]?\s*$")
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def log_id(conversation_id: str) -> str:
    """A short, stable pseudonym of a conversation id for logs (no student ids in clear)."""
    return hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:12]


def _plain(text: str) -> str:
    return re.sub(r"[\s，。！!,.～~]+", "", text)


def typed_score(text: str) -> int | None:
    """A typed rating: "5", "4分", "五星" -> 1..5, else None."""
    match = _SCORE.match(text or "")
    if match is None:
        return None
    digit = match.group(1)
    return _ZH_DIGITS.get(digit) or int(digit)


def payload_score(payload: str | None) -> int | None:
    """The score of a `/rate{"score": N}` button payload, else None."""
    if not payload or not payload.startswith(PAYLOAD_RATE):
        return None
    try:
        score = int(json.loads(payload[len(PAYLOAD_RATE) :] or "{}").get("score"))
    except (ValueError, TypeError, AttributeError):
        return None
    return score if 1 <= score <= 5 else None


@dataclass
class GatewayResult:
    """What handling one inbound message produced."""

    duplicate: bool = False
    inbound: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Inbound:
    """A stored inbound message and the conversation's state when it arrived."""

    message: dict[str, Any]
    state: str
    awaiting: str | None


class Gateway:
    """Routes inbound messages to the crisis filter, staff or Rasa, and stores everything."""

    def __init__(self, sessions: sessionmaker, rasa: RasaClient, crisis_line: str = "") -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._crisis_line = crisis_line
        self._locks = ConversationLocks()  # one per conversation with a message in hand, pruned when idle
        self._listeners: list[Listener] = []
        self.handoffs: Any = None  # desk.handoff.service.Handoffs, attached by it
        self.pending: Any = None  # desk.chat.pending.PendingReplies, attached by the app

    def attach_handoffs(self, handoffs: Any) -> None:
        """Tickets are opened and worked by this service (desk/handoff/service.py)."""
        self.handoffs = handoffs

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(conversation_id, message)` for every stored message."""
        self._listeners.append(listener)

    async def _publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                await listener(conversation_id, message)
            except Exception:  # a broken socket must not stop the others
                logger.exception("listener failed for conversation %s", log_id(conversation_id))

    async def publish_all(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """Publish already stored messages, in order."""
        for message in messages:
            await self._publish(conversation_id, message)

    def attach_pending(self, pending: Any) -> None:
        """Messages Rasa could not answer are kept and answered later by this (desk/chat/pending.py)."""
        self.pending = pending

    def conversation_lock(self, conversation_id: str) -> ConversationLock:
        """The lock that serializes the work on one conversation (use it as `async with`)."""
        return self._locks(conversation_id)

    def _lock(self, conversation_id: str) -> ConversationLock:
        return self._locks(conversation_id)

    # -- storage (sync, run in a worker thread) ----------------------------------------------------
    def _store_inbound(self, msg: InboundMessage, text: str) -> Inbound | None:
        with self._sessions() as session:
            try:
                with session.begin():
                    conv = session.get(Conversation, msg.conversation_id)
                    if conv is None:
                        conv = Conversation(id=msg.conversation_id, channel=msg.channel, state=STATE_BOT)
                        session.add(conv)
                        session.flush()
                    now = self.handoffs.now() if self.handoffs is not None else utcnow()
                    conv.last_activity_at = now
                    row = Message(
                        conversation_id=msg.conversation_id,
                        role="student",
                        text=text,
                        payload=msg.payload,
                        external_id=msg.external_id,
                    )
                    session.add(row)
                    session.flush()
                    if conv.state in (STATE_QUEUED, STATE_HUMAN):
                        ticket = session.scalar(
                            select(HandoffRequest).where(HandoffRequest.open_key == msg.conversation_id)
                        )
                        if ticket is None or ticket.status not in OPEN_TICKET_STATUSES:
                            conv.state = STATE_BOT  # no open ticket behind the state: never leave a student stuck
                        else:
                            ticket.last_student_at = now
                    return Inbound(row.public(), conv.state, conv.awaiting)
            except IntegrityError:
                return None  # the channel re-sent a message we already have

    def _store_replies(
        self, conversation_id: str, replies: list[dict[str, Any]], channel: str | None = None
    ) -> list[dict[str, Any]]:
        with self._sessions() as session, session.begin():
            if session.get(Conversation, conversation_id) is None:
                channel = channel or channel_of(conversation_id)
                session.add(Conversation(id=conversation_id, channel=channel, state=STATE_BOT))
                session.flush()
            rows = [
                Message(
                    conversation_id=conversation_id,
                    role=r.get("role", "bot"),
                    text=r.get("text", ""),
                    buttons=r.get("buttons") or [],
                    sender_name=r.get("sender_name"),
                )
                for r in replies
            ]
            session.add_all(rows)
            session.flush()
            return [row.public() for row in rows]

    def store_messages(self, conversation_id: str, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store outbound messages from a worker thread (publish them with `publish_all`)."""
        return self._store_replies(conversation_id, replies)

    def _store_handoff(self, conversation_id: str, packet: dict[str, Any]) -> int:
        """Without the ticket service (bare gateway in tests): one open request per conversation."""
        with self._sessions() as session, session.begin():
            open_request = session.scalar(select(HandoffRequest).where(HandoffRequest.open_key == conversation_id))
            if open_request is not None:
                if packet.get("priority") == "urgent":
                    open_request.priority = "urgent"
                return open_request.id
            req = HandoffRequest(
                conversation_id=conversation_id,
                department_id=packet.get("department"),
                reason=str(packet.get("reason", "request"))[:50],
                priority=packet.get("priority", "normal"),
                status=TICKET_QUEUED,
                open_key=conversation_id,
                queued_at=utcnow(),
                packet=packet,
            )
            session.add(req)
            session.flush()
            return req.id

    def history(self, conversation_id: str, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        """Stored messages of a conversation, oldest first (sync)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).all()
            return [r.public() for r in reversed(rows)]

    async def store_bot_messages(
        self, conversation_id: str, channel: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store and publish messages the desk itself sends (welcome, notices, staff replies)."""
        stored = await to_thread.run_sync(self._store_replies, conversation_id, replies, channel)
        await self.publish_all(conversation_id, stored)
        return stored

    async def record(self, msg: InboundMessage, replies: list[dict[str, Any]]) -> GatewayResult:
        """Store a message the desk answers itself (a channel command, a follow event, a picture)
        and its replies, without Rasa; a replayed message is dropped as in `handle`."""
        async with self._lock(msg.conversation_id):
            inbound = await to_thread.run_sync(self._store_inbound, msg, (msg.text or "").strip()[:MAX_TEXT_LENGTH])
            if inbound is None:
                return GatewayResult(duplicate=True)
            await self._publish(msg.conversation_id, inbound.message)
            stored = await to_thread.run_sync(self._store_replies, msg.conversation_id, replies)
            await self.publish_all(msg.conversation_id, stored)
            return GatewayResult(inbound=inbound.message, replies=stored)

    # -- the message path --------------------------------------------------------------------------
    async def handle(self, msg: InboundMessage) -> GatewayResult:
        """Store, filter, route, answer and publish one inbound message."""
        text = (msg.text or "").strip()[:MAX_TEXT_LENGTH]
        async with self._lock(msg.conversation_id):
            inbound = await to_thread.run_sync(self._store_inbound, msg, text)
            if inbound is None:
                logger.info("duplicate message dropped for conversation %s", log_id(msg.conversation_id))
                return GatewayResult(duplicate=True)
            await self._publish(msg.conversation_id, inbound.message)
            result = GatewayResult(inbound=inbound.message)
            replies = await self._route(msg, text, inbound)
            stored = await to_thread.run_sync(self._store_replies, msg.conversation_id, replies) if replies else []
            await self.publish_all(msg.conversation_id, stored)
            result.replies = stored
            return result

    async def _open_ticket(self, conversation_id: str, packet: dict[str, Any]) -> list[dict[str, Any]]:
        """Open (or join) the conversation's ticket; the notices to send the student."""
        if self.handoffs is None:
            await to_thread.run_sync(self._store_handoff, conversation_id, packet)
            return []
        opened = await to_thread.run_sync(self.handoffs.open_ticket, conversation_id, packet)
        return list(opened.notices)

    async def _route(self, msg: InboundMessage, text: str, inbound: Inbound) -> list[dict[str, Any]]:
        cid = msg.conversation_id
        payload = msg.payload or ""
        if safety.is_crisis(text):  # every state: a person must hear about it now
            logger.warning("crisis pre-filter matched in conversation %s", log_id(cid))
            hotline = {"text": safety.hotline_text(self._crisis_line), "role": "bot"}
            try:
                notices = await self._open_ticket(cid, dict(CRISIS_PACKET, summary=[text[:200]]))
            except Exception:  # the hotlines go out whatever happened to the ticket
                logger.exception("urgent ticket not opened for conversation %s", log_id(cid))
                notices = []
            return [hotline, *notices]
        handoffs = self.handoffs
        if handoffs is None:
            return await self._ask_rasa(msg, text)

        score = payload_score(payload)
        kind, _, ticket_ref = (inbound.awaiting or "").partition(":")
        ticket_id = int(ticket_ref) if ticket_ref.isdigit() else None
        if kind == "rating" and score is None:
            score = typed_score(text)
        survey = ticket_id if kind in ("rating", "comment") else None  # a rating may still be changed
        if score is not None and (kind == "rating" or payload.startswith(PAYLOAD_RATE)):
            rated = await to_thread.run_sync(handoffs.rate, cid, score, survey)
            if rated is None:
                return [{"role": "bot", "text": texts.RATING_EXPIRED}]
            return [{"role": "bot", "text": texts.ASK_COMMENT,
                     "buttons": [{"title": "跳过", "payload": texts.SKIP_PAYLOAD}]}]  # fmt: skip
        moving_on = (payload.startswith("/") and payload != texts.SKIP_PAYLOAD) or bool(HUMAN_REQUEST.search(text))
        if kind == "comment" and ticket_id is not None and not moving_on:
            skipped = payload == texts.SKIP_PAYLOAD or _plain(text) in SKIP_WORDS
            await to_thread.run_sync(handoffs.comment, cid, ticket_id, None if skipped else text)
            return [{"role": "bot", "text": texts.THANKS_SKIP if skipped else texts.THANKS_COMMENT}]
        if kind in ("rating", "comment"):  # not a score, or another button: the survey ends, the bot answers
            await to_thread.run_sync(handoffs.clear_awaiting, cid)
        if payload.startswith(PAYLOAD_RATE) or payload == texts.SKIP_PAYLOAD:  # an old survey button
            return [{"role": "bot", "text": texts.RATING_EXPIRED}]

        wants_cancel = payload == texts.CANCEL_PAYLOAD or (
            inbound.state == STATE_QUEUED and _plain(text) in CANCEL_WORDS
        )
        if wants_cancel:
            outcome = await to_thread.run_sync(handoffs.cancel, cid)
            if outcome == "cancelled":
                return [{"role": "system", "text": texts.CANCELLED}]
            if outcome == "urgent":  # a student in crisis saying 算了 still gets a call from a teacher
                return [{"role": "system", "text": texts.URGENT_NOT_CANCELLED}]
            if inbound.state != STATE_HUMAN:
                return [{"role": "system", "text": texts.NOTHING_TO_CANCEL}]
        if inbound.state == STATE_QUEUED:  # for staff; a reminder of the place in line now and then
            notice = await to_thread.run_sync(handoffs.queue_notice_due, cid)
            return [notice] if notice else []
        if inbound.state == STATE_HUMAN:  # a person has the chat: the bot stays silent
            return []
        return await self._ask_rasa(msg, text)

    async def _ask_rasa(self, msg: InboundMessage, text: str) -> list[dict[str, Any]]:
        message = msg.payload if msg.payload and msg.payload.startswith("/") else text
        pending = self.pending
        try:
            if pending is not None and pending.waiting(msg.conversation_id):
                await pending.catch_up(msg.conversation_id)  # older kept messages first, if the bot is healthy
            answers = await self._rasa.send(msg.conversation_id, message, {"channel": msg.channel})
        except asyncio.CancelledError:  # the desk is stopping: the next one answers it
            if pending is not None:
                await asyncio.shield(pending.keep(msg.conversation_id))
            raise
        except RasaUnavailable as exc:
            logger.error("Rasa unavailable for conversation %s: %s", log_id(msg.conversation_id), exc)
            if msg.payload == PAYLOAD_REQUEST_HUMAN or HUMAN_REQUEST.search(text):
                packet = {"reason": "request", "priority": "normal", "source": "gateway", "summary": [text[:200]]}
                notices = await self._open_ticket(msg.conversation_id, packet)
                return [{"text": BOT_DOWN_HANDOFF_TEXT, "role": "system"}, *notices]
            if pending is not None:
                await pending.keep(msg.conversation_id)
            return [{"text": BOT_UNAVAILABLE_TEXT, "role": "system"}]
        return await self.replies_for(msg.conversation_id, answers)

    async def replies_for(self, conversation_id: str, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages to store for Rasa's answers; a handoff packet among them opens the ticket."""
        replies: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        for answer in answers:
            custom = answer.get("custom")
            if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
                packet = dict(custom["handoff"])
                packet.setdefault("source", "bot")
                notices.extend(await self._open_ticket(conversation_id, packet))
            if answer.get("text"):
                buttons = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in answer.get("buttons") or []
                    if isinstance(b, dict)
                ]
                replies.append({"text": answer["text"], "buttons": buttons, "role": "bot"})
        if not replies and not notices:
            replies.append({"text": BOT_UNAVAILABLE_TEXT, "role": "system"})
        return replies + notices

"""The gateway: every inbound message passes here, from every channel.

Order of work for one message: store it masked (dropping a replayed one; phone, ID-card and student
numbers and the answers to the booking form's contact questions, knowledge_base/redaction.py), run the
crisis pre-filter in every conversation state (hotline answer, urgent ticket, alert to the console,
without Rasa), then route by the conversation's state (docs/handoff.md):

- the handoff service (`desk.handoff.ports.HandoffDesk`, given to the constructor) answers first: a
  pending satisfaction survey, 不用了, a queued student (reminders; the message is for staff) or a
  person in the chat (silence); what those words do is desk/handoff/student.py;
- otherwise Rasa answers; a handoff packet in its answer opens a ticket, and the student is told the
  queue position and wait, or outside office hours when a teacher will reply.

Replies are stored, then published to the conversation's listeners (web chat sockets, outbox, console)
by the `Transcript` (desk/chat/transcript.py), which the handoff service writes through too.
Messages of one conversation are handled one at a time, in arrival order. Rasa failures become a plain
notice to the student at once (a refused connection fails in milliseconds, a hung Rasa after
`rasa_timeout_seconds`); nothing is lost, since the inbound message is stored first, and the message is
kept and answered when Rasa is back (desk/chat/pending.py). Rasa gets the real text (the booking form
needs the name typed); its tracker store masks it on persistence (bot/tracker_store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from connectors.base import InboundMessage
from desk.chat import decisions
from desk.chat.decisions import Decision
from desk.chat.locks import ConversationLock, ConversationLocks
from desk.chat.rasa_client import BotClient, RasaUnavailable
from desk.chat.transcript import Listener, Transcript, log_id, outbound_rows, redact_inbound
from desk.handoff.ports import HandoffDesk, StudentState
from desk.handoff.student import HUMAN_REQUEST
from desk.models import STATE_BOT, Conversation, Message
from knowledge_base import handoff_policy, normalization, safety
from knowledge_base.models import utcnow
from knowledge_base.names import PAYLOAD_REQUEST_HUMAN

logger = logging.getLogger(__name__)

BOT_UNAVAILABLE_TEXT = (
    "抱歉，智能助手暂时无法回复（系统繁忙或维护中）。你的消息已经记录，恢复后会稍后回复你；"
    "需要老师帮助请发送「转人工」。如有紧急情况请拨打 110 / 120，心理援助热线 12356。"
)
MAX_TEXT_LENGTH = 1000
BOT_DOWN_HANDOFF_TEXT = "智能助手暂时无法回复，已为你转人工服务。"
# While Rasa is down, HUMAN_REQUEST (desk/handoff/student.py) still reaches a person (the bot would
# have understood it as request_human).
Replies = list[dict[str, Any]]


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
    student: StudentState


class Gateway:
    """Routes inbound messages to the crisis filter, the handoff service or Rasa, and stores everything."""

    def __init__(
        self,
        sessions: sessionmaker,
        rasa: BotClient,
        handoffs: HandoffDesk | None = None,
        crisis_line: str = "",
        transcript: Transcript | None = None,
    ) -> None:
        self._sessions = sessions
        self._rasa = rasa
        self._crisis_line = crisis_line
        self._locks = ConversationLocks()  # one per conversation with a message in hand, pruned when idle
        self.pending: Any = None  # desk.chat.pending.PendingReplies, attached by the app
        self.insight: Any = None  # desk.insight.chat.InsightChat (surveys, related entries), attached by the app
        self.handoffs = handoffs  # None: a bare gateway (tests), every message goes to Rasa
        self.transcript = transcript or Transcript(sessions)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(conversation_id, message)` for every stored message."""
        self.transcript.add_listener(listener)

    async def _publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        await self.transcript.publish(conversation_id, message)

    async def publish_all(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """Publish already stored messages, in order."""
        await self.transcript.publish_all(conversation_id, messages)

    def attach_pending(self, pending: Any) -> None:
        """Messages Rasa could not answer are kept and answered later by this (desk/chat/pending.py)."""
        self.pending = pending

    def conversation_lock(self, conversation_id: str) -> ConversationLock:
        """The lock that serializes the work on one conversation (use it as `async with`)."""
        return self._locks(conversation_id)

    def busy(self, conversation_id: str) -> bool:
        """Whether this process is handling (or about to handle) a message of the conversation."""
        return self._locks.busy(conversation_id)

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
                        text=redact_inbound(session, msg.conversation_id, text),
                        payload=msg.payload,
                        external_id=msg.external_id,
                        channel=msg.channel,
                    )
                    session.add(row)
                    session.flush()
                    stored = row.public()
                    # the state comes from the conversation's open ticket (desk/handoff/states.py), read in
                    # the transaction that stored the message
                    handoffs = self.handoffs
                    student = (
                        handoffs.student_wrote(session, msg.conversation_id)
                        if handoffs is not None
                        else StudentState(STATE_BOT)
                    )
            except IntegrityError:
                return None  # the channel re-sent a message we already have
        return Inbound(stored, student)

    def _store_replies(
        self, conversation_id: str, replies: list[dict[str, Any]], channel: str | None = None
    ) -> list[dict[str, Any]]:
        return self.transcript.store(conversation_id, replies, channel)

    def _store_answer(
        self, conversation_id: str, replies: list[dict[str, Any]], message_id: int | None, decision: Decision | None
    ) -> list[dict[str, Any]]:
        """The replies and the bot's decision on the student's message, in one transaction (the
        conversation exists: its message was just stored). Should that fail, the replies alone."""
        if message_id is None or decision is None:
            return self._store_replies(conversation_id, replies)
        try:
            with self._sessions() as session, session.begin():
                decisions.apply(session, message_id, decision)
                rows = outbound_rows(conversation_id, replies)
                session.add_all(rows)
                session.flush()
                return [row.public() for row in rows]
        except Exception:  # the student's answer matters more than the statistics
            logger.exception("decision of message %s not recorded", message_id)
            return self._store_replies(conversation_id, replies)

    def store_messages(self, conversation_id: str, replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store outbound messages from a worker thread (publish them with `publish_all`)."""
        return self.transcript.store_messages(conversation_id, replies)

    def history(self, conversation_id: str, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
        """Stored messages of a conversation, oldest first (sync)."""
        return self.transcript.history(conversation_id, after_id, limit)

    async def store_bot_messages(
        self, conversation_id: str, channel: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Store and publish messages the desk itself sends (welcome, notices, staff replies)."""
        return await self.transcript.store_bot_messages(conversation_id, channel, replies)

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
            handoffs = self.handoffs
            known = (  # the console listener needs no lookup of the open ticket for this message's turn
                handoffs.known_ticket(msg.conversation_id, inbound.student.ticket_id)
                if handoffs is not None
                else contextlib.nullcontext()
            )
            with known:
                await self._publish(msg.conversation_id, inbound.message)
                result = GatewayResult(inbound=inbound.message)
                replies, decision = await self._route(msg, text, inbound)
                if replies and normalization.is_traditional(text):  # answer in the student's script
                    replies = [in_traditional(r) for r in replies]
                message_id = inbound.message.get("id")
                stored = (
                    await to_thread.run_sync(self._store_answer, msg.conversation_id, replies, message_id, decision)
                    if replies
                    else []
                )
                await self.publish_all(msg.conversation_id, stored)
            result.replies = stored
            return result

    async def _open_ticket(self, conversation_id: str, packet: dict[str, Any]) -> list[dict[str, Any]]:
        """Open (or join) the conversation's ticket; the notices to send the student."""
        if self.handoffs is None:
            logger.warning("no handoff service: request for a person dropped (%s)", log_id(conversation_id))
            return []
        return await self.handoffs.request_person(conversation_id, packet)

    def _checked_in(self, conversation_id: str) -> bool:
        """True when the bot's last turn (the messages after the student's previous one) had the check-in."""
        mark = normalization.simplify(safety.CHECK_IN_MARK)
        with self._sessions() as session:
            stmt = (
                select(Message.role, Message.text)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id.desc())
                .limit(12)
            )
            rows = list(session.execute(stmt))
        if rows and rows[0].role == "student":
            rows = rows[1:]  # the message being handled
        for row in rows:
            if row.role == "student":
                return False
            if row.role == "bot" and normalization.simplify(row.text or "").startswith(mark):
                return True
        return False

    async def _after_check_in(self, conversation_id: str) -> bool:
        """True when the bot's last turn in this conversation asked the crisis check-in question."""
        return bool(await to_thread.run_sync(self._checked_in, conversation_id))

    async def _route(self, msg: InboundMessage, text: str, inbound: Inbound) -> tuple[Replies, Decision | None]:
        """The replies to a stored message, and the bot's decision when Rasa answered it (not yet stored)."""
        cid = msg.conversation_id
        signal = await to_thread.run_sync(safety.assess, text)
        escalated = (  # the text first: the database is read only for a message that would escalate
            not signal.urgent and safety.escalates_check_in(text, signal) and await self._after_check_in(cid)
        )
        if signal.urgent or escalated:  # every state: a person must hear about it now
            logger.warning(
                "crisis pre-filter (%s) in conversation %s",
                "check-in answered" if escalated else signal.by,
                log_id(cid),
            )
            hotline = {"text": safety.hotline_text(self._crisis_line), "role": "bot"}
            source = "check-in" if escalated else "pre-filter"
            packet = handoff_policy.packet(handoff_policy.REASON_CRISIS, source=source, summary=[text[:200]])
            try:
                notices = await self._open_ticket(cid, packet)
            except Exception:  # the hotlines go out whatever happened to the ticket
                logger.exception("urgent ticket not opened for conversation %s", log_id(cid))
                notices = []
            return [hotline, *notices], None
        if self.handoffs is not None:
            answered = await self.handoffs.answer_student(cid, text, msg.payload or "", inbound.student)
            if answered is not None:
                return answered, None
        insight = self.insight
        if insight is not None and not signal.check_in:  # a survey answer, a clicked suggestion (desk/insight)
            answered = await insight.before(cid, text, msg.payload or "")
            if answered is not None:
                return answered, None
        check_in = [check_in_reply()] if signal.check_in else []
        if signal.check_in:  # a weaker signal: the gentle check-in, then the bot's answer all the same
            logger.info("crisis check-in (%s) in conversation %s", signal.by, log_id(cid))
        replies, decision = await self._ask_rasa(msg, text)
        message_id = inbound.message.get("id")
        if insight is not None and replies and all(r.get("role") == "bot" for r in replies):
            if decision is not None and message_id is not None and await insight.reads_decision():
                await to_thread.run_sync(decisions.record, self._sessions, message_id, decision)
                decision = None  # stored: the related entries and the surveys read it
            replies += await insight.after(cid, message_id)  # not after a handoff or a notice
        return check_in + replies, decision

    async def _ask_rasa(self, msg: InboundMessage, text: str) -> tuple[Replies, Decision | None]:
        # the NLU reads Simplified, half-width text with pinyin and homophones of campus words fixed
        message = msg.payload if msg.payload and msg.payload.startswith("/") else normalization.understanding_text(text)
        pending = self.pending
        try:
            if pending is not None and pending.waiting(msg.conversation_id):
                await pending.catch_up(msg.conversation_id)  # older kept messages first, if the bot is healthy
            answers = await self._rasa.send(msg.conversation_id, message, {"channel": msg.channel})
        except asyncio.CancelledError:  # the desk is stopping: the next one answers it
            if pending is not None:
                await asyncio.shield(pending.keep(msg.conversation_id, text))
            raise
        except RasaUnavailable as exc:
            logger.error("Rasa unavailable for conversation %s: %s", log_id(msg.conversation_id), exc)
            if msg.payload == PAYLOAD_REQUEST_HUMAN or HUMAN_REQUEST.search(text):
                packet = handoff_policy.packet(handoff_policy.REASON_REQUEST, source="gateway", summary=[text[:200]])
                notices = await self._open_ticket(msg.conversation_id, packet)
                return [{"text": BOT_DOWN_HANDOFF_TEXT, "role": "system"}, *notices], None
            if pending is not None:
                await pending.keep(msg.conversation_id, text)
            return [{"text": BOT_UNAVAILABLE_TEXT, "role": "system"}], None
        return await self._replies(msg.conversation_id, answers), decisions.from_answers(answers)

    async def replies_for(
        self, conversation_id: str, answers: list[dict[str, Any]], message_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The messages to store for Rasa's answers; a handoff packet among them opens the ticket.
        What the bot decided (its `decision` custom message, or a handoff) is recorded on the student
        message `message_id` for the insight dashboard."""
        decision = decisions.from_answers(answers)
        if message_id is not None and decision is not None:
            await to_thread.run_sync(decisions.record, self._sessions, message_id, decision)
        return await self._replies(conversation_id, answers)

    async def _replies(self, conversation_id: str, answers: list[dict[str, Any]]) -> Replies:
        """The messages to store for Rasa's answers; a handoff packet among them opens the ticket."""
        replies: Replies = []
        notices: Replies = []
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


def check_in_reply() -> dict[str, Any]:
    """The crisis check-in message with its two answers as buttons."""
    buttons = [{"title": title, "payload": payload} for title, payload in safety.CHECK_IN_BUTTONS]
    return {"text": safety.check_in_text(), "buttons": buttons, "role": "bot"}


def in_traditional(reply: dict[str, Any]) -> dict[str, Any]:
    """A reply with its text and button titles in Traditional Chinese (payloads unchanged)."""
    out = dict(reply)
    out["text"] = normalization.to_traditional(str(reply.get("text") or ""))
    if reply.get("buttons"):
        out["buttons"] = [
            {**b, "title": normalization.to_traditional(str(b.get("title", "")))} for b in reply["buttons"]
        ]
    return out

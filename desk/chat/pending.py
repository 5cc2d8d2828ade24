"""Messages the bot could not answer yet: kept while Rasa or the action server is down, answered after.

When the gateway cannot get an answer from Rasa (not reachable, restarting, or an empty answer because
the action server is down) it tells the student so at once and `keep`s the message: a `pending_replies`
row next to the stored message. A background task checks every few seconds (and when nudged) whether
Rasa and the action server are both healthy again; then it sends the kept messages of each
conversation to Rasa, oldest first, under the gateway's per-conversation lock, and stores the answers.

Order: while a conversation has kept messages, a new message of it first makes the gateway catch up on
them (`catch_up`) when the bot is healthy, so kept messages reach Rasa before newer ones. While the bot
is not healthy the new message still goes to Rasa: with only the action server down, Rasa still answers
what needs no action (你好), and what it cannot answer is kept behind the others.

Exactly once, as the student sees it: the answers of a kept message are stored in the same
transaction that marks it answered, and rows are read from the database (not memory) after a
restart. A desk that dies after Rasa answered but before that commit sends the message to Rasa again
on its next start; the student still gets one answer (Rasa's tracker holds the message twice).

Unanswered after a crash: a desk killed with `kill -9` while Rasa was thinking stored the student's
message but neither an answer nor a pending row. Every desk process therefore adopts, every few seconds,
the student messages of the last `adopt_within_minutes` that are older than `adopt_after_seconds` and
have nothing after them: no answer, no pending row, no ticket open at the time (a queued or served
student's message is for staff, and silence is right), and no message of that conversation in hand in
this process. Live handling of a message ends (answered or kept) within Rasa's timeout, well under
`adopt_after_seconds`; the unique pending row per message makes two desks adopting it at once keep it once.

A conversation a person has taken meanwhile (the student asked for 转人工) is left to staff, who see the
message in the console. A message Rasa still cannot answer after `max_attempts` tries while healthy is
given up with a notice suggesting 转人工.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from anyio import to_thread
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, sessionmaker

from desk.chat.rasa_client import BotClient, RasaUnavailable
from desk.chat.transcript import outbound_rows
from desk.models import (
    PENDING_ANSWERED,
    PENDING_FAILED,
    PENDING_TO_STAFF,
    PENDING_WAITING,
    STATE_BOT,
    Conversation,
    HandoffRequest,
    Message,
    PendingReply,
)
from knowledge_base import normalization
from knowledge_base.booking.errors import ContactKeyError
from knowledge_base.models import utcnow
from knowledge_base.names import channel_of
from knowledge_base.privacy import ContactCipher
from knowledge_base.redaction import redact_text

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[bool]]

GAVE_UP_TEXT = "抱歉，你之前的消息「{text}」智能助手仍无法回复。需要老师帮助请发送「转人工」。"


@dataclass(frozen=True)
class Kept:
    """A kept message with what is needed to send it to Rasa again."""

    pending_id: int
    text: str
    payload: str | None
    channel: str
    state: str
    attempts: int
    message_id: int | None = None


def health_probe(rasa: BotClient, http: httpx.AsyncClient, action_server_url: str) -> Probe:
    """True when Rasa has a model loaded and the action server answers its /health."""

    async def probe() -> bool:
        try:
            await rasa.status()
            resp = await http.get(f"{action_server_url.rstrip('/')}/health", timeout=3.0)
        except (RasaUnavailable, httpx.HTTPError):
            return False
        return resp.status_code == 200

    return probe


class PendingReplies:
    """Keeps unanswered student messages and answers them, in order, once the bot is back."""

    def __init__(
        self,
        sessions: sessionmaker,
        gateway: Any,  # desk.chat.gateway.Gateway (it imports this module's user, not the reverse)
        rasa: BotClient,
        probe: Probe,
        *,
        poll_seconds: float = 2.0,
        max_attempts: int = 3,
        cipher: ContactCipher | None = None,
        adopt_after_seconds: float = 45.0,
        adopt_within_minutes: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher  # seals the real text of a kept message; None: the stored (masked) text is sent
        self._gateway = gateway
        self._rasa = rasa
        self._probe = probe
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._adopt_after = adopt_after_seconds
        self._adopt_within = adopt_within_minutes
        self._adopted_at = 0.0  # monotonic time of the last look for unanswered messages
        self._waiting: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- storage (sync, in a worker thread) --------------------------------------------------------
    def _load_waiting(self) -> set[str]:
        with self._sessions() as session:
            rows = session.scalars(
                select(PendingReply.conversation_id).where(PendingReply.status == PENDING_WAITING).distinct()
            ).all()
        return set(rows)

    def _keep_newest(self, conversation_id: str, text: str | None = None) -> bool:
        """A pending row for the conversation's newest student message (the one being handled)."""
        sealed = self._cipher.seal_text(text) if self._cipher is not None and text else None
        with self._sessions() as session, session.begin():
            message_id = session.scalar(
                select(Message.id)
                .where(Message.conversation_id == conversation_id, Message.role == "student")
                .order_by(Message.id.desc())
                .limit(1)
            )
            if message_id is None:
                return False
            if session.scalar(select(PendingReply.id).where(PendingReply.message_id == message_id)) is None:
                session.add(PendingReply(message_id=message_id, conversation_id=conversation_id, sealed_text=sealed))
            return True

    def _adopt_unanswered(self) -> set[str]:
        """Keep the student messages left with nothing after them (module docstring); their conversations."""
        now = utcnow()
        later = aliased(Message)
        answered = exists().where(
            later.conversation_id == Message.conversation_id, later.id > Message.id, later.role != "student"
        )
        kept = exists().where(PendingReply.message_id == Message.id)
        ticket_then = exists().where(
            HandoffRequest.conversation_id == Message.conversation_id,
            HandoffRequest.created_at <= Message.created_at,
            or_(HandoffRequest.closed_at.is_(None), HandoffRequest.closed_at >= Message.created_at),
        )
        query = (
            select(Message.id, Message.conversation_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.state == STATE_BOT,
                Conversation.last_activity_at >= now - timedelta(minutes=self._adopt_within),
                Message.role == "student",
                Message.created_at >= now - timedelta(minutes=self._adopt_within),
                Message.created_at <= now - timedelta(seconds=self._adopt_after),
                ~answered,
                ~kept,
                ~ticket_then,
            )
            .order_by(Message.id)
        )
        with self._sessions() as session:
            found = session.execute(query).all()
        adopted: set[str] = set()
        for message_id, conversation_id in found:
            if self._gateway.busy(conversation_id):
                continue  # in hand here: it is answered or kept by its handler
            try:
                with self._sessions() as session, session.begin():
                    session.add(PendingReply(message_id=message_id, conversation_id=conversation_id))
            except IntegrityError:
                continue  # another desk adopted it first
            adopted.add(conversation_id)
        if adopted:
            logger.warning("%d conversations had a message left unanswered (a desk stopped mid-answer)", len(adopted))
        return adopted

    async def adopt_unanswered(self) -> None:
        """Look for unanswered messages now and then (at most every third of `adopt_after_seconds`)."""
        if time.monotonic() - self._adopted_at < self._adopt_after / 3:
            return
        self._adopted_at = time.monotonic()
        self._waiting |= await to_thread.run_sync(self._adopt_unanswered)

    def _kept(self, conversation_id: str) -> list[Kept]:
        with self._sessions() as session:
            conv = session.get(Conversation, conversation_id)
            rows = session.execute(
                select(
                    PendingReply.id,
                    PendingReply.attempts,
                    Message.text,
                    Message.payload,
                    PendingReply.sealed_text,
                    Message.id.label("mid"),
                )
                .join(Message, Message.id == PendingReply.message_id)
                .where(PendingReply.conversation_id == conversation_id, PendingReply.status == PENDING_WAITING)
                .order_by(PendingReply.message_id)
            ).all()
            state = conv.state if conv is not None else STATE_BOT
            channel = conv.channel if conv is not None else channel_of(conversation_id)
        return [
            Kept(r.id, self._real_text(r.text, r.sealed_text), r.payload, channel, state, r.attempts, r.mid)
            for r in rows
        ]

    def _real_text(self, stored: str, sealed: str | None) -> str:
        """What the student typed: the sealed text when there is one and it opens, else the stored text."""
        if sealed and self._cipher is not None:
            with contextlib.suppress(ContactKeyError):
                return self._cipher.open_text(sealed)
        return stored

    def _finish(
        self, pending_id: int, status: str, conversation_id: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Mark the row done and store its replies, in one transaction; [] when it was done already."""
        with self._sessions() as session, session.begin():
            marked = session.execute(
                update(PendingReply)
                .where(PendingReply.id == pending_id, PendingReply.status == PENDING_WAITING)
                .values(status=status, done_at=utcnow(), sealed_text=None)
            )
            if marked.rowcount != 1:
                return []
            rows = outbound_rows(conversation_id, replies)
            session.add_all(rows)
            session.flush()
            return [row.public() for row in rows]

    def _count_attempt(self, pending_id: int) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(PendingReply).where(PendingReply.id == pending_id).values(attempts=PendingReply.attempts + 1)
            )

    # -- the gateway's side ------------------------------------------------------------------------
    def waiting(self, conversation_id: str) -> bool:
        """Whether the conversation has kept messages not answered yet."""
        return conversation_id in self._waiting

    async def keep(self, conversation_id: str, text: str | None = None) -> None:
        """Keep the message being handled, `text` as the student typed it (the caller holds the lock)."""
        if await to_thread.run_sync(self._keep_newest, conversation_id, text):
            self._waiting.add(conversation_id)

    async def catch_up(self, conversation_id: str) -> bool:
        """Answer the kept messages before a new one (lock held) if the bot is healthy; True when none is left."""
        return await self._probe() and await self._answer(conversation_id, count_attempts=False)

    # -- answering ---------------------------------------------------------------------------------
    async def _answer(self, conversation_id: str, *, count_attempts: bool) -> bool:
        """Answer this conversation's kept messages in order (lock held); False if Rasa failed again."""
        while kept_rows := await to_thread.run_sync(self._kept, conversation_id):
            kept = kept_rows[0]  # one at a time: an answer may hand the chat to a person
            if kept.state != STATE_BOT:  # a person has the chat: the console shows the message
                await to_thread.run_sync(self._finish, kept.pending_id, PENDING_TO_STAFF, conversation_id, [])
                continue
            kept_text = normalization.understanding_text(kept.text)  # as the gateway sends it
            message = kept.payload if kept.payload and kept.payload.startswith("/") else kept_text
            try:
                answers = await self._rasa.send(conversation_id, message, {"channel": kept.channel})
            except RasaUnavailable as exc:
                if not count_attempts:
                    return False
                logger.warning("kept message %s still unanswered: %s", kept.pending_id, exc)
                if kept.attempts + 1 < self._max_attempts:
                    await to_thread.run_sync(self._count_attempt, kept.pending_id)
                    return False
                notice = {"role": "system", "text": GAVE_UP_TEXT.format(text=redact_text(kept.text)[:30])}
                stored = await to_thread.run_sync(
                    self._finish, kept.pending_id, PENDING_FAILED, conversation_id, [notice]
                )
                await self._gateway.publish_all(conversation_id, stored)
                continue
            replies = await self._gateway.replies_for(conversation_id, answers, kept.message_id)
            stored = await to_thread.run_sync(self._finish, kept.pending_id, PENDING_ANSWERED, conversation_id, replies)
            await self._gateway.publish_all(conversation_id, stored)
        self._waiting.discard(conversation_id)
        return True

    async def flush(self) -> None:
        """One round: when the bot is healthy, answer every conversation's kept messages."""
        if not self._waiting or not await self._probe():
            return
        for conversation_id in sorted(self._waiting):
            async with self._gateway.conversation_lock(conversation_id):
                if conversation_id not in self._waiting:
                    continue  # a new message of it caught up meanwhile
                if not await self._answer(conversation_id, count_attempts=True):
                    return  # down again: wait for the next round
        logger.info("kept messages answered; %d conversations still waiting", len(self._waiting))

    def nudge(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        self._waiting |= await to_thread.run_sync(self._load_waiting)
        if self._waiting:
            logger.info("%d conversations have messages kept from before the restart", len(self._waiting))
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
            try:
                await self.adopt_unanswered()
                await self.flush()
            except Exception as exc:  # the database may be down too: try again next round
                logger.error("kept messages not answered this round: %s", type(exc).__name__)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

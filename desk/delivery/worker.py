"""The delivery worker: sends outbox rows through their channel, in order per conversation.

Started in the FastAPI lifespan when a channel is configured. Each conversation has at most one
row in flight; other conversations go on in parallel (up to `concurrency`). A failed send is tried
again with exponential back-off and jitter, or after the channel's own `retry_after` (Telegram's
429); after `max_attempts`, or at once for a permanent error, the row is marked failed with the
error. Rows stored before a crash without an outbox row are queued again at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from datetime import timedelta

from anyio import to_thread

from connectors.base import ChannelSender, DeliveryError
from desk.chat.gateway import log_id
from desk.delivery.outbox import DeliveryJob, Outbox
from desk.tasks import cancel_and_wait
from knowledge_base.models import utcnow

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(hours=24)


class DeliveryWorker:
    """One background task that drains the outbox through the configured channel senders."""

    def __init__(
        self,
        outbox: Outbox,
        senders: dict[str, ChannelSender],
        *,
        max_attempts: int = 8,
        retry_base_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
        concurrency: int = 8,
        poll_seconds: float = 1.0,
        lease_seconds: float = 120.0,
    ) -> None:
        self._outbox = outbox
        self._senders = senders
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def backoff(self, attempts: int) -> float:
        """Seconds before try number `attempts + 1`: doubling from the base, capped, with ±20 % jitter."""
        delay = min(self._retry_max, self._retry_base * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        """Stop the loop and what is in flight (a leased row is retried after its lease)."""
        self._stopping = True
        self._outbox.wake.set()
        await cancel_and_wait([self._task, *self._inflight.values()])

    async def _run(self) -> None:
        try:
            queued = await to_thread.run_sync(self._outbox.enqueue_missing, utcnow() - RECONCILE_WINDOW)
            if queued:
                logger.warning("queued %d outbound messages that had no outbox row", queued)
        except Exception:
            logger.exception("outbox reconciliation failed")
        channels = sorted(self._senders)
        while not self._stopping:
            self._outbox.wake.clear()
            try:
                await self._dispatch(channels)
            except Exception:
                logger.exception("outbox poll failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox.wake.wait(), timeout=self._poll)

    async def _dispatch(self, channels: list[str]) -> None:
        free = self._concurrency - len(self._inflight)
        if free <= 0 or self._stopping:
            return
        busy = set(self._inflight)
        for item_id in await to_thread.run_sync(self._outbox.due, channels, free, busy):
            if self._stopping:
                return
            job = await to_thread.run_sync(self._outbox.claim, item_id, self._lease)
            if job is None or job.message.conversation_id in self._inflight:
                continue
            conversation_id = job.message.conversation_id
            task = asyncio.create_task(self._deliver(job))
            self._inflight[conversation_id] = task
            task.add_done_callback(functools.partial(self._done, conversation_id))

    def _done(self, conversation_id: str, _task: object) -> None:
        self._inflight.pop(conversation_id, None)
        self._outbox.wake.set()

    async def _deliver(self, job: DeliveryJob) -> None:
        conv = log_id(job.message.conversation_id)
        sender = self._senders[job.channel]
        attempts = job.attempts + 1
        try:
            parts = sender.parts(job.message)
            for index in range(job.parts_sent, len(parts)):
                await sender.send(job.recipient, parts[index])
                await to_thread.run_sync(self._outbox.progress, job.item_id, index + 1)
        except DeliveryError as exc:
            if exc.permanent or attempts >= self._max_attempts:
                logger.warning("delivery to conversation %s failed (attempt %d): %s", conv, attempts, exc)
                await to_thread.run_sync(self._outbox.fail, job.item_id, attempts, str(exc))
                return
            delay = exc.retry_after if exc.retry_after is not None else self.backoff(attempts)
            logger.info("delivery to conversation %s will be retried in %.1fs: %s", conv, delay, exc)
            await to_thread.run_sync(self._outbox.retry_later, job.item_id, attempts, str(exc), delay)
            return
        except Exception as exc:  # a bug must not lose the message: retry, bounded by max_attempts
            error = f"internal error: {type(exc).__name__}"
            logger.error("delivery to conversation %s crashed: %s", conv, error)  # no message: it may quote ids
            if attempts >= self._max_attempts:
                await to_thread.run_sync(self._outbox.fail, job.item_id, attempts, error)
            else:
                await to_thread.run_sync(self._outbox.retry_later, job.item_id, attempts, error, self.backoff(attempts))
            return
        await to_thread.run_sync(self._outbox.sent, job.item_id)

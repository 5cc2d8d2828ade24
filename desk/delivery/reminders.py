"""The reminder worker: tells students about their appointment, once, in their own conversation.

Every `poll_seconds` (and once at start, so a restart catches up at once) it asks
`knowledge_base.booking.reminders.Reminders` for the reminders due now, claims each with
`mark_reminded` (a conditional UPDATE: of two desk processes only one wins), and stores the Chinese
reminder in the student's conversation through `Gateway.store_bot_messages`. Storing publishes it:
the web chat hub pushes it to open sockets (or the student sees it in the history next time), and
with Telegram or WeChat on, the outbox delivers it to the student's channel.

Order: mark first, then store. A reminder is therefore sent at most once, whatever crashes or how
many workers run: whoever stores it holds the mark. The price is that a reminder can be lost when
the process dies between the mark and the store (a window of milliseconds); a store that fails while
the process lives (database down, a bug) is kept in memory and tried again on the next ticks until
the appointment starts. Storing first would instead send it twice after such a crash, and twice
from two workers racing on the same due reminder.

Logs name booking codes only (never the student's name, number, phone or conversation id), and an
error is logged by its type, since database errors quote the statement's parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import date, datetime

from anyio import to_thread

from desk.chat.gateway import Gateway, log_id
from desk.tasks import cancel_and_wait
from knowledge_base import names
from knowledge_base.booking.reminders import Reminders
from knowledge_base.booking.types import Reminder
from knowledge_base.models import utcnow
from knowledge_base.timeexpr import TZ, WEEKDAYS_ZH

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Buttons send their title as the student's text ("取消预约" starts the bot's cancel dialogue).
REMINDER_BUTTONS = [{"title": "取消预约", "payload": "取消预约"}, {"title": "我的预约", "payload": "我的预约"}]


def channel_of(conversation_id: str) -> str:
    """The channel of a conversation id (`web:…`, `tg:…`, `wx:…`); unknown prefixes count as web."""
    prefix = names.channel_of(conversation_id)
    return prefix if prefix in names.CHANNELS else "web"


def _day_word(day: date, today: date) -> str:
    """今天 / 明天 / 后天 before the date, so a student reading on a phone sees it at once."""
    return {0: "今天", 1: "明天", 2: "后天"}.get((day - today).days, "")


def reminder_text(reminder: Reminder, now: datetime) -> str:
    """The reminder as the student reads it (Chinese, times in Asia/Shanghai)."""
    start, end = reminder.start.astimezone(TZ), reminder.end.astimezone(TZ)
    word = _day_word(start.date(), now.astimezone(TZ).date())
    when = f"{word} {start.month}月{start.day}日（{WEEKDAYS_ZH[start.weekday()]}）".strip()
    lines = [
        f"【预约提醒】你预约的「{reminder.service_name}」将于{when}{start:%H:%M}-{end:%H:%M} 开始。",
        f"办理部门：{reminder.department_name}",
    ]
    if reminder.mode == "online":
        lines.append("方式：线上")
    else:
        lines.append(f"地点：{reminder.location or reminder.department_name}")
    if reminder.staff_name:
        lines.append(f"老师/窗口：{reminder.staff_name}")
    lines.append(f"预约码：{reminder.code}")
    lines.append("如需取消，请回复“取消预约”；查看或修改预约请回复“我的预约”。")
    return "\n".join(lines)


class ReminderWorker:
    """One background task that sends due appointment reminders (see the module docstring)."""

    def __init__(
        self,
        reminders: Reminders,
        gateway: Gateway,
        *,
        poll_seconds: float = 30.0,
        clock: Clock = utcnow,
        batch: int = 100,
    ) -> None:
        self.reminders = reminders
        self.clock = clock  # replaced by tests (frozen time)
        self._gateway = gateway
        self._poll = poll_seconds
        self._batch = batch
        self._unsent: dict[str, Reminder] = {}  # marked by us, not yet stored: retried next tick
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="booking-reminders")

    async def stop(self) -> None:
        """Stop the loop; a tick in progress is cancelled (its marked, unsent reminders are lost)."""
        self._stopping = True
        self._wake.set()
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except Exception as exc:  # a database outage must not end the loop; try again next time
                logger.error("reminder poll failed: %s", type(exc).__name__)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def tick(self) -> int:
        """Send what is due now; returns how many reminders were stored. Raises when the poll fails."""
        now = self.clock()
        due = await to_thread.run_sync(lambda: self.reminders.due(now=now, limit=self._batch))
        sent = 0
        for code, reminder in list(self._unsent.items()):  # ours already: only the store is missing
            if self._unsent.pop(code, None) is None:
                continue  # a concurrent tick is storing it
            if reminder.start <= now or any(r.code == code for r in due):  # started, or moved (due afresh)
                logger.warning("booking %s: earlier reminder dropped (appointment started or moved)", code)
            elif await self._store(reminder, now):
                sent += 1
        for reminder in due:
            if self._stopping:
                break
            try:
                won = await to_thread.run_sync(functools.partial(self.reminders.mark_reminded, reminder.code, now=now))
            except Exception as exc:  # not marked: it stays due and is tried on the next tick
                logger.error("booking %s: could not mark the reminder: %s", reminder.code, type(exc).__name__)
                continue
            if not won:
                continue  # another worker sent it, or the booking changed meanwhile
            if await self._store(reminder, now):
                sent += 1
        return sent

    async def _store(self, reminder: Reminder, now: datetime) -> bool:
        """Store (and so publish) one reminder we hold the mark of; False keeps it for the next tick.

        A reminder is in `_unsent` only while nobody is storing it, so two ticks never store it twice."""
        conversation_id = reminder.student_key
        message = {"role": "bot", "text": reminder_text(reminder, now), "buttons": REMINDER_BUTTONS}
        try:
            await self._gateway.store_bot_messages(conversation_id, channel_of(conversation_id), [message])
        except Exception as exc:
            logger.error(
                "booking %s: reminder to conversation %s not stored, retrying next tick: %s",
                reminder.code,
                log_id(conversation_id),
                type(exc).__name__,
            )
            self._unsent[reminder.code] = reminder  # marked as ours: only the store is missing
            return False
        logger.info("booking %s: reminder sent to conversation %s", reminder.code, log_id(conversation_id))
        return True

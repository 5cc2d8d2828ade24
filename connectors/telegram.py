"""The Telegram channel (python-telegram-bot 22): webhook secret, update parsing, sending, long polling.

Conversation ids are `tg:<chat id>`; only private chats are served (a help desk answers one student,
not a group). An update becomes one `TelegramEvent`: a text message, a command (/start, /help;
/human is a message with the payload `/request_human`), a pressed button, something that is not
text (answered politely), or nothing to do. Buttons carry `b:<message id>:<index>` as callback
data (Telegram allows 64 bytes, too few for payloads), which the desk maps back to the stored
button. The desk decides what to do with an event; this module never imports it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from connectors.base import DeliveryError, InboundMessage, OutboundMessage, OutboundPart
from connectors.text import split_text, utf16_len
from knowledge_base import names

logger = logging.getLogger(__name__)

CHANNEL = names.CHANNEL_TELEGRAM
MAX_MESSAGE_LENGTH = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096, in UTF-16 code units
MAX_BUTTON_TITLE = 64
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
HUMAN_PAYLOAD = names.PAYLOAD_REQUEST_HUMAN
UNSUPPORTED_TEXT = "抱歉，我目前只能看懂文字消息。请用文字描述你的问题，或发送 /human 联系老师。"
EMPTY_TEXT_WITH_BUTTONS = "请选择："
_CALLBACK = re.compile(r"^b:(\d{1,18}):(\d{1,2})$")

EventKind = Literal["message", "command", "button", "unsupported", "ignored"]


def secret_matches(expected: str, received: str | None) -> bool:
    """Constant-time check of the X-Telegram-Bot-Api-Secret-Token header."""
    if not expected or received is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


@dataclass(frozen=True)
class TelegramEvent:
    """What one update asks of the desk."""

    kind: EventKind
    update_id: int
    chat_id: int | None = None
    inbound: InboundMessage | None = None
    command: str | None = None
    callback_query_id: str | None = None
    button: tuple[int, int] | None = None  # (stored message id, button index)

    @property
    def external_id(self) -> str:
        return str(self.update_id)


def _command(text: str) -> str | None:
    """`/Start@campus_bot args` -> `start`; None when the text is not a command."""
    if not text.startswith("/"):
        return None
    word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    return word.split("@", 1)[0].lower() or None


def parse_update(update: Update) -> TelegramEvent:
    """Classify an update; never raises for update kinds the desk does not serve."""
    uid = update.update_id
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message is not None else None
        if chat is None or chat.type != "private":
            return TelegramEvent("ignored", uid, callback_query_id=query.id)
        match = _CALLBACK.match(query.data or "")
        button = (int(match.group(1)), int(match.group(2))) if match else None
        return TelegramEvent("button", uid, chat_id=chat.id, callback_query_id=query.id, button=button)

    message = update.message
    if message is None or message.chat.type != "private":
        return TelegramEvent("ignored", uid)  # edited messages, channel posts, membership changes, groups
    chat_id = message.chat.id
    text = (message.text or "").strip()
    if not text:
        return TelegramEvent("unsupported", uid, chat_id=chat_id)
    command = _command(text)
    if command == "human":
        inbound = InboundMessage(CHANNEL, str(chat_id), "/human", external_id=str(uid), payload=HUMAN_PAYLOAD)
        return TelegramEvent("message", uid, chat_id=chat_id, inbound=inbound)
    if command is not None:  # /start, /help, and any unknown command: the menu
        return TelegramEvent("command", uid, chat_id=chat_id, command=command if command == "start" else "help")
    inbound = InboundMessage(CHANNEL, str(chat_id), text, external_id=str(uid))
    return TelegramEvent("message", uid, chat_id=chat_id, inbound=inbound)


def inbound_for(event: TelegramEvent, text: str, payload: str | None = None) -> InboundMessage:
    """The message the desk stores for an event it answers itself (a command, a button, a sticker)."""
    if event.chat_id is None:
        raise ValueError("event has no chat")
    return InboundMessage(CHANNEL, str(event.chat_id), text, external_id=event.external_id, payload=payload)


def make_bot(token: str, api_base: str = "https://api.telegram.org", timeout: float = 10.0) -> Bot:
    """A Bot talking to `api_base` (Telegram, or a fake on loopback in tests), with timeouts."""
    base = api_base.rstrip("/")
    request = HTTPXRequest(
        connection_pool_size=16, connect_timeout=5.0, read_timeout=timeout, write_timeout=timeout, pool_timeout=5.0
    )
    updates_request = HTTPXRequest(
        connection_pool_size=1, connect_timeout=5.0, read_timeout=timeout, write_timeout=timeout, pool_timeout=5.0
    )
    return Bot(
        token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=request,
        get_updates_request=updates_request,
    )


async def answer_callback(bot: Bot, query_id: str) -> None:
    """Stop the button's spinner; a failure here only costs the student a spinner."""
    try:
        await bot.answer_callback_query(query_id)
    except TelegramError as exc:
        logger.warning("answerCallbackQuery failed: %s", type(exc).__name__)


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """Sends stored messages to a chat: split at 4096 UTF-16 units, buttons as an inline keyboard."""

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    def parts(self, message: OutboundMessage) -> list[OutboundPart]:
        chunks = split_text(message.text, MAX_MESSAGE_LENGTH, utf16_len)
        if not chunks and message.buttons:
            chunks = [EMPTY_TEXT_WITH_BUTTONS]
        parts = [OutboundPart(chunk, ref=message.message_id) for chunk in chunks]
        if parts and message.buttons:  # the keyboard goes under the last part
            parts[-1] = OutboundPart(parts[-1].text, list(message.buttons), message.message_id)
        return parts

    @staticmethod
    def keyboard(part: OutboundPart) -> InlineKeyboardMarkup | None:
        """One button per row, each carrying `b:<message id>:<index>`."""
        if not part.buttons or part.ref is None:
            return None
        rows = [
            [InlineKeyboardButton(str(b.get("title", ""))[:MAX_BUTTON_TITLE] or "…", callback_data=f"b:{part.ref}:{i}")]
            for i, b in enumerate(part.buttons)
        ]
        return InlineKeyboardMarkup(rows)

    async def send(self, recipient: str, part: OutboundPart) -> None:
        try:
            await self._bot.send_message(chat_id=int(recipient), text=part.text, reply_markup=self.keyboard(part))
        except RetryAfter as exc:
            raise DeliveryError("telegram flood control (429)", retry_after=_seconds(exc.retry_after)) from exc
        except (Forbidden, BadRequest, ChatMigrated) as exc:
            raise DeliveryError(f"telegram refused: {exc.message}", permanent=True) from exc
        except TelegramError as exc:  # network errors, time-outs, 5xx, a rejected token
            raise DeliveryError(f"telegram error: {type(exc).__name__}: {exc.message}") from exc


UpdateHandler = Callable[[Update], Awaitable[None]]


class TelegramPoller:
    """Long polling (getUpdates) for a campus without a public HTTPS address.

    An update is confirmed to Telegram (by asking for the next offset) only after `handle`
    returned, i.e. after the desk stored it; when `handle` raises, the same update is tried again
    after a back-off, so nothing is lost when the database hiccups.
    """

    def __init__(self, bot: Bot, handle: UpdateHandler, timeout: int = 30, max_backoff: float = 60.0) -> None:
        self._bot = bot
        self._handle = handle
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._offset: int | None = None
        self._running = True

    def stop(self) -> None:
        """Leave the loop at the next turn (cancelling the task also works)."""
        self._running = False

    async def _pause(self, failures: int) -> None:
        await asyncio.sleep(min(self._max_backoff, 0.5 * 2 ** min(failures, 8)))

    async def run(self) -> None:
        """Poll until cancelled."""
        webhook_cleared = False
        failures = 0
        while self._running:
            try:
                if not webhook_cleared:  # getUpdates answers 409 while a webhook is set
                    await self._bot.delete_webhook(drop_pending_updates=False)
                    webhook_cleared = True
                updates = await self._bot.get_updates(
                    offset=self._offset, timeout=self._timeout, allowed_updates=ALLOWED_UPDATES
                )
            except Conflict:
                logger.error("Telegram reports a conflict (a webhook or another poller); retrying")
                webhook_cleared = False
                failures += 1
                await self._pause(failures)
                continue
            except TelegramError as exc:
                failures += 1
                logger.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await self._pause(failures)
                continue
            failures = 0
            for update in updates:
                if not self._running:
                    return
                try:
                    await self._handle(update)
                except Exception:
                    logger.exception("update could not be stored; it will be fetched again")
                    failures += 1
                    await self._pause(failures)
                    break
                self._offset = update.update_id + 1

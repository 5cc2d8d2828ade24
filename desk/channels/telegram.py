"""The Telegram channel in the desk: what each update does, webhook registration, long polling.

`handle_update` serves both modes and returns once the student's message is stored (the webhook
then answers 200, the poller confirms the update); it raises NotStored otherwise, so Telegram
delivers the update again. Answers go out through the outbox, never from the webhook itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import sessionmaker
from telegram import Bot, Update
from telegram.error import TelegramError

from connectors.telegram import (
    ALLOWED_UPDATES,
    UNSUPPORTED_TEXT,
    TelegramPoller,
    answer_callback,
    inbound_for,
    parse_update,
)
from desk.channels.common import Runner, stored_button
from desk.chat.gateway import Gateway, GatewayResult, log_id
from desk.chat.welcome import help_reply, welcome_reply
from desk.insight import menus
from desk.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
UNSUPPORTED_LABEL = "[非文字消息]"


class TelegramChannel:
    """One bot, in webhook or polling mode."""

    def __init__(
        self,
        bot: Bot,
        gateway: Gateway,
        sessions: sessionmaker,
        runner: Runner,
        *,
        mode: str,
        secret: str,
        public_url: str = "",
        university_name: str = "",
        poll_timeout: int = 30,
    ) -> None:
        self.bot = bot
        self.mode = mode
        self.secret = secret
        self._gateway = gateway
        self._sessions = sessions
        self._runner = runner
        self._public_url = public_url.rstrip("/")
        self._university = university_name
        self._poll_timeout = poll_timeout
        self._tasks: list[asyncio.Task[None]] = []
        self._poller: TelegramPoller | None = None

    async def handle_update(self, update: Update) -> None:
        """Store and answer one update; returns when it is stored, raises NotStored otherwise."""
        event = parse_update(update)
        if event.callback_query_id is not None:
            await answer_callback(self.bot, event.callback_query_id)
        if event.kind == "ignored" or event.chat_id is None:
            return
        work: Coroutine[Any, Any, GatewayResult]
        if event.kind == "button":
            conversation_id = f"tg:{event.chat_id}"
            button = None
            if event.button is not None:
                button = await to_thread.run_sync(stored_button, self._sessions, conversation_id, *event.button)
            if button is None:
                logger.info("unknown or stale button in conversation %s", log_id(conversation_id))
                return
            inbound = inbound_for(event, button["title"], button["payload"] or None)
            work = self._gateway.handle(inbound)
        elif event.kind == "command":
            inbound = inbound_for(event, f"/{event.command}")
            hot = await to_thread.run_sync(menus.hot_for, self._sessions, f"tg:{event.chat_id}")
            reply = welcome_reply(self._university, hot) if event.command == "start" else help_reply(hot)
            work = self._gateway.record(inbound, [reply])
        elif event.kind == "unsupported":
            inbound = inbound_for(event, UNSUPPORTED_LABEL)
            work = self._gateway.record(inbound, [{"role": "bot", "text": UNSUPPORTED_TEXT}])
        else:
            assert event.inbound is not None
            inbound = event.inbound
            work = self._gateway.handle(inbound)
        await self._runner.until_stored(work, inbound)

    async def start(self) -> None:
        """Start polling, or register the webhook when the desk knows its public address."""
        if self.mode == "polling":
            self._poller = TelegramPoller(self.bot, self._handle_polled, timeout=self._poll_timeout)
            self._tasks.append(asyncio.create_task(self._poller.run(), name="telegram-polling"))
            logger.info("Telegram: long polling started")
        elif self.mode == "webhook":
            if self._public_url:
                self._tasks.append(asyncio.create_task(self._register_webhook(), name="telegram-set-webhook"))
            else:
                logger.info("Telegram webhook at %s; set HELPDESK_PUBLIC_URL to register it at start", WEBHOOK_PATH)

    async def _handle_polled(self, update: Update) -> None:
        await self.handle_update(update)

    async def _register_webhook(self) -> None:
        url = f"{self._public_url}{WEBHOOK_PATH}"
        for attempt in range(6):
            try:
                await self.bot.set_webhook(url=url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES)
                logger.info("Telegram webhook registered at %s", url)
                return
            except TelegramError as exc:
                logger.warning("setWebhook failed (%s), attempt %d", type(exc).__name__, attempt + 1)
                await asyncio.sleep(min(60, 2**attempt))
        logger.error("Telegram webhook not registered; see README (setWebhook by hand)")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        await cancel_and_wait(self._tasks)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

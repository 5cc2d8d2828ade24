"""Telegram and WeChat in the desk: built from the settings in the lifespan, stopped with it.

Both are off unless configured. When one is on, the outbox listens to the gateway and the
delivery worker runs; the web chat is untouched either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.orm import sessionmaker

from connectors.base import ChannelSender
from connectors.telegram import TelegramSender, make_bot
from connectors.wechat import TIMESTAMP_WINDOW_SECONDS
from connectors.wechat_api import WeChatApiClient, WeChatSender
from connectors.wechat_crypto import MessageCrypto
from desk.channels.common import Runner, StoredSignal
from desk.channels.telegram import TelegramChannel
from desk.channels.wechat import WeChatChannel
from desk.chat.gateway import Gateway
from desk.delivery.outbox import Outbox
from desk.delivery.worker import DeliveryWorker
from desk.fanout.shared_state import RedisNonces, RedisTokenStore
from desk.settings import Settings

logger = logging.getLogger(__name__)

# Their INFO lines print request URLs, which carry the bot token (Telegram) and the AppSecret or the
# access token (WeChat); secrets must never reach the logs.
URL_LOGGERS = ("httpx", "httpcore", "telegram")


@dataclass
class Channels:
    """The running channels (None when off) and their delivery machinery."""

    telegram: TelegramChannel | None = None
    wechat: WeChatChannel | None = None
    outbox: Outbox | None = None
    worker: DeliveryWorker | None = None
    runner: Runner | None = None
    senders: dict[str, ChannelSender] = field(default_factory=dict)

    async def stop(self) -> None:
        if self.telegram is not None:
            await self.telegram.stop()
        if self.runner is not None:
            await self.runner.drain()
        if self.worker is not None:
            await self.worker.stop()


async def start_channels(
    settings: Settings, gateway: Gateway, sessions: sessionmaker, http: httpx.AsyncClient, redis: Any = None
) -> Channels:
    """Build and start what the settings turn on; with `redis` (a redis.asyncio client, when HELPDESK_REDIS_URL
    is set) the WeChat nonces and access token are shared by the desk replicas (desk/fanout/shared_state.py)."""
    telegram_on = settings.telegram.mode != "off"
    if not telegram_on and not settings.wechat.enabled:
        return Channels()
    for name in URL_LOGGERS:
        if logging.getLogger(name).level < logging.WARNING:  # also when unset: do not inherit DEBUG/INFO
            logging.getLogger(name).setLevel(logging.WARNING)
    outbox = Outbox(sessions, hold_seconds=settings.wechat.passive_seconds + 2.0)
    signal = StoredSignal()
    runner = Runner(signal)
    gateway.add_listener(signal.on_message)
    gateway.add_listener(outbox.on_message)
    channels = Channels(outbox=outbox, runner=runner)

    if telegram_on:
        bot = make_bot(settings.telegram.token, settings.telegram.api_base)
        channels.telegram = TelegramChannel(
            bot,
            gateway,
            sessions,
            runner,
            mode=settings.telegram.mode,
            secret=settings.telegram.secret,
            public_url=settings.public_url,
            university_name=settings.university_name,
            poll_timeout=settings.telegram.poll_timeout_seconds,
        )
        channels.senders["tg"] = TelegramSender(bot)

    if settings.wechat.enabled:
        crypto = None
        if settings.wechat.aes_key:
            crypto = MessageCrypto(settings.wechat.token, settings.wechat.aes_key, settings.wechat.appid)
        else:
            logger.warning("WeChat in plaintext mode: set HELPDESK_WECHAT_AES_KEY and use safe mode (安全模式)")
        channels.wechat = WeChatChannel(
            gateway,
            sessions,
            runner,
            outbox,
            token=settings.wechat.token,
            crypto=crypto,
            passive_seconds=settings.wechat.passive_seconds,
            university_name=settings.university_name,
            nonces=RedisNonces(redis, settings.redis_prefix, TIMESTAMP_WINDOW_SECONDS) if redis is not None else None,
        )
        shared = RedisTokenStore(redis, settings.redis_prefix, settings.wechat.appid) if redis is not None else None
        client = WeChatApiClient(
            settings.wechat.appid, settings.wechat.appsecret, http, settings.wechat.api_base, shared=shared
        )
        channels.senders["wx"] = WeChatSender(client)

    channels.worker = DeliveryWorker(
        outbox,
        channels.senders,
        max_attempts=settings.outbox.max_attempts,
        retry_base_seconds=settings.outbox.retry_base_seconds,
    )
    channels.worker.start()
    if channels.telegram is not None:
        await channels.telegram.start()
    return channels

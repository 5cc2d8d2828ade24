"""The WeChat Official Account channel in the desk: the handshake, and what each push does.

A push is verified (signature, or msg_signature in safe mode), checked for freshness and a reused
nonce, decrypted and parsed. WeChat waits 5 seconds for an answer: the gateway gets about 4 (the
`passive_seconds` budget); an answer ready by then is the HTTP response itself (a passive reply),
otherwise the desk answers "success" at once and the outbox delivers the answer through the
customer-service API. Retries of a push are dropped by the messages table's unique constraint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from anyio import to_thread
from sqlalchemy.orm import sessionmaker

from connectors.text import utf8_len
from connectors.wechat import (
    ACK,
    MAX_TEXT_BYTES,
    UNSUPPORTED_TEXT,
    ReplayGuard,
    WeChatEvent,
    WeChatProtocolError,
    menu_choice,
    parse_message,
    parse_xml,
    render_text,
    text_reply,
    type_label,
    valid_params,
)
from connectors.wechat_crypto import MessageCrypto, WeChatCryptoError, check_msg_signature, check_signature
from desk.channels.common import Runner, current_menu, from_button
from desk.chat.gateway import Gateway, GatewayResult, log_id
from desk.chat.welcome import welcome_reply
from desk.delivery.outbox import Outbox
from desk.insight import menus

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/wechat/callback"
FOLLOW_LABEL = "[关注公众号]"


class Nonces(Protocol):
    """Where (timestamp, nonce) pairs are recorded: shared by the desks in Redis (desk/fanout/shared_state.py)."""

    async def first_use(self, timestamp: str, nonce: str) -> bool: ...  # pragma: no cover


@dataclass(frozen=True)
class WeChatResponse:
    """What the route sends back."""

    status: int
    body: str = ACK
    media_type: str = "text/plain"


def compose(replies: list[dict[str, Any]]) -> str:
    """Several stored replies as one passive text; only the last menu is numbered."""
    with_buttons = [i for i, r in enumerate(replies) if r.get("buttons")]
    last = with_buttons[-1] if with_buttons else -1
    texts = [render_text(r.get("text", ""), r.get("buttons") if i == last else None) for i, r in enumerate(replies)]
    return "\n\n".join(t for t in texts if t)


class WeChatChannel:
    """One Official Account."""

    def __init__(
        self,
        gateway: Gateway,
        sessions: sessionmaker,
        runner: Runner,
        outbox: Outbox,
        *,
        token: str,
        crypto: MessageCrypto | None,
        passive_seconds: float = 4.0,
        university_name: str = "",
        guard: ReplayGuard | None = None,
        nonces: Nonces | None = None,
    ) -> None:
        self._gateway = gateway
        self._sessions = sessions
        self._runner = runner
        self._outbox = outbox
        self._token = token
        self._crypto = crypto
        self._passive_seconds = passive_seconds
        self._university = university_name
        self._guard = guard or ReplayGuard()
        self._nonces = nonces  # shared by the desk replicas (Redis); None: the guard's in-process cache

    def handshake(self, params: dict[str, str]) -> str | None:
        """The echostr to send back for a genuine, fresh verification request; None otherwise."""
        timestamp, nonce = params.get("timestamp"), params.get("nonce")
        if not valid_params(timestamp, nonce):
            return None
        assert timestamp is not None and nonce is not None
        if not check_signature(self._token, params.get("signature"), timestamp, nonce):
            return None
        if not self._guard.fresh(timestamp):
            return None
        return params.get("echostr", "")

    async def handle_post(self, params: dict[str, str], body: bytes) -> WeChatResponse:
        """Verify, parse and answer one push."""
        timestamp, nonce = params.get("timestamp"), params.get("nonce")
        if not valid_params(timestamp, nonce):
            return WeChatResponse(403, "forbidden")
        assert timestamp is not None and nonce is not None
        safe = params.get("encrypt_type", "raw").lower() == "aes"
        if safe != (self._crypto is not None):
            logger.warning("wechat push refused: encrypt_type does not match the configured mode")
            return WeChatResponse(403, "forbidden")
        encrypt = ""
        try:
            if self._crypto is not None:
                encrypt = parse_xml(body).get("Encrypt", "").strip()
                if not check_msg_signature(self._token, params.get("msg_signature"), timestamp, nonce, encrypt):
                    return WeChatResponse(403, "forbidden")
            elif not check_signature(self._token, params.get("signature"), timestamp, nonce):
                return WeChatResponse(403, "forbidden")
        except WeChatProtocolError:
            return WeChatResponse(400, "bad request")
        if not self._guard.fresh(timestamp):
            logger.warning("wechat push refused: stale timestamp")
            return WeChatResponse(403, "forbidden")
        first = (
            await self._nonces.first_use(timestamp, nonce) if self._nonces else self._guard.first_use(timestamp, nonce)
        )
        if not first:
            logger.warning("wechat push ignored: nonce used before (replay)")
            return WeChatResponse(200)
        try:
            xml = self._crypto.decrypt(encrypt).encode("utf-8") if self._crypto is not None else body
            event = parse_message(parse_xml(xml))
        except (WeChatProtocolError, WeChatCryptoError) as exc:
            logger.warning("wechat push refused: %s", type(exc).__name__)
            return WeChatResponse(400, "bad request")

        answer = await self._dispatch(event)
        if answer is None:
            return WeChatResponse(200)
        if isinstance(answer, WeChatResponse):
            return answer
        reply = text_reply(event.openid, event.account, answer)
        if self._crypto is not None:
            reply = self._crypto.encrypt_reply(reply, timestamp, nonce)
        return WeChatResponse(200, reply, "application/xml")

    async def _dispatch(self, event: WeChatEvent) -> str | WeChatResponse | None:
        conversation_id = f"wx:{event.openid}"
        work: Coroutine[Any, Any, GatewayResult]
        if event.kind == "subscribe":
            hot = await to_thread.run_sync(menus.hot_for, self._sessions, conversation_id)
            work = self._gateway.record(event.stored_as(FOLLOW_LABEL), [welcome_reply(self._university, hot)])
        elif event.kind == "unsupported":
            work = self._gateway.record(
                event.stored_as(type_label(event.msg_type)), [{"role": "bot", "text": UNSUPPORTED_TEXT}]
            )
        elif event.kind == "message" and event.inbound is not None:
            inbound = event.inbound
            choice = menu_choice(inbound.text) if inbound.payload is None else None
            if choice is not None:
                menu = await to_thread.run_sync(current_menu, self._sessions, conversation_id)
                if 1 <= choice <= len(menu):
                    inbound = from_button(inbound, menu[choice - 1])
            work = self._gateway.handle(inbound)
        else:
            return None  # unsubscribe, location reports, view events: nothing to say
        return await self._answer(conversation_id, work)

    async def _answer(
        self, conversation_id: str, work: Coroutine[Any, Any, GatewayResult]
    ) -> str | WeChatResponse | None:
        """The passive reply when the gateway answers within the budget; None to answer "success"."""
        self._outbox.hold(conversation_id)
        try:
            task = self._runner.spawn(work, conversation_id)
            done, _ = await asyncio.wait({task}, timeout=self._passive_seconds)
            if task not in done:
                logger.info("wechat answer for %s goes through the outbox (slow bot)", log_id(conversation_id))
                return None
            if task.cancelled() or task.exception() is not None:
                return WeChatResponse(503, "retry later")  # WeChat may deliver the push again
            result = task.result()
            if result.duplicate or not result.replies:
                return None
            text = compose(result.replies)
            if not text or utf8_len(text) > MAX_TEXT_BYTES:
                return None
            if not await self._outbox.mark_passive(conversation_id, [int(r["id"]) for r in result.replies]):
                return None
            return text
        finally:
            await self._outbox.unhold(conversation_id)

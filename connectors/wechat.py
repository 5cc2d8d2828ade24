"""The WeChat Official Account (公众号) protocol: request checks, safe XML, events, replies, menus.

Conversation ids are `wx:<openid>`. Request bodies are capped at 64 KB and parsed with defusedxml
(no DOCTYPE, no entities). Every request must be fresh (timestamp within 5 minutes) and carry a
nonce not seen in that window: in plaintext mode the signature does not cover the body, so this is
the only defence against a captured signature replayed with a forged body (safe mode is
recommended). WeChat text has no buttons: quick replies become a numbered menu, and a reply that
is only a number picks that button. This module never imports desk/.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors.base import InboundMessage
from connectors.text import split_text, utf8_len
from knowledge_base import names

CHANNEL = names.CHANNEL_WECHAT
MAX_BODY_BYTES = 64 * 1024
TIMESTAMP_WINDOW_SECONDS = 300
# WeChat cuts long texts; 2000 bytes of UTF-8 (about 660 Chinese characters) stays under its limit.
MAX_TEXT_BYTES = 2000
MENU_HEADER = "回复数字："
UNSUPPORTED_TEXT = "抱歉，我目前只能看懂文字消息，请用文字描述你的问题；需要老师帮忙请回复“转人工”。"
ACK = "success"

_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9]{1,64}$")
_DIGITS = re.compile(r"^\d{1,20}$")
_CHOICE = re.compile(r"^\d{1,2}$")
_TYPE_NAMES = {
    "image": "图片",
    "voice": "语音",
    "video": "视频",
    "shortvideo": "小视频",
    "location": "位置",
    "link": "链接",
    "file": "文件",
}

EventKind = Literal["message", "subscribe", "unsubscribe", "unsupported", "ignored"]


class WeChatProtocolError(ValueError):
    """A request that is not a well-formed WeChat push."""


def valid_params(timestamp: str | None, nonce: str | None) -> bool:
    """Timestamp is digits and the nonce is alphanumeric (both are echoed into replies)."""
    return bool(timestamp and nonce and _DIGITS.match(timestamp) and _NONCE.match(nonce))


class ReplayGuard:
    """Rejects stale timestamps and nonces already seen inside the freshness window (in memory).

    One desk process serves a WeChat account; with several replicas behind one URL this cache
    belongs in Redis (the dedupe of messages themselves is a database constraint either way).
    """

    def __init__(
        self,
        window: float = TIMESTAMP_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
        max_entries: int = 100_000,
    ) -> None:
        self.window = window
        self._clock = clock
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def fresh(self, timestamp: str) -> bool:
        """Is the timestamp within the window around now?"""
        return abs(self._clock() - int(timestamp)) <= self.window

    def first_use(self, timestamp: str, nonce: str) -> bool:
        """Record the (timestamp, nonce) pair; False when it was already used."""
        now = self._clock()
        while self._seen and (next(iter(self._seen.values())) < now - 2 * self.window or len(self._seen) >= self._max):
            self._seen.popitem(last=False)
        key = f"{timestamp}:{nonce}"
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def parse_xml(body: bytes) -> dict[str, str]:
    """The top-level fields of a WeChat XML document; WeChatProtocolError for anything else."""
    if len(body) > MAX_BODY_BYTES:
        raise WeChatProtocolError("body too large")
    if not body.strip():
        raise WeChatProtocolError("empty body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise WeChatProtocolError(f"not acceptable XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise WeChatProtocolError("root element is not <xml>")
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class WeChatEvent:
    """What one push asks of the desk."""

    kind: EventKind
    openid: str
    account: str  # ToUserName: the Official Account's original id (gh_…)
    external_id: str
    inbound: InboundMessage | None = None
    msg_type: str = "text"

    def stored_as(self, text: str) -> InboundMessage:
        """The student's side of an event the desk answers itself (subscribe, a picture)."""
        return InboundMessage(CHANNEL, self.openid, text, external_id=self.external_id)


def parse_message(fields: dict[str, str]) -> WeChatEvent:
    """Classify a decrypted push; WeChatProtocolError when required fields are missing."""
    openid = fields.get("FromUserName", "").strip()
    account = fields.get("ToUserName", "").strip()
    msg_type = fields.get("MsgType", "").strip().lower()
    created = fields.get("CreateTime", "").strip()
    if not _OPENID.match(openid) or not account or not msg_type or not _DIGITS.match(created):
        raise WeChatProtocolError("missing or malformed FromUserName/ToUserName/MsgType/CreateTime")
    msg_id = fields.get("MsgId", "").strip()
    if msg_id and not _DIGITS.match(msg_id):
        raise WeChatProtocolError("malformed MsgId")

    if msg_type == "event":
        event = fields.get("Event", "").strip().lower()
        key = fields.get("EventKey", "").strip()[:100]
        external_id = f"event:{created}:{event}:{key}"  # events have no MsgId
        if event == "subscribe":
            return WeChatEvent("subscribe", openid, account, external_id, msg_type=msg_type)
        if event == "unsubscribe":
            return WeChatEvent("unsubscribe", openid, account, external_id, msg_type=msg_type)
        if event == "click" and key:  # a custom menu button: its key is a payload or a question
            inbound = InboundMessage(
                CHANNEL, openid, key, external_id=external_id, payload=key if key.startswith("/") else None
            )
            return WeChatEvent("message", openid, account, external_id, inbound, msg_type)
        return WeChatEvent("ignored", openid, account, external_id, msg_type=msg_type)

    external_id = msg_id or f"{msg_type}:{created}"
    if msg_type == "text":
        text = fields.get("Content", "").strip()
        if text:
            inbound = InboundMessage(CHANNEL, openid, text, external_id=external_id)
            return WeChatEvent("message", openid, account, external_id, inbound, msg_type)
    return WeChatEvent("unsupported", openid, account, external_id, msg_type=msg_type)


def type_label(msg_type: str) -> str:
    """How a non-text message is stored in the transcript, e.g. `[图片]`."""
    return f"[{_TYPE_NAMES.get(msg_type, '非文字消息')}]"


def render_text(text: str, buttons: list[dict[str, str]] | None = None) -> str:
    """Text with its quick replies as a numbered menu (WeChat text has no buttons)."""
    if not buttons:
        return text.strip()
    menu = "\n".join(f"{i}. {b.get('title', '')}" for i, b in enumerate(buttons, 1))
    head = text.strip()
    return f"{head}\n\n{MENU_HEADER}\n{menu}" if head else f"{MENU_HEADER}\n{menu}"


def split_for_wechat(text: str) -> list[str]:
    """Parts of at most MAX_TEXT_BYTES bytes."""
    return split_text(text, MAX_TEXT_BYTES, utf8_len)


def menu_choice(text: str) -> int | None:
    """The number a student answered a menu with (half- or full-width), else None."""
    normalized = unicodedata.normalize("NFKC", text).strip().rstrip(".。")
    return int(normalized) if _CHOICE.match(normalized) else None


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    """The passive reply XML: a text from the account (`from_user`) to the student (`to_user`)."""
    created = int(time.time()) if create_time is None else create_time
    return (
        f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content></xml>"
    )

"""A fake WeChat API server on loopback, and a driver that signs pushes like WeChat does.

The server hands out access tokens (`/cgi-bin/token`) and takes customer-service messages
(`/cgi-bin/message/custom/send`). Tokens are real state: `expire_token()` makes the current one
invalid, so the next send gets errcode 42001 as from WeChat. The next sends can be told to fail
with an errcode. The driver signs with hashlib and encrypts with wechatpy, not with our code.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import xmltodict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import to_text

from tests.loopback import LoopbackServer

APPID = "wx0000000000000001"
APPSECRET = "fake-app-secret-0123456789"
TOKEN = "testtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_campus"


@dataclass
class Sent:
    openid: str
    content: str
    at: float


class FakeWeChat:
    """api.weixin.qq.com as far as the desk uses it."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.token_fetches = 0
        self.send_calls = 0
        self.token_delay = 0.0
        self._token_serial = 0
        self._valid_token: str | None = None
        self._errors: list[int] = []
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/cgi-bin/token", self._token, methods=["GET"]),
                Route("/cgi-bin/message/custom/send", self._send, methods=["POST"]),
            ]
        )
        self.server = LoopbackServer(app)

    @property
    def api_base(self) -> str:
        return self.server.url

    def expire_token(self) -> None:
        with self._lock:
            self._valid_token = None

    def fail_next_sends(self, *errcodes: int) -> None:
        with self._lock:
            self._errors.extend(errcodes)

    def contents(self, openid: str | None = None) -> list[str]:
        with self._lock:
            return [s.content for s in self.sent if openid is None or s.openid == openid]

    async def _token(self, request: Request) -> JSONResponse:
        q = request.query_params
        if q.get("grant_type") != "client_credential" or q.get("appid") != APPID or q.get("secret") != APPSECRET:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        with self._lock:
            self.token_fetches += 1
            self._token_serial += 1
            self._valid_token = f"ACCESS_TOKEN_{self._token_serial}"
            return JSONResponse({"access_token": self._valid_token, "expires_in": 7200})

    async def _send(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token")
        body: dict[str, Any] = await request.json()
        with self._lock:
            self.send_calls += 1
            if token != self._valid_token:
                return JSONResponse({"errcode": 42001 if token else 41001, "errmsg": "access_token expired"})
            if self._errors:
                code = self._errors.pop(0)
                return JSONResponse({"errcode": code, "errmsg": f"fake error {code}"})
            assert body["msgtype"] == "text"
            self.sent.append(Sent(body["touser"], body["text"]["content"], time.monotonic()))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    fake = FakeWeChat()
    fake.server.start()
    yield fake
    fake.server.stop()


# -- the driver: pushes as WeChat signs them ---------------------------------------------------------
def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed_query(timestamp: str | None = None, nonce: str = "n0nce", token: str = TOKEN) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    return {"signature": sha1_sorted(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def text_xml(openid: str, content: str, msg_id: int, created: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, created: int, key: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def media_xml(openid: str, msg_type: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"<PicUrl><![CDATA[http://example.invalid/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def encrypted_push(xml: str, nonce: str = "s4fe", timestamp: str | None = None) -> tuple[dict[str, str], str]:
    """Query and body of a safe-mode push, encrypted by wechatpy (independent of our code)."""
    ts = timestamp or str(int(time.time()))
    envelope = WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(xml, nonce, ts)
    fields = xmltodict.parse(to_text(envelope))["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    )
    query = {
        "signature": sha1_sorted(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": fields["MsgSignature"],
        "openid": "x",
    }
    return query, body


def decrypt_reply(envelope: str, query: dict[str, str]) -> str:
    """Our encrypted passive reply, decrypted and verified by wechatpy."""
    fields = xmltodict.parse(envelope)["xml"]
    return WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(
        envelope, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
    )

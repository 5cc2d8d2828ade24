"""The Official Account as a student sees it: pushes signed like WeChat's, a fake WeChat API on loopback.

Rasa is down here (see conftest), so questions are answered at once with the "暂时无法回复"
notice (a passive reply); with a zero passive budget the answer goes through the fake
customer-service API instead. Safe-mode pushes are encrypted, and our replies decrypted, by wechatpy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import xmltodict
from fastapi.testclient import TestClient
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto

from desk.chat.gateway import log_id
from desk.main import create_app
from desk.models import Message, OutboxItem
from desk.settings import Settings
from tests.fake_wechat import (
    ACCOUNT,
    AES_KEY,
    APPID,
    APPSECRET,
    TOKEN,
    FakeWeChat,
    decrypt_reply,
    encrypted_push,
    event_xml,
    media_xml,
    sha1_sorted,
    signed_query,
    text_xml,
)
from tests.loopback import wait_until

OPENID = "oStudent_0001"
CONV = f"wx:{OPENID}"
URL = "/wechat/callback"


def wx_settings(settings: Settings, fake: FakeWeChat, **extra: Any) -> Settings:
    values = settings.model_dump()
    values.update(
        wechat_token=TOKEN,
        wechat_appid=APPID,
        wechat_appsecret=APPSECRET,
        wechat_api_base=fake.api_base,
        outbox_retry_base_seconds=0.2,
        outbox_max_attempts=4,
    )
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def wx(settings: Settings, fake_wechat: FakeWeChat) -> Iterator[TestClient]:
    """Plaintext mode, answers within the passive budget."""
    with TestClient(create_app(wx_settings(settings, fake_wechat))) as client:
        yield client


@pytest.fixture
def wx_async(settings: Settings, fake_wechat: FakeWeChat) -> Iterator[TestClient]:
    """A zero passive budget: every answer goes through the customer-service API."""
    with TestClient(create_app(wx_settings(settings, fake_wechat, wechat_passive_seconds=0.0))) as client:
        yield client


@pytest.fixture
def wx_safe(settings: Settings, fake_wechat: FakeWeChat) -> Iterator[TestClient]:
    """Safe mode (安全模式)."""
    with TestClient(create_app(wx_settings(settings, fake_wechat, wechat_aes_key=AES_KEY))) as client:
        yield client


_nonce = iter(range(10**6))


def push(client: TestClient, xml: str, query: dict[str, str] | None = None) -> Any:
    q = query or signed_query(nonce=f"n{next(_nonce)}")
    return client.post(URL, params=q, content=xml.encode("utf-8"), headers={"Content-Type": "text/xml"})


def reply_of(resp: Any) -> dict[str, str]:
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    return xmltodict.parse(resp.text)["xml"]


def messages(sessions) -> list[Message]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(Message).where(Message.conversation_id == CONV).order_by(Message.id)))


def outbox(sessions) -> list[OutboxItem]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def test_the_url_handshake_echoes_only_for_a_genuine_request(wx) -> None:  # type: ignore[no-untyped-def]
    query = {**signed_query(nonce="hs1"), "echostr": "8839582014325"}
    resp = wx.get(URL, params=query)
    assert (resp.status_code, resp.text) == (200, "8839582014325")
    forged = {**query, "signature": "0" * 40}
    assert wx.get(URL, params=forged).status_code == 403
    stale = {**signed_query(timestamp=str(int(time.time()) - 3600), nonce="hs2"), "echostr": "1"}
    assert wx.get(URL, params=stale).status_code == 403


def test_a_fast_answer_is_the_passive_reply(wx, fake_wechat, sessions) -> None:  # type: ignore[no-untyped-def]
    reply = reply_of(push(wx, text_xml(OPENID, "校园卡丢了怎么办", 1001)))
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (OPENID, ACCOUNT, "text")
    assert "暂时无法回复" in reply["Content"]
    student, notice = messages(sessions)
    assert (student.text, student.external_id) == ("校园卡丢了怎么办", "1001")
    [item] = outbox(sessions)
    assert (item.message_id, item.status, item.delivered_via) == (notice.id, "sent", "passive")
    time.sleep(0.5)
    assert fake_wechat.contents() == []  # not sent twice


def test_a_slow_answer_is_acknowledged_and_sent_through_the_customer_service_api(
    wx_async, fake_wechat, sessions
) -> None:  # type: ignore[no-untyped-def]
    resp = push(wx_async, text_xml(OPENID, "我真的不想活了", 1002))
    assert (resp.status_code, resp.text) == (200, "success")
    [hotlines] = wait_until(lambda: fake_wechat.contents(OPENID))
    assert "12356" in hotlines and "400-161-9995" in hotlines
    wait_until(lambda: [i for i in outbox(sessions) if i.status == "sent"])
    assert outbox(sessions)[0].delivered_via == "api"
    assert fake_wechat.token_fetches == 1


def test_safe_mode_push_and_an_encrypted_reply(wx_safe, sessions) -> None:  # type: ignore[no-untyped-def]
    query, body = encrypted_push(text_xml(OPENID, "我真的不想活了", 2001), nonce="safe1")
    resp = wx_safe.post(URL, params=query, content=body.encode())
    assert resp.status_code == 200
    reply = xmltodict.parse(decrypt_reply(resp.text, query))["xml"]
    assert reply["ToUserName"] == OPENID and "12356" in reply["Content"]
    assert [m.text for m in messages(sessions)][0] == "我真的不想活了"


def test_safe_mode_refuses_plaintext_forgeries_and_foreign_accounts(wx_safe, sessions) -> None:  # type: ignore[no-untyped-def]
    assert push(wx_safe, text_xml(OPENID, "明文", 2002)).status_code == 403  # plaintext to a safe-mode account
    query, body = encrypted_push(text_xml(OPENID, "伪造", 2003), nonce="safe2")
    assert wx_safe.post(URL, params={**query, "msg_signature": "0" * 40}, content=body.encode()).status_code == 403
    other = WeChatCrypto(TOKEN, AES_KEY, "wxOTHER").encrypt_message(text_xml(OPENID, "别的公众号", 2004), "safe3")
    fields = xmltodict.parse(other)["xml"]
    query = {
        "timestamp": fields["TimeStamp"],
        "nonce": "safe3",
        "encrypt_type": "aes",
        "msg_signature": fields["MsgSignature"],
        "signature": sha1_sorted(TOKEN, fields["TimeStamp"], "safe3"),
    }
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{fields['Encrypt']}</Encrypt></xml>"
    assert wx_safe.post(URL, params=query, content=body.encode()).status_code == 400
    assert messages(sessions) == []


def test_follow_gets_the_welcome_menu_and_a_number_picks_a_button(wx, sessions) -> None:  # type: ignore[no-untyped-def]
    welcome = reply_of(push(wx, event_xml(OPENID, "subscribe", int(time.time()))))["Content"]
    assert "智能助手" in welcome
    assert "回复数字：\n1. 校园卡丢了怎么办\n2. 怎么开在读证明\n3. 心理咨询怎么预约\n4. 转人工" in welcome
    push(wx, text_xml(OPENID, "４", 3001))  # a full-width digit, as phones type it
    chosen = messages(sessions)[2]
    assert (chosen.role, chosen.text, chosen.payload) == ("student", "转人工", "/request_human")
    push(wx, text_xml(OPENID, "4", 3002))  # the last menu has no item 4: just text
    plain = [m for m in messages(sessions) if m.role == "student"][-1]
    assert (plain.text, plain.payload) == ("4", None)


def test_pictures_and_voice_get_a_polite_text(wx, sessions) -> None:  # type: ignore[no-untyped-def]
    reply = reply_of(push(wx, media_xml(OPENID, "image", 4001)))
    assert "只能看懂文字消息" in reply["Content"]
    assert messages(sessions)[0].text == "[图片]"


def test_unsubscribe_and_unknown_events_are_acknowledged_and_ignored(wx, sessions) -> None:  # type: ignore[no-untyped-def]
    for event in ("unsubscribe", "VIEW", "LOCATION"):
        resp = push(wx, event_xml(OPENID, event, int(time.time())))
        assert (resp.status_code, resp.text) == (200, "success")
    assert messages(sessions) == []


def test_a_forged_signature_or_a_stale_push_is_refused(wx, sessions) -> None:  # type: ignore[no-untyped-def]
    forged = {**signed_query(nonce="f1"), "signature": sha1_sorted("wrong-token", "1", "f1")}
    assert push(wx, text_xml(OPENID, "伪造", 5001), forged).status_code == 403
    stale = signed_query(timestamp=str(int(time.time()) - 301), nonce="f2")
    assert push(wx, text_xml(OPENID, "过期", 5002), stale).status_code == 403
    assert push(wx, text_xml(OPENID, "没签名", 5003), {"timestamp": "1", "nonce": "x"}).status_code == 403
    assert messages(sessions) == []


def test_a_captured_signature_replayed_with_another_body_is_not_processed(wx, sessions) -> None:  # type: ignore[no-untyped-def]
    captured = signed_query(nonce="cap1")
    assert push(wx, text_xml(OPENID, "原来的消息", 6001), captured).status_code == 200
    resp = push(wx, text_xml("oAttacker", "伪造的消息", 6002), captured)
    assert (resp.status_code, resp.text) == (200, "success")
    with sessions() as session:
        assert session.scalars(select(Message).where(Message.text == "伪造的消息")).all() == []


def test_a_retried_push_is_answered_once(wx, fake_wechat, sessions) -> None:  # type: ignore[no-untyped-def]
    first = push(wx, text_xml(OPENID, "奖学金什么时候评", 7001))
    retry = push(wx, text_xml(OPENID, "奖学金什么时候评", 7001))  # WeChat's retry: same MsgId, new nonce
    assert "暂时无法回复" in reply_of(first)["Content"]
    assert (retry.status_code, retry.text) == (200, "success")
    assert [m.role for m in messages(sessions)] == ["student", "system"]
    time.sleep(0.3)
    assert fake_wechat.contents() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not xml at all", 400),
        (b"", 400),
        (b"<xml><ToUserName>gh</ToUserName>", 400),
        (b"<root><MsgType>text</MsgType></root>", 400),
        (f"<xml><FromUserName>{OPENID}</FromUserName><MsgType>text</MsgType></xml>".encode(), 400),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><xml>&b;</xml>',
            400,
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
            400,
        ),
        (b"<xml><Content>" + b"a" * 70_000 + b"</Content></xml>", 413),
        (b"\xff\xfe<xml>\x00</xml>", 400),
    ],
    ids=["text", "empty", "truncated", "wrong-root", "missing-fields", "entity-bomb", "xxe", "oversized", "bad-bytes"],
)
def test_malformed_hostile_and_oversized_pushes_are_refused(wx, sessions, body: bytes, status: int) -> None:  # type: ignore[no-untyped-def]
    resp = wx.post(URL, params=signed_query(nonce=f"m{next(_nonce)}"), content=body)
    assert resp.status_code == status
    assert "root:" not in resp.text
    assert messages(sessions) == []


def test_an_expired_token_is_refreshed_once_and_the_message_delivered(wx_async, fake_wechat, sessions) -> None:  # type: ignore[no-untyped-def]
    push(wx_async, text_xml(OPENID, "你好", 8001))
    wait_until(lambda: fake_wechat.contents(OPENID))
    fake_wechat.expire_token()
    push(wx_async, text_xml(OPENID, "还在吗", 8002))
    wait_until(lambda: len(fake_wechat.contents(OPENID)) == 2)
    assert fake_wechat.token_fetches == 2
    wait_until(lambda: all(i.status == "sent" for i in outbox(sessions)))
    assert [i.attempts for i in outbox(sessions)] == [0, 0]


def test_a_closed_48_hour_window_is_recorded_as_undelivered(wx_async, fake_wechat, sessions) -> None:  # type: ignore[no-untyped-def]
    fake_wechat.fail_next_sends(45015)
    push(wx_async, text_xml(OPENID, "你好", 9001))
    [item] = wait_until(lambda: [i for i in outbox(sessions) if i.status == "failed"])
    assert "45015" in (item.last_error or "")
    time.sleep(0.5)
    assert fake_wechat.send_calls == 1  # permanent: not retried


def test_the_api_quota_limit_backs_off_and_then_delivers(wx_async, fake_wechat, sessions) -> None:  # type: ignore[no-untyped-def]
    fake_wechat.fail_next_sends(45009)
    push(wx_async, text_xml(OPENID, "你好", 9101))
    wait_until(lambda: fake_wechat.contents(OPENID), timeout=15)
    [item] = wait_until(lambda: [i for i in outbox(sessions) if i.status == "sent"])
    assert item.attempts == 1 and "45009" in (item.last_error or "")


def test_the_menu_survives_the_customer_service_path(wx_async, fake_wechat) -> None:  # type: ignore[no-untyped-def]
    assert push(wx_async, event_xml(OPENID, "subscribe", int(time.time()))).text == "success"
    [welcome] = wait_until(lambda: fake_wechat.contents(OPENID))
    assert welcome.endswith("回复数字：\n1. 校园卡丢了怎么办\n2. 怎么开在读证明\n3. 心理咨询怎么预约\n4. 转人工")


def test_logs_name_no_openid_no_text_and_no_secret(wx_async, fake_wechat, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    push(wx_async, text_xml(OPENID, "我的手机号13912345678", 9201))
    wait_until(lambda: fake_wechat.contents(OPENID))
    assert log_id(CONV) in caplog.text
    for secret in (OPENID, "13912345678", APPSECRET, "ACCESS_TOKEN_"):
        assert secret not in caplog.text

"""The WeChat protocol: safe XML parsing, events, the numbered menu, passive replies, replay checks."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring

from connectors.text import utf8_len
from connectors.wechat import (
    MAX_BODY_BYTES,
    ReplayGuard,
    WeChatProtocolError,
    menu_choice,
    parse_message,
    parse_xml,
    render_text,
    split_for_wechat,
    text_reply,
    type_label,
    valid_params,
)


def fields(**extra: str) -> dict[str, str]:
    return {"ToUserName": "gh_x", "FromUserName": "oUser", "CreateTime": "1409304348", **extra}


def test_parse_xml_reads_the_top_level_fields() -> None:
    xml = b"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Content><![CDATA[a <b> & c]]></Content></xml>"
    assert parse_xml(xml) == {"ToUserName": "gh_x", "Content": "a <b> & c"}


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE xml [<!ENTITY a "x">]><xml><Content>&a;</Content></xml>',
        b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
        b'<!DOCTYPE xml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;">]><xml>&c;</xml>',
        b"<!DOCTYPE xml><xml></xml>",
        b"<html><body/></html>",
        b"<xml><a>",
        b"",
        b"\xff\xfe\x00<",
        b"<xml><Content>" + b"a" * MAX_BODY_BYTES + b"</Content></xml>",
    ],
    ids=["entity", "xxe", "bomb", "doctype", "wrong-root", "truncated", "empty", "bad-bytes", "oversized"],
)
def test_hostile_or_broken_xml_is_refused(body: bytes) -> None:
    with pytest.raises(WeChatProtocolError):
        parse_xml(body)


def test_a_text_message() -> None:
    event = parse_message(fields(MsgType="text", Content=" 你好 ", MsgId="1234567890123456"))
    assert event.kind == "message" and event.inbound is not None
    assert (event.inbound.conversation_id, event.inbound.text, event.external_id) == (
        "wx:oUser",
        "你好",
        "1234567890123456",
    )


def test_events_are_keyed_by_sender_and_time() -> None:
    follow = parse_message(fields(MsgType="event", Event="subscribe", EventKey=""))
    assert (follow.kind, follow.external_id) == ("subscribe", "event:1409304348:subscribe:")
    assert parse_message(fields(MsgType="event", Event="unsubscribe")).kind == "unsubscribe"
    click = parse_message(fields(MsgType="event", Event="CLICK", EventKey="/request_human"))
    assert click.kind == "message" and click.inbound is not None and click.inbound.payload == "/request_human"
    assert parse_message(fields(MsgType="event", Event="LOCATION")).kind == "ignored"


def test_other_message_types_are_unsupported_and_labelled() -> None:
    event = parse_message(fields(MsgType="voice", MsgId="77"))
    assert (event.kind, event.external_id, type_label(event.msg_type)) == ("unsupported", "77", "[语音]")
    assert parse_message(fields(MsgType="text", Content="  ", MsgId="78")).kind == "unsupported"


@pytest.mark.parametrize(
    "bad",
    [
        {"FromUserName": ""},
        {"FromUserName": "o User/../x"},
        {"CreateTime": "yesterday"},
        {"MsgId": "12ab"},
        {"MsgType": ""},
    ],
)
def test_missing_or_malformed_fields(bad: dict[str, str]) -> None:
    with pytest.raises(WeChatProtocolError):
        parse_message({**fields(MsgType="text", Content="x", MsgId="1"), **bad})


def test_quick_replies_become_a_numbered_menu() -> None:
    buttons = [{"title": "校园卡丢了怎么办", "payload": "x"}, {"title": "转人工", "payload": "/request_human"}]
    assert render_text("你可以问我：", buttons) == "你可以问我：\n\n回复数字：\n1. 校园卡丢了怎么办\n2. 转人工"
    assert render_text("没有按钮") == "没有按钮"


@pytest.mark.parametrize(
    ("text", "number"), [("1", 1), ("１", 1), (" 2。", 2), ("12", 12), ("一", None), ("1 2", None)]
)
def test_menu_choices(text: str, number: int | None) -> None:
    assert menu_choice(text) == number


def test_a_passive_reply_survives_hostile_content() -> None:
    content = "答案 ]]> <script>alert(1)</script> & 结束"
    root = fromstring(text_reply("oUser", "gh_x", content, create_time=1))
    assert root.findtext("Content") == content
    assert (root.findtext("ToUserName"), root.findtext("FromUserName"), root.findtext("MsgType")) == (
        "oUser",
        "gh_x",
        "text",
    )


def test_long_texts_are_split_by_bytes() -> None:
    parts = split_for_wechat("请到学生事务中心办理。" * 200)
    assert len(parts) > 1 and all(utf8_len(p) <= 2000 for p in parts)


def test_replay_guard_window_and_nonces() -> None:
    now = [1_000_000.0]
    guard = ReplayGuard(window=300, clock=lambda: now[0])
    assert guard.fresh("1000000") and guard.fresh("999750") and not guard.fresh("999600") and not guard.fresh("1000400")
    assert guard.first_use("1000000", "abc")
    assert not guard.first_use("1000000", "abc")
    assert guard.first_use("1000000", "abd")
    now[0] += 1000
    assert guard.first_use("1001000", "x")
    assert len(guard._seen) == 1  # old nonces are forgotten once outside the window


def test_query_parameters_are_checked_before_use() -> None:
    assert valid_params("1409304348", "xxxxxx")
    assert not valid_params("14093a", "x")
    assert not valid_params("1", "]]><x>")
    assert not valid_params(None, "x")

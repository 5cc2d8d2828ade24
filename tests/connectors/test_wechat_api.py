"""The customer-service API client against the fake WeChat API: token caching, refresh, error codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.base import DeliveryError, OutboundMessage
from connectors.wechat_api import WeChatApiClient, WeChatSender
from tests.fake_wechat import APPID, APPSECRET, FakeWeChat
from tests.stack import free_port


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def api(fake_wechat: FakeWeChat, http: httpx.AsyncClient) -> WeChatApiClient:
    return WeChatApiClient(APPID, APPSECRET, http, fake_wechat.api_base, timeout=5)


async def test_sends_with_one_cached_token(api: WeChatApiClient, fake_wechat: FakeWeChat) -> None:
    await api.send_text("oA", "你好")
    await api.send_text("oA", "再见")
    assert fake_wechat.contents("oA") == ["你好", "再见"]
    assert fake_wechat.token_fetches == 1


async def test_an_expired_token_is_refreshed_once_and_the_send_retried(
    api: WeChatApiClient, fake_wechat: FakeWeChat
) -> None:
    await api.send_text("oA", "一")
    fake_wechat.expire_token()
    await api.send_text("oA", "二")
    assert fake_wechat.contents("oA") == ["一", "二"]
    assert fake_wechat.token_fetches == 2


async def test_a_token_still_refused_after_the_refresh_is_not_retried_forever(
    api: WeChatApiClient, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.fail_next_sends(40001, 40001)
    with pytest.raises(DeliveryError, match="40001") as refused:
        await api.send_text("oA", "一")
    assert not refused.value.permanent
    assert (fake_wechat.token_fetches, fake_wechat.send_calls) == (2, 2)


async def test_concurrent_senders_share_one_refresh(api: WeChatApiClient, fake_wechat: FakeWeChat) -> None:
    await api.send_text("oA", "warm-up")
    fake_wechat.expire_token()
    fake_wechat.token_delay = 0.2
    await asyncio.gather(*(api.send_text(f"o{i}", f"消息{i}") for i in range(6)))
    assert fake_wechat.token_fetches == 2
    assert sorted(fake_wechat.contents()[1:]) == sorted(f"消息{i}" for i in range(6))


@pytest.mark.parametrize(
    ("errcode", "permanent"), [(45015, True), (45047, True), (43004, True), (45009, False), (-1, False)]
)
async def test_error_codes(api: WeChatApiClient, fake_wechat: FakeWeChat, errcode: int, permanent: bool) -> None:
    fake_wechat.fail_next_sends(errcode)
    with pytest.raises(DeliveryError, match=str(errcode)) as failed:
        await api.send_text("oA", "x")
    assert failed.value.permanent is permanent


async def test_wrong_credentials_or_no_server_are_delivery_errors(
    fake_wechat: FakeWeChat, http: httpx.AsyncClient
) -> None:
    wrong = WeChatApiClient(APPID, "not-the-secret", http, fake_wechat.api_base)
    with pytest.raises(DeliveryError, match="40125"):
        await wrong.send_text("oA", "x")
    down = WeChatApiClient(APPID, APPSECRET, http, f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(DeliveryError, match="unreachable") as unreachable:
        await down.send_text("oA", "x")
    assert not unreachable.value.permanent


def test_the_sender_renders_the_menu_and_splits_by_bytes(api: WeChatApiClient) -> None:
    sender = WeChatSender(api)
    buttons = [{"title": "转人工", "payload": "/request_human"}]
    [part] = sender.parts(OutboundMessage("wx:oA", "需要帮忙吗？", buttons=buttons, message_id=1))
    assert part.text == "需要帮忙吗？\n\n回复数字：\n1. 转人工"
    long_parts = sender.parts(OutboundMessage("wx:oA", "办理须知。" * 500))
    assert len(long_parts) == 4 and all(len(p.text.encode()) <= 2000 for p in long_parts)

"""What is missing or unsafe in the Telegram and WeChat settings (knowledge_base/settings.py refuses to
start with any of it): required companions, the webhook secret's form, placeholder secrets."""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "changethis", ""}
TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


def channel_problems(s: Any) -> list[str]:
    """What is missing or unsafe in the Telegram and WeChat settings of `s` (a Settings; empty when fine or off)."""
    problems: list[str] = []
    tg, wx = s.telegram, s.wechat
    if tg.mode != "off" and not tg.token:
        problems.append("HELPDESK_TELEGRAM_TOKEN is required when HELPDESK_TELEGRAM_MODE is not off")
    if tg.mode == "webhook" and not TELEGRAM_SECRET.match(tg.secret):
        problems.append("the Telegram webhook needs HELPDESK_TELEGRAM_SECRET: 16 to 256 characters of A-Z a-z 0-9 _ -")
    if wx.token:
        if not (wx.appid and wx.appsecret):
            problems.append("HELPDESK_WECHAT_TOKEN needs HELPDESK_WECHAT_APPID and HELPDESK_WECHAT_APPSECRET")
        if wx.aes_key and len(wx.aes_key) != 43:
            problems.append("HELPDESK_WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
    for name, value in (("TELEGRAM_SECRET", tg.secret), ("WECHAT_TOKEN", wx.token), ("WECHAT_APPSECRET", wx.appsecret)):
        if value and value.lower() in PLACEHOLDER_SECRETS:
            problems.append(f"HELPDESK_{name} is a placeholder")
    return problems

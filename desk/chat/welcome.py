"""The welcome every channel gives a new student: the same words and quick replies on web, Telegram and WeChat."""

from __future__ import annotations

from typing import Any

from knowledge_base.names import PAYLOAD_REQUEST_HUMAN

WELCOME_TEXT = (
    "你好，我是{university}一站式学生社区的智能助手，24小时在线。\n"
    "可以问我奖助学金、证件补办、宿舍报修、校园网等办事问题，也可以帮你找到对应的老师。"
)
WELCOME_BUTTONS = [
    {"title": "校园卡丢了怎么办", "payload": ""},
    {"title": "怎么开在读证明", "payload": ""},
    {"title": "心理咨询怎么预约", "payload": ""},
    {"title": "转人工", "payload": PAYLOAD_REQUEST_HUMAN},
]
HELP_TEXT = "直接用文字告诉我你要办的事就行，比如“校园卡丢了怎么办”。也可以点下面的常见问题，或找老师帮忙。"


def menu_buttons(hot: list[str] | None = None) -> list[dict[str, str]]:
    """The welcome's quick replies, each with a payload (a question's payload is its title); `hot`: the
    questions for this student now (desk/insight/menus.py) instead of the built-in ones, then 转人工."""
    if hot:
        return [{"title": q, "payload": q} for q in hot] + [{"title": "转人工", "payload": PAYLOAD_REQUEST_HUMAN}]
    return [{"title": b["title"], "payload": b["payload"] or b["title"]} for b in WELCOME_BUTTONS]


def welcome_reply(university_name: str, hot: list[str] | None = None) -> dict[str, Any]:
    """The welcome a new web chat, a new follower or /start gets."""
    return {"role": "bot", "text": WELCOME_TEXT.format(university=university_name), "buttons": menu_buttons(hot)}


def help_reply(hot: list[str] | None = None) -> dict[str, Any]:
    return {"role": "bot", "text": HELP_TEXT, "buttons": menu_buttons(hot)}

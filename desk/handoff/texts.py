"""What the student reads about their request for a person, and how tickets are labelled for staff.

Kept apart from the state machine so the Chinese wording can be reviewed (and changed) in one place.
"""

from __future__ import annotations

import json

from knowledge_base.names import PAYLOAD_BOOK, PAYLOAD_CANCEL_HANDOFF, PAYLOAD_RATE, PAYLOAD_SKIP_COMMENT

REASON_LABELS = {
    "crisis": "危机干预",
    "request": "学生要求人工",
    "complaint": "投诉",
    "not_understood": "机器人未能理解",
}
STATUS_LABELS = {
    "queued": "排队中",
    "message": "留言",
    "claimed": "已接入",
    "closed": "已结束",
    "cancelled": "学生已取消",
    "returned": "超时转回机器人",
}

CANCEL_PAYLOAD = PAYLOAD_CANCEL_HANDOFF
CANCEL_BUTTON = {"title": "不用了", "payload": CANCEL_PAYLOAD}
SKIP_PAYLOAD = PAYLOAD_SKIP_COMMENT
RATING_TITLES = ("很不满意", "不满意", "一般", "满意", "非常满意")

CANCELLED = "好的，已为你取消人工服务。有问题可以继续问我。"
NOTHING_TO_CANCEL = "现在没有在排队的人工服务请求。有问题可以直接问我，需要老师帮忙可以说“转人工”。"
RETURNED = (
    "抱歉，老师暂时没能及时回复，已为你转回智能助手，你可以继续问我。"
    "需要老师帮忙可以再说“转人工”，也可以直接打电话给相关部门。"
)
URGENT_WAITING = "值班老师会尽快在这里联系你，请不要离开。如果情况危急，请立即拨打 110 / 120 或心理援助热线 12356。"
URGENT_NOT_CANCELLED = (
    "好的。值班老师还是会来看看你，确认你一切安好。需要帮助时，随时可以拨打心理援助热线 12356 或 110 / 120。"
)
CLOSED_WITHOUT_CHAT = "你的人工服务请求已由老师处理完毕。有问题可以继续问我。"
ASK_COMMENT = "谢谢你的评价！还有什么想对我们说的吗？可以直接输入意见或建议，不想写可以点“跳过”。"
THANKS_COMMENT = "收到，感谢你的反馈，我们会继续改进。有问题随时问我。"
THANKS_SKIP = "好的，感谢你的评价！有问题随时问我。"
RATING_EXPIRED = "这次服务的评价已经结束啦，谢谢你。有问题可以继续问我。"


def rating_payload(score: int) -> str:
    return PAYLOAD_RATE + json.dumps({"score": score})


def rating_buttons() -> list[dict[str, str]]:
    return [{"title": f"{n} {label}", "payload": rating_payload(n)} for n, label in enumerate(RATING_TITLES, 1)]


def ask_rating(staff_name: str) -> str:
    who = f"{staff_name}的" if staff_name else ""
    return f"本次人工服务已结束，感谢你的耐心。请为{who}服务打个分（1-5分，5分最满意）："


def queue_text(position: int, eta_minutes: int, again: bool = False) -> str:
    head = "你还在排队中，" if again else "已为你转接人工服务，"
    where = "你是下一位" if position <= 0 else f"你前面还有{position}位"
    return f"{head}{where}，预计等待约{eta_minutes}分钟，不想等了可以点“不用了”。"


def urgent_text() -> str:
    return "已通知值班老师，老师会尽快在这里联系你。如果情况危急，请立即拨打 110 / 120 或心理援助热线 12356。"


def message_text(reply_at: str | None, hours: str, again: bool = False) -> str:
    when = f"老师预计{reply_at}后回复" if reply_at else "老师上班后会尽快回复"
    if again:
        return f"你已经留过言了，{when}，回复会发到这里。等待期间可以继续问我，也可以预约到现场办理。"
    return (
        f"现在是非工作时间（人工服务时间：{hours}），老师暂时不在线。你的留言已经记下，{when}，"
        "回复会发到这里。等待期间你可以继续问我，也可以预约到现场办理。"
    )


def office_closed_text(reply_at: str | None) -> str:
    when = f"老师预计{reply_at}后回复" if reply_at else "老师上班后会尽快回复"
    return (
        f"人工服务时间已结束，老师暂时不在线。你的留言老师都能看到，{when}，回复会发到这里。"
        "现在你可以继续问我，也可以预约到现场办理。"
    )


def transferred_after_hours_text(department: str, reply_at: str | None) -> str:
    when = f"预计{reply_at}后回复" if reply_at else "上班后会尽快回复"
    return f"你的问题已转给{department}的老师。现在是非工作时间，老师{when}，回复会发到这里。"


def booking_button(service: str | None) -> dict[str, str]:
    payload = PAYLOAD_BOOK
    if service:
        payload += json.dumps({"service": service}, ensure_ascii=False)
    return {"title": "预约到现场办理", "payload": payload}


def claimed_text(staff_label: str) -> str:
    return f"{staff_label}已接入，接下来由老师为你服务，请直接描述你的问题。"


def transferred_text(department: str) -> str:
    return f"你的问题已转给{department}的老师，请稍候，老师接入后会在这里回复你。"


def short_department(name: str, aliases: list[str]) -> str:
    """A name that fits in a chat label: 心理健康教育与咨询中心 -> 心理中心."""
    if len(name) <= 6:
        return name
    return next((a for a in aliases if 0 < len(a) <= 6), name)

"""Chinese time expressions for booking: 明天下午三点, 下周三下午, 3月12号上午, 这周四晚上七点.

`extract(text, now)` finds the most informative expression in a message and resolves it in
Asia/Shanghai against an injectable `now`, keeping its grain: "下周三下午" is a part of a day (the
booking form asks for the hour), "明天下午三点" is an hour, "两点半" a minute, "下周一" a day. Pure
Python, no imports from the rest of the project, so the Rasa component (bot/components) and the app
share it. Conventions: a part of the day alone starts at 早上 8:00, 上午 9:00, 中午 12:00, 下午 14:00,
傍晚 17:00, 晚上 18:00; an hour without a part of the day is read as office time (1-6 点 are afternoon).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from knowledge_base import clock

TZ = clock.TZ

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")  # date.weekday() -> how it is written
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "今儿": 0, "明天": 1, "明日": 1, "明儿": 1, "后天": 2, "后儿": 2, "大后天": 3}
_RELATIVE_WITH_PART = {"今早": (0, "早上"), "今晚": (0, "晚上"), "明早": (1, "早上"), "明晚": (1, "晚上")}
_PART_START = {
    "凌晨": 5, "早上": 8, "早晨": 8, "上午": 9, "中午": 12, "午后": 14, "下午": 14, "傍晚": 17,
    "晚上": 18, "晚": 18, "夜里": 20, "夜间": 20,
}  # fmt: skip
_AFTERNOON_PARTS = {"下午", "午后", "傍晚", "晚上", "晚", "夜里", "夜间"}

_NUM = r"(?:\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"
_PATTERN = re.compile(
    r"(?:(?P<rel>大后天|今天|今日|今儿|明天|明日|明儿|后天|后儿)|(?P<relpart>今早|今晚|明早|明晚)"
    r"|(?P<week>(?P<wpre>这|本|下下|下|上)?个?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末1-7]))"
    rf"|(?:(?P<mon>{_NUM})月)?(?P<day>{_NUM})(?:号|日)(?!楼|窗|线|门|床|机|口|码|位|车|室|馆|食堂|报|元)"
    r"|(?<![\d.])(?P<nmon>1[0-2]|0?[1-9])[./](?P<nday>3[01]|[12]\d|0?[1-9])(?![\d.%元])(?:号|日)?)?"
    r"\s*(?P<part>凌晨|早上|早晨|上午|中午|午后|下午|傍晚|晚上|夜里|夜间)?"
    rf"\s*(?:(?P<hour>{_NUM})\s*(?:点|时|:|：)(?!钟?以前)\s*(?P<min>半|一刻|三刻|{_NUM}\s*分?)?)?"
)


@dataclass(frozen=True)
class TimeValue:
    """A resolved time expression: its start, grain and where it stands in the text."""

    start: datetime
    grain: str  # minute | hour | part_of_day | day
    text: str
    span: tuple[int, int]
    part_of_day: str | None = None

    def as_entity(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "grain": self.grain, "text": self.text}


def now() -> datetime:
    """The current time in Asia/Shanghai from the one clock (HELPDESK_NOW freezes it; knowledge_base.clock)."""
    return clock.local_now()


def chinese_number(token: str) -> int | None:
    """'12', '十二', '二十五', '两' -> int; None for anything else."""
    token = token.strip()
    if token.isdigit():
        return int(token)
    if not token or any(ch not in _DIGITS and ch != "十" for ch in token):
        return None
    if "十" in token:
        tens, _, units = token.partition("十")
        t = _DIGITS.get(tens, 0) if tens else 1
        u = _DIGITS.get(units, 0) if units else 0
        return t * 10 + u
    if len(token) == 1:
        return _DIGITS[token]
    return int("".join(str(_DIGITS[ch]) for ch in token))


def _minutes(token: str | None) -> int | None:
    if not token:
        return None
    token = token.strip().removesuffix("分").strip()
    if token == "半":
        return 30
    if token == "一刻":
        return 15
    if token == "三刻":
        return 45
    value = chinese_number(token)
    return value if value is not None and 0 <= value < 60 else None


def _resolve_date(m: re.Match[str], ref: datetime) -> tuple[date | None, str | None]:
    today = ref.date()
    if m.group("rel"):
        return today + timedelta(days=_RELATIVE_DAYS[m.group("rel")]), None
    if m.group("relpart"):
        days, part = _RELATIVE_WITH_PART[m.group("relpart")]
        return today + timedelta(days=days), part
    if m.group("week"):
        wd_token = m.group("wd")
        weekday = int(wd_token) - 1 if wd_token.isdigit() else _WEEKDAYS[wd_token]
        monday = today - timedelta(days=today.weekday())
        prefix = m.group("wpre") or ""
        offset = {"下": 7, "下下": 14, "上": -7}.get(prefix, 0)
        day = monday + timedelta(days=offset + weekday)
        if not prefix and day < today:  # a bare 周三 after Wednesday means the coming one
            day += timedelta(days=7)
        return day, None
    if m.group("day") or m.group("nday"):
        day_n = chinese_number(m.group("day") or m.group("nday"))
        month_token = m.group("mon") or m.group("nmon")
        month_n = chinese_number(month_token) if month_token else today.month
        if not day_n or not month_n or not 1 <= month_n <= 12:
            return None, None
        try:
            day = date(today.year, month_n, day_n)
        except ValueError:
            return None, None
        if day < today:
            if month_token:
                day = date(today.year + 1, month_n, day_n)
            else:  # "12号" after the 12th: next month
                nm = month_n % 12 + 1
                try:
                    day = date(today.year + (1 if nm == 1 else 0), nm, day_n)
                except ValueError:
                    return None, None
        return day, None
    return None, None


def _from_match(m: re.Match[str], ref: datetime) -> TimeValue | None:
    day, implied_part = _resolve_date(m, ref)
    part = m.group("part") or implied_part
    hour = chinese_number(m.group("hour")) if m.group("hour") else None
    minute = _minutes(m.group("min"))
    if day is None and part is None and hour is None:
        return None
    if hour is not None:
        if not 0 <= hour <= 24:
            return None
        if part in _AFTERNOON_PARTS and hour < 12 or part == "中午" and hour < 6:
            hour += 12
        elif part is None and 1 <= hour <= 6:
            hour += 12  # office time: 两点 means 14:00
        hour %= 24
    elif part is not None:
        hour = _PART_START[part]
    if day is None:  # a time today, or tomorrow when it has passed
        day = ref.date()
        if hour is not None and (hour, minute or 0) < (ref.hour, ref.minute):
            day += timedelta(days=1)
    if m.group("hour"):
        grain = "minute" if minute not in (None, 0) else "hour"
    elif part is not None:
        grain = "part_of_day"
    else:
        grain = "day"
    start = datetime(day.year, day.month, day.day, hour or 0, minute or 0, tzinfo=TZ)
    return TimeValue(start, grain, m.group(0).strip(), (m.start(), m.end()), part)


def extract(text: str, ref: datetime | None = None) -> TimeValue | None:
    """The most informative time expression in the text, resolved against `ref` (default: now)."""
    ref = (ref or now()).astimezone(TZ)
    norm = unicodedata.normalize("NFKC", text or "")
    best: TimeValue | None = None
    for m in _PATTERN.finditer(norm):
        if not m.group(0).strip():
            continue
        value = _from_match(m, ref)
        if value is None:
            continue
        if best is None or len(value.text) > len(best.text):
            best = value
    return best


def part_of_day_bucket(hour: int) -> str:
    """morning (< 12), afternoon (12-17) or evening (>= 18)."""
    if hour < 12:
        return "morning"
    return "afternoon" if hour < 18 else "evening"


def same_at_grain(predicted: TimeValue | None, expected: dict[str, Any]) -> bool:
    """Does the prediction equal the expected start at the expected grain?"""
    if predicted is None:
        return False
    want = datetime.fromisoformat(expected["start"]).astimezone(TZ)
    got = predicted.start.astimezone(TZ)
    grain = expected.get("grain", "minute")
    if got.date() != want.date():
        return False
    if grain == "day":
        return True
    if grain == "part_of_day":
        return part_of_day_bucket(got.hour) == part_of_day_bucket(want.hour)
    if grain == "hour":
        return got.hour == want.hour
    return (got.hour, got.minute) == (want.hour, want.minute)

"""Chinese time expressions, resolved against a frozen "now" (Monday 2026-03-09 09:00, Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime

import pytest

from knowledge_base.timeexpr import TZ, chinese_number, extract, same_at_grain

NOW = datetime(2026, 3, 9, 9, 0, tzinfo=TZ)  # a Monday morning


@pytest.mark.parametrize(
    ("text", "start", "grain"),
    [
        ("明天下午三点", "2026-03-10T15:00", "hour"),
        ("后天上午", "2026-03-11T09:00", "part_of_day"),
        ("下周三下午", "2026-03-18T14:00", "part_of_day"),
        ("下周三下午两点半", "2026-03-18T14:30", "minute"),
        ("这周四晚上七点", "2026-03-12T19:00", "hour"),
        ("3月12号上午", "2026-03-12T09:00", "part_of_day"),
        ("3.11下午三点", "2026-03-11T15:00", "hour"),
        ("下周一", "2026-03-16T00:00", "day"),
        ("周日", "2026-03-15T00:00", "day"),
        ("大后天", "2026-03-12T00:00", "day"),
        ("今晚", "2026-03-09T18:00", "part_of_day"),
        ("两点", "2026-03-09T14:00", "hour"),
        ("明天 上午 10点一刻", "2026-03-10T10:15", "minute"),
        ("15:30可以吗", "2026-03-09T15:30", "minute"),
        ("下下周二上午十点", "2026-03-24T10:00", "hour"),
        ("8点", "2026-03-10T08:00", "hour"),  # 8:00 today has passed at 9:00: tomorrow
    ],
)
def test_expressions_resolve_with_their_grain(text: str, start: str, grain: str) -> None:
    value = extract(f"我想约心理咨询 {text}", NOW)
    assert value is not None
    assert value.start == datetime.fromisoformat(start).replace(tzinfo=TZ)
    assert value.grain == grain


@pytest.mark.parametrize("text", ["1号楼在哪", "去6号窗口办", "我想约心理咨询", "价格3.5元", "校园卡丢了怎么办"])
def test_no_time_in_text_without_one(text: str) -> None:
    assert extract(text, NOW) is None


def test_a_past_date_in_the_month_means_next_month_or_year() -> None:
    assert extract("5号下午", NOW).start.date().isoformat() == "2026-04-05"  # type: ignore[union-attr]
    assert extract("1月5号", NOW).start.date().isoformat() == "2027-01-05"  # type: ignore[union-attr]


def test_chinese_numbers() -> None:
    assert [chinese_number(t) for t in ("十", "十二", "二十五", "两", "7", "零")] == [10, 12, 25, 2, 7, 0]
    assert chinese_number("几") is None


def test_comparison_at_grain() -> None:
    value = extract("下周三下午", NOW)
    assert same_at_grain(value, {"start": "2026-03-18T15:00:00+08:00", "grain": "part_of_day"})
    assert not same_at_grain(value, {"start": "2026-03-18T19:00:00+08:00", "grain": "part_of_day"})
    assert same_at_grain(value, {"start": "2026-03-18T14:00:00+08:00", "grain": "minute"})
    assert not same_at_grain(None, {"start": "2026-03-18T14:00:00+08:00", "grain": "day"})

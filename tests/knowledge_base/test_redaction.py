"""The masking rules (knowledge_base/redaction.py): what is masked, what must stay readable."""

from __future__ import annotations

import logging

import pytest
import yaml

from knowledge_base.config import PROJECT_ROOT
from knowledge_base.redaction import (
    FIELD_OF_SLOT,
    RedactingFilter,
    asked_field,
    redact_answer,
    redact_events,
    redact_packet,
    redact_text,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的手机号是13812345678", "我的手机号是138****5678"),
        ("电话：138 1234 5678，谢谢", "电话：138****5678，谢谢"),
        ("+86-13912345678", "139****5678"),
        ("学号 2021123412", "学号 20******12"),
        ("学号：S2023001", "学号：S2****01"),
        ("我的学号是2023010123，手机13812345678", "我的学号是20******23，手机138****5678"),
        ("身份证号110101199003071234", "身份证号110***********1234"),
        ("证件 11010119900307123X 丢了", "证件 110***********123X 丢了"),
        ("我叫王小明，想预约", "我叫王**，想预约"),
        ("姓名：张三", "姓名：张*"),
        ("QQ 123456789 加我", "QQ 12*****89 加我"),
        ("银行卡6222021234567890123绑不上", "银行卡62***************23绑不上"),
    ],
)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "下周三下午两点",
        "2026-12-09 14:00 可以吗",
        "20261209那天有空吗",  # a date written YYYYMMDD
        "2026年12月9日",
        "我的预约码是 K7QX9P",
        "大学生活动中心3楼305室",
        "图书馆2026年开放时间",
        "14:00-17:30",
        "校园卡丢了怎么办",
        "我叫什么名字你知道吗",
        "请拨打 12356 心理援助热线",
        "1381234",  # too short to be a phone
        "web:12345678-abcd-4def-8123-123456789012",  # an id, not a number someone typed
    ],
)
def test_near_misses_stay_readable(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("name", "王小明", "王**"),
        ("name", "我叫王小明", "我叫王**"),
        ("name", "Li Lei", "L* L**"),
        ("name", "王小明 2023010123 13812345678", "王** 20******23 138****5678"),
        ("name", "校园卡丢了怎么办", "校园卡丢了怎么办"),  # a question on the side keeps its words
        ("name", "算了", "算了"),
        ("student_number", "2023010123", "20******23"),
        ("student_number", "A1234", "*****"),
        ("phone", "1381234", "*******"),
        ("phone", "13812345678", "138****5678"),
        (None, "王小明", "王小明"),  # not an answer to a contact question: only the patterns apply
    ],
)
def test_answers_to_contact_questions(field: str | None, text: str, expected: str) -> None:
    assert redact_answer(field, text) == expected


def test_the_domain_questions_are_recognised() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    for slot, field in FIELD_OF_SLOT.items():
        question = domain["responses"][f"utter_ask_{slot}"][0]["text"]
        assert asked_field(question) == field, question
    assert asked_field("想约心理咨询的什么时间？") is None
    assert asked_field(None) is None


def test_tracker_events_mask_the_answers_and_keep_sealed_slots() -> None:
    token = "gAAAAABsealed-token"
    events = [
        {"event": "user", "text": "我想预约心理咨询", "parse_data": {"text": "我想预约心理咨询", "entities": []}},
        {"event": "slot", "name": "requested_slot", "value": "contact_name"},
        {"event": "bot", "text": "请问你的姓名是？", "data": {}},
        {"event": "user", "text": "王小明", "parse_data": {"text": "王小明", "entities": [{"value": "王小明"}]}},
        {"event": "slot", "name": "contact_name", "value": token},
        {"event": "slot", "name": "requested_slot", "value": "contact_phone"},
        {"event": "user", "text": "13812345678", "parse_data": {"text": "13812345678"}},
        {"event": "slot", "name": "contact_phone", "value": "13812345678"},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "user", "text": "王小明"},
    ]
    out = redact_events(events)
    assert out[0]["text"] == "我想预约心理咨询"
    assert out[3]["text"] == out[3]["parse_data"]["text"] == "王**"
    assert out[3]["parse_data"]["entities"][0]["value"] == "王**"
    assert out[4]["value"] == token  # sealed with the booking key: kept, the form needs it
    assert out[6]["text"] == "138****5678"
    assert out[7]["value"] == "***"  # a contact slot in clear is never stored
    assert out[9]["text"] == "王小明"  # no question asked any more: only the patterns
    assert events[3]["text"] == "王小明"  # the live tracker's events are not touched
    # a save stores only the new events: they are masked knowing the question asked before them
    assert redact_events(events, start=3) == out[3:]
    assert redact_events(events, start=len(events)) == []


def test_packet_summary_is_masked() -> None:
    packet = {"department": "community", "summary": ["我电话13812345678", "转人工"], "slots": {"x": "学号2021123412"}}
    out = redact_packet(packet)
    assert out["summary"] == ["我电话138****5678", "转人工"]
    assert out["slots"] == {"x": "学号20******12"}
    assert out["department"] == "community"


def test_log_records_are_masked_with_their_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "student said %s (%d)", ("13812345678", 3), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "student said 138****5678 (3)"
    try:
        raise ValueError("bad phone 13912345678")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    RedactingFilter().filter(record)
    assert "139****5678" in (record.exc_text or "") and "13912345678" not in (record.exc_text or "")


def test_a_program_run_through_redacted_run_logs_masked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    (tmp_path / "chatty.py").write_text(
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s')\n"
        "logging.getLogger('x').info('student %s typed %s', 'web:1', '我的手机13812345678 学号2021123412')\n"
        "print('args', sys.argv[1:])\n",
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{PROJECT_ROOT}")
    out = subprocess.run(
        [sys.executable, "-m", "knowledge_base.redacted_run", "chatty", "--flag", "x"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.splitlines() == [
        "student web:1 typed 我的手机138****5678 学号20******12",
        "args ['--flag', 'x']",
    ]

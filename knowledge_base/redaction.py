"""Personal data out of clear text: one set of masking rules for every place a student's words are kept.

Students type phone numbers, ID-card numbers, student numbers and, in the booking form, their name.
What the desk keeps of their words (the `messages` table, the handoff packet, Rasa's tracker store, the
logs) goes through these rules first:

- a mainland mobile number: 13812345678 -> 138****5678 (also +86 / spaced / dashed forms);
- a Chinese ID-card number (18 characters, valid date of birth): 110101199003071234 -> 110***********1234;
- a student number after a label (学号 2021123456 -> 学号 20******56) and any other run of 8 to 19
  digits that is not a date written as YYYYMMDD (QQ, bank card, unlabeled student numbers);
- a name after a label (姓名：张三, 我叫张三 -> 张*);
- the answer to one of the booking form's contact questions as a whole (the name question's answer
  王小明 -> 王**), when the caller knows which question it answers (`redact_answer`).

Near misses stay: dates (2026-12-09, 20261209), times (14:00), years (2026年), room numbers (3楼305),
booking codes (K7QX9P), short numbers. The masks keep what staff need to tell two students apart in a
conversation, never enough to contact them; the real values live only in the booking tables, sealed
with the booking key (knowledge_base/privacy.py). Standard library only: the Rasa process (its tracker
store, bot/tracker_store.py) and the logs of every process (`install_log_redaction`) use it too.
"""

from __future__ import annotations

import logging
import re
import traceback
import unicodedata
from datetime import date
from typing import Any

# -- masks --------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧***; keeps the first character only."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str) -> str:
    """13812341234 -> 138****1234."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_student_number(number: str) -> str:
    """2023010123 -> 20******23."""
    if len(number) < 6:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


def mask_id_card(number: str) -> str:
    """110101199003071234 -> 110***********1234."""
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


# -- patterns -----------------------------------------------------------------------------------------

_CJK_NAME = r"[\u4e00-\u9fff·•]{2,4}"
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])(?![0-9A-Za-z])"
)
_PHONE = re.compile(r"(?<![\d*])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![\d*])")
_LABELED_NUMBER = re.compile(
    r"((?:学号|学生证号|学籍号|工号|证件号码?|身份证号码?|student\s*(?:id|no\.?|number))\s*(?:是|为)?\s*[:：]?\s*)"
    r"([A-Za-z0-9][A-Za-z0-9-]{2,24})(?![A-Za-z0-9*])",
    re.IGNORECASE,
)
_LONG_DIGITS = re.compile(r"(?<![\dA-Za-z*_-])(\d{8,19})(?![\dA-Za-z*_-])")
_LABELED_NAME = re.compile(
    r"((?:姓名|名字|真名|联系人)\s*(?:是|为|叫)?\s*[:：]?\s*|我叫\s*|本人\s*)(?!什么|啥)"
    rf"({_CJK_NAME}|[A-Z][a-z]+(?: [A-Z][a-z]+)+)"
)
# the answer to the name question: labels, fillers, then what looks like a name
_ANSWER_LABEL = re.compile(r"^(?:我叫|我是|本人|叫)\s*|^(?:我的)?(?:姓名|名字|真名)?\s*(?:是|为|叫)?\s*[:：]?\s*")
_NAME_LOOKS = re.compile(r"[\u4e00-\u9fff·•]{1,8}|[A-Za-z][A-Za-z .'-]{0,49}")
_QUESTION = re.compile(
    r"[?？]|吗|么|怎么|什么|哪|几|如何|多少|能不能|可不可以|预约|取消|算了|不|没|再见|谢|你好|好的|人工|老师|帮|请|要|想"
)
_SEPARATOR = re.compile(r"([\s,，。.、；;!！~～]+)")
_DIGITS_IN = re.compile(r"(?<![A-Za-z0-9*])(?:[A-Za-z0-9][A-Za-z0-9\s-]*[A-Za-z0-9]|[A-Za-z0-9])(?![A-Za-z0-9*])")

# The booking form's contact slots (domain.yml) and the questions that ask them (their texts in domain.yml;
# tests/knowledge_base/test_redaction.py checks both stay in step).
FIELD_OF_SLOT = {"contact_name": "name", "contact_student_number": "student_number", "contact_phone": "phone"}
_QUESTIONS = (
    ("name", re.compile(r"(?:姓名|名字)\s*(?:是)?\s*[？?：:]\s*$")),
    ("student_number", re.compile(r"学号\s*(?:是)?\s*[？?：:]\s*$")),
    ("phone", re.compile(r"(?:手机号|手机号码|电话)\s*(?:（[^）]*）)?\s*(?:是)?\s*[？?：:]\s*$")),
)
FERNET_PREFIX = "gAAAAA"  # a Fernet token (sealed with the booking key) starts so


def _is_date(digits: str) -> bool:
    if len(digits) != 8:
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return 1900 <= int(digits[:4]) <= 2100


def _phone(match: re.Match[str]) -> str:
    return mask_phone(match.group(1) + match.group(2) + match.group(3))


def _labeled_number(match: re.Match[str]) -> str:
    value = match.group(2)
    if not any(ch.isdigit() for ch in value):
        return match.group(0)
    return match.group(1) + mask_student_number(value)


def _long_digits(match: re.Match[str]) -> str:
    digits = match.group(1)
    return digits if _is_date(digits) else mask_student_number(digits)


def redact_text(text: str) -> str:
    """The text with phone, ID-card and student numbers and labelled names masked; the rest unchanged."""
    if not text or not isinstance(text, str):
        return text
    text = _ID_CARD.sub(lambda m: mask_id_card(m.group(1)), text)
    text = _PHONE.sub(_phone, text)
    text = _LABELED_NUMBER.sub(_labeled_number, text)
    text = _LONG_DIGITS.sub(_long_digits, text)
    return _LABELED_NAME.sub(_labeled_name, text)


def _labeled_name(match: re.Match[str]) -> str:
    name = match.group(2)
    return match.group(0) if _QUESTION.search(name) else match.group(1) + mask_name(name)


def _mask_name_answer(text: str) -> str:
    out = []
    for part in _SEPARATOR.split(text):
        if not part or _SEPARATOR.fullmatch(part) or "*" in part:
            out.append(part)
            continue
        label = _ANSWER_LABEL.match(part)
        head = label.group(0) if label else ""
        rest = part[len(head) :]
        if rest and _NAME_LOOKS.fullmatch(rest) and not _QUESTION.search(rest):
            out.append(head + mask_name(rest))
        else:
            out.append(part)
    return "".join(out)


def redact_answer(field: str | None, text: str) -> str:
    """A student's message that answers the contact question `field` (name, student_number, phone):
    the answer masked as a whole; a question on the side (校园卡丢了怎么办) keeps its words."""
    if not text or not isinstance(text, str):
        return text
    text = unicodedata.normalize("NFKC", text) if field else text
    if text.startswith("/"):  # a button's payload, never a typed contact detail
        return redact_text(text)
    masked = redact_text(text)
    if field == "name":
        return _mask_name_answer(masked)
    if field == "student_number" and not _QUESTION.search(masked):
        return _DIGITS_IN.sub(lambda m: mask_student_number(re.sub(r"[\s-]", "", m.group(0))), masked)
    if field == "phone" and not _QUESTION.search(masked):
        return re.sub(
            r"(?<![\d*])(?:\d[\d\s()+-]*\d|\d)(?![\d*])", lambda m: mask_phone(re.sub(r"\D", "", m.group(0))), masked
        )
    return masked


def asked_field(bot_text: str | None) -> str | None:
    """The contact field a bot message asks for ("请输入你的学号：" -> student_number), else None."""
    if not bot_text:
        return None
    text = bot_text.strip()
    return next((field for field, pattern in _QUESTIONS if pattern.search(text)), None)


def redact_value(value: Any) -> Any:
    """`redact_text` over every string inside JSON-like data (dicts, lists)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_packet(packet: dict[str, Any]) -> dict[str, Any]:
    """A handoff packet with the student's words (summary, FAQ questions tried, slots) masked."""
    out = dict(packet)
    for key in ("summary", "faq_candidates", "slots", "last_message"):
        if key in out:
            out[key] = redact_value(out[key])
    return out


# -- Rasa tracker events ---------------------------------------------------------------------------------


def _contact_slot_value(value: Any) -> Any:
    if value in (None, "") or (isinstance(value, str) and value.startswith(FERNET_PREFIX)):
        return value  # empty, or sealed with the booking key
    return "***"


def redact_event(event: dict[str, Any], asking: str | None) -> dict[str, Any]:
    """One tracker event as it may be stored; `asking` is the contact field the form asked for last."""
    kind = event.get("event")
    out = dict(event)
    if kind == "user":
        out["text"] = redact_answer(asking, event.get("text") or "")
        parse = dict(event.get("parse_data") or {})
        if parse:
            if "text" in parse:
                parse["text"] = redact_answer(asking, parse.get("text") or "")
            parse["entities"] = [
                {**e, "value": redact_answer(asking, e["value"]) if isinstance(e.get("value"), str) else e.get("value")}
                for e in parse.get("entities") or []
                if isinstance(e, dict)
            ]
            out["parse_data"] = parse
    elif kind == "bot":
        out["text"] = redact_text(event.get("text") or "") if event.get("text") else event.get("text")
        if event.get("data"):
            out["data"] = redact_value(event["data"])
    elif kind == "slot" and event.get("name") in FIELD_OF_SLOT:
        out["value"] = _contact_slot_value(event.get("value"))
    elif kind == "slot" and isinstance(event.get("value"), str | dict | list):
        out["value"] = redact_value(event.get("value"))
    return out


def redact_events(events: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """Tracker events (dicts, oldest first) from `start` on, as they may be stored: user texts masked, the
    answers to the contact questions as a whole (the question is known from the form's `requested_slot`,
    so the events before `start` are read for it, not masked)."""
    asking: str | None = None
    out = []
    for n, event in enumerate(events):
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            asking = FIELD_OF_SLOT.get(str(event.get("value")))
        elif event.get("event") in ("active_loop", "restart", "session_started") and not (event.get("name")):
            asking = None
        if n >= start:
            out.append(redact_event(event, asking))
    return out


# -- logs -------------------------------------------------------------------------------------------------

_installed = False


# loggers whose formatters read the record's arguments themselves (uvicorn's access log line)
ARGS_KEPT = frozenset({"uvicorn.access"})


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a log record's message, arguments and traceback in place (formatters see only masked text)."""
    if record.name in ARGS_KEPT and isinstance(record.args, tuple):
        record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
    else:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself; mask what we can
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    return record


class RedactingFilter(logging.Filter):
    """A logging filter that masks personal data (for handlers configured by hand)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_redaction() -> None:
    """Mask personal data in every log record this process creates, whatever logger or handler (idempotent).

    Installed as the log-record factory, so it covers libraries' loggers (uvicorn's access log, Rasa,
    rasa-sdk, SQLAlchemy's errors with their parameters) and handlers configured later.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True

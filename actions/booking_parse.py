"""Reading a student's message inside the booking dialogue: time, codes, choices, contact details, intent.

Pure functions over the latest message (text, intent, entities), so they are tested without a server.
The form decides with them whether a message answers the question asked, leaves the dialogue
("算了", "不约了"), or is a question on the side that the rules answer before returning to the form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker

from actions.booking_common import CANCEL
from knowledge_base import names, timeexpr
from knowledge_base.booking.service import CODE_ALPHABET, CODE_LENGTH, normalize_code
from knowledge_base.faq.answering import booking_topic
from knowledge_base.names import (
    ENTITY_CODE,
    ENTITY_SERVICE,
    ENTITY_TIME,
    INTENT_AFFIRM,
    INTENT_CANCEL,
    INTENT_DENY,
    INTENT_GOODBYE,
)
from knowledge_base.privacy import validate_contact

# Intents the rules answer while the form waits (then the form asks its question again) ...
ASIDE_INTENTS = frozenset(
    {
        names.INTENT_FAQ,
        names.INTENT_SERVICE_INFO,
        names.INTENT_OUT_OF_SCOPE,
        names.INTENT_NLU_FALLBACK,
        names.INTENT_HELP,
        names.INTENT_BOT_CHALLENGE,
        names.INTENT_GREET,
        names.INTENT_THANKS,
        names.INTENT_CHOOSE_FAQ,
        names.INTENT_LIST,
    }
)
# ... and intents that end the form after their own action (a person, a complaint, a crisis).
EXIT_INTENTS = frozenset({names.INTENT_REQUEST_HUMAN, names.INTENT_COMPLAIN, names.INTENT_CRISIS})
SURE = 0.5  # below this an intent is not trusted to take the message away from the question asked

_STOP = re.compile(
    r"算了|不约了|不预约了|不想约|不用约|不用了|不要了|不弄了|先不约|先不了|不办了|退出|放弃|不改了|取消预约|^取消$"
)
_STOP_CANCELLING = re.compile(r"算了|不取消|不用取消|不要取消|先不|保留|不用了|退出|放弃")
_YES = re.compile(r"^(?:确认|确定|好的?|可以|是的?|对的?|没问题|行|ok|yes)", re.IGNORECASE)
_EARLIEST = re.compile(r"最早|尽快|越快越好|最近的|随便|都行|都可以|什么时候都")
_ORDINAL = re.compile(
    r"^(?:第\s*)?([1-9一二三四五六七八九])\s*(?:个|项)?\s*(?:吧|。)*$"  # "2", "第二个吧"
    r"|^(?:选|就)?第\s*([1-9一二三四五六七八九])"  # "选第三个"
)
_CODE = re.compile(rf"(?<![A-Za-z0-9])([{CODE_ALPHABET}{CODE_ALPHABET.lower()}]{{{CODE_LENGTH}}})(?![A-Za-z0-9])")
_QUESTION = re.compile(r"[?？]|吗|么|怎么|什么|哪|几|如何|多少|能不能|可不可以")

_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d(?:[\s-]?\d){8})(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9]{4,20}")
_NAME_PREFIX = re.compile(r"(?:^|(?<=\s))(?:我叫|我是|叫|本人)")
_NAME_LOOKS = re.compile(r"[\u4e00-\u9fff·•]{2,8}|[A-Za-z][A-Za-z .'-]{1,49}")
_LABELS = re.compile(
    r"(?:我的)?(?:学号|手机号码?|手机号|手机|电话号码?|电话|联系方式|号码|姓名|名字|真名)(?:是|为|叫)?"
)
_FILLER = re.compile(r"[\s,，。.、；;:：!！~～\"'“”()（）]+")


@dataclass(frozen=True)
class Said:
    """The latest message as the booking dialogue reads it."""

    text: str
    intent: str | None
    confidence: float
    entities: dict[str, list[Any]] = field(default_factory=dict)
    time_entities: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, tracker: Tracker) -> Said:
        latest = tracker.latest_message or {}
        intent = latest.get("intent") or {}
        entities: dict[str, list[Any]] = {}
        times: list[dict[str, Any]] = []
        for e in latest.get("entities") or []:
            entities.setdefault(str(e.get("entity")), []).append(e.get("value"))
            if e.get("entity") == ENTITY_TIME:
                times.append(e)
        text = unicodedata.normalize("NFKC", str(latest.get("text") or "")).strip()
        return cls(text, intent.get("name"), float(intent.get("confidence") or 0.0), entities, times)

    def entity(self, name: str) -> str | None:
        values = [v for v in self.entities.get(name, []) if v]
        return str(values[0]) if values else None

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")

    def sure(self, intents: frozenset[str] | set[str]) -> bool:
        return self.intent in intents and (self.confidence >= SURE or self.is_payload)

    def is_aside(self) -> bool:
        """A question on the side (FAQ, help...) rather than an answer; low-confidence ones only if asked."""
        if self.intent == "nlu_fallback":
            return bool(_QUESTION.search(self.text)) and len(self.text) >= 4
        return self.sure(ASIDE_INTENTS)

    def is_exit(self) -> bool:
        return self.sure(EXIT_INTENTS)

    def wants_out(self, op: str | None) -> bool:
        """ "算了", "不约了", "再见": leave the dialogue (for a cancellation, 取消 means go on)."""
        if op == CANCEL:
            return bool(_STOP_CANCELLING.search(self.text)) or self.sure({INTENT_GOODBYE})
        return bool(_STOP.search(self.text)) or self.sure({INTENT_CANCEL, INTENT_GOODBYE})

    def wants_earliest(self) -> bool:
        return bool(_EARLIEST.search(self.text))

    def yes_no(self, op: str | None) -> bool | None:
        """The answer to "确认吗？": True, False or None (not an answer)."""
        if self.intent == INTENT_AFFIRM and (self.confidence >= SURE or self.is_payload):
            return True
        if _YES.match(self.text) and not _STOP.search(self.text) and "不" not in self.text:
            return True  # "确认预约" typed instead of tapped
        if op == CANCEL:
            if _STOP_CANCELLING.search(self.text) or self.sure({INTENT_DENY}):
                return False
            if self.sure({INTENT_CANCEL}):
                return True  # "取消吧" to "确定要取消吗？"
            return None
        if self.sure({INTENT_DENY, INTENT_CANCEL}) or _STOP.search(self.text):
            return False
        return None

    def service(self) -> str | None:
        return self.entity(ENTITY_SERVICE)

    def topic(self, now: datetime) -> str:
        """The message without booking words and its time ("帮我约下周三下午两点" -> ""), for a loose
        catalog match: what is left must say something about the service, or nothing is guessed."""
        return "" if self.is_payload else booking_topic(self.text, now)

    def code(self, known: list[str]) -> str | None:
        """A booking code of the student's, from a button or typed in the message."""
        given = self.entity(ENTITY_CODE)
        if given and normalize_code(given) in known:
            return normalize_code(given)
        for m in _CODE.finditer(self.text):
            if normalize_code(m.group(1)) in known:
                return normalize_code(m.group(1))
        return None

    def ordinal(self) -> int | None:
        """ "第二个", "2" -> 1 (zero-based)."""
        m = _ORDINAL.search(self.text)
        if not m:
            return None
        n = timeexpr.chinese_number(m.group(1) or m.group(2))
        return n - 1 if n else None

    def time(self, now: datetime) -> tuple[datetime, str] | None:
        """(start, grain): a time button, the Rasa `time` entity, or the text parsed with timeexpr."""
        for e in self.time_entities:
            grain = (e.get("additional_info") or {}).get("grain")
            try:
                start = datetime.fromisoformat(str(e.get("value")))
            except ValueError:
                continue
            if start.tzinfo is None:
                start = start.replace(tzinfo=timeexpr.TZ)
            if grain:
                return start, str(grain)
            if self.is_payload:
                return start, "minute"
        if self.is_payload:
            return None
        value = timeexpr.extract(self.text, now)
        return (value.start, value.grain) if value else None


# ---------------------------------------------------------------------- contact details


def field_value(field_name: str, value: str) -> str:
    """Check one contact field with validate_contact (others filled with valid stand-ins)."""
    probe = {"name": "张三", "student_number": "20230001", "phone": "13800000000"}
    probe[field_name] = value
    contact = validate_contact(probe["name"], probe["student_number"], probe["phone"])
    return str(getattr(contact, field_name))


def contact_parts(text: str) -> dict[str, str]:
    """What a message holds of name, student number and phone ("王小明 2023010123 13812345678").

    Values are candidates, not yet validated; a part is missing when the message has nothing like it.
    """
    text = unicodedata.normalize("NFKC", text)
    parts: dict[str, str] = {}
    rest = text
    phone = _PHONE.search(text)
    if phone:
        parts["phone"] = re.sub(r"[\s-]", "", phone.group(1))
        rest = rest.replace(phone.group(0), " ")
    token = next((t for t in _TOKEN.findall(rest) if any(ch.isdigit() for ch in t)), None)
    if token:
        parts["student_number"] = token
        rest = rest.replace(token, " ")
    rest = re.sub(r"[A-Za-z]*\d[A-Za-z0-9]*", " ", rest)
    name = _FILLER.sub(" ", _LABELS.sub(" ", rest)).strip()
    name = _FILLER.sub(" ", _NAME_PREFIX.sub(" ", name)).strip()
    if name:
        parts["name"] = name
    return parts


def number_candidate(text: str) -> str:
    """The student number in an answer to "你的学号是？" ("学号：2023 0101 23" -> "2023010123")."""
    bare = re.sub(r"[\s-]", "", _FILLER.sub("", _LABELS.sub("", unicodedata.normalize("NFKC", text))))
    if re.fullmatch(r"[A-Za-z0-9]+", bare):
        return bare
    return contact_parts(text).get("student_number", bare)


def name_candidate(text: str) -> str:
    """The name in an answer to "你的姓名是？" (prefixes such as 我叫 removed)."""
    parts = contact_parts(text)
    if "name" in parts:
        return parts["name"]
    return _FILLER.sub("", unicodedata.normalize("NFKC", text))


def looks_like_name(value: str) -> bool:
    return bool(_NAME_LOOKS.fullmatch(value)) and not _QUESTION.search(value)

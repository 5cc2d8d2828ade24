"""What a student's message does to their handoff: 不用了, the satisfaction survey, the queue, a
person in the chat. Change what happens when a queued student writes 不用了 here.

The gateway has already stored the message and run the crisis pre-filter; it then asks
`answer(...)` (through `Handoffs.answer_student`) and sends the bot only what this returns None for:

- a survey is pending (`rating:<id>`): a `/rate{"score": N}` button or a typed 1-5 ("4分", "五星")
  stores the rating and asks for an optional comment (`comment:<id>`, with a 跳过 button); the next
  text is the comment (跳过 / 没有 skip it); a command or "转人工" instead ends the survey;
- 不用了 / 取消 / 算了 (CANCEL_WORDS) while queued, or the 不用了 button in any state, cancels the
  waiting ticket (an urgent one stays: a teacher still checks on the student);
- queued: the message is for staff, with a reminder of the place in line at most every 2 minutes;
- a person has the chat: the bot stays silent.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from anyio import to_thread

from desk.handoff import states, texts
from desk.handoff.store import StudentState
from desk.models import STATE_HUMAN, STATE_QUEUED
from knowledge_base.names import PAYLOAD_RATE

if TYPE_CHECKING:
    from desk.handoff.ports import StudentTickets

# Typed requests for a person (the NLU's request_human, also checked by the gateway while Rasa is down).
HUMAN_REQUEST = re.compile(r"转人工|人工服务|人工客服|找老师|真人")
CANCEL_WORDS = frozenset({"不用了", "不用", "取消", "不用了谢谢", "不需要了", "算了", "取消排队", "不等了"})
SKIP_WORDS = frozenset({"跳过", "不用了", "不用", "没有", "没有了", "无"})
_SCORE = re.compile(r"^\s*([1-5一二三四五])\s*(?:分|星)?\s*[。.!！]?\s*$")
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}

Replies = list[dict[str, Any]]


def plain(text: str) -> str:
    """The text without spaces and light punctuation: "不用了，谢谢！" -> "不用了谢谢"."""
    return re.sub(r"[\s，。！!,.～~]+", "", text)


def typed_score(text: str) -> int | None:
    """A typed rating: "5", "4分", "五星" -> 1..5, else None."""
    match = _SCORE.match(text or "")
    if match is None:
        return None
    digit = match.group(1)
    return _ZH_DIGITS.get(digit) or int(digit)


def payload_score(payload: str | None) -> int | None:
    """The score of a `/rate{"score": N}` button payload, else None."""
    if not payload or not payload.startswith(PAYLOAD_RATE):
        return None
    try:
        score = int(json.loads(payload[len(PAYLOAD_RATE) :] or "{}").get("score"))
    except (ValueError, TypeError, AttributeError):
        return None
    return score if 1 <= score <= 5 else None


async def answer(handoffs: StudentTickets, cid: str, text: str, payload: str, student: StudentState) -> Replies | None:
    """The replies to the student's message, or None when the bot should answer it."""
    survey = await _survey(handoffs, cid, text, payload, student.awaiting)
    if survey is not None:
        return survey
    if payload == texts.CANCEL_PAYLOAD or (student.state == STATE_QUEUED and plain(text) in CANCEL_WORDS):
        outcome = await to_thread.run_sync(handoffs.cancel, cid)
        if outcome == "cancelled":
            return [{"role": "system", "text": texts.CANCELLED}]
        if outcome == "urgent":  # a student in crisis saying 算了 still gets a call from a teacher
            return [{"role": "system", "text": texts.URGENT_NOT_CANCELLED}]
        if student.state != STATE_HUMAN:
            return [{"role": "system", "text": texts.NOTHING_TO_CANCEL}]
    if student.state == STATE_QUEUED:  # for staff; a reminder of the place in line now and then
        notice = await to_thread.run_sync(handoffs.queue_notice_due, cid)
        return [notice] if notice else []
    if student.state == STATE_HUMAN:  # a person has the chat: the bot stays silent
        return []
    return None


async def _survey(handoffs: StudentTickets, cid: str, text: str, payload: str, awaiting: str | None) -> Replies | None:
    """The satisfaction survey's part: a rating, a comment, an old survey button; None otherwise."""
    step, ticket_id = states.next_survey(awaiting)
    score = payload_score(payload)
    if step == states.SURVEY_RATING and score is None:
        score = typed_score(text)
    if score is not None and (step == states.SURVEY_RATING or payload.startswith(PAYLOAD_RATE)):
        rated = await to_thread.run_sync(handoffs.rate, cid, score, ticket_id)  # a rating may still be changed
        if rated is None:
            return [{"role": "bot", "text": texts.RATING_EXPIRED}]
        return [{"role": "bot", "text": texts.ASK_COMMENT,
                 "buttons": [{"title": "跳过", "payload": texts.SKIP_PAYLOAD}]}]  # fmt: skip
    moving_on = (payload.startswith("/") and payload != texts.SKIP_PAYLOAD) or bool(HUMAN_REQUEST.search(text))
    if step == states.SURVEY_COMMENT and ticket_id is not None and not moving_on:
        skipped = payload == texts.SKIP_PAYLOAD or plain(text) in SKIP_WORDS
        await to_thread.run_sync(handoffs.comment, cid, ticket_id, None if skipped else text)
        return [{"role": "bot", "text": texts.THANKS_SKIP if skipped else texts.THANKS_COMMENT}]
    if step is not None:  # not a score, or another button: the survey ends, the bot answers
        await to_thread.run_sync(handoffs.end_survey, cid)
    if payload.startswith(PAYLOAD_RATE) or payload == texts.SKIP_PAYLOAD:  # an old survey button
        return [{"role": "bot", "text": texts.RATING_EXPIRED}]
    return None

"""Surveys in the chat (需求调研): a student is asked once, after a bot answer, on their own channel.

The gateway calls `answer` before Rasa (a reply to the open question, or 跳过) and `ask_after` after a
bot answer (the next survey this student is targeted by, if any). The question goes out like every
bot message (stored, then web chat socket or the Telegram/WeChat outbox), with buttons for the options
(WeChat shows them as a numbered menu). A student who ignores it and asks something else gets their
answer from the bot; the survey counts as ignored and is not asked again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from desk.insight.activity import OPEN_FOR, SurveyActivity
from desk.insight.models import MenuItem, StudentStage, Survey, SurveyResponse
from desk.insight.scope import local_today
from desk.models import Message
from knowledge_base.booking import models as bm
from knowledge_base.models import Faq, utcnow
from knowledge_base.privacy import ContactCipher

logger = logging.getLogger(__name__)

KINDS = ("choice", "rating", "text")
STAGES = ("新生", "在读", "毕业生")
ANSWER_PAYLOAD = "/survey_answer"
SKIP_PAYLOAD = "/survey_skip"
THANKS = "谢谢你的反馈！我们会据此改进服务。"
SKIPPED = "好的，已跳过。有问题随时问我。"
SKIP_WORDS = {"跳过", "不用了", "算了", "不想答", "skip"}
_STAGE_WORDS = [
    ("新生", re.compile(r"新生|大一|刚入学|刚报到|研一新")),
    ("毕业生", re.compile(r"毕业|大四|研三|离校|派遣|档案转")),
    ("在读", re.compile(r"大二|大三|研二|在读|在校生")),
]


def stage_of(text: str) -> str | None:
    """The stage a student's own words reveal ("我是大一新生" -> 新生), else None."""
    for stage, words in _STAGE_WORDS:
        if words.search(text):
            return stage
    return None


def question_message(survey: Survey) -> dict[str, Any]:
    """The survey's question as a bot message with buttons (options, 1-5, and 跳过)."""
    if survey.kind == "choice":
        values = list(survey.options)
    elif survey.kind == "rating":
        values = ["1", "2", "3", "4", "5"]
    else:
        values = []
    buttons = [{"title": v, "payload": ANSWER_PAYLOAD + json.dumps({"survey": survey.id, "value": v},
                                                                   ensure_ascii=False)} for v in values]  # fmt: skip
    buttons.append({"title": "跳过", "payload": SKIP_PAYLOAD})
    hint = "（直接回复你的想法即可）" if survey.kind == "text" else ""
    return {"role": "bot", "text": f"【小调查】{survey.question}{hint}", "buttons": buttons}


STAGE_SURVEY = 0  # the built-in "你现在是？" question: its answers set the student's stage
STAGE_QUESTION = "为了给你推荐更合适的内容，请问你现在是？"
STAGE_NOTED = "好的，已记下。之后会优先为你推荐相关的内容。"
ASKED = "?"  # the stage was asked and not (yet) answered: it is not asked again


def stage_question() -> dict[str, Any]:
    """The built-in question of the student's stage, asked once."""
    buttons = [{"title": s, "payload": ANSWER_PAYLOAD + json.dumps({"survey": STAGE_SURVEY, "value": s},
                                                                   ensure_ascii=False)} for s in STAGES]  # fmt: skip
    return {"role": "bot", "text": STAGE_QUESTION, "buttons": [*buttons, {"title": "跳过", "payload": SKIP_PAYLOAD}]}


def _stage_answer(text: str, payload: str) -> str | None:
    if payload.startswith(ANSWER_PAYLOAD):
        try:
            data = json.loads(payload[len(ANSWER_PAYLOAD) :])
        except ValueError:
            return None
        ok = isinstance(data, dict) and data.get("survey") == STAGE_SURVEY and data.get("value") in STAGES
        return str(data["value"]) if ok else None
    return text.strip() if not payload and text.strip() in STAGES else None


def _parse(survey: Survey, text: str, payload: str) -> str | None:
    """The answer a message gives to the survey, or None when it is not one."""
    if payload.startswith(ANSWER_PAYLOAD):
        try:
            data = json.loads(payload[len(ANSWER_PAYLOAD) :])
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("survey") == survey.id:
            value = str(data.get("value", ""))
            return value if survey.kind == "text" or value in _allowed(survey) else None
        return None
    if payload.startswith("/"):
        return None
    value = text.strip()
    if survey.kind == "text":
        return value[:1000] or None
    if value in _allowed(survey):
        return value
    if value.isdigit() and survey.kind == "choice" and 1 <= int(value) <= len(survey.options):
        return survey.options[int(value) - 1]  # WeChat's numbered menu
    return None


def _allowed(survey: Survey) -> list[str]:
    return ["1", "2", "3", "4", "5"] if survey.kind == "rating" else list(survey.options)


class Surveys:
    """The students' side of surveys (sync work runs in a worker thread)."""

    def __init__(self, sessions: sessionmaker, cipher: ContactCipher | None = None) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self.activity = SurveyActivity(sessions)

    async def quiet(self) -> bool:
        """No survey, stage menu item or open question anywhere (desk/insight/activity.py; cached)."""
        now = utcnow()
        quiet = self.activity.cached(now)
        return quiet if quiet is not None else await to_thread.run_sync(self.activity.read, now)

    async def answer(self, cid: str, text: str, payload: str) -> list[dict[str, Any]] | None:
        """The reply when the message answers (or skips) the open survey question; None otherwise."""
        payload = payload or ""
        survey_button = payload.startswith((ANSWER_PAYLOAD, SKIP_PAYLOAD))
        if not survey_button and (payload.startswith("/") or not stage_of(text)) and await self.quiet():
            return None  # nothing to answer and no stage to note: no database work
        return await to_thread.run_sync(self._answer, cid, text, payload)

    async def ask_after(self, cid: str) -> list[dict[str, Any]]:
        """After a bot answer: the question of the next survey this student should see (at most one)."""
        try:
            if await self.quiet():
                return []
            return await to_thread.run_sync(self._ask, cid)
        except Exception:  # a survey must never cost the student their answer
            logger.exception("survey not asked")
            return []

    def _open(self, session: Session, cid: str, now: datetime) -> tuple[SurveyResponse, Survey] | None:
        row = session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.conversation_id == cid, SurveyResponse.status == "asked")
            .order_by(SurveyResponse.id.desc())
        ).first()
        if row is None:
            return None
        asked = row.asked_at if row.asked_at.tzinfo else row.asked_at.replace(tzinfo=now.tzinfo)
        if now - asked > OPEN_FOR:
            row.status = "ignored"
            return None
        survey = session.get(Survey, row.survey_id)
        return (row, survey) if survey is not None else None

    def _answer(self, cid: str, text: str, payload: str) -> list[dict[str, Any]] | None:
        now = utcnow()
        with self._sessions() as session, session.begin():
            known = session.get(StudentStage, cid)
            if known is not None and known.stage == ASKED and (answer := _stage_answer(text, payload)):
                self._remember_stage(session, cid, answer, now)
                return [{"role": "bot", "text": STAGE_NOTED}]
            stage = stage_of(text) if not payload.startswith("/") else None
            if stage:
                self._remember_stage(session, cid, stage, now)
            if known is not None and known.stage == ASKED and payload == SKIP_PAYLOAD:
                return [{"role": "bot", "text": SKIPPED}]
            opened = self._open(session, cid, now)
            if opened is None:
                if payload == SKIP_PAYLOAD or payload.startswith(ANSWER_PAYLOAD):
                    return [{"role": "bot", "text": "这个调查已经结束了，谢谢你。"}]
                return None
            row, survey = opened
            if payload == SKIP_PAYLOAD or (text.strip() in SKIP_WORDS and not payload):
                row.status, row.answered_at = "skipped", now
                return [{"role": "bot", "text": SKIPPED}]
            value = _parse(survey, text, payload)
            if value is None:  # the student moved on: the bot answers, the survey is not asked again
                row.status = "ignored"
                return None
            row.status, row.answer, row.answered_at = "answered", value, now
            return [{"role": "bot", "text": THANKS}]

    def _remember_stage(self, session: Session, cid: str, stage: str, now: datetime) -> None:
        row = session.get(StudentStage, cid)
        if row is None:
            session.add(StudentStage(conversation_id=cid, stage=stage, updated_at=now))
        else:
            row.stage, row.updated_at = stage, now

    def _ask(self, cid: str) -> list[dict[str, Any]]:
        now = utcnow()
        today = local_today(now)
        with self._sessions() as session, session.begin():
            if self._open(session, cid, now) is not None:
                return []
            answered = exists().where(SurveyResponse.survey_id == Survey.id, SurveyResponse.conversation_id == cid)
            candidates = session.scalars(
                select(Survey)
                .where(Survey.active.is_(True), Survey.starts_on <= today, Survey.ends_on >= today, ~answered)
                .order_by(Survey.id)
            ).all()
            if session.get(StudentStage, cid) is None and self._stage_needed(session, candidates):
                session.add(StudentStage(conversation_id=cid, stage=ASKED, updated_at=now))
                return [stage_question()]  # asked once, before anything that depends on it
            for survey in candidates:
                if self._targets(session, survey.audience, cid):
                    session.add(SurveyResponse(survey_id=survey.id, conversation_id=cid, status="asked", asked_at=now))
                    return [question_message(survey)]
        return []

    def _stage_needed(self, session: Session, candidates: Sequence[Survey]) -> bool:
        """Whether a stage matters now: a stage survey is open or the menu has stage items."""
        if any(s.audience.startswith("stage:") for s in candidates):
            return True
        return session.scalar(select(MenuItem.id).where(MenuItem.stage != "").limit(1)) is not None

    def _targets(self, session: Session, audience: str, cid: str) -> bool:
        kind, _, value = audience.partition(":")
        if kind == "all":
            return True
        if kind == "stage":
            row = session.get(StudentStage, cid)
            return row is not None and row.stage == value
        if kind == "service":
            asked = session.scalar(
                select(Message.id)
                .join(Faq, Faq.id == Message.faq_id)
                .where(Message.conversation_id == cid, Message.decision == "answer", Faq.service_id == value)
                .limit(1)
            )
            if asked is not None:
                return True
            if self._cipher is None:
                return False
            ref = self._cipher.ref("student_key", cid)
            booked = select(bm.Booking.id).where(bm.Booking.student_ref == ref, bm.Booking.service_id == value)
            return session.scalar(booked.limit(1)) is not None
        return False

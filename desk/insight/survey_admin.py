"""Surveys for admins: define one (checked), list them with their results; free-text answers grouped
by meaning with the same clustering as the unanswered questions."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from desk.admin import audit
from desk.insight import clusters as cl
from desk.insight.mining import MiningUnavailable, _vectors
from desk.insight.models import Survey, SurveyResponse
from desk.insight.surveys import KINDS, STAGES
from desk.staff.schemas import INPUT_ERROR
from knowledge_base.models import Service


class SurveyError(ValueError):
    """A survey definition that cannot be used, with the reason for the admin."""


class SurveyIn(BaseModel):
    """A new survey from the admin's form."""

    title: str = Field(min_length=1, max_length=100)
    question: str = Field(min_length=2, max_length=300)
    kind: str
    options: list[str] = Field(default_factory=list, max_length=8)
    audience: str = "all"
    starts_on: date
    ends_on: date

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise PydanticCustomError(INPUT_ERROR, f"题型应为 {'、'.join(KINDS)} 之一")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SurveyIn:
        self.options = [o.strip()[:30] for o in self.options if o.strip()]
        if self.kind == "choice" and len(self.options) < 2:
            raise PydanticCustomError(INPUT_ERROR, "单选题至少需要两个选项")
        if self.kind != "choice":
            self.options = []
        if self.ends_on < self.starts_on:
            raise PydanticCustomError(INPUT_ERROR, "结束日期需不早于开始日期")
        return self


def create(sessions: sessionmaker, data: SurveyIn, created_by: str, actor_id: int | None = None) -> int:
    """Store a new survey (and its audit entry); SurveyError for an unknown audience."""
    kind, _, value = data.audience.partition(":")
    with sessions() as session, session.begin():
        if kind == "stage" and value not in STAGES:
            raise SurveyError(f"学生阶段应为 {'、'.join(STAGES)} 之一")
        if kind == "service" and session.get(Service, value) is None:
            raise SurveyError(f"没有这项服务：{value}")
        if kind not in ("all", "stage", "service"):
            raise SurveyError("调查对象应为 all、stage:<阶段> 或 service:<服务>")
        survey = Survey(**data.model_dump(), created_by=created_by)
        session.add(survey)
        session.flush()
        after = data.model_dump(mode="json")
        audit.record(session, created_by, actor_id, "survey.create", "survey", str(survey.id), None, after)
        return survey.id


def close(sessions: sessionmaker, survey_id: int, closed_by: str, actor_id: int | None = None) -> bool:
    """Stop asking a survey (its answers stay; audited); False when there is no such survey."""
    with sessions() as session, session.begin():
        survey = session.get(Survey, survey_id)
        if survey is None:
            return False
        before = {"active": survey.active}
        survey.active = False
        audit.record(session, closed_by, actor_id, "survey.close", "survey", str(survey_id), before, {"active": False})
        return True


def results(sessions: sessionmaker) -> list[dict[str, Any]]:
    """Every survey, newest first, with its counts, the answers' distribution and grouped free text."""
    out = []
    with sessions() as session:
        for survey in session.scalars(select(Survey).order_by(Survey.id.desc())):
            statuses = dict(
                session.execute(
                    select(SurveyResponse.status, func.count())
                    .where(SurveyResponse.survey_id == survey.id)
                    .group_by(SurveyResponse.status)
                ).all()
            )
            answers = dict(
                session.execute(
                    select(SurveyResponse.answer, func.count())
                    .where(SurveyResponse.survey_id == survey.id, SurveyResponse.status == "answered")
                    .group_by(SurveyResponse.answer)
                ).all()
            )
            item: dict[str, Any] = {
                "id": survey.id, "title": survey.title, "question": survey.question, "kind": survey.kind,
                "options": survey.options, "audience": survey.audience, "starts_on": survey.starts_on.isoformat(),
                "ends_on": survey.ends_on.isoformat(), "asked": sum(statuses.values()),
                "answered": statuses.get("answered", 0), "skipped": statuses.get("skipped", 0),
            }  # fmt: skip
            if survey.kind == "text":
                item["groups"] = _groups({str(a): n for a, n in answers.items() if a})
            else:
                values = survey.options if survey.kind == "choice" else ["1", "2", "3", "4", "5"]
                item["distribution"] = [[v, answers.get(v, 0)] for v in values]
            out.append(item)
    return out


def _groups(answers: dict[str, int]) -> list[dict[str, Any]]:
    """Free-text answers grouped by meaning (every answer shown: a group may hold one)."""
    if not answers:
        return []
    try:
        vectors = _vectors(sorted(answers))
    except MiningUnavailable:
        return [{"label": t, "count": n, "answers": [t]} for t, n in sorted(answers.items(), key=lambda x: -x[1])]
    found = cl.cluster(answers, vectors, min_texts=1, min_count=1)
    return [{"label": c.medoid, "count": c.count, "answers": [t for t, _ in c.members]} for c in found]

"""Insight's own tables: question clusters (ids kept from day to day), surveys and their answers, students' stages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.db import Base
from knowledge_base.models import utcnow

HOURS = [f"h{h:02d}" for h in range(24)]  # the roll-up's hourly columns


class QuestionCluster(Base):
    """A group of unanswered questions with one meaning (desk/insight/clusters.py).

    `id` is fixed when the cluster is first seen (a hash of its medoid's text); on later runs a cluster
    whose centroid is close to a stored one takes that id, so links and drafts survive new messages.
    """

    __tablename__ = "insight_clusters"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    medoid: Mapped[str] = mapped_column(Text)
    centroid: Mapped[list[float]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Survey(Base):
    """A short question put to students in their chat (需求调研): single choice, a 1-5 rating or free text.

    `audience` is `all`, `stage:<新生|在读|毕业生>` or `service:<service id>` (students who booked it or
    were answered about it); asked from `starts_on` to `ends_on` (Beijing days, inclusive).
    """

    __tablename__ = "insight_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[str] = mapped_column(String(100), default="all")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SurveyResponse(Base):
    """One student's turn with a survey: asked, then answered or skipped (or ignored). One per
    conversation and survey, so a student is asked once."""

    __tablename__ = "insight_survey_responses"
    __table_args__ = (UniqueConstraint("survey_id", "conversation_id", name="uq_survey_response"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("insight_surveys.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    # asked | answered | skipped | ignored
    status: Mapped[str] = mapped_column(String(10), default="asked")
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StudentStage(Base):
    """A student's stage (新生 / 在读 / 毕业生), taken from their own words; targets surveys."""

    __tablename__ = "insight_student_stages"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DailyMessages(Base):
    """Student messages of one Beijing day, channel, decision and department ("" for none)."""

    __tablename__ = "insight_daily"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    decision: Mapped[str] = mapped_column(String(20), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    messages: Mapped[int] = mapped_column(Integer)
    # the 24 hourly counts (Beijing hours), summed by SQL for the heat map
    h00: Mapped[int] = mapped_column(Integer, default=0)
    h01: Mapped[int] = mapped_column(Integer, default=0)
    h02: Mapped[int] = mapped_column(Integer, default=0)
    h03: Mapped[int] = mapped_column(Integer, default=0)
    h04: Mapped[int] = mapped_column(Integer, default=0)
    h05: Mapped[int] = mapped_column(Integer, default=0)
    h06: Mapped[int] = mapped_column(Integer, default=0)
    h07: Mapped[int] = mapped_column(Integer, default=0)
    h08: Mapped[int] = mapped_column(Integer, default=0)
    h09: Mapped[int] = mapped_column(Integer, default=0)
    h10: Mapped[int] = mapped_column(Integer, default=0)
    h11: Mapped[int] = mapped_column(Integer, default=0)
    h12: Mapped[int] = mapped_column(Integer, default=0)
    h13: Mapped[int] = mapped_column(Integer, default=0)
    h14: Mapped[int] = mapped_column(Integer, default=0)
    h15: Mapped[int] = mapped_column(Integer, default=0)
    h16: Mapped[int] = mapped_column(Integer, default=0)
    h17: Mapped[int] = mapped_column(Integer, default=0)
    h18: Mapped[int] = mapped_column(Integer, default=0)
    h19: Mapped[int] = mapped_column(Integer, default=0)
    h20: Mapped[int] = mapped_column(Integer, default=0)
    h21: Mapped[int] = mapped_column(Integer, default=0)
    h22: Mapped[int] = mapped_column(Integer, default=0)
    h23: Mapped[int] = mapped_column(Integer, default=0)


class RolledDay(Base):
    """A Beijing day whose messages are in `insight_daily`."""

    __tablename__ = "insight_rolled_days"

    day: Mapped[int] = mapped_column(Integer, primary_key=True)


class MenuItem(Base):
    """A question on the greeting menu and 大家都在问 (editable by admins): for every student (`stage` "")
    or one stage, all year or between two calendar days (`first_day`/`last_day` as MM-DD, may wrap
    around the new year: 12-20 .. 01-10)."""

    __tablename__ = "insight_menu_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(10), default="")
    title: Mapped[str] = mapped_column(String(60))
    first_day: Mapped[str] = mapped_column(String(5), default="")
    last_day: Mapped[str] = mapped_column(String(5), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class Suggestion(Base):
    """A related entry offered after an FAQ answer, and when the student clicked it (click-through)."""

    __tablename__ = "insight_suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    faq_id: Mapped[str] = mapped_column(String(100))  # the entry that was answered
    suggested_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    clicked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

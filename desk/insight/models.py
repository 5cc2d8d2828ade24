"""Insight's own table: the question clusters, persisted so that a cluster keeps its id from day to day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge_base.db import Base
from knowledge_base.models import utcnow


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

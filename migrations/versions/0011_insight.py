"""insight: the bot's decision on each student message, its channel; question clusters, surveys, stages

Revision ID: 0011_insight
Revises: 0008_privacy_data
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_insight"
down_revision = "0008_privacy_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("decision", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("faq_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("department_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_messages_role_created",
            ["role", "created_at"],
            unique=False,
            postgresql_include=["channel", "decision", "department_id", "faq_id"],
        )
    # the channel of the messages stored before: their conversation's
    op.execute(
        "UPDATE messages SET channel = (SELECT c.channel FROM conversations c WHERE c.id = messages.conversation_id)"
        " WHERE role = 'student'"
    )
    op.create_table(
        "insight_clusters",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("medoid", sa.Text(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


    op.create_table(
        "insight_surveys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("audience", sa.String(length=100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "insight_survey_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["survey_id"], ["insight_surveys.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("survey_id", "conversation_id", name="uq_survey_response"),
    )
    with op.batch_alter_table("insight_survey_responses", schema=None) as batch_op:
        batch_op.create_index("ix_insight_survey_responses_survey_id", ["survey_id"], unique=False)
        batch_op.create_index("ix_insight_survey_responses_conversation_id", ["conversation_id"], unique=False)
    op.create_table(
        "insight_student_stages",
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_table(
        "insight_daily",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        *[sa.Column(f"h{h:02d}", sa.Integer(), nullable=False) for h in range(24)],
        sa.PrimaryKeyConstraint("day", "channel", "decision", "department_id"),
    )
    op.create_table("insight_rolled_days", sa.Column("day", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("day"))
    op.create_table(
        "insight_menu_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("first_day", sa.String(length=5), nullable=False),
        sa.Column("last_day", sa.String(length=5), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "insight_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("faq_id", sa.String(length=100), nullable=False),
        sa.Column("suggested_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("insight_suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_insight_suggestions_conversation_id", ["conversation_id"], unique=False)
        batch_op.create_index("ix_insight_suggestions_offered_at", ["offered_at"], unique=False)


def downgrade() -> None:
    op.drop_table("insight_suggestions")
    op.drop_table("insight_menu_items")
    op.drop_table("insight_rolled_days")
    op.drop_table("insight_daily")
    op.drop_table("insight_student_stages")
    op.drop_table("insight_survey_responses")
    op.drop_table("insight_surveys")
    op.drop_table("insight_clusters")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_role_created")
        batch_op.drop_column("department_id")
        batch_op.drop_column("faq_id")
        batch_op.drop_column("decision")
        batch_op.drop_column("channel")

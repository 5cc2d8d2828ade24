"""insight: what the bot decided on each student message, its channel, and the question clusters

Revision ID: 0011_insight
Revises: 0007_pending_replies
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_insight"
down_revision = "0007_pending_replies"
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


def downgrade() -> None:
    op.drop_table("insight_clusters")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_role_created")
        batch_op.drop_column("department_id")
        batch_op.drop_column("faq_id")
        batch_op.drop_column("decision")
        batch_op.drop_column("channel")

"""pending replies: student messages kept while Rasa or the action server was down

Revision ID: 0007_pending_replies
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pending_replies"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", name="uq_pending_reply_message"),
    )
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.create_index("ix_pending_replies_status_conversation", ["status", "conversation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_replies_status_conversation")
    op.drop_table("pending_replies")

"""model builds: retrains started by admins from the model page, with their progress and outcome

Revision ID: 0013_model_builds
Revises: 0012_department_hours
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_model_builds"
down_revision = "0012_department_hours"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_builds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("running", sa.Integer(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model_path", sa.String(length=500), nullable=True),
        sa.Column("terms_fingerprint", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("train_steps", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("running"),  # one build at a time, across desks
    )
    op.create_index("ix_model_builds_status", "model_builds", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_model_builds_status", table_name="model_builds")
    op.drop_table("model_builds")

"""admin: FAQ validity dates, drafts and hits; admin-entered calendar days; editor roles; the audit log

Revision ID: 0010_admin
Revises: 0008_privacy_data
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_admin"
down_revision = "0008_privacy_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faqs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("draft", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("updated_by", sa.String(length=100), nullable=False, server_default="system"))
    op.create_table(
        "faq_hits",
        sa.Column("faq_id", sa.String(length=100), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("faq_id"),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "admin_editor_roles",
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("staff_user_id"),
    )
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_audit", schema=None) as batch_op:
        for column in ("at", "actor", "action", "entity", "entity_id"):
            batch_op.create_index(f"ix_admin_audit_{column}", [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("admin_audit", schema=None) as batch_op:
        for column in ("at", "actor", "action", "entity", "entity_id"):
            batch_op.drop_index(f"ix_admin_audit_{column}")
    op.drop_table("admin_audit")
    op.drop_table("admin_editor_roles")
    op.drop_table("calendar_days")
    op.drop_table("faq_hits")
    with op.batch_alter_table("faqs", schema=None) as batch_op:
        for column in ("updated_by", "draft", "valid_until", "valid_from"):
            batch_op.drop_column(column)

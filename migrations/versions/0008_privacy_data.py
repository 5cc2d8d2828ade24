"""privacy data: the append-only privacy audit, daily statistics, stored student words masked, kept messages sealed

Revision ID: 0008_privacy_data
Revises: 0007_pending_replies
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from knowledge_base.redaction import redact_packet, redact_text

revision = "0008_privacy_data"
down_revision = "0007_pending_replies"
branch_labels = None
depends_on = None

GUARDS = ("UPDATE", "DELETE")


def upgrade() -> None:
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("target", sa.String(length=120), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "metric", "dimension"),
    )
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_text", sa.Text(), nullable=True))
    append_only("privacy_audit")
    mask_stored_words()


def append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on `table` in the database itself."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in GUARDS:
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{table} is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )


def mask_stored_words() -> None:
    """Students' messages and handoff packets stored before this revision, masked as new ones are."""
    bind = op.get_bind()
    messages = bind.execute(sa.text("SELECT id, text FROM messages WHERE role = 'student'")).all()
    for row_id, text in messages:
        masked = redact_text(text or "")
        if masked != text:
            bind.execute(sa.text("UPDATE messages SET text = :t WHERE id = :i"), {"t": masked, "i": row_id})
    for row_id, packet in bind.execute(sa.text("SELECT id, packet FROM handoff_requests")).all():
        data = json.loads(packet) if isinstance(packet, str) else packet
        if isinstance(data, dict):
            masked_packet = redact_packet(data)
            if masked_packet != data:
                bind.execute(
                    sa.text("UPDATE handoff_requests SET packet = :p WHERE id = :i"),
                    {"p": json.dumps(masked_packet, ensure_ascii=False), "i": row_id},
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS privacy_audit_append_only ON privacy_audit")
        op.execute("DROP FUNCTION IF EXISTS privacy_audit_append_only()")
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.drop_column("sealed_text")
    op.drop_table("daily_counts")
    op.drop_table("privacy_audit")

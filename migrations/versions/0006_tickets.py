"""tickets: handoff request life cycle, ticket events, canned replies, pending surveys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Existing `open` requests become `queued` tickets (the newest per conversation keeps the open key, older
duplicates are closed) and their conversations enter the `queued` state, as the gateway now expects.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TICKET_COLUMNS = [
    ("open_key", sa.String(length=200)),
    ("queued_at", sa.DateTime(timezone=True)),
    ("claimed_by", sa.Integer()),
    ("claimed_at", sa.DateTime(timezone=True)),
    ("claim_wait_seconds", sa.Integer()),
    ("closed_at", sa.DateTime(timezone=True)),
    ("closed_by", sa.Integer()),
    ("resolution", sa.Text()),
    ("last_student_at", sa.DateTime(timezone=True)),
    ("last_staff_at", sa.DateTime(timezone=True)),
    ("notified_at", sa.DateTime(timezone=True)),
    ("rating", sa.Integer()),
    ("rating_comment", sa.Text()),
    ("rated_at", sa.DateTime(timezone=True)),
]


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("awaiting", sa.String(length=64), nullable=True))

    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        for name, type_ in TICKET_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_unique_constraint("uq_handoff_requests_open_key", ["open_key"])
        batch_op.create_foreign_key("fk_handoff_requests_claimed_by", "staff_users", ["claimed_by"], ["id"])
        batch_op.create_foreign_key("fk_handoff_requests_closed_by", "staff_users", ["closed_by"], ["id"])

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_requests.id"]),
        sa.ForeignKeyConstraint(["actor_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"], unique=False)

    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_canned_replies_department_id", "canned_replies", ["department_id"], unique=False)

    # Old `open` requests: the newest per conversation becomes a queued ticket, older ones are closed.
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, conversation_id, created_at FROM handoff_requests WHERE status = 'open' ORDER BY id")
    ).all()
    newest: dict[str, tuple[int, object]] = {}
    for row_id, conversation_id, created_at in rows:
        if conversation_id in newest:
            conn.execute(
                sa.text(
                    "UPDATE handoff_requests SET status = 'closed', closed_at = created_at, "
                    "resolution = '与同一会话的较新请求合并' WHERE id = :id"
                ),
                {"id": newest[conversation_id][0]},
            )
        newest[conversation_id] = (row_id, created_at)
    for conversation_id, (row_id, _created) in newest.items():
        conn.execute(
            sa.text(
                "UPDATE handoff_requests SET status = 'queued', open_key = :key, queued_at = created_at WHERE id = :id"
            ),
            {"key": conversation_id, "id": row_id},
        )
        conn.execute(
            sa.text("UPDATE conversations SET state = 'queued' WHERE id = :id AND state = 'bot'"),
            {"id": conversation_id},
        )


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(
        sa.text("UPDATE handoff_requests SET status = 'open' WHERE status IN ('queued', 'message', 'claimed')")
    )
    conn.execute(sa.text("UPDATE conversations SET state = 'bot' WHERE state IN ('queued', 'human')"))
    op.drop_index("ix_canned_replies_department_id", table_name="canned_replies")
    op.drop_table("canned_replies")
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")
    op.drop_table("ticket_events")
    with op.batch_alter_table("handoff_requests", schema=None) as batch_op:
        batch_op.drop_constraint("fk_handoff_requests_closed_by", type_="foreignkey")
        batch_op.drop_constraint("fk_handoff_requests_claimed_by", type_="foreignkey")
        batch_op.drop_constraint("uq_handoff_requests_open_key", type_="unique")
        for name, _type in reversed(TICKET_COLUMNS):
            batch_op.drop_column(name)
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): recreating `conversations` would break the messages' foreign keys
    with op.batch_alter_table("conversations", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("awaiting")

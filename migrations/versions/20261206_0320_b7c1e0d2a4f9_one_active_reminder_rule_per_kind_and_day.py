"""one active reminder rule per kind and offset (a duplicate sent every alert twice); worker heartbeats

Revision ID: b7c1e0d2a4f9
Revises: 0584f373697f
Create Date: 2026-12-06 03:20:00

Active duplicates already present are switched off (the oldest of each kind and offset stays
on), so that the unique index can be made; they stay in the table for an admin to see.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.core.db import UTCDateTime

revision = "b7c1e0d2a4f9"
down_revision = "0584f373697f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rule = sa.table(
        "reminder_rule",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("offset_days", sa.Integer),
        sa.column("active", sa.Boolean),
    )
    older = rule.alias("older")
    op.execute(
        rule.update()
        .where(
            rule.c.active.is_(sa.true()),
            sa.exists().where(
                older.c.active.is_(sa.true()),
                older.c.kind == rule.c.kind,
                older.c.offset_days == rule.c.offset_days,
                older.c.id < rule.c.id,
            ),
        )
        .values(active=sa.false())
    )
    op.create_index(
        "uq_reminder_rule_active_kind_offset",
        "reminder_rule",
        ["kind", "offset_days"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )


    # A worker's last sign of life, for the health view (issue 14).
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker", sa.String(length=255), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeat")),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
    op.drop_index("uq_reminder_rule_active_kind_offset", table_name="reminder_rule")

"""notification: partial indexes and a bytewise delivery key

Revision ID: 5b9e2c7d1a40
Revises: e7a1c3b5d9f2
Create Date: 2026-12-06 08:30:00

The deadline engine's first run over a day's backlog inserts a quarter of a million
notifications at 100,000 projects, and was bound by writing them: every row went into six
indexes, and every delivery key was compared under the database's collation. The indexes
other than the primary key and the unique key now hold only the rows their readers look for
(in-app rows for the notification centre; rows not sent yet by state, channel and person;
leased rows for the sweep; a unit's webhook rows), and the delivery key compares bytewise
on PostgreSQL (SQLite compares bytewise already).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b9e2c7d1a40"
down_revision = "e7a1c3b5d9f2"
branch_labels = None
depends_on = None

#: name: (columns before, columns after, the rows the index keeps)
_INDEXES: dict[str, tuple[list[str], list[str], str]] = {
    "ix_notification_recipient_unread": (
        ["recipient_id", "read_at"],
        ["recipient_id", "read_at"],
        "channel = 'in_app'",
    ),
    "ix_notification_state": (
        ["state", "channel"],
        ["state", "channel", "recipient_id"],
        "state <> 'sent'",
    ),
    "ix_notification_state_lease": (
        ["state", "lease_until"],
        ["state", "lease_until"],
        "lease_until IS NOT NULL",
    ),
    "ix_notification_endpoint": (["endpoint_id"], ["endpoint_id"], "endpoint_id IS NOT NULL"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'ALTER TABLE notification ALTER COLUMN delivery_key TYPE VARCHAR(255) COLLATE "C"'
        )
    for name, (_before, after, where) in _INDEXES.items():
        op.drop_index(name, table_name="notification")
        op.create_index(
            name,
            "notification",
            after,
            unique=False,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, (before, _after, _where) in _INDEXES.items():
        op.drop_index(name, table_name="notification")
        op.create_index(name, "notification", before, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE notification ALTER COLUMN delivery_key TYPE VARCHAR(255)")

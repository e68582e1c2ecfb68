"""notification: no foreign keys (recipient, webhook endpoint, LINE group)

Revision ID: c8e2a4f6b0d1
Revises: b3d5f7a9c1e4
Create Date: 2026-12-06 14:00:00

The deadline engine's first run over a day's backlog inserts a quarter of a million
notifications at 100,000 projects, one INSERT … SELECT per rule. PostgreSQL checks a foreign
key once per inserted row (an after-row trigger: a lookup and a row lock on app_user, and a
queued event even for the NULL endpoint and LINE group of nearly every row). Measured at
100,000 projects (`python -m bench.deadlines`, the same database before and after this
revision, load 2-3 on 2 cores): 1.0 of the run's 3.4 seconds of server CPU; the run 4.7-7.9 s
-> 3.4-4.0 s, the hourly rerun (no insert) unchanged. Every row's recipient, endpoint and group comes from a join with app_user,
webhook_endpoint or line_group (service/notifications/operations.py: the relay's and the
deadline engine's INSERT … SELECT, the digests of people who have rows already, the webhook
test for its signed-in admin); none of these rows is ever deleted (people are deactivated,
endpoints withdrawn, groups left).
"""

from __future__ import annotations

from alembic import op

revision = "c8e2a4f6b0d1"
down_revision = "b3d5f7a9c1e4"
branch_labels = None
depends_on = None

#: (constraint, referred table, column)
_FOREIGN_KEYS = (
    ("fk_notification_recipient_id_app_user", "app_user", "recipient_id"),
    ("fk_notification_endpoint_id_webhook_endpoint", "webhook_endpoint", "endpoint_id"),
    ("fk_notification_line_group_id_line_group", "line_group", "line_group_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        for name, _table, _column in _FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        for name, table, column in _FOREIGN_KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])

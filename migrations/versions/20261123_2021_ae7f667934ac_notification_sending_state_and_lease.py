"""Notifications: a 'sending' state and a lease, so a delivery is claimed before it is sent.

A dispatch task claims a row (pending -> sending, lease_until = now + lease) and commits before
it talks to SMTP or a webhook; a worker killed mid-send leaves the row 'sending' until the lease
ends, then the retried task or the sweep takes it over. Pending rows carry a lease too: the
dispatch task queued for them owns them until then, so the sweep re-queues only lost ones.

Revision ID: ae7f667934ac
Revises: 7b894cc079d4
Create Date: 2026-11-23 20:21:06.324306
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.core.db


revision: str = 'ae7f667934ac'
down_revision: str | None = '7b894cc079d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('pending', 'sent', 'failed', 'digest')"
NEW_STATES = "state IN ('pending', 'sending', 'sent', 'failed', 'digest')"


def upgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', service.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_notification_state_lease', ['state', 'lease_until'], unique=False)
        batch_op.drop_constraint(op.f('ck_notification_delivery_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notification_delivery_state'), NEW_STATES)


def downgrade() -> None:
    op.execute("UPDATE notification SET state = 'pending' WHERE state = 'sending'")
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_notification_delivery_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_notification_delivery_state'), OLD_STATES)
        batch_op.drop_index('ix_notification_state_lease')
        batch_op.drop_column('lease_until')

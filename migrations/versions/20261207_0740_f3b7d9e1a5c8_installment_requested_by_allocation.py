"""The requested installments of a district's allocations, found by allocation

Revision ID: f3b7d9e1a5c8
Revises: e2a6c8f0b4d7
Create Date: 2026-12-07 07:40:00

/approvals lists the requested installments of the approver's districts, oldest first. Joined
to the district's allocations, PostgreSQL walked the country's requested installments (13,000
at 100,000 projects, 19,000 buffers) in the page and again in its count. The page now asks for
the installments of the district's allocation ids (an array read in the same statement); this
partial index holds only the requested ones, a few hundred of them found for a district in
about 2,500 buffers (1 ms against 9 through the index of every installment).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f3b7d9e1a5c8"
down_revision = "e2a6c8f0b4d7"
branch_labels = None
depends_on = None

REQUESTED = sa.text("state = 'requested'")


def upgrade() -> None:
    op.create_index(
        "ix_installment_requested_allocation",
        "installment",
        ["allocation_id"],
        unique=False,
        postgresql_where=REQUESTED,
        sqlite_where=REQUESTED,
    )


def downgrade() -> None:
    op.drop_index("ix_installment_requested_allocation", table_name="installment")

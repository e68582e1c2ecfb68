"""drop data_stamp: the page cache it served is gone

The kept page parts were found again by this row's value; with them removed (issue 13) nothing
reads or writes it. Downgrading recreates it with a fresh random value, as its own migration
did.

Revision ID: 0584f373697f
Revises: fd58d41d3517
Create Date: 2026-12-06 01:44:00.000000
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0584f373697f'
down_revision: str | None = 'fd58d41d3517'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table('data_stamp')


def downgrade() -> None:
    op.create_table('data_stamp',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_stamp'))
    )
    op.execute(f"INSERT INTO data_stamp (id, value) VALUES (1, '{secrets.token_hex(16)}')")

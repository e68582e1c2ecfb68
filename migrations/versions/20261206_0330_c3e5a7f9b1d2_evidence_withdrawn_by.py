"""who withdrew an evidence file (a school withdraws or replaces a wrong file before review)

Revision ID: c3e5a7f9b1d2
Revises: b7c1e0d2a4f9
Create Date: 2026-12-06 03:30:00

evidence_file.withdrawn_at already existed; the person who withdrew the file is kept beside it
so that the result's history can name them. Nothing is deleted: the file stays on disk.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3e5a7f9b1d2"
down_revision = "b7c1e0d2a4f9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_file") as batch:
        batch.add_column(sa.Column("withdrawn_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_evidence_file_withdrawn_by_id_app_user"),
            "app_user",
            ["withdrawn_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence_file") as batch:
        batch.drop_constraint(op.f("fk_evidence_file_withdrawn_by_id_app_user"), type_="foreignkey")
        batch.drop_column("withdrawn_by_id")

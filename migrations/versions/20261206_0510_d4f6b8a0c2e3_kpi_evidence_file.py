"""kpi_evidence_file: files backing a KPI's hand-reported quarterly result

Revision ID: d4f6b8a0c2e3
Revises: 05cf55c4fe0a
Create Date: 2026-12-06 05:10:00

A KPI that is not computed by the rollup is reported by hand each quarter, with a narrative
and evidence files checked and stored as a step result's are. Files are withdrawn, never
deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.core.db import UTCDateTime

revision = "d4f6b8a0c2e3"
down_revision = "05cf55c4fe0a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_evidence_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("size >= 0", name=op.f("ck_kpi_evidence_file_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["kpi_quarter_result.id"],
            name=op.f("fk_kpi_evidence_file_result_id_kpi_quarter_result"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["app_user.id"],
            name=op.f("fk_kpi_evidence_file_uploaded_by_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["app_user.id"],
            name=op.f("fk_kpi_evidence_file_withdrawn_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_evidence_file")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_kpi_evidence_file_stored_name")),
    )
    op.create_index(
        op.f("ix_kpi_evidence_file_result_id"), "kpi_evidence_file", ["result_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_kpi_evidence_file_result_id"), table_name="kpi_evidence_file")
    op.drop_table("kpi_evidence_file")

"""project figures kept by the changes that move them

Revision ID: d4f6a8c0e2b3
Revises: 0cbd9f9b77fd
Create Date: 2026-12-06 05:00:00

One row per project: accepted progress, waiting results, the budget chain's totals, and
planned progress and overdue steps as of a day. Operations keep it in their own transaction
(service.projects.figures); the upgrade fills it for the projects already there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d4f6a8c0e2b3"
down_revision = "0cbd9f9b77fd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_figures",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("actual_progress", sa.Numeric(6, 2), nullable=False),
        sa.Column("planned_progress", sa.Numeric(6, 2), nullable=False),
        sa.Column("overdue_steps", sa.Integer(), nullable=False),
        sa.Column("waiting_results", sa.Integer(), nullable=False),
        sa.Column("budget_approved", sa.Numeric(14, 2), nullable=False),
        sa.Column("budget_allocated", sa.Numeric(14, 2), nullable=False),
        sa.Column("budget_granted", sa.Numeric(14, 2), nullable=False),
        sa.Column("budget_paid", sa.Numeric(14, 2), nullable=False),
        sa.Column("figures_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_project_figures_project_id_project")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_figures")),
    )
    for name, column in (
        ("actual", "actual_progress"),
        ("planned", "planned_progress"),
        ("overdue", "overdue_steps"),
        ("paid", "budget_paid"),
    ):
        op.create_index(f"ix_project_figures_{name}", "project_figures", [column, "project_id"])
    # The rows of the projects already there, computed from their source rows.
    from service.projects.figures import figures_today, repair_figures

    repair_figures(op.get_bind(), figures_today())


def downgrade() -> None:
    op.drop_table("project_figures")

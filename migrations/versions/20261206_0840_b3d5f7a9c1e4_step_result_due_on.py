"""step_result.due_on: the step's planned end copied onto its results, what the lists sort on

Revision ID: b3d5f7a9c1e4
Revises: 5b9e2c7d1a40
Create Date: 2026-12-06 08:30:00

The review queue, the school home and the API's result list sorted results by their step's
planned end through a join with plan_step, so a page sorted every result of the reader's scope
first. The copy on the result (kept in the flush that moves either: service/projects/due_on.py)
and its indexes let a page be read off an index in order. The upgrade fills the copy for the
results already there, then makes it NOT NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b3d5f7a9c1e4"
down_revision = "5b9e2c7d1a40"
branch_labels = None
depends_on = None

_steps = sa.table("plan_step", sa.column("id", sa.Integer), sa.column("planned_end", sa.Date))
_results = sa.table(
    "step_result",
    sa.column("step_id", sa.Integer),
    sa.column("due_on", sa.Date),
)


def upgrade() -> None:
    op.add_column("step_result", sa.Column("due_on", sa.Date(), nullable=True))
    planned_end = (
        sa.select(_steps.c.planned_end).where(_steps.c.id == _results.c.step_id).scalar_subquery()
    )
    op.execute(sa.update(_results).values(due_on=planned_end))
    with op.batch_alter_table("step_result") as batch:
        batch.alter_column("due_on", existing_type=sa.Date(), nullable=False)
        batch.create_index("ix_step_result_due", ["due_on", "id"], unique=False)
        batch.create_index("ix_step_result_state_due", ["state", "due_on", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("step_result") as batch:
        batch.drop_index("ix_step_result_state_due")
        batch.drop_index("ix_step_result_due")
        batch.drop_column("due_on")

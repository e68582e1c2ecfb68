"""A unit's results of a state come in the order of their planned end

Revision ID: e2a6c8f0b4d7
Revises: d7f1b3e5a9c2
Create Date: 2026-12-06 16:40:00

The school home lists a unit's results section by section (returned, overdue, due soon, later,
waiting, accepted), each by planned end. For a reader of several units (a network, a district)
the sections are now read unit by unit, each off this index's range: walking the state's
(state, due_on, id) range past the whole country's results to find theirs took 230 ms for a
division whose units had few accepted results. The index replaces (state, unit_id), whose
readers it serves as well.
"""

from __future__ import annotations

from alembic import op

revision = "e2a6c8f0b4d7"
down_revision = "d7f1b3e5a9c2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_result") as batch:
        batch.drop_index("ix_step_result_state_unit")
        batch.create_index(
            "ix_step_result_state_unit_due", ["state", "unit_id", "due_on", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("step_result") as batch:
        batch.drop_index("ix_step_result_state_unit_due")
        batch.create_index("ix_step_result_state_unit", ["state", "unit_id"], unique=False)

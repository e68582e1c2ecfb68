"""project_participant, kept beside step_result: every (project, unit) pair of a result.

Results are only ever added (never deleted or moved to another step or unit), so keeping
the pairs is one insert-if-missing after each flush that adds results as ORM objects
(operations, the demo, the importer's updates). Writers of Core inserts call
`record_project` (the importer's new projects), and the generator, which loads with COPY,
fills the table in bulk with `refill`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.projects.models import PlanStep, Project, ProjectParticipant, StepResult

_COLUMNS = ["project_id", "unit_id", "fiscal_year_id"]


def _pairs_of(result_ids: Any) -> Any:
    """(project, unit, year) of the results among `result_ids` not yet recorded."""
    recorded = exists().where(
        ProjectParticipant.project_id == PlanStep.project_id,
        ProjectParticipant.unit_id == StepResult.unit_id,
    )
    return (
        select(PlanStep.project_id, StepResult.unit_id, Project.fiscal_year_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(StepResult.id.in_(result_ids), ~recorded)
        .distinct()
    )


def _insert_ignoring_duplicates(connection: Connection, rows: Any) -> None:
    """Insert from `rows`, leaving out pairs a concurrent transaction recorded first."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(
            postgresql.insert(ProjectParticipant)
            .from_select(_COLUMNS, rows)
            .on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        connection.execute(
            sqlite.insert(ProjectParticipant).from_select(_COLUMNS, rows).on_conflict_do_nothing()
        )
    else:  # pragma: no cover - the two engines Tidtam runs on are above
        connection.execute(insert(ProjectParticipant).from_select(_COLUMNS, rows))


def record_participants_of_new_results(session: Session, _context: Any = None) -> None:
    """Session `after_flush`: record the (project, unit, year) pairs of the step results
    this flush inserted (registered by `service.core.listeners`)."""
    added = [obj.id for obj in session.new if isinstance(obj, StepResult)]
    if added:
        _insert_ignoring_duplicates(session.connection(), _pairs_of(added))


def record_project(connection: Connection, project_id: int) -> None:
    """Record the pairs of one project's results (for results added with Core inserts)."""
    results = (
        select(StepResult.id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .where(PlanStep.project_id == project_id)
    )
    _insert_ignoring_duplicates(connection, _pairs_of(results))


def refill(connection: Connection) -> int:
    """Recompute the whole table from step_result (after a bulk load); returns its rows."""
    connection.execute(delete(ProjectParticipant))
    every_pair = (
        select(PlanStep.project_id, StepResult.unit_id, Project.fiscal_year_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .distinct()
    )
    connection.execute(insert(ProjectParticipant).from_select(_COLUMNS, every_pair))
    return int(connection.scalar(select(func.count()).select_from(ProjectParticipant)) or 0)

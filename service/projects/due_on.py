"""A step result's `due_on`: the copy of its step's planned end that the result lists sort on.

The copy is kept in the flush of every change that could make it differ, whichever door the
change came through (both listeners are registered in `service.core.listeners`):

- a result made (or moved to another step) takes its step's planned end before it is written
  (`copy_planned_end_to_results`, `before_flush`: the column is NOT NULL);
- a step whose planned end changed hands it to its results in one UPDATE after the step's own
  (`hand_planned_end_to_results`, `after_flush`), past the ORM so that the results' versions
  do not move (a date moved by the plan is no change of the school's report); the results this
  session holds are told the new value as loaded, not as a change of theirs.

Writes that go round the ORM (a bulk load, the legacy importer, the generator) set the column
themselves; `drifted_results` counts the rows that differ, for tests and checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.projects.models import PlanStep, StepResult


def _step_of(session: Session, result: StepResult) -> PlanStep | None:
    """The step `result` belongs to as this flush will write it: the object set on the
    relationship, or the one its `step_id` names (from the identity map when loaded)."""
    state = inspect(result)
    chosen = state.attrs.step.history.added
    if chosen and chosen[0] is not None:
        return chosen[0]
    if result.step_id is None:
        return None
    return session.get(PlanStep, result.step_id)


def copy_planned_end_to_results(
    session: Session, _context: Any = None, _objects: Any = None
) -> None:
    """Session `before_flush`: each new result, and each result moved to another step, takes
    its step's planned end as `due_on`.

    On PostgreSQL the end of a step already in the table is read from the row under a share
    lock, not taken from the copy this session loaded: a transaction re-dating the step at
    the same time has either committed (and its date is read) or waits for this one to
    commit, and its own update of the step's results then sees this result. (SQLite runs one
    writer at a time.)"""
    moved = [
        obj
        for obj in session.dirty
        if isinstance(obj, StepResult)
        and (
            inspect(obj).attrs.step_id.history.has_changes()
            or inspect(obj).attrs.step.history.has_changes()
        )
    ]
    fresh = [obj for obj in session.new if isinstance(obj, StepResult)]
    if not (fresh or moved):
        return
    with session.no_autoflush:
        steps = {id(result): _step_of(session, result) for result in [*fresh, *moved]}
        stored: dict[int, Any] = {}
        locked = [
            step.id
            for step in steps.values()
            if step is not None
            and inspect(step).persistent
            and not inspect(step).attrs.planned_end.history.has_changes()
        ]
        if locked and session.get_bind().dialect.name == "postgresql":
            table = PlanStep.__table__
            stored = {
                ident: end
                for ident, end in session.connection().execute(
                    select(table.c.id, table.c.planned_end)
                    .where(table.c.id.in_(sorted(set(locked))))
                    .order_by(table.c.id)
                    .with_for_update(read=True)
                )
            }
        for result in [*fresh, *moved]:
            step = steps[id(result)]
            if step is None:
                continue
            end = stored.get(step.id, step.planned_end) if step.id is not None else step.planned_end
            if result.due_on != end:
                result.due_on = end


def hand_planned_end_to_results(session: Session, _context: Any = None) -> None:
    """Session `after_flush`: the results of every step whose planned end this flush changed
    take the new date, in one statement (none when no step's end moved)."""
    moved: dict[int, Any] = {}
    for obj in session.dirty:
        if isinstance(obj, PlanStep) and inspect(obj).attrs.planned_end.history.has_changes():
            moved[obj.id] = obj.planned_end
    if not moved:
        return
    planned_end = (
        select(PlanStep.planned_end).where(PlanStep.id == StepResult.step_id).scalar_subquery()
    )
    session.connection().execute(
        update(StepResult.__table__)  # type: ignore[arg-type]
        .where(StepResult.__table__.c.step_id.in_(sorted(moved)))
        .values(due_on=planned_end)
    )
    for obj in list(session.identity_map.values()):
        if isinstance(obj, StepResult) and obj.__dict__.get("step_id") in moved:
            set_committed_value(obj, "due_on", moved[obj.__dict__["step_id"]])


def drifted_results(session: Session) -> int:
    """How many results' `due_on` differ from their step's planned end (0 when the copy holds)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(StepResult)
            .join(PlanStep, PlanStep.id == StepResult.step_id)
            .where(StepResult.due_on != PlanStep.planned_end)
        )
        or 0
    )

"""Per-project figures (`project_figures`), kept in the transaction of the change that moves them.

What moves a figure: a plan step's weight or dates (planned progress, overdue), a step result's
state or accepted completion (actual progress, overdue, waiting), the project's approved
budget, an allocation's amount or state, an installment's amount or state. After every flush
that inserts, changes or deletes one of those, the projects touched are noted
(`keep_figures_current`, an `after_flush` listener registered in `service.core.listeners`);
just before the transaction commits (`settle_figures`, `before_commit`) their figures are
recomputed from their source rows in one INSERT … SELECT … ON CONFLICT DO UPDATE, so they equal
the recomputed value when the change commits, whichever door it came through.

The figures are those of the dashboard and the project page (`service.projects.aggregates`):
actual progress counts accepted completions only; planned progress and overdue steps are as of
`figures_day` (Asia/Bangkok). Days pass without a change, so the nightly task
(`tidtam.rollups.figures`, `repair_figures`) recomputes every project's row for the new day;
the same run counts the rows whose day-independent figures differ from their source rows
(drift: a write that went round the ORM, a bulk load) and repairs them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import (
    ColumnElement,
    Connection,
    Numeric,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session, SessionTransaction

from service.budget.models import Allocation, Installment, Payment
from service.core.fiscal import DEFAULT_TZ, local_today
from service.core.sql import upsert_insert
from service.projects.aggregates import allocation_figures, installment_figures, step_figures
from service.projects.models import PlanStep, Project, ProjectFigures, ResultState, StepResult

log = logging.getLogger("tidtam.figures")

#: Projects per statement of a full recompute (the nightly task, a bulk load).
CHUNK = 20_000

#: The columns whose change moves a figure, by model.
WATCHED: dict[type, tuple[str, ...]] = {
    Project: ("approved_budget",),
    PlanStep: ("weight", "planned_start", "planned_end", "project_id"),
    StepResult: ("state", "accepted_completion", "step_id"),
    Allocation: ("amount", "state", "project_id"),
    Installment: ("amount", "state", "allocation_id"),
    # A payment moves what is paid before its installment is paid in full (it then counted
    # only installments in the paid state, and disagreed with the project page).
    Payment: ("amount", "installment_id"),
}
#: Figures that do not depend on the day.
STEADY = (
    "actual_progress",
    "waiting_results",
    "budget_approved",
    "budget_allocated",
    "budget_granted",
    "budget_paid",
)
#: Figures as of `figures_day`.
DAILY = ("planned_progress", "overdue_steps")
COLUMNS = ["project_id", *STEADY, *DAILY, "figures_day"]


def figures_today() -> date:
    """The Bangkok day the figures are kept for (the app's time zone when there is an app)."""
    if has_app_context():
        return local_today(current_app.config.get("TIMEZONE", DEFAULT_TZ))
    return local_today(DEFAULT_TZ)


def _round2(dialect: str, value: Any) -> Any:
    if dialect == "postgresql":
        return func.round(cast(value, Numeric), 2)
    # SQLite computes in binary floating point: nudge exact halves up, as ROUND_HALF_UP would.
    return func.round(value + literal_column("0.000000001"), 2)


def computed_figures(
    dialect: str, chosen: ColumnElement[bool], day: date | ColumnElement[date]
) -> Select[Any]:
    """(COLUMNS…) of every project meeting `chosen`, recomputed from its source rows, as of
    `day` (a date, or a bind parameter)."""
    ids_select = select(Project.id).where(chosen)
    steps = step_figures(ids_select, day).subquery("steps")
    allocations = allocation_figures(ids_select).subquery("allocations")
    installments = installment_figures(ids_select).subquery("installments")
    waiting = (
        select(PlanStep.project_id.label("project_id"), func.count().label("waiting"))
        .join(StepResult, StepResult.step_id == PlanStep.id)
        .where(PlanStep.project_id.in_(ids_select), StepResult.state == ResultState.SUBMITTED)
        .group_by(PlanStep.project_id)
        .subquery("waiting")
    )

    def zero(column: Any) -> Any:
        return func.coalesce(column, 0)

    return (
        select(
            Project.id,
            _round2(dialect, zero(steps.c.actual)),
            zero(waiting.c.waiting),
            Project.approved_budget,
            zero(allocations.c.allocated),
            zero(installments.c.granted),
            zero(installments.c.paid),
            _round2(dialect, zero(steps.c.planned)),
            zero(steps.c.overdue),
            day
            if isinstance(day, ColumnElement)
            else literal(day, ProjectFigures.figures_day.type),
        )
        .outerjoin(steps, steps.c.project_id == Project.id)
        .outerjoin(waiting, waiting.c.project_id == Project.id)
        .outerjoin(allocations, allocations.c.project_id == Project.id)
        .outerjoin(installments, installments.c.project_id == Project.id)
        .where(chosen)
    )


def _refresh_statement(
    dialect: str, chosen: ColumnElement[bool], day: date | ColumnElement[date]
) -> Any:
    """The upsert of the recomputed figures of the projects meeting `chosen`, writing only
    the rows that differ, returning the project ids written."""
    statement = upsert_insert(dialect, ProjectFigures).from_select(
        COLUMNS, computed_figures(dialect, chosen, day)
    )
    table = ProjectFigures.__table__.c
    changed = [name for name in COLUMNS if name != "project_id"]
    statement = statement.on_conflict_do_update(
        index_elements=["project_id"],
        set_={name: statement.excluded[name] for name in changed},
        where=or_(*(table[name] != statement.excluded[name] for name in changed)),
    )
    return statement.returning(ProjectFigures.project_id)


def refresh_figures(connection: Connection, chosen: ColumnElement[bool], day: date) -> int:
    """Recompute the figures of the projects meeting `chosen` as of `day` and write the rows
    that differ (inserting missing ones). Returns how many rows were written."""
    statement = _refresh_statement(connection.dialect.name, chosen, day)
    # Counted from RETURNING: the driver's rowcount of an upsert is not to be relied on.
    return len(connection.execute(statement).all())


#: How the projects a flush touched are named, by what it touched: each a list bound at
#: execution.
_TOUCHING: dict[str, ColumnElement[bool]] = {
    "projects": Project.id.in_(bindparam("projects", expanding=True)),
    "steps": Project.id.in_(
        select(PlanStep.project_id).where(PlanStep.id.in_(bindparam("steps", expanding=True)))
    ),
    "allocations": Project.id.in_(
        select(Allocation.project_id).where(
            Allocation.id.in_(bindparam("allocations", expanding=True))
        )
    ),
}


@cache
def _flush_statements(dialect: str, touching: tuple[str, ...]) -> tuple[Any, Any]:
    """(lock, refresh) for the projects a flush touched, built once per dialect and kind of
    touch: building the recompute's statement tree costs more than running it for one
    project. Only the kinds touched are asked (a result's change names its step alone): an
    OR of IN-lists, empty ones included, is no semi-join, and PostgreSQL tested every project
    against it (1.4 s a change at 100,000 projects)."""
    conditions = [_TOUCHING[name] for name in touching]
    chosen = conditions[0] if len(conditions) == 1 else or_(*conditions)
    lock = (
        select(ProjectFigures.project_id)
        .where(ProjectFigures.project_id.in_(select(Project.id).where(chosen)))
        .order_by(ProjectFigures.project_id)
        .with_for_update()
    )
    day = bindparam("day", type_=ProjectFigures.figures_day.type)
    return lock, _refresh_statement(dialect, chosen, day)


def _touched(session: Session) -> tuple[set[int], set[int], set[int]]:
    """(project ids, step ids, allocation ids) whose figures this flush may have moved."""
    projects: set[int] = set()
    steps: set[int] = set()
    allocations: set[int] = set()
    by_key = {
        "project_id": projects,
        "step_id": steps,
        "allocation_id": allocations,
    }

    def note(obj: Any, values_of: Any) -> None:
        if isinstance(obj, Project):
            projects.add(obj.id)
            return
        if isinstance(obj, Payment):
            for ident in values_of("installment_id"):
                # Its installment is in the session: a payment is recorded under its lock.
                installment = session.get(Installment, ident) if ident is not None else None
                if installment is not None:
                    allocations.add(installment.allocation_id)
            return
        key = {
            PlanStep: "project_id",
            StepResult: "step_id",
            Allocation: "project_id",
            Installment: "allocation_id",
        }[type(obj)]
        for value in values_of(key):
            if value is not None:
                by_key[key].add(value)

    for obj in session.new:
        if type(obj) in WATCHED:
            note(obj, lambda key, obj=obj: [getattr(obj, key)])
    for obj in session.deleted:
        if type(obj) in WATCHED:
            state = inspect(obj)
            note(obj, lambda key, state=state: [*state.attrs[key].history.sum()])
    for obj in session.dirty:
        watched = WATCHED.get(type(obj))
        if watched is None:
            continue
        state = inspect(obj)
        if not any(state.attrs[name].history.has_changes() for name in watched):
            continue
        # A row moved to another project (or step) moves the figures of both.
        note(obj, lambda key, state=state: [*state.attrs[key].history.sum()])
    return projects, steps, allocations


_PENDING = "tidtam.figures_pending"


def keep_figures_current(session: Session, _context: Any = None) -> None:
    """Session `after_flush`: note the projects whose steps, results, budget, allocations or
    installments this flush changed; `settle_figures` recomputes them before the commit
    (registered by `service.core.listeners`)."""
    projects, steps, allocations = _touched(session)
    if not (projects or steps or allocations):
        return
    pending = session.info.setdefault(
        _PENDING, {"projects": set(), "steps": set(), "allocations": set()}
    )
    pending["projects"] |= projects
    pending["steps"] |= steps
    pending["allocations"] |= allocations


def settle_figures(session: Session) -> None:
    """Session `before_commit` (and for a reader that must see them before the commit):
    recompute the figures of the projects this transaction's flushes touched. One statement,
    and on PostgreSQL the figures rows locked just before it; none when nothing watched
    changed.

    At the commit rather than at each flush: the figures row of a project is the one row
    every change of that project writes, and its lock is held until the commit. Taken last
    (before only the audit chain head), it is held for the commit alone, so two people
    working on one project wait for each other's commit, not for each other's request."""
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    touched = {name: sorted(ids) for name, ids in pending.items() if ids}
    if not touched:
        return
    connection = session.connection()
    lock, refresh = _flush_statements(connection.dialect.name, tuple(sorted(touched)))
    if connection.dialect.name == "postgresql":
        # Two transactions changing the same project (a school submits one result while an
        # officer accepts another) would each recompute from a snapshot without the other's
        # change, and the last to write would win. Lock the rows first: the recompute below
        # then starts after the other has committed and reads its change too. (SQLite runs
        # one writer at a time.)
        connection.execute(lock, touched)
    connection.execute(refresh, {**touched, "day": figures_today()}).all()


def forget_pending_figures(session: Session, transaction: SessionTransaction) -> None:
    """Session `after_transaction_end`: what the outermost transaction touched and did not
    commit (a rollback) is not to settle. A savepoint rolled back keeps the projects its
    transaction touched before it: recomputing one more project changes nothing."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class Repair:
    """What one full recompute found: projects checked, rows missing, rows whose
    day-independent figures (or, for rows of the same day, any figure) had drifted from their
    source rows, and rows written (drifted, missing or refreshed for a new day)."""

    checked: int
    missing: int
    drifted: int
    written: int


def _drift_counts(connection: Connection, chosen: ColumnElement[bool], day: date) -> Any:
    dialect = connection.dialect.name
    computed = computed_figures(dialect, chosen, day).subquery("computed")
    c = list(computed.c)
    named = dict(zip(COLUMNS, c, strict=True))
    stored = ProjectFigures.__table__.c
    steady = or_(*(stored[name] != named[name] for name in STEADY))
    daily = and_(
        stored.figures_day == named["figures_day"],
        or_(*(stored[name] != named[name] for name in DAILY)),
    )
    present = stored.project_id.is_not(None)
    return connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((stored.project_id.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((and_(present, or_(steady, daily)), 1), else_=0)), 0),
        )
        .select_from(computed)
        .outerjoin(ProjectFigures, stored.project_id == named["project_id"])
    ).one()


def repair_figures(
    connection: Connection, day: date, *, chunk: int = CHUNK, commit: Any = None
) -> Repair:
    """Recompute every project's figures as of `day`, a range of ids at a time; count the
    rows missing or drifted before writing, and write what differs. `commit`, if given, is
    called after each range (the task commits there; a bulk load does not)."""
    low, high = connection.execute(select(func.min(Project.id), func.max(Project.id))).one()
    checked = missing = drifted = written = 0
    if low is not None:
        for start in range(low, high + 1, chunk):
            chosen = and_(Project.id >= start, Project.id < start + chunk)
            count, absent, changed = _drift_counts(connection, chosen, day)
            checked += int(count)
            missing += int(absent)
            drifted += int(changed)
            written += refresh_figures(connection, chosen, day)
            if commit is not None:
                commit()
    return Repair(checked=checked, missing=missing, drifted=drifted, written=written)

"""What a school works on: the step results of units in its scope, sorted by urgency, and the
allocations handed down to those units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, case, exists, func, select, true, union_all
from sqlalchemy.orm import Session, joinedload, selectinload

from service.budget.models import Allocation
from service.core import keyset
from service.core.paging import Paged, paged
from service.core.sql import dialect_of, each_id, in_ids
from service.org.models import User
from service.org.scope import unit_ids_in_scope
from service.projects.models import (
    PlanStep,
    Project,
    ProjectParticipant,
    ProjectState,
    ResultState,
    StepResult,
)

#: A step is "due soon" when its planned end is at most this far ahead.
DUE_SOON = timedelta(days=14)
OPEN_STATES = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
REPORTING = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED)


#: Rows each section shows on the home page: what to do next, on a phone, at a glance. A
#: district's approver sees every school's results (thousands); six sections of fifty rows
#: made a page of 300 rows that cost 80 ms to render and scrolled for minutes on a phone.
FIRST_ROWS = 10
#: Rows per page of one section walked by key (`?section=` and `?after=`, its More link).
SECTION_ROWS = 50
SECTIONS = ("returned", "overdue", "due_soon", "later", "waiting", "done")
#: Up to this many units in scope, each section's rows are read unit by unit (`my_steps`).
UNITS_WALKED_ONE_BY_ONE = 500
#: The allocations' section of the page, paged by key as the steps' are.
ALLOCATIONS = "allocations"


@dataclass
class MySteps:
    returned: list[StepResult] = field(default_factory=list)
    overdue: list[StepResult] = field(default_factory=list)
    due_soon: list[StepResult] = field(default_factory=list)
    later: list[StepResult] = field(default_factory=list)
    waiting: list[StepResult] = field(default_factory=list)  # submitted, with the district
    done: list[StepResult] = field(default_factory=list)  # accepted, latest due first
    #: How many each section holds in all (its list shows FIRST_ROWS, then SECTION_ROWS).
    counts: dict[str, int] = field(default_factory=dict)
    #: The section read after a cursor, and that cursor (None: every section from its start).
    section: str | None = None
    after: str | None = None
    #: Each section's cursor of the rows after those shown (absent on its last rows).
    next_after: dict[str, str] = field(default_factory=dict)


def _section(today: date) -> ColumnElement[str]:
    """Which section of the page a result belongs in, as SQL (`_section_of` in Python)."""
    return case(
        (StepResult.state == ResultState.RETURNED, "returned"),
        (StepResult.state == ResultState.SUBMITTED, "waiting"),
        (StepResult.state == ResultState.ACCEPTED, "done"),
        (StepResult.due_on < today, "overdue"),
        (StepResult.due_on <= today + DUE_SOON, "due_soon"),
        else_="later",
    )


def _section_of(result: StepResult, today: date) -> str:
    if result.state is ResultState.RETURNED:
        return "returned"
    if result.state is ResultState.SUBMITTED:
        return "waiting"
    if result.state is ResultState.ACCEPTED:
        return "done"
    if result.due_on < today:
        return "overdue"
    return "due_soon" if result.due_on <= today + DUE_SOON else "later"


def _in_section(section: str, today: date) -> ColumnElement[bool]:
    """The rows of `section`, as conditions step_result's (state, due_on, id) index serves."""
    waiting_to_report = StepResult.state.in_((ResultState.NOT_STARTED, ResultState.IN_PROGRESS))
    return {
        "returned": StepResult.state == ResultState.RETURNED,
        "waiting": StepResult.state == ResultState.SUBMITTED,
        "done": StepResult.state == ResultState.ACCEPTED,
        "overdue": and_(waiting_to_report, StepResult.due_on < today),
        "due_soon": and_(
            waiting_to_report, StepResult.due_on >= today, StepResult.due_on <= today + DUE_SOON
        ),
        "later": and_(waiting_to_report, StepResult.due_on > today + DUE_SOON),
    }[section]


def _order(section: str) -> list[tuple[ColumnElement[Any], bool]]:
    """(column, descending) of a section's order: by the step's planned end, the accepted
    latest first; the id last, so that a cursor names one row."""
    descending = section == "done"
    columns: list[ColumnElement[Any]] = [StepResult.due_on.expression, StepResult.id.expression]
    return [(column, descending) for column in columns]


def _reporting_in(dialect: str, units: list[int]) -> ColumnElement[bool]:
    """The result's project is being reported on, for results of `units`: the steps of the
    projects those units take part in (project_participant) whose plan is locked, found
    first (a few dozen projects), and each result matched to them; not a project looked up
    for each result (a network of five schools with 2,000 results read 15,000 buffers for
    its counts, 13 ms, and grew with the results)."""
    taking_part = select(ProjectParticipant.project_id).where(
        in_ids(dialect, ProjectParticipant.unit_id, units)
    )
    among = (
        Project.id == any_(func.array(taking_part.scalar_subquery()))
        if dialect == "postgresql"
        else Project.id.in_(taking_part)
    )
    return StepResult.step_id.in_(
        select(PlanStep.id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(among, Project.state.in_(REPORTING))
    )


def _reporting() -> ColumnElement[bool]:
    """The result's project is being reported on (its plan locked): checked per row read."""
    return exists(
        select(Project.id)
        .join(PlanStep, PlanStep.project_id == Project.id)
        .where(PlanStep.id == StepResult.step_id, Project.state.in_(REPORTING))
    )


def my_steps(
    session: Session,
    user: User,
    today: date,
    section: str | None = None,
    after: str | None = None,
) -> MySteps:
    """The results units in the user's scope report on, for projects whose plan is locked:
    returned first, then overdue, due within 14 days, later (each by planned end), waiting
    for review, accepted (latest due first). Each section holds its FIRST_ROWS first rows and
    its count; `section` holds SECTION_ROWS, its first or those after the cursor `after` (read
    by key, the cost of a page however deep; a cursor that does not fit reads the first rows).

    Two statements whatever the scope holds: the sections' counts, and their rows (each
    section's first rows in the order of step_result's own copy of the planned end, off its
    indexes, loaded with their step, project and unit in the same statement)."""
    units = unit_ids_in_scope(session, user)
    dialect = dialect_of(session)
    in_scope = and_(
        true() if units is None else in_ids(dialect, StepResult.unit_id, units),
        _reporting(),
    )
    found = MySteps()
    counted = _section(today).label("section")
    counting = (
        in_scope
        if units is None
        else and_(in_ids(dialect, StepResult.unit_id, units), _reporting_in(dialect, units))
    )
    found.counts = dict.fromkeys(SECTIONS, 0) | {
        str(name): int(count)
        for name, count in session.execute(
            select(counted, func.count()).where(counting).group_by(counted)
        )
    }
    # A reader of several units (a network, a district) on PostgreSQL: each section's rows
    # are found unit by unit (`each_id`), a page each at most. Walking the section's order
    # past the whole country's rows to find theirs took 230 ms for a division whose units had
    # few accepted results, and grew with the country.
    per_unit = (
        each_id(units, "scope_unit")
        if units is not None
        and 1 < len(units) <= UNITS_WALKED_ONE_BY_ONE
        and dialect == "postgresql"
        else None
    )
    picks = []
    shown = {name: SECTION_ROWS if name == section else FIRST_ROWS for name in SECTIONS}
    for name in SECTIONS:
        keys = _order(name)
        # Unit by unit, the unit is the lateral's own (`unit_id = ANY` beside it misleads
        # PostgreSQL into another index).
        mine = _reporting() if per_unit is not None else in_scope
        chosen = select(StepResult.id).where(mine, _in_section(name, today))
        if name == section and after:
            try:
                chosen = chosen.where(keyset.after(keys, keyset.decode(after, keys)))
                found.section, found.after = section, after
            except keyset.BadCursor:
                pass
        order = [c.desc() if d else c for c, d in keys]
        if per_unit is None:
            ordered = chosen.order_by(*order).limit(shown[name] + 1)
        else:
            # Each unit's first rows off step_result's (state, unit_id, due_on, id) index,
            # then the first of them all.
            first = (
                chosen.add_columns(StepResult.due_on)
                .where(StepResult.unit_id == per_unit.c.id)
                .order_by(*order)
                .limit(shown[name] + 1)
                .lateral(f"first_{name}")
            )
            ordered = (
                select(first.c.id)
                .select_from(per_unit)
                .join(first, true())
                .order_by(
                    *(
                        column.desc() if descending else column
                        for column, (_key, descending) in zip(
                            (first.c.due_on, first.c.id), keys, strict=True
                        )
                    )
                )
                .limit(shown[name] + 1)
            )
        picks.append(select(ordered.subquery().c.id))
    rows = session.scalars(
        select(StepResult)
        .where(StepResult.id.in_(union_all(*picks)))
        .options(
            joinedload(StepResult.step).joinedload(PlanStep.project),
            joinedload(StepResult.unit),
        )
    ).all()
    by_section: dict[str, list[StepResult]] = {name: [] for name in SECTIONS}
    for result in rows:
        by_section[_section_of(result, today)].append(result)
    for name, results in by_section.items():
        descending = name == "done"
        results.sort(key=lambda r: (r.due_on, r.id), reverse=descending)
        if len(results) > shown[name]:
            del results[shown[name] :]
            last = results[-1]
            found.next_after[name] = keyset.encode([last.due_on, last.id])
        setattr(found, name, results)
    return found


def my_allocations(
    session: Session, user: User, after: str | None = None
) -> tuple[Paged[Allocation], int]:
    """Allocations whose recipient lies in the user's scope, newest first, with their
    installments, projects and recipients loaded: the FIRST_ROWS first, or SECTION_ROWS after
    the cursor `after` (read by key), and how many there are in all."""
    units = unit_ids_in_scope(session, user)
    mine = select(Allocation).where(
        true()
        if units is None
        else in_ids(dialect_of(session), Allocation.recipient_unit_id, units)
    )
    shown = mine.options(
        selectinload(Allocation.installments),
        joinedload(Allocation.project),
        joinedload(Allocation.recipient_unit),
    ).order_by(Allocation.id.desc())
    listing = paged(session, shown, 1, SECTION_ROWS if after else FIRST_ROWS, after=after)
    return listing, listing.total

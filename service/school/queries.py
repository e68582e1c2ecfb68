"""What a school works on: the step results of units in its scope, sorted by urgency, and the
allocations handed down to those units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from service.budget.models import Allocation
from service.core.paging import count_rows
from service.core.sql import dialect_of, in_ids
from service.org.models import OrgUnit, User
from service.org.scope import unit_ids_in_scope
from service.projects.models import PlanStep, Project, ProjectState, ResultState, StepResult

#: A step is "due soon" when its planned end is at most this far ahead.
DUE_SOON = timedelta(days=14)
OPEN_STATES = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
REPORTING = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED)


#: Rows shown per section of the page unless the reader asks for the whole section: a
#: district's approver sees every school's results (thousands), a school on a phone a few.
SECTION_ROWS = 50
#: Rows of the one section asked for whole: a tree-wide reader's accepted section is
#: hundreds of thousands of results (it made a query of 239,000 parameters, a 500).
WHOLE_ROWS = 1000
SECTIONS = ("returned", "overdue", "due_soon", "later", "waiting", "done")


@dataclass
class MySteps:
    returned: list[StepResult] = field(default_factory=list)
    overdue: list[StepResult] = field(default_factory=list)
    due_soon: list[StepResult] = field(default_factory=list)
    later: list[StepResult] = field(default_factory=list)
    waiting: list[StepResult] = field(default_factory=list)  # submitted, with the district
    done: list[StepResult] = field(default_factory=list)  # accepted, latest first
    #: How many each section holds in all (its list may show only the first SECTION_ROWS).
    counts: dict[str, int] = field(default_factory=dict)


def _section(today: date) -> ColumnElement[str]:
    """Which section of the page a result belongs in, as SQL."""
    return case(
        (StepResult.state == ResultState.RETURNED, "returned"),
        (StepResult.state == ResultState.SUBMITTED, "waiting"),
        (StepResult.state == ResultState.ACCEPTED, "done"),
        (PlanStep.planned_end < today, "overdue"),
        (PlanStep.planned_end <= today + DUE_SOON, "due_soon"),
        else_="later",
    )


def my_steps(session: Session, user: User, today: date, whole: str | None = None) -> MySteps:
    """The results units in the user's scope report on, for projects whose plan is locked:
    returned first, then overdue, due within 14 days, later (each by planned end), waiting
    for review, accepted (latest first). Each section holds its first SECTION_ROWS rows and
    its count; `whole` names a section to list entirely (up to WHOLE_ROWS)."""
    unit = aliased(OrgUnit)
    section = _section(today).label("section")
    units = unit_ids_in_scope(session, user)
    in_scope = (
        select(StepResult.id.label("id"), section)
        .join(unit, unit.id == StepResult.unit_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(
            true() if units is None else in_ids(dialect_of(session), StepResult.unit_id, units),
            Project.state.in_(REPORTING),
        )
    )
    order = case(
        (section == "done", func.coalesce(StepResult.reviewed_at, StepResult.submitted_at)),
        else_=None,
    )
    # One pass: each row's rank in its section and its section's size ride together.
    ranked = in_scope.add_columns(
        func.row_number()
        .over(
            partition_by=section,
            order_by=(
                order.desc().nulls_last(),
                PlanStep.planned_end,
                Project.code,
                PlanStep.position,
                unit.code,
            ),
        )
        .label("rank"),
        func.count().over(partition_by=section).label("total"),
    ).subquery("ranked")
    keep = ranked.c.rank <= SECTION_ROWS
    if whole in SECTIONS:
        keep = keep | ((ranked.c.section == whole) & (ranked.c.rank <= WHOLE_ROWS))
    shown = select(ranked.c.id, ranked.c.section, ranked.c.rank, ranked.c.total).where(keep)
    picked = session.execute(shown).all()
    found = MySteps()
    found.counts = dict.fromkeys(SECTIONS, 0) | {str(row.section): int(row.total) for row in picked}
    results = {
        r.id: r
        for r in session.scalars(
            select(StepResult)
            .where(StepResult.id.in_([row.id for row in picked]))
            .options(
                joinedload(StepResult.step).joinedload(PlanStep.project),
                joinedload(StepResult.unit),
            )
        )
    }
    for row in sorted(picked, key=lambda row: row.rank):
        getattr(found, str(row.section)).append(results[row.id])
    return found


def my_allocations(
    session: Session, user: User, whole: bool = False
) -> tuple[list[Allocation], int]:
    """Allocations whose recipient lies in the user's scope, newest first, with their
    installments, projects and recipients loaded: the first SECTION_ROWS (WHOLE_ROWS when
    `whole`), and how many there are in all."""
    units = unit_ids_in_scope(session, user)
    mine = select(Allocation).where(
        true()
        if units is None
        else in_ids(dialect_of(session), Allocation.recipient_unit_id, units)
    )
    total = count_rows(session, mine)
    shown = mine.options(
        selectinload(Allocation.installments),
        joinedload(Allocation.project),
        joinedload(Allocation.recipient_unit),
    ).order_by(Allocation.id.desc())
    return list(session.scalars(shown.limit(WHOLE_ROWS if whole else SECTION_ROWS))), total

"""What a school works on: the step results of units in its scope, sorted by urgency, and the
allocations handed down to those units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from service.budget.models import Allocation
from service.core.paging import count_rows
from service.org.models import OrgUnit, User
from service.org.scope import unit_filter
from service.projects.models import PlanStep, Project, ProjectState, ResultState, StepResult

#: A step is "due soon" when its planned end is at most this far ahead.
DUE_SOON = timedelta(days=14)
OPEN_STATES = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
REPORTING = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED)


#: Rows shown per section of the page unless the reader asks for the whole section: a
#: district's approver sees every school's results (thousands), a school on a phone a few.
SECTION_ROWS = 50
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
    its count; `whole` names a section to list entirely."""
    unit = aliased(OrgUnit)
    section = _section(today).label("section")
    in_scope = (
        select(StepResult.id.label("id"), section)
        .join(unit, unit.id == StepResult.unit_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(unit_filter(session, user, unit), Project.state.in_(REPORTING))
    )
    found = MySteps()
    counted = in_scope.subquery("counted")
    found.counts = dict.fromkeys(SECTIONS, 0) | {
        str(name): int(n)
        for name, n in session.execute(
            select(counted.c.section, func.count()).group_by(counted.c.section)
        )
    }
    order = case(
        (section == "done", func.coalesce(StepResult.reviewed_at, StepResult.submitted_at)),
        else_=None,
    )
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
        .label("rank")
    ).subquery("ranked")
    shown = select(ranked.c.id, ranked.c.section, ranked.c.rank)
    if whole in SECTIONS:
        shown = shown.where((ranked.c.rank <= SECTION_ROWS) | (ranked.c.section == whole))
    else:
        shown = shown.where(ranked.c.rank <= SECTION_ROWS)
    picked = session.execute(shown).all()
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
    installments, projects and recipients loaded: the first SECTION_ROWS unless `whole`,
    and how many there are in all."""
    unit = aliased(OrgUnit)
    mine = (
        select(Allocation)
        .join(unit, unit.id == Allocation.recipient_unit_id)
        .where(unit_filter(session, user, unit))
    )
    total = count_rows(session, mine)
    shown = mine.options(
        selectinload(Allocation.installments),
        joinedload(Allocation.project),
        joinedload(Allocation.recipient_unit),
    ).order_by(Allocation.id.desc())
    if not whole:
        shown = shown.limit(SECTION_ROWS)
    return list(session.scalars(shown)), total

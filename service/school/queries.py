"""What a school works on: the step results of units in its scope, sorted by urgency, and the
allocations handed down to those units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from service.budget.models import Allocation
from service.org.models import OrgUnit, User
from service.org.scope import unit_filter
from service.projects.models import PlanStep, Project, ProjectState, ResultState, StepResult

#: A step is "due soon" when its planned end is at most this far ahead.
DUE_SOON = timedelta(days=14)
OPEN_STATES = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
REPORTING = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED)


@dataclass
class MySteps:
    returned: list[StepResult] = field(default_factory=list)
    overdue: list[StepResult] = field(default_factory=list)
    due_soon: list[StepResult] = field(default_factory=list)
    later: list[StepResult] = field(default_factory=list)
    waiting: list[StepResult] = field(default_factory=list)  # submitted, with the district
    done: list[StepResult] = field(default_factory=list)


def my_steps(session: Session, user: User, today: date) -> MySteps:
    """The results units in the user's scope report on, for projects whose plan is locked:
    returned first, then overdue, due within 14 days, later, waiting for review, accepted."""
    unit = aliased(OrgUnit)
    rows = session.scalars(
        select(StepResult)
        .join(unit, unit.id == StepResult.unit_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(unit_filter(session, user, unit), Project.state.in_(REPORTING))
        .order_by(PlanStep.planned_end, Project.code, PlanStep.position, unit.code)
    ).all()
    found = MySteps()
    for result in rows:
        end = result.step.planned_end
        if result.state is ResultState.RETURNED:
            found.returned.append(result)
        elif result.state is ResultState.SUBMITTED:
            found.waiting.append(result)
        elif result.state is ResultState.ACCEPTED:
            found.done.append(result)
        elif end < today:
            found.overdue.append(result)
        elif end <= today + DUE_SOON:
            found.due_soon.append(result)
        else:
            found.later.append(result)
    return found


def my_allocations(session: Session, user: User) -> list[Allocation]:
    """Allocations whose recipient lies in the user's scope, newest first."""
    unit = aliased(OrgUnit)
    return list(
        session.scalars(
            select(Allocation)
            .join(unit, unit.id == Allocation.recipient_unit_id)
            .where(unit_filter(session, user, unit))
            .order_by(Allocation.id.desc())
        )
    )

"""Reading projects: which a user may see, and their derived progress."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session, aliased

from service.core.progress import actual_progress
from service.org.models import OrgUnit, User
from service.org.scope import unit_filter
from service.projects.models import PlanStep, Project, StepResult


def visible_projects(session: Session, user: User) -> ColumnElement[bool]:
    """A condition on `Project`: its responsible or owning unit lies in the user's scope, or a
    unit in the user's scope reports a result on one of its steps (how a school sees a
    district project it takes part in)."""
    responsible = aliased(OrgUnit)
    owner = aliased(OrgUnit)
    reporting = aliased(OrgUnit)
    in_units = exists().where(
        responsible.id == Project.responsible_unit_id,
        owner.id == Project.owner_unit_id,
        unit_filter(session, user, responsible) | unit_filter(session, user, owner),
    )
    takes_part = exists().where(
        PlanStep.project_id == Project.id,
        StepResult.step_id == PlanStep.id,
        reporting.id == StepResult.unit_id,
        unit_filter(session, user, reporting),
    )
    return in_units | takes_part


def project_list(session: Session, user: User) -> Select[Project]:
    return select(Project).where(visible_projects(session, user)).order_by(Project.code)


def step_completions(session: Session, project_id: int) -> list[tuple[Decimal, Decimal | None]]:
    """(weight, completion) per step, completion being the mean accepted completion over the
    step's result rows (a row with nothing accepted counts 0), or None with no accepted row."""
    accepted = func.avg(func.coalesce(StepResult.accepted_completion, 0))
    any_accepted = func.max(StepResult.accepted_completion)
    rows = session.execute(
        select(PlanStep.weight, accepted, any_accepted)
        .outerjoin(StepResult, StepResult.step_id == PlanStep.id)
        .where(PlanStep.project_id == project_id)
        .group_by(PlanStep.id, PlanStep.weight)
        .order_by(PlanStep.id)
    ).all()
    return [
        (weight, None if anything is None else Decimal(str(mean)))
        for weight, mean, anything in rows
    ]


def project_progress(session: Session, project_id: int) -> Decimal:
    """Σ weight × accepted completion: the progress the project page shows."""
    return actual_progress(step_completions(session, project_id))

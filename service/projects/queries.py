"""Reading projects: which a user may see, and their derived progress."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session

from service.core.progress import actual_progress
from service.org.models import OrgUnit, User
from service.org.scope import sees_everything, unit_filter
from service.projects.models import PlanStep, Project, StepResult


def visible_projects(session: Session, user: User) -> ColumnElement[bool]:
    """A condition on `Project`: its responsible or owning unit lies in the user's scope, or a
    unit in the user's scope reports a result on one of its steps (how a school sees a
    district project it takes part in).

    The unit ids in scope (a subtree: tens of units) are read first and inlined, so the
    database probes its indexes on unit columns for exactly those ids instead of joining the
    unit table per project or scanning every step result; tree-wide roles get a plain true."""
    if sees_everything(session, user):
        return true()
    units_in_scope = list(session.scalars(select(OrgUnit.id).where(unit_filter(session, user))))
    if not units_in_scope:
        return false()
    takes_part = Project.id.in_(
        select(PlanStep.project_id)
        .join(StepResult, StepResult.step_id == PlanStep.id)
        .where(StepResult.unit_id.in_(units_in_scope))
    )
    return or_(
        Project.responsible_unit_id.in_(units_in_scope),
        Project.owner_unit_id.in_(units_in_scope),
        takes_part,
    )


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

"""Who may see and change quarterly evaluations."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.core.permissions import ALLOW, Answer, deny, holds_anywhere, needs_role
from service.evaluations.models import Evaluation
from service.org.models import OrgUnit, Role, User
from service.org.scope import in_scope


def owner_unit(evaluation: Evaluation) -> OrgUnit:
    """The unit that owns the subject: the project's responsible unit, or the KPI's owner."""
    if evaluation.project is not None:
        return evaluation.project.responsible_unit
    assert evaluation.kpi is not None
    return evaluation.kpi.owner_unit


def can_see_evaluation(session: Session, user: User, evaluation: Evaluation) -> bool:
    return holds_anywhere(session, user, Role.EVALUATOR) or in_scope(
        session, user, owner_unit(evaluation)
    )


def may_self_assess(session: Session, user: User, evaluation: Evaluation) -> Answer:
    return needs_role(
        session, user, (Role.OFFICER, Role.APPROVER), owner_unit(evaluation), "self-assess"
    )


def may_evaluate(session: Session, user: User, _evaluation: Evaluation) -> Answer:
    if holds_anywhere(session, user, Role.EVALUATOR):
        return ALLOW
    return deny("only an evaluator (สยป.) scores quarters")

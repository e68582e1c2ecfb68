"""Who may see and change quarterly evaluations.

One rule decides who sees an evaluation's score, sub-scores, comment and evaluator before it
is published (`sees_unpublished_scores`): evaluators, and the users whose scope holds the unit
owning the subject. Everyone else, signed out included, sees a score only once it is
published. The API (its lists as SQL in service.api.scoping.visible_evaluations), the
project page, the public page, the print view, its PDF and the KPI page all ask it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.core.permissions import ALLOW, Answer, deny_role, holds_anywhere, needs_role
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation, EvaluationState
from service.org.models import OrgUnit, Role, User
from service.org.scope import in_scope, role_names


def owner_unit(evaluation: Evaluation) -> OrgUnit:
    """The unit that owns the subject: the project's responsible unit, or the KPI's owner."""
    if evaluation.project is not None:
        return evaluation.project.responsible_unit
    assert evaluation.kpi is not None
    return evaluation.kpi.owner_unit


def sees_unpublished_scores(session: Session, user: User | None, unit: OrgUnit) -> bool:
    """Whether `user` sees evaluations of subjects owned by `unit` before they are published
    (draft scores and comments): evaluators, and users whose scope holds `unit`; never
    someone signed out."""
    if user is None:
        return False
    # From the roles read once per session (holds_anywhere would ask the database again).
    return Role.EVALUATOR in role_names(session, user) or in_scope(session, user, unit)


def can_see_evaluation(session: Session, user: User, evaluation: Evaluation) -> bool:
    """The evaluation as the API and the workflow show it, whatever its state."""
    return sees_unpublished_scores(session, user, owner_unit(evaluation))


def score_shown(evaluation: Evaluation, sees_unpublished: bool) -> bool:
    """Whether a page shows `evaluation`'s score, sub-scores, comment and evaluator, for a
    reader whose `sees_unpublished_scores` answer is `sees_unpublished`: published scores
    are public."""
    return evaluation.state is EvaluationState.PUBLISHED or sees_unpublished


def can_see_score(session: Session, user: User | None, evaluation: Evaluation) -> bool:
    """`score_shown` for `user` (None: signed out)."""
    return score_shown(evaluation, sees_unpublished_scores(session, user, owner_unit(evaluation)))


def may_self_assess(session: Session, user: User, evaluation: Evaluation) -> Answer:
    return needs_role(
        session, user, (Role.OFFICER, Role.APPROVER), owner_unit(evaluation), _("self-assess")
    )


def may_evaluate(session: Session, user: User, _evaluation: Evaluation) -> Answer:
    if holds_anywhere(session, user, Role.EVALUATOR):
        return ALLOW
    return deny_role(_("only an evaluator (สยป.) scores quarters"))

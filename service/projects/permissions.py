"""Who may see and change projects and step results."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.core.permissions import Answer, deny, needs_role
from service.core.translate import gettext as _
from service.org.models import Role, UnitKind, User
from service.org.scope import in_scope
from service.projects.models import Project, StepResult
from service.projects.queries import sees_project

DISTRICT = (Role.OFFICER, Role.APPROVER)


def can_see_project(session: Session, user: User, project: Project) -> bool:
    return sees_project(session, user, project)


def can_see_result(session: Session, user: User, result: StepResult) -> bool:
    """A school sees its own results; the district sees every result of its projects."""
    if in_scope(session, user, result.unit):
        return True
    project = result.step.project
    return in_scope(session, user, project.responsible_unit) or in_scope(
        session, user, project.owner_unit
    )


def may_edit_plan(session: Session, user: User, project: Project) -> Answer:
    return needs_role(session, user, DISTRICT, project.responsible_unit, _("edit this plan"))


def may_approve_plan(session: Session, user: User, project: Project) -> Answer:
    return needs_role(
        session, user, (Role.APPROVER,), project.responsible_unit, _("lock this plan")
    )


def may_report_result(session: Session, user: User, result: StepResult) -> Answer:
    """The school responsible for the result's unit; for a district step (a unit above the
    schools), the officer responsible for it. An officer does not report a school's result:
    the school's own figures and words would be replaced by someone the school never chose,
    and an accepted result reopened behind it."""
    roles = (Role.SCHOOL,) if result.unit.kind is UnitKind.SCHOOL else (Role.SCHOOL, Role.OFFICER)
    return needs_role(session, user, roles, result.unit, _("report this result"))


def may_review_result(session: Session, user: User, result: StepResult) -> Answer:
    project = result.step.project
    answer = needs_role(session, user, DISTRICT, project.responsible_unit, _("review results"))
    if answer and result.submitted_by_id == user.id:
        return deny(_("you submitted this result: another officer must review it"))
    return answer

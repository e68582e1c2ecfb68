"""What the caller may see, as SQL for lists and as the workflows' own predicates by id.

A list and a lookup by id must agree: an object outside the caller's scope is absent from
every list and count and answers 404 by id, exactly as if it did not exist. The SQL below
restates each workflow's `visible` predicate over the same units (the org scope of
service.org.scope.unit_filter); tests/test_api_scope.py checks that they agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    literal,
    not_,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from service.budget.models import Allocation, Installment
from service.core import sql as core_sql
from service.core.labels import object_type_label
from service.core.permissions import holds_anywhere
from service.core.sql import dialect_of, ids_read_first, in_ids, in_ids_or_query, not_in_ids
from service.core.translate import gettext as _
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi
from service.org.models import OrgUnit, Role, User
from service.org.scope import active_roles, in_scope, unit_ids_in_scope
from service.projects.models import (
    PlanStep,
    Project,
    ProjectParticipant,
    ResultState,
    StepResult,
)
from service.projects.queries import run_or_owned_ids, sees_project
from service.workflow.engine import Refused, load_workflows, missing

T = TypeVar("T")


def visible_result_branches(session: Session, user: User) -> list[ColumnElement[bool]]:
    """service.projects.permissions.can_see_result as SQL over StepResult alone, as
    disjoint branches to UNION ALL (one condition: everything): results reported by a unit in
    the user's scope, and results by other units on a project of a unit in scope (no second
    branch when there is no such project).

    The units in scope are read first and given as a list; the second branch looks only at
    projects that have a participant outside the scope (project_participant), which for a
    district is almost none: their ids are read first too, so that the page and its count
    do not each look for them again (5,800 buffers for none, for a district). An OR, or a
    UNION over result ids joined back, made PostgreSQL read all 1.1M results (0.5-0.7 s a
    page at 100,000 projects)."""
    units = unit_ids_in_scope(session, user)
    dialect = dialect_of(session)
    if units is None:
        return [true()]
    if not units:
        return [false()]
    with_outsiders = (
        select(ProjectParticipant.project_id)
        .join(Project, Project.id == ProjectParticipant.project_id)
        .where(
            in_ids(dialect, Project.responsible_unit_id, units)
            | in_ids(dialect, Project.owner_unit_id, units),
            not_in_ids(dialect, ProjectParticipant.unit_id, units),
        )
    )
    own = in_ids(dialect, StepResult.unit_id, units)
    outsiders = ids_read_first(session, with_outsiders)
    if isinstance(outsiders, list) and not outsiders:
        return [own]
    return [
        own,
        and_(
            StepResult.step_id.in_(
                select(PlanStep.id).where(in_ids_or_query(dialect, PlanStep.project_id, outsiders))
            ),
            not_in_ids(dialect, StepResult.unit_id, units),
        ),
    ]


def visible_allocations(session: Session, user: User) -> ColumnElement[bool]:
    """service.budget.permissions.can_see_allocation as SQL: its recipient is a unit in the
    user's scope, or its project is run or owned by one.

    The projects' ids are read first and sent as one array beside the units', so each side
    is an index range (allocations by project, by recipient) that PostgreSQL ORs. The three
    ranges as a UNION of allocation ids made it hash every allocation in the country for a
    district's page of 10 (30-50 ms at 100,000 projects)."""
    units = unit_ids_in_scope(session, user)
    if units is None:
        return true()
    if not units:
        return false()
    dialect = dialect_of(session)
    return or_(
        in_ids(dialect, Allocation.recipient_unit_id, units),
        in_ids_or_query(dialect, Allocation.project_id, run_or_owned_ids(session, units)),
    )


def visible_installments(session: Session, user: User) -> ColumnElement[bool]:
    """The installments of `visible_allocations`, by their allocations' ids read first: as a
    condition on the allocation beside them, PostgreSQL walked every installment of the
    country in id order to find a school's page (6,570 rows for 11)."""
    if unit_ids_in_scope(session, user) is None:
        return true()
    ids = ids_read_first(session, select(Allocation.id).where(visible_allocations(session, user)))
    return in_ids_or_query(dialect_of(session), Installment.allocation_id, ids)


def visible_evaluations(session: Session, user: User) -> ColumnElement[bool]:
    """service.evaluations.permissions.can_see_evaluation as SQL: the evaluations of the
    projects whose responsible unit, and of the KPIs whose owner, lies in the user's scope.
    Those projects' and KPIs' ids are read first (one statement) and sent as arrays, which
    the evaluations' two unique indexes answer: matching paths tested all 300,000
    evaluations, and ids in a subquery made PostgreSQL walk them all in id order (43-78 ms at
    100,000 projects for a district's page of 20)."""
    if holds_anywhere(session, user, Role.EVALUATOR):
        return true()
    units = unit_ids_in_scope(session, user)
    if units is None:
        return true()
    if not units:
        return false()
    dialect = dialect_of(session)
    projects = select(Project.id).where(in_ids(dialect, Project.responsible_unit_id, units))
    kpis = select(Kpi.id).where(in_ids(dialect, Kpi.owner_unit_id, units))
    subjects = union_all(
        projects.add_columns(literal("project").label("kind")),
        kpis.add_columns(literal("kpi").label("kind")),
    ).limit(core_sql.IDS_SENT_AT_MOST + 1)
    found: dict[str, list[int]] = {"project": [], "kpi": []}
    for ident, kind in session.execute(subjects):
        found[kind].append(ident)
    if len(found["project"]) + len(found["kpi"]) > core_sql.IDS_SENT_AT_MOST:
        # A scope of most of the country (an approver over the whole administration): as
        # subqueries, through the evaluations' indexes all the same.
        return Evaluation.id.in_(
            union(
                select(Evaluation.id).where(Evaluation.project_id.in_(projects)),
                select(Evaluation.id).where(Evaluation.kpi_id.in_(kpis)),
            )
        )
    return or_(
        in_ids(dialect, Evaluation.project_id, found["project"]),
        in_ids(dialect, Evaluation.kpi_id, found["kpi"]),
    )


def in_subtree(session: Session, unit_id: int, column: Any) -> ColumnElement[bool]:
    """`column` (an org unit id) is `unit_id` or lies below it."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return false()
    unit = aliased(OrgUnit)
    return exists().where(unit.id == column, unit.path.startswith(path))


def step_overdue(today: date, step: Any = PlanStep) -> ColumnElement[bool]:
    """Past its planned end (Bangkok day) while some result is not accepted, or none exists."""
    result = aliased(StepResult)
    open_result = exists().where(result.step_id == step.id, result.state != ResultState.ACCEPTED)
    any_result = exists().where(result.step_id == step.id)
    return and_(step.planned_end < today, or_(open_result, not_(any_result)))


def project_overdue(today: date) -> ColumnElement[bool]:
    step = aliased(PlanStep)
    return exists().where(step.project_id == Project.id, step_overdue(today, step))


def get_visible(session: Session, user: User, workflow_name: str, ident: int) -> Any:
    """The `workflow_name` object `ident` when the user may see it; Refused(404) otherwise,
    whether it is missing or out of scope (the two are not told apart)."""
    workflow = load_workflows()[workflow_name]
    obj = session.get(workflow.model, ident)
    if obj is None or not workflow.visible(session, user, obj):
        raise missing(workflow_name, ident)
    return obj


def get_project(session: Session, user: User, ident: int) -> Project:
    project = session.get(Project, ident)
    if project is None or not sees_project(session, user, project):
        raise missing("project", ident)
    return project


def get_unit(
    session: Session,
    ident: int,
    field: str,
    *,
    user: User | None = None,
    within: OrgUnit | None = None,
) -> OrgUnit:
    """A unit named in the input, or Refused(422) naming the field. With `user`, a unit they
    may not name (neither in their scope nor above one of their units) and, with `within`, a
    unit outside that subtree, are refused exactly as a unit that does not exist: a later
    refusal naming the unit would tell anyone the name of any unit by its id."""
    unit = session.get(OrgUnit, ident)
    if (
        unit is None
        or unit.withdrawn_at is not None
        or (within is not None and not unit.path.startswith(within.path))
        or (user is not None and not may_name_unit(session, user, unit))
    ):
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("org_unit"), id=ident),
            fields={field: _("no such unit")},
        )
    return unit


def may_name_unit(session: Session, user: User, unit: OrgUnit) -> bool:
    """The unit is in the user's scope, or above a unit they hold a role in (the district
    of a division's officer: it owns the projects they register)."""
    if in_scope(session, user, unit):
        return True
    return any(unit.id in a.unit.ancestor_ids for a in active_roles(session, user))

"""Who is told of an event, resolved from the org tree and the roles in it, never "everyone
with the role".

Each rule turns the events of its kinds into (event_id, user_id) pairs in SQL:

| event | told |
| --- | --- |
| step_result.return | users with role school on the result's reporting unit |
| step_result.submit | officers of the nearest unit at or above the project's responsible unit that has officers |
| allocation.submit, allocation.endorse above the officer's limit | approvers of the district office at or above the project's owner unit |
| allocation.submit within the limit | the reviewing officers, as for a submitted result |
| evaluation.publish | officers of the project's responsible unit (a KPI's: its owner unit), nearest with officers |
| delegation.create, delegation.withdraw | the principal and the delegate |

Only active users with active (not withdrawn) roles are told, and never the person whose act
the event reports (its actor): nobody is told of their own request. "Nearest at or above"
walks up the unit's own chain, so an officer of another district is never chosen.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, false, func, select, union
from sqlalchemy.orm import aliased

from service.audit.models import OutboxEvent
from service.budget.models import Allocation
from service.core.sql import concat_text
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi
from service.org.models import Delegation, Role, RoleAssignment, UnitKind, User
from service.org.queries import nearest_role_holders
from service.projects.models import PlanStep, Project, StepResult

EventIds = Sequence[int]


def result_reporters(ids: EventIds) -> Select[int, int]:
    """A returned result: the school users of the unit that reported it."""
    return (
        select(OutboxEvent.id.label("event_id"), RoleAssignment.user_id.label("user_id"))
        .join(StepResult, StepResult.id == OutboxEvent.object_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.unit_id == StepResult.unit_id,
                RoleAssignment.role == Role.SCHOOL,
                RoleAssignment.withdrawn_at.is_(None),
            ),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == "step_result.return")
    )


def result_reviewers(ids: EventIds) -> Select[int, int]:
    """A submitted result: the reviewing officers of the project's responsible unit."""
    officers = nearest_role_holders([Role.OFFICER], name="reviewer")
    return (
        select(OutboxEvent.id.label("event_id"), officers.c.user_id)
        .join(StepResult, StepResult.id == OutboxEvent.object_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .join(officers, officers.c.unit_id == Project.responsible_unit_id)
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == "step_result.submit")
    )


def allocation_deciders(ids: EventIds) -> Select[int, int]:
    """An allocation submitted or endorsed: above the officer's limit the district's
    approvers, within it the reviewing officers."""
    above_limit = func.coalesce(OutboxEvent.payload["above_limit"].as_boolean(), false())
    approvers = nearest_role_holders(
        [Role.APPROVER], ancestor_kind=UnitKind.DISTRICT_OFFICE, name="approver"
    )
    officers = nearest_role_holders([Role.OFFICER], name="allocation_officer")
    to_approvers = (
        select(OutboxEvent.id.label("event_id"), approvers.c.user_id)
        .join(Allocation, Allocation.id == OutboxEvent.object_id)
        .join(Project, Project.id == Allocation.project_id)
        .join(approvers, approvers.c.unit_id == Project.owner_unit_id)
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(["allocation.submit", "allocation.endorse"]),
            above_limit,
        )
    )
    to_officers = (
        select(OutboxEvent.id.label("event_id"), officers.c.user_id)
        .join(Allocation, Allocation.id == OutboxEvent.object_id)
        .join(Project, Project.id == Allocation.project_id)
        .join(officers, officers.c.unit_id == Project.responsible_unit_id)
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind == "allocation.submit",
            ~above_limit,
        )
    )
    return select(union(to_approvers, to_officers).subquery("allocation_recipient"))


def evaluation_owners(ids: EventIds) -> Select[int, int]:
    """A published evaluation: the officers owning the project (or the KPI)."""
    officers = nearest_role_holders([Role.OFFICER], name="evaluation_officer")
    project = aliased(Project)
    kpi = aliased(Kpi)
    return (
        select(OutboxEvent.id.label("event_id"), officers.c.user_id)
        .join(Evaluation, Evaluation.id == OutboxEvent.object_id)
        .outerjoin(project, project.id == Evaluation.project_id)
        .outerjoin(kpi, kpi.id == Evaluation.kpi_id)
        .join(
            officers,
            officers.c.unit_id == func.coalesce(project.responsible_unit_id, kpi.owner_unit_id),
        )
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == "evaluation.publish")
    )


def delegation_parties(ids: EventIds) -> Select[int, int]:
    """A delegation made or withdrawn: both people."""
    kinds = ["delegation.create", "delegation.withdraw"]
    parts = [
        select(OutboxEvent.id.label("event_id"), person.label("user_id"))
        .join(Delegation, Delegation.id == OutboxEvent.object_id)
        .join(User, and_(User.id == person, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind.in_(kinds))
        for person in (Delegation.principal_id, Delegation.delegate_id)
    ]
    return select(union(*parts).subquery("delegation_party"))


@dataclass(frozen=True)
class RecipientRule:
    kinds: frozenset[str]
    resolve: Callable[[EventIds], Select[int, int]]


RULES: tuple[RecipientRule, ...] = (
    RecipientRule(frozenset({"step_result.return"}), result_reporters),
    RecipientRule(frozenset({"step_result.submit"}), result_reviewers),
    RecipientRule(frozenset({"allocation.submit", "allocation.endorse"}), allocation_deciders),
    RecipientRule(frozenset({"evaluation.publish"}), evaluation_owners),
    RecipientRule(frozenset({"delegation.create", "delegation.withdraw"}), delegation_parties),
)

#: Every event kind someone is told of.
NOTIFIED_KINDS: frozenset[str] = frozenset().union(*(rule.kinds for rule in RULES))


def event_candidates(ids: EventIds, kinds: Collection[str]) -> Select | None:
    """Candidate notifications for the events `ids` (whose kinds are `kinds`): one row per
    (event, recipient) with the columns `insert_notifications` expects, or None when no rule
    applies to any of these kinds. The event's actor is never among the recipients."""
    present = set(kinds)
    parts = [rule.resolve(ids) for rule in RULES if rule.kinds & present]
    if not parts:
        return None
    pairs = union(*parts).subquery("event_recipient")
    return (
        select(
            pairs.c.user_id.label("recipient_id"),
            OutboxEvent.kind.label("kind"),
            OutboxEvent.object_type.label("object_type"),
            OutboxEvent.object_id.label("object_id"),
            OutboxEvent.payload.label("payload"),
            concat_text("event:", OutboxEvent.id).label("key"),
        )
        .select_from(pairs)
        .join(OutboxEvent, OutboxEvent.id == pairs.c.event_id)
        .where(OutboxEvent.actor_id.is_(None) | (pairs.c.user_id != OutboxEvent.actor_id))
    )


__all__ = [
    "NOTIFIED_KINDS",
    "RULES",
    "RecipientRule",
    "event_candidates",
]

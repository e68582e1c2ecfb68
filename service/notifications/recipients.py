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
| step_result.accept | users with role school on the result's reporting unit |
| installment.request | as an allocation submitted: approvers above the limit, else officers |
| installment.approve, .payment, .pay, .reject | the person who asked for the installment |
| allocation.approve | its preparer and the school users of the receiving unit |
| allocation.return, allocation.reject | its preparer |
| project.submit, project.request_revision | approvers at or above the responsible unit |
| project.lock, project.return, project.reopen, project.decline_revision | officers of the responsible unit, nearest |
| evaluation.reopen | as evaluation.publish |
| evaluation.self_assess | the evaluation's assigned evaluator |
| line_account.link, line_group.link | the person who linked (a LINE account: its owner, who hears it on LINE at once) |
| comment.mention | the people the comment newly @mentions (each of whom may see its subject) |
| budget_transfer.create | officers of the source project's responsible unit, nearest (one endorses) |
| budget_transfer.endorse | approvers at or above the source project's responsible unit |
| budget_transfer.approve, .return, .reject | the person who prepared the transfer |
| allocation.undecidable, installment.undecidable | whoever prepared, submitted or requested it, and whoever they acted for |
| kpi.result | the evaluator assigned to the quarter's evaluation (else the active evaluators); reported by a school, also the owning unit's officers, nearest |

Every other event is silent on purpose, with its reason in `SILENT` (a test holds every
transition of every workflow table to one or the other).

Only active users with active (not withdrawn) roles are told, and never the person whose act
the event reports (its actor): nobody is told of their own request. "Nearest at or above"
walks up the unit's own chain, so an officer of another district is never chosen.

An event that asks someone to decide (`DECIDING`: "waits for your approval", "waits for your
endorsement") is never sent to a person four eyes bars from that decision: whoever prepared,
submitted or requested the object, in person or through a deputy acting for them (the
audit's actor and acting-for of `PREPARING`), whoever a deputy acted for in the event itself,
and whoever endorsed it in the standing round, in person or through a deputy. The others of
the same rule are still asked (a second approver of the district); when the only approver is
barred (her deputy asked in her name), nobody is asked to approve what she may not, and the
item waits on /approvals with the reason she cannot approve it.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, false, func, or_, select, union
from sqlalchemy.orm import aliased

from service.audit.models import AuditEntry, OutboxEvent
from service.budget.models import Allocation, Approval, BudgetTransfer, Installment
from service.budget.workflow import PREPARING, prepared_by
from service.core.sql import concat_text
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi
from service.org.models import Delegation, Role, RoleAssignment, UnitKind, User
from service.org.queries import nearest_role_holders
from service.projects.models import PlanStep, Project, StepResult
from service.threads.models import CommentMention

EventIds = Sequence[int]


def result_reporters(ids: EventIds) -> Select[int, int]:
    """A returned or accepted result: the school users of the unit that reported it."""
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
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(["step_result.return", "step_result.accept"]),
        )
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
    """An allocation submitted or endorsed, or an installment requested: above the officer's
    limit the district's approvers, within it the reviewing officers."""
    above_limit = func.coalesce(OutboxEvent.payload["above_limit"].as_boolean(), false())
    approvers = nearest_role_holders(
        [Role.APPROVER], ancestor_kind=UnitKind.DISTRICT_OFFICE, name="approver"
    )
    officers = nearest_role_holders([Role.OFFICER], name="allocation_officer")
    # An installment request is decided like its allocation: the same people, the same limit.
    installment = aliased(Installment)
    allocation_id = func.coalesce(installment.allocation_id, OutboxEvent.object_id)
    asked = ["allocation.submit", "installment.request"]

    def base(holders: Any) -> Select[int, int]:
        return (
            select(OutboxEvent.id.label("event_id"), holders.c.user_id)
            .outerjoin(
                installment,
                and_(
                    OutboxEvent.object_type == "installment",
                    installment.id == OutboxEvent.object_id,
                ),
            )
            .join(Allocation, Allocation.id == allocation_id)
            .join(Project, Project.id == Allocation.project_id)
        )

    to_approvers = (
        base(approvers)
        .join(approvers, approvers.c.unit_id == Project.owner_unit_id)
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_([*asked, "allocation.endorse"]),
            above_limit,
        )
    )
    to_officers = (
        base(officers)
        .join(officers, officers.c.unit_id == Project.responsible_unit_id)
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind.in_(asked), ~above_limit)
    )
    return select(union(to_approvers, to_officers).subquery("allocation_recipient"))


def evaluation_owners(ids: EventIds) -> Select[int, int]:
    """A published or reopened evaluation: the officers owning the project (or the KPI)."""
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
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(["evaluation.publish", "evaluation.reopen"]),
        )
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


def _named_person(
    ids: EventIds, kinds: Collection[str], model: Any, person: Any
) -> Select[int, int]:
    """The one active person an object names (who asked, who prepared, who evaluates)."""
    return (
        select(OutboxEvent.id.label("event_id"), person.label("user_id"))
        .join(model, model.id == OutboxEvent.object_id)
        .join(User, and_(User.id == person, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind.in_(list(kinds)))
    )


def installment_requester(ids: EventIds) -> Select[int, int]:
    """An installment approved, paid in part or in full, or rejected: whoever asked for it."""
    kinds = ["installment.approve", "installment.payment", "installment.pay", "installment.reject"]
    return _named_person(ids, kinds, Installment, Installment.requested_by_id)


#: An item nobody may approve as it stands (service.budget.operations.tell_undecidable).
UNDECIDABLE_KINDS = frozenset({"allocation.undecidable", "installment.undecidable"})


def undecidable_askers(ids: EventIds) -> Select[int, int]:
    """An allocation or installment nobody may approve as it stands: whoever prepared,
    submitted or requested it, in person or acting for someone, and whoever they acted for
    (the audit's `PREPARING` rows), and the person the row names. They may withdraw it or
    have it rejected, and ask for it again so that someone may approve it."""
    kinds = sorted(UNDECIDABLE_KINDS)
    preparing = [action for actions in PREPARING.values() for action in actions]
    in_audit = (
        select(OutboxEvent.id.label("event_id"), User.id.label("user_id"))
        .join(
            AuditEntry,
            and_(
                AuditEntry.object_type == OutboxEvent.object_type,
                AuditEntry.object_id == OutboxEvent.object_id,
                AuditEntry.action.in_(preparing),
            ),
        )
        .join(
            User,
            and_(
                or_(User.id == AuditEntry.actor_id, User.id == AuditEntry.acting_for_id),
                User.active.is_(True),
            ),
        )
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind.in_(kinds))
    )
    requester = _named_person(
        ids, ["installment.undecidable"], Installment, Installment.requested_by_id
    )
    preparer = _named_person(ids, ["allocation.undecidable"], Allocation, Allocation.created_by_id)
    return select(union(in_audit, requester, preparer).subquery("undecidable_asker"))


def allocation_preparer(ids: EventIds) -> Select[int, int]:
    """An allocation approved, returned or rejected: its preparer; approved, also the school
    users of the unit receiving the money (they may now ask for installments)."""
    kinds = ["allocation.approve", "allocation.return", "allocation.reject"]
    preparer = _named_person(ids, kinds, Allocation, Allocation.created_by_id)
    receivers = (
        select(OutboxEvent.id.label("event_id"), RoleAssignment.user_id.label("user_id"))
        .join(Allocation, Allocation.id == OutboxEvent.object_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.unit_id == Allocation.recipient_unit_id,
                RoleAssignment.role == Role.SCHOOL,
                RoleAssignment.withdrawn_at.is_(None),
            ),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == "allocation.approve")
    )
    return select(union(preparer, receivers).subquery("allocation_party"))


def plan_approvers(ids: EventIds) -> Select[int, int]:
    """A plan submitted (to be locked) or a revision requested (to be reopened): the
    approvers at or above the project's responsible unit, nearest."""
    approvers = nearest_role_holders([Role.APPROVER], name="plan_approver")
    return (
        select(OutboxEvent.id.label("event_id"), approvers.c.user_id)
        .join(Project, Project.id == OutboxEvent.object_id)
        .join(approvers, approvers.c.unit_id == Project.responsible_unit_id)
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(["project.submit", "project.request_revision"]),
        )
    )


#: A plan locked, returned, reopened, or its revision declined: told to its officers.
PLAN_OFFICER_KINDS = [
    "project.lock",
    "project.return",
    "project.reopen",
    "project.decline_revision",
]


def plan_officers(ids: EventIds) -> Select[int, int]:
    """A plan locked, returned, reopened or its revision declined: the officers of the
    responsible unit, nearest."""
    officers = nearest_role_holders([Role.OFFICER], name="plan_officer")
    return (
        select(OutboxEvent.id.label("event_id"), officers.c.user_id)
        .join(Project, Project.id == OutboxEvent.object_id)
        .join(officers, officers.c.unit_id == Project.responsible_unit_id)
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(PLAN_OFFICER_KINDS),
        )
    )


def evaluation_evaluator(ids: EventIds) -> Select[int, int]:
    """A self-assessed evaluation: its assigned evaluator, who scores it next."""
    return _named_person(ids, ["evaluation.self_assess"], Evaluation, Evaluation.evaluator_id)


def line_linker(ids: EventIds) -> Select[int, int]:
    """A LINE account or group just linked: the person who linked it (named in the payload:
    the event has no actor, so that they are told), as the confirmation LINE shows them."""
    person = OutboxEvent.payload["user_id"].as_integer()
    return (
        select(OutboxEvent.id.label("event_id"), User.id.label("user_id"))
        .join(User, and_(User.id == person, User.active.is_(True)))
        .where(
            OutboxEvent.id.in_(list(ids)),
            OutboxEvent.kind.in_(["line_account.link", "line_group.link"]),
        )
    )


def comment_mentioned(ids: EventIds) -> Select[int, int]:
    """A comment that @mentions people: those it named first in the revision the event tells
    of (an edit that keeps a mention tells nobody again)."""
    revision = OutboxEvent.payload["revision"].as_integer()
    return (
        select(OutboxEvent.id.label("event_id"), CommentMention.user_id.label("user_id"))
        .join(
            CommentMention,
            and_(
                CommentMention.comment_id == OutboxEvent.object_id,
                CommentMention.revision == revision,
            ),
        )
        .join(User, and_(User.id == CommentMention.user_id, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == "comment.mention")
    )


def _transfer_holders(ids: EventIds, role: Role, kind: str) -> Select[int, int]:
    holders = nearest_role_holders([role], name=f"transfer_{role.value}")
    return (
        select(OutboxEvent.id.label("event_id"), holders.c.user_id)
        .join(BudgetTransfer, BudgetTransfer.id == OutboxEvent.object_id)
        .join(Project, Project.id == BudgetTransfer.source_id)
        .join(holders, holders.c.unit_id == Project.responsible_unit_id)
        .where(OutboxEvent.id.in_(list(ids)), OutboxEvent.kind == kind)
    )


def transfer_endorsers(ids: EventIds) -> Select[int, int]:
    """A transfer prepared: the officers of the source project's responsible unit, nearest."""
    return _transfer_holders(ids, Role.OFFICER, "budget_transfer.create")


def transfer_approvers(ids: EventIds) -> Select[int, int]:
    """A transfer endorsed: the approvers at or above the source's responsible unit."""
    return _transfer_holders(ids, Role.APPROVER, "budget_transfer.endorse")


def transfer_preparer(ids: EventIds) -> Select[int, int]:
    """A transfer approved, returned or rejected: whoever prepared it."""
    kinds = ["budget_transfer.approve", "budget_transfer.return", "budget_transfer.reject"]
    return _named_person(ids, kinds, BudgetTransfer, BudgetTransfer.created_by_id)


def kpi_result_readers(ids: EventIds) -> Select[int, int]:
    """A KPI's quarter result reported: the evaluator assigned to score that quarter, or, while
    none is, the active evaluators; when a school reported it,
    also the officers of the owning unit, nearest (they answer for the KPI)."""
    quarter = OutboxEvent.payload["quarter"].as_integer()
    by_school = func.coalesce(OutboxEvent.payload["by_school"].as_boolean(), false())
    kind = OutboxEvent.kind == "kpi.result"
    assigned_to = and_(
        Evaluation.kpi_id == Kpi.id,
        Evaluation.fiscal_year_id == Kpi.fiscal_year_id,
        Evaluation.quarter == quarter,
        Evaluation.evaluator_id.is_not(None),
    )
    assigned = (
        select(OutboxEvent.id.label("event_id"), Evaluation.evaluator_id.label("user_id"))
        .join(Kpi, Kpi.id == OutboxEvent.object_id)
        .join(Evaluation, assigned_to)
        .join(User, and_(User.id == Evaluation.evaluator_id, User.active.is_(True)))
        .where(OutboxEvent.id.in_(list(ids)), kind)
    )
    # Evaluators see every unit (their role is tree-wide, held at the evaluation office, off
    # the district's chain): while nobody scores the quarter, each of them may.
    unassigned = (
        select(OutboxEvent.id.label("event_id"), RoleAssignment.user_id.label("user_id"))
        .join(Kpi, Kpi.id == OutboxEvent.object_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.role == Role.EVALUATOR,
                RoleAssignment.withdrawn_at.is_(None),
            ),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
        .where(
            OutboxEvent.id.in_(list(ids)),
            kind,
            ~select(Evaluation.id).where(assigned_to).exists(),
        )
    )
    officers = nearest_role_holders([Role.OFFICER], name="kpi_officer")
    owners = (
        select(OutboxEvent.id.label("event_id"), officers.c.user_id)
        .join(Kpi, Kpi.id == OutboxEvent.object_id)
        .join(officers, officers.c.unit_id == Kpi.owner_unit_id)
        .where(OutboxEvent.id.in_(list(ids)), kind, by_school)
    )
    return select(union(assigned, unassigned, owners).subquery("kpi_result_reader"))


@dataclass(frozen=True)
class RecipientRule:
    kinds: frozenset[str]
    resolve: Callable[[EventIds], Select[int, int]]


RULES: tuple[RecipientRule, ...] = (
    RecipientRule(frozenset({"step_result.return", "step_result.accept"}), result_reporters),
    RecipientRule(frozenset({"step_result.submit"}), result_reviewers),
    RecipientRule(
        frozenset({"allocation.submit", "allocation.endorse", "installment.request"}),
        allocation_deciders,
    ),
    RecipientRule(
        frozenset({"allocation.approve", "allocation.return", "allocation.reject"}),
        allocation_preparer,
    ),
    RecipientRule(
        frozenset(
            {
                "installment.approve",
                "installment.payment",
                "installment.pay",
                "installment.reject",
            }
        ),
        installment_requester,
    ),
    RecipientRule(frozenset({"project.submit", "project.request_revision"}), plan_approvers),
    RecipientRule(frozenset(PLAN_OFFICER_KINDS), plan_officers),
    RecipientRule(frozenset({"evaluation.publish", "evaluation.reopen"}), evaluation_owners),
    RecipientRule(frozenset({"evaluation.self_assess"}), evaluation_evaluator),
    RecipientRule(frozenset({"delegation.create", "delegation.withdraw"}), delegation_parties),
    RecipientRule(frozenset({"line_account.link", "line_group.link"}), line_linker),
    RecipientRule(frozenset({"comment.mention"}), comment_mentioned),
    RecipientRule(frozenset({"budget_transfer.create"}), transfer_endorsers),
    RecipientRule(frozenset({"budget_transfer.endorse"}), transfer_approvers),
    RecipientRule(
        frozenset({"budget_transfer.approve", "budget_transfer.return", "budget_transfer.reject"}),
        transfer_preparer,
    ),
    RecipientRule(frozenset({"kpi.result"}), kpi_result_readers),
    RecipientRule(UNDECIDABLE_KINDS, undecidable_askers),
)

#: Every event kind someone is told of.
NOTIFIED_KINDS: frozenset[str] = frozenset().union(*(rule.kinds for rule in RULES))

#: Events nobody is told of, each with the reason why not.
SILENT: dict[str, str] = {
    "allocation.create": "a draft: nobody acts on it until its preparer submits it",
    "allocation.revise": "the preparer takes back their own returned request to edit it",
    "allocation.withdraw": "the preparer's own act; the request simply leaves the queue",
    "allocation.start_disbursing": "the preparer's bookkeeping after the approval was told",
    "allocation.complete": "the preparer's bookkeeping: the last installment was told",
    "project.close": "taken by the system for every project at the year's end",
    "project.withdraw": "the planning officer's own act on a plan nobody else has taken up",
    "step_result.start": "a school starting work asks nothing of anyone",
    "evaluation.score": "the evaluator's own draft: the owners are told when it is published",
    "budget_transfer.revise": "the preparer takes back their own returned transfer to mend it",
    "budget_transfer.withdraw": "the preparer's own act; the transfer leaves the queue",
}


#: Events that ask their recipients to decide (approve or endorse) the object: four eyes
#: decides who may not be asked (`barred`).
DECIDING = frozenset(
    {
        "allocation.submit",
        "allocation.endorse",
        "installment.request",
        "budget_transfer.create",
        "budget_transfer.endorse",
    }
)


def barred(user_id: Any) -> Any:
    """True (SQL, correlated with OutboxEvent) when the user `user_id` may not decide the
    event's object under four eyes: they prepared, submitted or requested it (in person or
    through a deputy acting for them), the event's actor acted for them, or they endorsed it
    in the standing round (in person or through a deputy). The rule of
    service.budget.workflow's `_not_the_preparer` and endorsement guards, told in SQL."""
    prepared = prepared_by(OutboxEvent.object_type, OutboxEvent.object_id, user_id)
    endorsed = exists().where(
        Approval.subject_type == OutboxEvent.object_type,
        Approval.subject_id == OutboxEvent.object_id,
        Approval.cancelled_at.is_(None),
        or_(Approval.approver_id == user_id, Approval.acting_for_id == user_id),
    )
    acted_for = func.coalesce(OutboxEvent.payload["acting_for_id"].as_integer(), 0) == user_id
    return or_(prepared, endorsed, acted_for)


def event_candidates(ids: EventIds, kinds: Collection[str]) -> Select | None:
    """Candidate notifications for the events `ids` (whose kinds are `kinds`): one row per
    (event, recipient) with the columns `insert_notifications` expects, or None when no rule
    applies to any of these kinds. The event's actor is never among the recipients."""
    present = set(kinds)
    parts = [rule.resolve(ids) for rule in RULES if rule.kinds & present]
    if not parts:
        return None
    pairs = union(*parts).subquery("event_recipient")
    candidates = (
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
    if present & DECIDING:
        candidates = candidates.where(
            OutboxEvent.kind.not_in(sorted(DECIDING)) | ~barred(pairs.c.user_id)
        )
    return candidates


__all__ = [
    "DECIDING",
    "NOTIFIED_KINDS",
    "RULES",
    "SILENT",
    "RecipientRule",
    "event_candidates",
]

"""Allocation and installment (เงินประจำงวด) workflows, as tables.

Allocations need one approval up to the district's limit; above it they need the number of
approvals the district configures (default 2): officers endorse, and the approver's approval
is the last. Endorsements are the officers' only, each with their own authority: an approver,
or a deputy acting for one, is never offered to endorse, since four eyes would then bar that
approver from the approval and leave nobody to give it (`may_endorse`; transfers alike).
"Requires changes" (return) cancels the approvals of the round and opens the next.

Four eyes: whoever prepared or submitted an allocation, or requested an installment, never
approves it, at any amount, neither acting for someone who may nor through a deputy acting
for them (`_not_the_preparer`). Money above what is left is refused when it is asked for
(created, submitted, requested: `over_budget`, `over_allocation`), not only at approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, object_session

from service.audit.models import AuditEntry
from service.audit.operations import ACTING_KEY
from service.budget.models import (
    DOCUMENT_REF_LENGTH,
    Allocation,
    AllocationState,
    Approval,
    BudgetTransfer,
    Installment,
    InstallmentState,
    Payment,
    TransferState,
)
from service.budget.permissions import (
    above_limit,
    approval_rule,
    can_see_allocation,
    can_see_installment,
    can_see_transfer,
    endorsements_required,
    may_decide,
    may_decide_installment,
    may_decide_transfer,
    may_endorse,
    may_endorse_transfer,
    may_prepare,
    may_prepare_transfer,
    may_review_transfer,
    transfer_above_limit,
)
from service.core import translate
from service.core.db import utcnow
from service.core.fields import storable
from service.core.fiscal import local_date
from service.core.labels import field_label, label
from service.core.permissions import Answer, holds_any
from service.core.sql import dialect_of, in_ids
from service.core.thai import format_baht, format_date
from service.core.translate import gettext as _
from service.org.models import Role, RoleAssignment, User
from service.org.scope import remember_roles, with_active_roles
from service.projects.models import Project, ProjectState
from service.threads.operations import open_with_reason
from service.workflow.engine import (
    REASON,
    Context,
    Field,
    Guard,
    Refused,
    Transition,
    Workflow,
    date_field,
    display_facts,
    register,
    remember_for_display,
)

A = AllocationState
SPENDING = (A.APPROVED, A.DISBURSING, A.COMPLETED)


def _approvals(ctx: Context, subject_type: str) -> list[Approval]:
    obj = ctx.obj
    known = display_facts(ctx.session, "approvals")
    if known is not None and (subject_type, obj.id) in known:
        return [a for a in known[(subject_type, obj.id)] if a.round == obj.approval_round]
    return list(
        ctx.session.scalars(
            select(Approval)
            .where(
                Approval.subject_type == subject_type,
                Approval.subject_id == obj.id,
                Approval.round == obj.approval_round,
                Approval.cancelled_at.is_(None),
            )
            .order_by(Approval.level)
        )
    )


def _add_approval(ctx: Context, subject_type: str) -> dict[str, Any]:
    given = _approvals(ctx, subject_type)
    level = len(given) + 1
    ctx.session.add(
        Approval(
            subject_type=subject_type,
            subject_id=ctx.obj.id,
            level=level,
            round=ctx.obj.approval_round,
            approver_id=ctx.actor.id,
            acting_for_id=ctx.principal.id if ctx.principal.id != ctx.actor.id else None,
            amount=ctx.obj.amount,
            approved_at=utcnow(),
        )
    )
    return {"approval_level": level, "amount": ctx.obj.amount}


def _cancel_approvals(ctx: Context, subject_type: str) -> dict[str, Any]:
    obj = ctx.obj
    cancelled = ctx.session.execute(  # type: ignore[attr-defined]
        update(Approval)
        .where(
            Approval.subject_type == subject_type,
            Approval.subject_id == obj.id,
            Approval.round == obj.approval_round,
            Approval.cancelled_at.is_(None),
        )
        .values(cancelled_at=utcnow())
    ).rowcount
    obj.approval_round += 1
    return {"approvals_cancelled": cancelled}


def _require_changes(ctx: Context) -> dict[str, Any]:
    """Cancel the round's approvals and open the allocation's thread with the reason, so
    the preparer answers there."""
    open_with_reason(
        ctx.session, ctx.actor, "allocation", ctx.obj, "allocation.return", ctx.data["reason"]
    )
    return _cancel_approvals(ctx, "allocation")


def _who_prepares(ctx: Context) -> Answer:
    return may_prepare(ctx.session, ctx.principal, ctx.obj)


def _who_decides(ctx: Context) -> Answer:
    return may_decide(ctx.session, ctx.principal, ctx.obj)


def _who_reviews(ctx: Context) -> Answer:
    """Return for changes: whoever decides, and above the limit the officers too (they
    endorse, and may send back what they will not endorse)."""
    answer = may_decide(ctx.session, ctx.principal, ctx.obj)
    if answer or not above_limit(ctx.obj):
        return answer
    owner = ctx.obj.project.responsible_unit
    if holds_any(ctx.session, ctx.principal, (Role.OFFICER,), owner):
        return Answer(True)
    return answer


def _who_endorses(ctx: Context) -> Answer:
    """Endorse: above the limit, the officers, each with their own authority, never with an
    approver's (see `may_endorse`). Within the limit nobody endorses (the guard says so to
    those who decide)."""
    if not above_limit(ctx.obj):
        return may_decide(ctx.session, ctx.principal, ctx.obj)

    def missing() -> int:
        _limit, required = approval_rule(ctx.obj)
        return max(required - 1 - len(_approvals(ctx, "allocation")), 0)

    def left() -> list[User] | None:
        # Four eyes may bar the one asking from approving too (they prepared or endorsed it):
        # then they are not sent to approve it, but told who still may.
        barred = barred_from(ctx.session, "allocation", ctx.obj)
        if not set(barred) & {ctx.actor.id, ctx.principal.id}:
            return None
        return approvers_left(ctx.session, "allocation", ctx.obj, barred)

    return may_endorse(
        ctx.session,
        ctx.actor,
        ctx.principal,
        ctx.obj.project.responsible_unit,
        missing=missing,
        barred=left,
    )


#: The audit actions whose actor (and whoever they acted for) prepared the object: they never
#: approve it themselves.
PREPARING = {
    "allocation": ("allocation.create", "allocation.submit"),
    "installment": ("installment.request",),
    "budget_transfer": ("budget_transfer.create", "budget_transfer.revise"),
}


def prepared_by(object_type: Any, object_id: Any, person: Any) -> ColumnElement[bool]:
    """SQL: `person` prepared, submitted or requested the object (`object_type` and
    `object_id`, values or columns to correlate with), in person or through a deputy acting
    for them: whom four eyes bars from approving it, as `preparing` reads it for one page."""
    actions = (
        PREPARING[object_type]
        if isinstance(object_type, str)
        else [action for kind in PREPARING.values() for action in kind]
    )
    return exists().where(
        AuditEntry.object_type == object_type,
        AuditEntry.object_id == object_id,
        AuditEntry.action.in_(actions),
        or_(AuditEntry.actor_id == person, AuditEntry.acting_for_id == person),
    )


def preparing(
    session: Session, subject_type: str, objects: Sequence[Any]
) -> dict[int, dict[int, int | None]]:
    """Who prepared or submitted each of the `subject_type` objects (by id), in one query:
    every person who created or submitted it in the audit history, in any round, with
    whoever they acted for under a delegation, and the creator or requester on the row.
    Each person maps to None when they acted themselves, or to the deputy who acted for them
    when only a deputy did (so that a refusal can name the deputy). The row names the
    principal when a deputy acted in the browser: the audit says who really did it."""
    found: dict[int, dict[int, int | None]] = {obj.id: {} for obj in objects}
    if not found:
        return found
    dialect = session.get_bind().dialect.name
    for ident, person, principal in session.execute(
        select(AuditEntry.object_id, AuditEntry.actor_id, AuditEntry.acting_for_id)
        .where(
            AuditEntry.object_type == subject_type,
            in_ids(dialect, AuditEntry.object_id, list(found)),
            AuditEntry.action.in_(PREPARING[subject_type]),
        )
        .order_by(AuditEntry.id)
    ):
        people = found[ident]
        if person is not None:
            people[person] = None
        if principal is not None and principal != person and people.get(principal, 0) is not None:
            people[principal] = person
    for obj in objects:
        person = obj.requested_by_id if subject_type == "installment" else obj.created_by_id
        if person is not None:
            found[obj.id].setdefault(person, None)
    return found


def asked_by(
    session: Session, subject_type: str, objects: Sequence[Any]
) -> dict[int, tuple[User, User | None]]:
    """Who asked for each of the `subject_type` objects (by id), as a page names them: the
    person on the row (an allocation's creator, an installment's requester) and the deputy
    who acted for them, or None when they acted themselves. Reads what `preparing` reads
    (remembered for display when the page remembered it)."""
    known = display_facts(session, "preparers")
    missing = [o for o in objects if known is None or (subject_type, o.id) not in known]
    read = preparing(session, subject_type, missing)
    # the people named, read together
    named = {
        o.requested_by_id if subject_type == "installment" else o.created_by_id for o in objects
    }
    named.update(
        deputy for people in (*read.values(), *(known or {}).values()) for deputy in people.values()
    )
    named.discard(None)
    users = (
        {
            u.id: u
            for u in session.scalars(
                select(User).where(in_ids(dialect_of(session), User.id, sorted(named)))
            )
        }
        if named
        else {}
    )
    found: dict[int, tuple[User, User | None]] = {}
    for obj in objects:
        people = read[obj.id] if obj.id in read else known[(subject_type, obj.id)]  # type: ignore[index]
        ident = obj.requested_by_id if subject_type == "installment" else obj.created_by_id
        person = users.get(ident)
        if person is None:
            continue
        deputy = people.get(person.id)
        found[obj.id] = (person, users.get(deputy) if deputy is not None else None)
    return found


def _user_name(session: Session, ident: int) -> str:
    person = session.get(User, ident)
    return person.name if person is not None else str(ident)


def delegated_bar(ctx: Context, barred: dict[int, int | None], act: str) -> str | None:
    """The four-eyes refusal in words the barred person understands, when what bars them is
    a deputy's act in their name (`barred` maps each barred person to the deputy who acted
    for them, None when they acted themselves; `act` is "requested" for an installment,
    "prepared" for what is prepared and submitted, or "endorsed"), or None when the person
    acted themselves (the plain refusal then applies)."""
    hits = {ctx.actor.id, ctx.principal.id} & set(barred)
    if not hits or any(barred[p] is None for p in hits):
        return None
    person = ctx.actor.id if ctx.actor.id in hits else ctx.principal.id
    deputy = barred[person]
    assert deputy is not None
    if person == ctx.actor.id:
        if act == "endorsed":
            return _(
                "%(deputy)s endorsed this acting for you, so you cannot approve it: another"
                " person who may approve must decide",
                deputy=_user_name(ctx.session, deputy),
            )
        if act == "requested":
            return _(
                "%(deputy)s made this request acting for you, so you cannot approve it: another"
                " person who may approve must decide",
                deputy=_user_name(ctx.session, deputy),
            )
        return _(
            "%(deputy)s prepared or submitted this acting for you, so you cannot approve it:"
            " another person who may approve must decide",
            deputy=_user_name(ctx.session, deputy),
        )
    if act == "endorsed":
        return _(
            "%(deputy)s endorsed this acting for %(principal)s, so neither %(principal)s nor"
            " anyone acting for them approves it: another person who may approve must decide",
            deputy=_user_name(ctx.session, deputy),
            principal=ctx.principal.name,
        )
    if act == "requested":
        return _(
            "%(deputy)s made this request acting for %(principal)s, so neither %(principal)s"
            " nor anyone acting for them approves it: another person who may approve must"
            " decide",
            deputy=_user_name(ctx.session, deputy),
            principal=ctx.principal.name,
        )
    return _(
        "%(deputy)s prepared or submitted this acting for %(principal)s, so neither"
        " %(principal)s nor anyone acting for them approves it: another person who may"
        " approve must decide",
        deputy=_user_name(ctx.session, deputy),
        principal=ctx.principal.name,
    )


def _preparers(ctx: Context, subject_type: str) -> dict[int, int | None]:
    """`preparing` for the object of `ctx`, as the page remembered it when it did."""
    known = display_facts(ctx.session, "preparers")
    key = (subject_type, ctx.obj.id)
    if known is not None and key in known:
        people: dict[int, int | None] = known[key]
        return people
    return preparing(ctx.session, subject_type, [ctx.obj])[ctx.obj.id]


def _preparer_withdraws(ctx: Context) -> str | None:
    """The reject and return guard of an allocation: whoever prepared or submitted it (or a
    deputy acting for them, or they acting for someone who decides) does not decide it,
    against it either; they withdraw it (`withdraw`, with its reason), and the decision is
    another person's (four eyes)."""
    if not set(_preparers(ctx, "allocation")) & {ctx.actor.id, ctx.principal.id}:
        return None
    return _(
        "whoever prepared or submitted this allocation does not reject it or return it: they"
        " withdraw it instead, and another person who may decide does"
    )


def _not_the_preparer(subject_type: str) -> Guard:
    """A guard: whoever prepared or submitted the object does not approve it, neither acting
    for someone who may, nor through someone acting for them. When the bar comes from a
    deputy acting for the person, the refusal names the deputy (`delegated_bar`)."""

    def guard(ctx: Context) -> str | None:
        people = _preparers(ctx, subject_type)
        if not set(people) & {ctx.actor.id, ctx.principal.id}:
            return None
        # An installment is asked for, by its requester; the rest are prepared and submitted.
        if subject_type == "installment":
            return delegated_bar(ctx, people, "requested") or _(
                "whoever requested this installment cannot approve it: another person who may"
                " approve must do it"
            )
        return delegated_bar(ctx, people, "prepared") or _(
            "whoever prepared or submitted this cannot approve it: another person"
            " who may approve must do it"
        )

    return guard


def endorsers(approvals: Sequence[Approval]) -> dict[int, int | None]:
    """Who endorsed (the `approvals` of a round): each person to None when they endorsed
    themselves, or to the deputy who endorsed acting for them."""
    people: dict[int, int | None] = {}
    for approval in approvals:
        people[approval.approver_id] = None
    for approval in approvals:
        principal = approval.acting_for_id
        if principal is not None and people.get(principal, 0) is not None:
            people[principal] = approval.approver_id
    return people


def _endorsement_needed(ctx: Context) -> str | None:
    if not above_limit(ctx.obj):
        return _("within the officer's limit one approval is enough: approve it")
    _limit, required = approval_rule(ctx.obj)
    given = _approvals(ctx, "allocation")
    if len(given) >= required - 1:
        return _("every endorsement is in: the approver approves now")
    people = {ctx.principal.id, ctx.actor.id}
    if any(a.approver_id in people or a.acting_for_id in people for a in given):
        return _("you have endorsed this round already")
    return None


#: Installment states not settled yet: asked for and not decided, or approved and not paid.
UNSETTLED = (InstallmentState.REQUESTED, InstallmentState.APPROVED)


def _all_paid(ctx: Context) -> str | None:
    """An allocation is complete when nothing of it waits: no installment asked for and not
    decided, none approved and not paid in full. (It could be marked complete with 13,999.50
    baht approved and unpaid, and payments went on being recorded after.)"""
    allocation: Allocation = ctx.obj
    known = display_facts(ctx.session, "unsettled")
    if known is not None and allocation.id in known:
        waiting = known[allocation.id]
    else:
        waiting = ctx.session.scalar(
            select(func.count())
            .select_from(Installment)
            .where(Installment.allocation_id == allocation.id, Installment.state.in_(UNSETTLED))
        )
    if waiting:
        return _(
            "%(count)s installment(s) of this allocation are still to be decided or paid: "
            "settle them first",
            count=waiting,
        )
    return None


def _enough_endorsements(ctx: Context) -> str | None:
    if not above_limit(ctx.obj):
        return None
    _limit, required = approval_rule(ctx.obj)
    given = _approvals(ctx, "allocation")
    if len(given) < required - 1:
        return _(
            "needs %(count)s more endorsement(s) before approval", count=required - 1 - len(given)
        )
    barred = endorsers(given)
    if set(barred) & {ctx.principal.id, ctx.actor.id}:
        # Acting for someone else does not make a second pair of eyes.
        delegated = delegated_bar(ctx, barred, "endorsed")
        if delegated:
            return delegated
        left = approvers_left(
            ctx.session, "allocation", ctx.obj, barred_from(ctx.session, "allocation", ctx.obj)
        )
        if left:
            return _(
                "the same person cannot endorse and approve: %(names)s may still approve"
                " it, or return it for a new round of endorsements",
                names=_names(left),
            )
        return _(
            "the same person cannot endorse and approve: another person who may approve"
            " decides, or return it for a new round of endorsements"
        )
    return None


def budget_left(session: Session, project: Project, excluding: int | None = None) -> Decimal:
    """What is left of `project`'s approved budget: the budget less every allocation
    approved, disbursing or completed (but the allocation `excluding`)."""
    spending = [Allocation.project_id == project.id, Allocation.state.in_(SPENDING)]
    if excluding is not None:
        spending.append(Allocation.id != excluding)
    with session.no_autoflush:  # a draft being asked for is not written by asking
        spent = session.scalar(
            select(func.coalesce(func.sum(Allocation.amount), 0)).where(*spending)
        )
    return project.approved_budget - Decimal(str(spent)).quantize(Decimal("0.01"))


def over_budget(
    session: Session, project: Project, amount: Decimal, excluding: int | None = None
) -> str | None:
    """Why an allocation of `amount` from `project` may not be asked for or approved (more
    than the project has left), or None."""
    left = budget_left(session, project, excluding)
    return None if amount <= left else budget_refusal(amount, left, project.approved_budget)


def budget_refusal(amount: Decimal, left: Decimal, budget: Decimal) -> str:
    return _(
        "%(amount)s baht is more than the %(left)s baht left of the project's approved"
        " budget of %(budget)s",
        amount=format_baht(amount),
        left=format_baht(left),
        budget=format_baht(budget),
    )


def left_for_the_field(left: Decimal) -> str:
    """What an amount field says when more than is left was asked for."""
    return _("%(left)s baht is left", left=format_baht(left))


def _within_budget(ctx: Context) -> str | None:
    allocation: Allocation = ctx.obj
    project = ctx.session.get(Project, allocation.project_id)
    assert project is not None
    return over_budget(ctx.session, project, allocation.amount, allocation.id)


# ---- nobody left to approve ---------------------------------------------------------------
#
# Four eyes bars whoever prepared an item; the limit narrows who has the authority. In a
# district with one approver (the usual case) the two can leave nobody: an installment above
# the limit her deputy asked for in her name, an allocation above it she prepared herself.
# One rule says who could still approve an item (`approvers_left`); asking for an item is
# refused when it would leave nobody (`refuse_dead_request`, the `submit` guard), and the
# items left so from before are shown as such on /approvals and told to their preparers
# (`undecidable`). Nothing here approves anything.


def _allocation_of(subject_type: str, obj: Any) -> Allocation:
    allocation: Allocation = obj if subject_type == "allocation" else obj.allocation
    return allocation


def may_approve_as_such(session: Session, person: User, subject_type: str, obj: Any) -> Answer:
    """Whether `person`'s roles give the authority to approve `obj` (an allocation or an
    installment), four eyes aside: `may_decide`, `may_decide_installment`."""
    if subject_type == "installment":
        return may_decide_installment(session, person, obj)
    return may_decide(session, person, obj)


def with_authority(session: Session, subject_type: str, obj: Any) -> list[User]:
    """The active people whose active roles give them the authority to approve `obj`, four
    eyes aside: the officers and approvers over the project's responsible unit, narrowed by
    the limit. A deputy acts with one of these people's authority, never with more."""
    allocation = _allocation_of(subject_type, obj)
    unit = allocation.project.responsible_unit
    # Who holds the authority depends only on the unit and on which side of the limit the
    # item stands: a page listing many items (which remembered its facts) asks once a kind.
    known = display_facts(session, "authority")
    key = (
        subject_type,
        unit.id,
        above_limit(allocation),
        above_limit(allocation, obj.amount) if subject_type == "installment" else None,
    )
    if known is not None and key in known:
        return list(known[key])
    holding = (
        select(RoleAssignment.user_id)
        .where(
            RoleAssignment.withdrawn_at.is_(None),
            RoleAssignment.role.in_([Role.OFFICER, Role.APPROVER]),
            RoleAssignment.unit_id.in_(unit.ancestor_ids or [unit.id]),
        )
        .scalar_subquery()
    )
    with session.no_autoflush:  # an item being asked for is not written by asking
        # the people with their active roles in one statement: their permissions read them
        rows = session.execute(
            with_active_roles(
                select(User).where(User.active.is_(True), User.id.in_(holding)).order_by(User.id)
            )
        ).all()
        people: list[User] = []
        for person, group in groupby(rows, key=lambda row: row[0]):
            remember_roles(session, person, (row[-1] for row in group))
            people.append(person)
        found = [p for p in people if may_approve_as_such(session, p, subject_type, obj)]
    if known is not None:
        known[key] = found
    return found


def barred_from(session: Session, subject_type: str, obj: Any) -> dict[int, int | None]:
    """Whom four eyes bars from approving `obj` as it stands, each to the deputy who acted
    for them (None: they acted themselves): whoever prepared, submitted or requested it
    (`preparing`) and, for an allocation, whoever endorsed it in the standing round."""
    known = display_facts(session, "preparers")
    key = (subject_type, obj.id)
    people = dict(
        known[key]
        if known is not None and key in known
        else preparing(session, subject_type, [obj])[obj.id]
    )
    if subject_type == "allocation":
        given = display_facts(session, "approvals")
        if given is not None and key in given:
            standing = [a for a in given[key] if a.round == obj.approval_round]
        else:
            standing = list(
                session.scalars(
                    select(Approval).where(
                        Approval.subject_type == "allocation",
                        Approval.subject_id == obj.id,
                        Approval.round == obj.approval_round,
                        Approval.cancelled_at.is_(None),
                    )
                )
            )
        for person, deputy in endorsers(standing).items():
            people.setdefault(person, deputy)
    return people


def approvers_left(
    session: Session,
    subject_type: str,
    obj: Any,
    barred: dict[int, int | None],
    holders: Sequence[User] | None = None,
) -> list[User]:
    """The people who could still approve `obj`: those `with_authority` (`holders`, when
    read already) whom four eyes (`barred`, as `barred_from` gives it) does not bar. A
    deputy acting for one of them may approve in their name, unless the deputy is barred
    too. The one rule of the request's refusal, the submit guard, /approvals and the notice."""
    if holders is None:
        holders = with_authority(session, subject_type, obj)
    return [p for p in holders if p.id not in barred]


def _names(people: Sequence[User]) -> str:
    return ", ".join(p.name for p in people)


def dead_request(
    session: Session, subject_type: str, obj: Any, actor: User, deputy: User | None
) -> str | None:
    """Why `actor` may not ask for `obj` (prepare or submit an allocation, request an
    installment), `deputy` acting for them, or None: once they had, four eyes would bar every
    person with the authority to approve it and it could only be rejected. The reason says
    what to do instead."""
    barred = barred_from(session, subject_type, obj) if obj.id is not None else {}
    barred.setdefault(actor.id, deputy.id if deputy is not None else None)
    if deputy is not None:
        barred.setdefault(deputy.id, None)
    holders = with_authority(session, subject_type, obj)
    if not holders or approvers_left(session, subject_type, obj, barred, holders):
        # Nobody at all holds the authority: not four eyes, and not for this request to mend.
        return None
    names = _names(holders)
    if deputy is not None and actor.id in {p.id for p in holders}:
        if subject_type == "installment":
            return _(
                "nobody could approve this installment: only %(names)s may approve it, but"
                " four eyes bars %(principal)s from approving what is asked for in their name."
                " Request it in your own name, not acting for %(principal)s",
                names=names,
                principal=actor.name,
            )
        return _(
            "nobody could approve this allocation: only %(names)s may approve it, but four"
            " eyes bars %(principal)s from approving what is prepared in their name. Prepare it"
            " in your own name, not acting for %(principal)s",
            names=names,
            principal=actor.name,
        )
    if subject_type == "installment":
        return _(
            "nobody could approve this installment: only %(names)s may approve it, but whoever"
            " asks for an installment does not approve it. Ask another officer of the district,"
            " or the school, to request it",
            names=names,
        )
    return _(
        "nobody could approve this allocation: only %(names)s may approve it, but whoever"
        " prepares or submits an allocation does not approve it. Ask another officer to"
        " prepare and submit it",
        names=names,
    )


def acting_deputy(session: Session, actor: User) -> User | None:
    """The signed-in deputy when this request acts for `actor` under a delegation
    (service.org.acting), else None."""
    acting = session.info.get(ACTING_KEY)
    if acting is None or acting[1] != actor.id or acting[0] == actor.id:
        return None
    return session.get(User, acting[0])


def refuse_dead_request(session: Session, subject_type: str, obj: Any, actor: User) -> None:
    """Refused(409) with `dead_request`'s reason when `actor` (or the deputy acting for them
    in this request) may not ask for `obj`: nothing is written, what was typed is kept."""
    reason = dead_request(session, subject_type, obj, actor, acting_deputy(session, actor))
    if reason is not None:
        raise Refused(409, reason)


def _someone_left_to_approve(ctx: Context) -> str | None:
    """The `submit` guard: submitting must leave somebody who may approve."""
    deputy = ctx.actor if ctx.actor.id != ctx.principal.id else None
    return dead_request(ctx.session, "allocation", ctx.obj, ctx.principal, deputy)


@dataclass(frozen=True)
class Undecidable:
    """A waiting item nobody may approve as it stands: `holders` have the authority and four
    eyes bars each (`barred`, as `barred_from` gives it). It is not approved by anyone for
    that: a holder rejects it (or returns an allocation), its preparer withdraws an
    allocation, and it is asked for again so that someone may approve it."""

    holders: list[User]
    barred: dict[int, int | None]

    def who_unblocks(self, subject_type: str) -> str:
        """What /approvals says: who may act on it, and how."""
        names = _names(self.holders)
        if subject_type == "installment":
            return _(
                "Nobody may approve this installment as it stands: four eyes bars %(names)s,"
                " who alone may approve it, since it was asked for by them or in their name."
                " %(names)s (or a deputy acting for them) may reject it with the reason, and it"
                " is requested again by someone else or in the requester's own name.",
                names=names,
            )
        return _(
            "Nobody may approve this allocation as it stands: four eyes bars %(names)s, who"
            " alone may approve it, since they prepared or endorsed it. Whoever prepared it"
            " withdraws it, whoever only endorsed it may return it for changes or reject it,"
            " and it is prepared again by another officer.",
            names=names,
        )


def undecidable(session: Session, subject_type: str, obj: Any) -> Undecidable | None:
    """The waiting `obj` (a submitted allocation, a requested installment) as an
    `Undecidable` when somebody holds the authority to approve it and four eyes bars every
    one of them; None when somebody may approve it, or nobody holds the authority at all."""
    holders = with_authority(session, subject_type, obj)
    barred = barred_from(session, subject_type, obj)
    if not holders or approvers_left(session, subject_type, obj, barred, holders):
        return None
    return Undecidable(holders, barred)


#: Project states in which none of the project's money is asked for or granted any more: a
#: closed project's year is over, a withdrawn one is not carried out. What was approved while
#: it was open is still paid (the `pay` transition and `record_payment` do not ask): the school
#: was promised that money and has spent it, and its allocation completes only once it is
#: paid. What still waits (a submitted allocation, a requested installment, a transfer) is
#: returned, rejected or withdrawn; those transitions do not ask either.
NO_NEW_MONEY = (ProjectState.CLOSED, ProjectState.WITHDRAWN)


def project_shut(project: Project) -> str | None:
    """Why no money of `project` may be allocated, requested, endorsed, approved or
    transferred any more (it is closed or withdrawn: `NO_NEW_MONEY`), or None."""
    if project.state not in NO_NEW_MONEY:
        return None
    return _(
        "project %(code)s is %(state)s: no more of its money is allocated, requested,"
        " transferred or approved",
        code=project.code,
        state=label(project.state),
    )


def _allocation_project_open(ctx: Context) -> str | None:
    return project_shut(ctx.obj.project)


def _lock_project(ctx: Context) -> list[tuple[type, int]]:
    return [(Project, ctx.obj.project_id)]


def _stamp_submitted(ctx: Context) -> dict[str, Any]:
    ctx.obj.submitted_at = utcnow()
    return {"amount": ctx.obj.amount}


ALLOCATION = register(
    Workflow(
        name="allocation",
        model=Allocation,
        states=tuple(s.value for s in AllocationState),
        initial=A.DRAFT.value,
        visible=can_see_allocation,
        unit_of=lambda a: a.project.responsible_unit_id,
        project_of=lambda a: a.project_id,
        payload=lambda a: {
            "amount": a.amount,
            "above_limit": above_limit(a),
            "recipient_unit_id": a.recipient_unit_id,
        },
        transitions=(
            Transition(
                "submit",
                (A.DRAFT,),
                A.SUBMITTED,
                _who_prepares,
                ("ส่งขออนุมัติ", "Submit for approval"),
                guards=(_allocation_project_open, _within_budget, _someone_left_to_approve),
                effect=_stamp_submitted,
            ),
            Transition(
                "endorse",
                (A.SUBMITTED,),
                A.SUBMITTED,
                _who_endorses,
                ("เห็นชอบ (ระดับต้น)", "Endorse"),
                guards=(_allocation_project_open, _endorsement_needed),
                effect=lambda ctx: _add_approval(ctx, "allocation"),
            ),
            Transition(
                "approve",
                (A.SUBMITTED,),
                A.APPROVED,
                _who_decides,
                ("อนุมัติ", "Approve"),
                guards=(
                    _allocation_project_open,
                    _not_the_preparer("allocation"),
                    _enough_endorsements,
                    _within_budget,
                ),
                locks=_lock_project,
                effect=lambda ctx: _add_approval(ctx, "allocation"),
            ),
            Transition(
                "return",
                (A.SUBMITTED,),
                A.RETURNED,
                _who_reviews,
                ("ส่งกลับแก้ไข", "Requires changes"),
                guards=(_preparer_withdraws,),
                requires=(REASON,),
                effect=_require_changes,
            ),
            Transition("revise", (A.RETURNED,), A.DRAFT, _who_prepares, ("แก้ไขใหม่", "Revise")),
            Transition(
                "reject",
                (A.SUBMITTED,),
                A.REJECTED,
                _who_decides,
                ("ไม่อนุมัติ", "Reject"),
                guards=(_preparer_withdraws,),
                requires=(REASON,),
                effect=lambda ctx: _cancel_approvals(ctx, "allocation"),
            ),
            Transition(
                "withdraw",
                (A.DRAFT, A.SUBMITTED, A.RETURNED),
                A.WITHDRAWN,
                _who_prepares,
                ("ถอน", "Withdraw"),
                requires=(REASON,),
            ),
            Transition(
                "start_disbursing",
                (A.APPROVED,),
                A.DISBURSING,
                _who_prepares,
                ("เริ่มเบิกจ่าย", "Start disbursing"),
            ),
            Transition(
                "complete",
                (A.DISBURSING,),
                A.COMPLETED,
                _who_prepares,
                ("เบิกจ่ายครบ", "Complete"),
                guards=(_all_paid,),
            ),
        ),
    )
)

I = InstallmentState  # noqa: E741
#: Installment states whose amount is spent from the allocation.
COMMITTED = (I.APPROVED, I.PAID)


def _who_approves_installment(ctx: Context) -> Answer:
    return may_decide_installment(ctx.session, ctx.principal, ctx.obj)


def _who_pays_installment(ctx: Context) -> Answer:
    return may_decide_installment(ctx.session, ctx.principal, ctx.obj, paying=True)


def allocation_left(
    session: Session, allocation: Allocation, excluding: Installment | None = None
) -> Decimal:
    """What is left of `allocation` for installments: its amount less its approved and paid
    installments (but `excluding`)."""
    known = display_facts(session, "committed")
    if known is not None and allocation.id in known:
        # The allocation's approved and paid installments, less this one if it is among them.
        committed = known[allocation.id] - (
            excluding.amount
            if excluding is not None and excluding.state in COMMITTED
            else Decimal("0")
        )
    else:
        spending = [Installment.allocation_id == allocation.id, Installment.state.in_(COMMITTED)]
        if excluding is not None and excluding.id is not None:
            spending.append(Installment.id != excluding.id)
        with session.no_autoflush:  # a request being asked for is not written by asking
            committed = session.scalar(
                select(func.coalesce(func.sum(Installment.amount), 0)).where(*spending)
            )
    return allocation.amount - Decimal(str(committed)).quantize(Decimal("0.01"))


def over_allocation(
    session: Session,
    allocation: Allocation,
    amount: Decimal,
    excluding: Installment | None = None,
) -> str | None:
    """Why an installment of `amount` may not be asked for or approved (more than the
    allocation has left), or None."""
    left = allocation_left(session, allocation, excluding)
    return None if amount <= left else allocation_refusal(amount, left, allocation.amount)


def allocation_refusal(amount: Decimal, left: Decimal, whole: Decimal) -> str:
    return _(
        "%(amount)s baht is more than the %(left)s baht left of the allocation of %(whole)s",
        amount=format_baht(amount),
        left=format_baht(left),
        whole=format_baht(whole),
    )


def _within_allocation(ctx: Context) -> str | None:
    installment: Installment = ctx.obj
    allocation = ctx.session.get(Allocation, installment.allocation_id)
    assert allocation is not None
    shut = project_shut(allocation.project)
    if shut:
        return shut
    if allocation.state not in (A.APPROVED, A.DISBURSING):
        return _("the allocation is %(state)s, not approved", state=label(allocation.state))
    return over_allocation(ctx.session, allocation, installment.amount, installment)


def remember_guard_facts(
    session: Session, allocations: Sequence[Allocation], installments: Sequence[Installment]
) -> None:
    """Read, in a few queries, what the guards of these objects' options would read one
    object at a time: the approvals given to each allocation (every round), each
    allocation's approved and paid installments, and who prepared each object. For pages
    that list many (service.workflow.engine.remember_for_display says when they are
    forgotten)."""
    allocation_ids = sorted({a.id for a in allocations} | {i.allocation_id for i in installments})
    if not allocation_ids:
        return
    committed: dict[int, Decimal] = dict.fromkeys(allocation_ids, Decimal("0"))
    unsettled: dict[int, int] = dict.fromkeys(allocation_ids, 0)
    spent = Installment.state.in_(COMMITTED)
    for allocation_id, amount, waiting in session.execute(
        select(
            Installment.allocation_id,
            func.coalesce(func.sum(case((spent, Installment.amount), else_=0)), 0),
            func.count().filter(Installment.state.in_(UNSETTLED)),
        )
        .where(Installment.allocation_id.in_(allocation_ids))
        .group_by(Installment.allocation_id)
    ):
        committed[allocation_id] = Decimal(str(amount))
        unsettled[allocation_id] = int(waiting)
    approvals: dict[tuple[str, int], list[Approval]] = {
        ("allocation", a.id): [] for a in allocations
    }
    for approval in session.scalars(
        select(Approval)
        .where(
            Approval.subject_type == "allocation",
            Approval.subject_id.in_([a.id for a in allocations] or [0]),
            Approval.cancelled_at.is_(None),
        )
        .order_by(Approval.level)
    ):
        approvals[("allocation", approval.subject_id)].append(approval)
    found = {
        ("allocation", ident): people
        for ident, people in preparing(session, "allocation", allocations).items()
    }
    for ident, people in preparing(session, "installment", installments).items():
        found[("installment", ident)] = people
    remember_for_display(session, "committed", committed)
    remember_for_display(session, "unsettled", unsettled)
    remember_for_display(session, "approvals", approvals)
    remember_for_display(session, "preparers", found)
    remember_for_display(session, "authority", {})  # filled as `with_authority` reads it


def _lock_allocation(ctx: Context) -> list[tuple[type, int]]:
    return [(Allocation, ctx.obj.allocation_id)]


def paid_so_far(session: Session, installment_id: int) -> Decimal:
    """The sum of the installment's payments."""
    with session.no_autoflush:
        total = session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.installment_id == installment_id
            )
        )
    return Decimal(str(total)).quantize(Decimal("0.01"))


def refuse_payment_day(installment: Installment, paid_on: date, today: date) -> None:
    """Refused(422) on `paid_on` for a payment of `installment` dated after `today` or before
    its project's fiscal year starts (its money is not there before). Every door that records
    a payment checks it: `record_payment` and the `pay` transition."""
    if paid_on > today:
        raise Refused(
            422,
            _("a payment cannot be dated after today"),
            fields={"paid_on": _("must not be after today")},
        )
    year = installment.allocation.project.fiscal_year
    if paid_on < year.starts_on:
        day = format_date(year.starts_on, translate.current())
        raise Refused(
            422,
            _(
                "a payment cannot be dated before fiscal year %(year)s starts on %(day)s",
                year=year.be_year,
                day=day,
            ),
            fields={"paid_on": _("must not be before %(day)s", day=day)},
        )
    decided = decided_on(installment)
    if paid_on < decided:
        day = format_date(decided, translate.current())
        raise Refused(
            422,
            _("a payment cannot be dated before its installment was approved, on %(day)s", day=day),
            fields={"paid_on": _("must not be before %(day)s", day=day)},
        )


def decided_on(installment: Installment) -> date:
    """The local day `installment` was approved (its last approval in force), or asked for
    when no approval is on record: no money of it is paid before that day."""
    session = object_session(installment)
    approved = None
    if session is not None:
        approved = session.scalar(
            select(func.max(Approval.approved_at)).where(
                Approval.subject_type == "installment",
                Approval.subject_id == installment.id,
                Approval.cancelled_at.is_(None),
            )
        )
    return local_date(approved or installment.requested_at)


def payment_document(value: Any) -> str:
    """The number of the document a payment is recorded against (the government finance
    system's), stripped of blanks. The one rule of every door that records a payment: the
    budget page's payment form and POST /api/v1/installments/<id>/payments
    (`record_payment`), and the `pay` transition (its page and API doors): it is required,
    text any database can store, and at most DOCUMENT_REF_LENGTH characters (its column).
    Raises Refused(422) naming document_ref."""
    if value is None:
        value = ""
    if not isinstance(value, str) or not storable(value):
        problem = _("must not contain NUL or invalid characters")
        raise Refused(
            422,
            _("%(field)s: %(problem)s", field=field_label("document_ref"), problem=problem),
            fields={"document_ref": problem},
        )
    document = value.strip()
    if not document:
        raise Refused(
            422,
            _("the document number is required"),
            fields={"document_ref": _("is required")},
        )
    if len(document) > DOCUMENT_REF_LENGTH:
        raise Refused(
            422,
            _("the document number is too long"),
            fields={"document_ref": _("at most %(count)s characters", count=DOCUMENT_REF_LENGTH)},
        )
    return document


def _document_ref(value: Any) -> str:
    """`payment_document` as a transition's input: its problem for the field."""
    try:
        return payment_document(value)
    except Refused as refused:
        raise ValueError(refused.fields["document_ref"]) from None


def _pay(ctx: Context) -> dict[str, Any]:
    """The last payment: whatever is left of the installment, on the day given, against the
    document given."""
    installment: Installment = ctx.obj
    refuse_payment_day(installment, ctx.data["paid_on"], ctx.today)
    left = installment.amount - paid_so_far(ctx.session, installment.id)
    installment.paid_on = ctx.data["paid_on"]
    document = ctx.data["document_ref"]
    if left > 0:
        ctx.session.add(
            Payment(
                installment_id=installment.id,
                paid_on=installment.paid_on,
                amount=left,
                document_ref=document,
                recorded_by_id=ctx.actor.id,
            )
        )
    return {"paid_on": installment.paid_on, "amount_paid": left, "document_ref": document}


INSTALLMENT = register(
    Workflow(
        name="installment",
        model=Installment,
        states=tuple(s.value for s in InstallmentState),
        initial=I.REQUESTED.value,
        visible=can_see_installment,
        unit_of=lambda i: i.allocation.project.responsible_unit_id,
        project_of=lambda i: i.allocation.project_id,
        payload=lambda i: {
            "amount": i.amount,
            "allocation_id": i.allocation_id,
            "above_limit": above_limit(i.allocation, i.amount),
        },
        transitions=(
            Transition(
                "approve",
                (I.REQUESTED,),
                I.APPROVED,
                _who_approves_installment,
                ("อนุมัติเงินประจำงวด", "Approve installment"),
                guards=(_not_the_preparer("installment"), _within_allocation),
                locks=_lock_allocation,
                effect=lambda ctx: _add_approval(ctx, "installment"),
            ),
            Transition(
                "pay",
                (I.APPROVED,),
                I.PAID,
                _who_pays_installment,
                ("บันทึกการจ่าย", "Record payment"),
                requires=(
                    date_field("paid_on"),
                    # What the budget page's payment form asks for, by the same rule.
                    Field("document_ref", _document_ref),
                ),
                effect=_pay,
            ),
            Transition(
                "reject",
                (I.REQUESTED,),
                I.REJECTED,
                _who_approves_installment,
                ("ไม่อนุมัติ", "Reject"),
                requires=(REASON,),
            ),
        ),
    )
)


# ---- budget transfers (โอนเปลี่ยนแปลงงบประมาณ) ------------------------------------------------

T = TransferState
#: Transfers still on their way: their amount is held back from the source's free budget.
TRANSFER_PENDING = (T.PREPARED, T.ENDORSED, T.RETURNED)


def free_budget(session: Session, project: Project, excluding: int | None = None) -> Decimal:
    """What `project` may still give away: its approved budget less what it has allocated
    (approved, disbursing, completed) and less the transfers out of it still on their way
    (but the transfer `excluding`)."""
    pending = [
        BudgetTransfer.source_id == project.id,
        BudgetTransfer.state.in_(TRANSFER_PENDING),
    ]
    if excluding is not None:
        pending.append(BudgetTransfer.id != excluding)
    with session.no_autoflush:
        held = session.scalar(
            select(func.coalesce(func.sum(BudgetTransfer.amount), 0)).where(*pending)
        )
    return budget_left(session, project) - Decimal(str(held)).quantize(Decimal("0.01"))


def transfer_refusal(amount: Decimal, free: Decimal, project: Project) -> str:
    return _(
        "%(amount)s baht would leave project %(code)s below what it has allocated: it may"
        " give at most %(free)s baht",
        amount=format_baht(amount),
        code=project.code,
        free=format_baht(free),
    )


def _source_keeps_its_allocations(ctx: Context) -> str | None:
    transfer: BudgetTransfer = ctx.obj
    source = ctx.session.get(Project, transfer.source_id)
    assert source is not None
    free = free_budget(ctx.session, source, excluding=transfer.id)
    return None if transfer.amount <= free else transfer_refusal(transfer.amount, free, source)


def _who_prepares_transfer(ctx: Context) -> Answer:
    return may_prepare_transfer(ctx.session, ctx.principal, ctx.obj)


def _who_endorses_transfer(ctx: Context) -> Answer:
    def missing() -> int:
        return max(endorsements_required(ctx.obj) - len(_approvals(ctx, "budget_transfer")), 0)

    return may_endorse_transfer(ctx.session, ctx.principal, ctx.obj, ctx.actor, missing=missing)


def _who_reviews_transfer(ctx: Context) -> Answer:
    return may_review_transfer(ctx.session, ctx.principal, ctx.obj)


def _who_decides_transfer(ctx: Context) -> Answer:
    return may_decide_transfer(ctx.session, ctx.principal, ctx.obj)


def _endorsers(ctx: Context) -> set[int]:
    people: set[int] = set()
    for approval in _approvals(ctx, "budget_transfer"):
        people.add(approval.approver_id)
        if approval.acting_for_id is not None:
            people.add(approval.acting_for_id)
    return people


def _transfer_endorsement_needed(ctx: Context) -> str | None:
    given = _approvals(ctx, "budget_transfer")
    if len(given) >= endorsements_required(ctx.obj):
        return _("every endorsement is in: the approver approves now")
    if _endorsers(ctx) & {ctx.principal.id, ctx.actor.id}:
        return _("you have endorsed this round already")
    return None


def _transfer_endorsed_enough(ctx: Context) -> str | None:
    given = _approvals(ctx, "budget_transfer")
    needed = endorsements_required(ctx.obj)
    if len(given) < needed:
        return _("needs %(count)s more endorsement(s) before approval", count=needed - len(given))
    barred = endorsers(given)
    if set(barred) & {ctx.principal.id, ctx.actor.id}:
        return delegated_bar(ctx, barred, "endorsed") or _(
            "the same person cannot endorse and approve: another person who may approve"
            " decides, or return it for a new round of endorsements"
        )
    return None


def _both_projects_open(ctx: Context) -> str | None:
    transfer: BudgetTransfer = ctx.obj
    for ident in (transfer.source_id, transfer.target_id):
        project = ctx.session.get(Project, ident)
        assert project is not None
        shut = project_shut(project)
        if shut:
            return shut
    return None


def _lock_both_projects(ctx: Context) -> list[tuple[type, int]]:
    # Always in id order: two transfers between the same projects lock them alike.
    return [(Project, ident) for ident in sorted((ctx.obj.source_id, ctx.obj.target_id))]


def _move_the_money(ctx: Context) -> dict[str, Any]:
    transfer: BudgetTransfer = ctx.obj
    changes = _add_approval(ctx, "budget_transfer")
    source = ctx.session.get(Project, transfer.source_id)
    target = ctx.session.get(Project, transfer.target_id)
    assert source is not None and target is not None
    now = utcnow()
    before = (source.approved_budget, target.approved_budget)
    source.approved_budget -= transfer.amount
    target.approved_budget += transfer.amount
    source.budget_transferred_at = target.budget_transferred_at = now
    transfer.approved_at = now
    return {
        **changes,
        "source_budget": [before[0], source.approved_budget],
        "target_budget": [before[1], target.approved_budget],
    }


TRANSFER = register(
    Workflow(
        name="budget_transfer",
        model=BudgetTransfer,
        states=tuple(s.value for s in TransferState),
        initial=T.PREPARED.value,
        visible=can_see_transfer,
        unit_of=lambda t: t.source.responsible_unit_id,
        project_of=lambda t: t.source_id,
        payload=lambda t: {
            "amount": t.amount,
            "target_id": t.target_id,
            "above_limit": transfer_above_limit(t),
        },
        transitions=(
            Transition(
                "endorse",
                (T.PREPARED, T.ENDORSED),
                T.ENDORSED,
                _who_endorses_transfer,
                ("เห็นชอบการโอน", "Endorse the transfer"),
                guards=(
                    _both_projects_open,
                    _not_the_preparer("budget_transfer"),
                    _transfer_endorsement_needed,
                ),
                effect=lambda ctx: _add_approval(ctx, "budget_transfer"),
            ),
            Transition(
                "approve",
                (T.ENDORSED,),
                T.APPROVED,
                _who_decides_transfer,
                ("อนุมัติการโอน", "Approve the transfer"),
                guards=(
                    _both_projects_open,
                    _not_the_preparer("budget_transfer"),
                    _transfer_endorsed_enough,
                    _source_keeps_its_allocations,
                ),
                locks=_lock_both_projects,
                effect=_move_the_money,
            ),
            Transition(
                "return",
                (T.PREPARED, T.ENDORSED),
                T.RETURNED,
                _who_reviews_transfer,
                ("ส่งกลับแก้ไข", "Requires changes"),
                guards=(_not_the_preparer("budget_transfer"),),
                requires=(REASON,),
                effect=lambda ctx: _cancel_approvals(ctx, "budget_transfer"),
            ),
            Transition(
                "revise",
                (T.RETURNED,),
                T.PREPARED,
                _who_prepares_transfer,
                ("แก้ไขและส่งใหม่", "Revise and resubmit"),
                guards=(_both_projects_open, _source_keeps_its_allocations),
            ),
            Transition(
                "reject",
                (T.PREPARED, T.ENDORSED),
                T.REJECTED,
                _who_decides_transfer,
                ("ไม่อนุมัติการโอน", "Reject the transfer"),
                guards=(_not_the_preparer("budget_transfer"),),
                requires=(REASON,),
                effect=lambda ctx: _cancel_approvals(ctx, "budget_transfer"),
            ),
            Transition(
                "withdraw",
                (T.PREPARED, T.ENDORSED, T.RETURNED),
                T.WITHDRAWN,
                _who_prepares_transfer,
                ("ถอนคำขอโอน", "Withdraw the transfer"),
                requires=(REASON,),
                effect=lambda ctx: _cancel_approvals(ctx, "budget_transfer"),
            ),
        ),
    )
)

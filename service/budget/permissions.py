"""Who may see and change allocations and installments, and the approval limit in force."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from service.budget.models import Allocation, BudgetTransfer, Installment
from service.core.permissions import (
    ALLOW,
    Answer,
    deny,
    holds_any,
    holds_within,
    inherited_limit,
    needs_role,
)
from service.core.thai import format_baht
from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, User
from service.org.scope import in_scope

DISTRICT = (Role.OFFICER, Role.APPROVER)


def can_see_allocation(session: Session, user: User, allocation: Allocation) -> bool:
    project = allocation.project
    return any(
        in_scope(session, user, unit)
        for unit in (allocation.recipient_unit, project.responsible_unit, project.owner_unit)
    )


def can_see_installment(session: Session, user: User, installment: Installment) -> bool:
    return can_see_allocation(session, user, installment.allocation)


def approval_rule(allocation: Allocation) -> tuple[Decimal | None, int]:
    """(the officer's limit, approvals required above it) for the project's district."""
    limit, required = inherited_limit(allocation.project.owner_unit)
    return (limit if isinstance(limit, Decimal) else None), required


def above_limit(allocation: Allocation, amount: Decimal | None = None) -> bool:
    limit, _required = approval_rule(allocation)
    return limit is not None and (amount if amount is not None else allocation.amount) > limit


def may_prepare(session: Session, user: User, allocation: Allocation) -> Answer:
    return needs_role(
        session, user, DISTRICT, allocation.project.responsible_unit, _("prepare allocations")
    )


def may_decide(
    session: Session, user: User, allocation: Allocation, what: str | None = None
) -> Answer:
    """Approve, endorse, return or reject: officers up to the limit, approvers above it.
    `what` names the act in a refusal (default: approving allocations)."""
    # The district's people hold their roles on the division (officers) or the district
    # office (approvers): both lie over the project's responsible unit.
    owner = allocation.project.responsible_unit
    answer = needs_role(session, user, DISTRICT, owner, what or _("approve allocations"))
    if not answer:
        return answer
    if above_limit(allocation) and not holds_any(session, user, (Role.APPROVER,), owner):
        limit, _required = approval_rule(allocation)
        return deny(
            _(
                "above the officer's limit of %(limit)s baht only the approver decides",
                limit=format_baht(limit) if isinstance(limit, Decimal) else "",
            )
        )
    return ALLOW


def may_endorse(
    session: Session,
    actor: User,
    principal: User,
    unit: OrgUnit,
    *,
    missing: Callable[[], int],
    barred: Callable[[], Sequence[User] | None] | None = None,
) -> Answer:
    """Endorse (เห็นชอบ) an allocation or a transfer above the officer's limit, on `unit`
    (the responsible unit), as `actor` with `principal`'s authority. `missing`: how many
    endorsements the item still needs before it may be approved, asked only to say what an
    approver may do instead (approve only once none is missing). `barred`, asked only once
    none is missing: None when four eyes lets `actor` and `principal` approve the item, else
    the people who may still approve it (perhaps nobody), to be advised instead of approving.

    The rule: the endorsement levels are the officers', below the approver. Above the limit
    only an approver gives the last approval, and four eyes bars whoever endorsed (or was
    acted for in an endorsement) from approving. An endorsement given with an approver's
    authority, her own or hers used by a deputy acting for her, would spend that approver:
    in a district with one approver (the usual case) nobody could approve any more, and
    only return and reject would be left. So an approver, and anyone acting for one, is
    offered approval, never endorsement; an officer endorses with their own authority, and
    a deputy who is an officer themselves endorses as themselves. Every state is then
    decidable: while endorsements are missing, an officer gives one; once they are in, an
    approver who did not prepare the item approves."""
    if holds_any(session, principal, (Role.APPROVER,), unit):
        count = missing()
        left = None if count or barred is None else barred()
        if principal.id != actor.id:
            if left is not None:
                if left:
                    return deny(
                        _(
                            "acting for %(name)s you would endorse with the approver's"
                            " authority, and then nobody could approve it. Every endorsement"
                            " is in, but you prepared or endorsed it yourself, so you may not"
                            " approve it either, not even acting for %(name)s. Leave the"
                            " approval to %(names)s, or return it",
                            name=principal.name,
                            names=", ".join(p.name for p in left),
                        )
                    )
                return deny(
                    _(
                        "acting for %(name)s you would endorse with the approver's authority,"
                        " and then nobody could approve it. Every endorsement is in, but you"
                        " prepared or endorsed it yourself, so you may not approve it either,"
                        " and nobody else may as it stands. Return it for changes",
                        name=principal.name,
                    )
                )
            if count:
                return deny(
                    _(
                        "acting for %(name)s you would endorse with the approver's authority,"
                        " and then nobody could approve: endorse as yourself, not acting for"
                        " %(name)s. Approval waits for %(count)s more endorsement(s)",
                        name=principal.name,
                        count=count,
                    )
                )
            return deny(
                _(
                    "acting for %(name)s you would endorse with the approver's authority, and"
                    " then nobody could approve: every endorsement is in, so approve it acting"
                    " for %(name)s, or return it",
                    name=principal.name,
                )
            )
        if count:
            return deny(
                _(
                    "above the officer's limit the endorsements are the officers' and the"
                    " approver gives the last approval: wait for %(count)s more"
                    " endorsement(s), then approve it, or return it",
                    count=count,
                )
            )
        if left is not None:
            if left:
                return deny(
                    _(
                        "above the officer's limit the endorsements are the officers' and the"
                        " approver gives the last approval. Every endorsement is in, but you"
                        " prepared or endorsed it, so you may not approve it. Leave the"
                        " approval to %(names)s, or return it",
                        names=", ".join(p.name for p in left),
                    )
                )
            return deny(
                _(
                    "above the officer's limit the endorsements are the officers' and the"
                    " approver gives the last approval. Every endorsement is in, but you"
                    " prepared or endorsed it, so you may not approve it, and nobody else may"
                    " as it stands. Return it for changes"
                )
            )
        return deny(
            _(
                "above the officer's limit the endorsements are the officers' and the"
                " approver gives the last approval: approve it, or return it"
            )
        )
    return needs_role(session, principal, (Role.OFFICER,), unit, _("endorse above the limit"))


def may_decide_installment(
    session: Session, user: User, installment: Installment, *, paying: bool = False
) -> Answer:
    """Approve, pay or reject an installment: those who decide its allocation; above the
    officer's limit only the approver. `paying`: the refusal names recording a payment,
    not approving."""
    allocation = installment.allocation
    what = _("record payments of installments") if paying else _("approve installments")
    answer = may_decide(session, user, allocation, what)
    if not answer:
        return answer
    if above_limit(allocation, installment.amount) and not holds_any(
        session, user, (Role.APPROVER,), allocation.project.responsible_unit
    ):
        if paying:
            return deny(
                _("above the officer's limit only the approver records payments of installments")
            )
        return deny(_("above the officer's limit only the approver approves installments"))
    return answer


def may_request_installment(session: Session, user: User, allocation: Allocation) -> Answer:
    """A school of the recipient unit, or the district, may ask for installment money."""
    if holds_within(session, user, (Role.SCHOOL,), allocation.recipient_unit):
        return ALLOW
    if holds_any(session, user, DISTRICT, allocation.project.responsible_unit):
        return ALLOW
    return deny(_("only the recipient or the district may request installments"))


# ---- budget transfers --------------------------------------------------------------------------


def can_see_transfer(session: Session, user: User, transfer: BudgetTransfer) -> bool:
    return any(
        in_scope(session, user, unit)
        for project in (transfer.source, transfer.target)
        for unit in (project.responsible_unit, project.owner_unit)
    )


def transfer_rule(transfer: BudgetTransfer) -> tuple[Decimal | None, int]:
    """(the officer's limit, approvals required above it) for the source project's district."""
    limit, required = inherited_limit(transfer.source.owner_unit)
    return (limit if isinstance(limit, Decimal) else None), required


def transfer_above_limit(transfer: BudgetTransfer) -> bool:
    limit, _required = transfer_rule(transfer)
    return limit is not None and transfer.amount > limit


def endorsements_required(transfer: BudgetTransfer) -> int:
    """Endorsements before the approval: always one (a second person looks at every move of
    money between projects), more above the limit when the district asks for more levels."""
    if not transfer_above_limit(transfer):
        return 1
    _limit, required = transfer_rule(transfer)
    return max(1, required - 1)


def may_prepare_transfer(session: Session, user: User, transfer: BudgetTransfer) -> Answer:
    return needs_role(
        session,
        user,
        DISTRICT,
        transfer.source.responsible_unit,
        _("prepare budget transfers"),
    )


def may_review_transfer(session: Session, user: User, transfer: BudgetTransfer) -> Answer:
    """Return a transfer for changes: the district's people."""
    return needs_role(
        session, user, DISTRICT, transfer.source.responsible_unit, _("endorse budget transfers")
    )


def may_endorse_transfer(
    session: Session,
    user: User,
    transfer: BudgetTransfer,
    actor: User | None = None,
    *,
    missing: Callable[[], int],
) -> Answer:
    """Endorse a transfer: the district's people; above the limit the officers only, with
    their own authority (`may_endorse` says why, and `missing`), `actor` acting for `user`."""
    answer = may_review_transfer(session, user, transfer)
    if answer and transfer_above_limit(transfer):
        return may_endorse(
            session, actor or user, user, transfer.source.responsible_unit, missing=missing
        )
    return answer


def may_decide_transfer(session: Session, user: User, transfer: BudgetTransfer) -> Answer:
    """Approve or reject: officers and approvers up to the limit, approvers above it."""
    owner = transfer.source.responsible_unit
    answer = needs_role(session, user, DISTRICT, owner, _("approve budget transfers"))
    if not answer:
        return answer
    if transfer_above_limit(transfer) and not holds_any(session, user, (Role.APPROVER,), owner):
        limit, _required = transfer_rule(transfer)
        return deny(
            _(
                "above the officer's limit of %(limit)s baht only the approver decides",
                limit=format_baht(limit) if isinstance(limit, Decimal) else "",
            )
        )
    return ALLOW

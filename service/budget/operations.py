"""Creating allocations and installment requests. State changes after creation go through
the workflow engine; these only create rows in their initial state, recorded and announced."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from service.audit.models import AuditEntry
from service.audit.operations import emit, record
from service.budget.models import (
    Allocation,
    AllocationState,
    BudgetTransfer,
    Installment,
    InstallmentState,
    Payment,
    TransferState,
)
from service.budget.permissions import (
    DISTRICT,
    above_limit,
    can_see_installment,
    may_decide_installment,
    may_prepare,
    may_request_installment,
)
from service.budget.workflow import (
    NO_NEW_MONEY,
    allocation_left,
    allocation_refusal,
    budget_left,
    budget_refusal,
    free_budget,
    left_for_the_field,
    paid_so_far,
    payment_document,
    project_shut,
    refuse_dead_request,
    refuse_payment_day,
    remember_guard_facts,
    transfer_refusal,
    undecidable,
)
from service.core.fiscal import local_today
from service.core.labels import label
from service.core.permissions import needs_role
from service.core.thai import format_baht
from service.core.translate import gettext as _
from service.org.models import OrgUnit, User
from service.projects.models import Project
from service.projects.operations import create_project
from service.workflow.engine import Refused, lock, missing, resolve_principal, take


def _amount(value: Decimal) -> Decimal:
    if isinstance(value, float) or not isinstance(value, Decimal):
        raise Refused(422, _("amount must be a decimal"), fields={"amount": _("must be a number")})
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise Refused(
            422,
            _("amount must be more than 0, to the satang"),
            fields={"amount": _("must be more than 0, to the satang")},
        )
    return value


def _forget(session: Session, allocation: Allocation) -> None:
    # The refused draft may or may not have joined the session (no cascade adds it): never flush it.
    if allocation in session:
        session.expunge(allocation)


def create_allocation(
    session: Session,
    actor: User,
    project: Project,
    recipient: OrgUnit,
    amount: Decimal,
    purpose: str = "",
) -> Allocation:
    """A draft allocation of `amount` from `project` to `recipient` (a network or school under
    the project's district). Raises Refused(403/409/422), 422 also when `amount` is more than
    the project has left, 409 when the project is closed or withdrawn (`project_shut`) or
    when four eyes would leave nobody to approve it (the approver preparing what only she
    approves: `refuse_dead_request`)."""
    allocation = Allocation(project=project, recipient_unit=recipient, amount=_amount(amount))
    allowed = may_prepare(session, actor, allocation)
    if not allowed:
        _forget(session, allocation)
        raise Refused(403, allowed.reason)
    shut = project_shut(project)
    if shut:
        _forget(session, allocation)
        raise Refused(409, shut)
    if not recipient.path.startswith(project.owner_unit.path):
        _forget(session, allocation)
        raise Refused(
            422,
            _(
                "%(recipient)s is not under %(owner)s",
                recipient=recipient.name_th,
                owner=project.owner_unit.name_th,
            ),
            fields={"recipient_unit_id": _("not in the project's district")},
        )
    left = budget_left(session, project)
    if allocation.amount > left:
        # Refused when asked for, not only when approved: the amount left is in the reason.
        _forget(session, allocation)
        raise Refused(
            422,
            budget_refusal(allocation.amount, left, project.approved_budget),
            fields={"amount": left_for_the_field(left)},
        )
    try:
        refuse_dead_request(session, "allocation", allocation, actor)
    except Refused:
        _forget(session, allocation)
        raise
    allocation.purpose = purpose.strip()
    allocation.state = AllocationState.DRAFT
    allocation.created_by_id = actor.id
    session.add(allocation)
    session.flush()
    record(
        session,
        action="allocation.create",
        object_type="allocation",
        object_id=allocation.id,
        actor=actor,
        to_state=allocation.state.value,
        changes={"amount": str(allocation.amount), "recipient_unit_id": recipient.id},
    )
    emit(
        session,
        kind="allocation.create",
        object_type="allocation",
        object_id=allocation.id,
        actor=actor,
        payload={
            "to": "draft",
            "unit_id": project.responsible_unit_id,
            "project_id": project.id,
            "amount": str(allocation.amount),
            "above_limit": above_limit(allocation),
        },
    )
    return allocation


def request_installment(
    session: Session, actor: User, allocation: Allocation, amount: Decimal, purpose: str = ""
) -> Installment:
    """A requested installment (เงินประจำงวด) against an approved allocation, asked by the
    recipient school/network or the district. Raises Refused(403/409/422), 422 also when
    `amount` is more than the allocation has left, 409 also when its project is closed or
    withdrawn (`project_shut`: approved installments are still paid) or four eyes would leave
    nobody to approve it (a deputy asking in the name of the one approver who may:
    `refuse_dead_request`)."""
    amount = _amount(amount)
    allowed = may_request_installment(session, actor, allocation)
    if not allowed:
        raise Refused(403, allowed.reason)
    shut = project_shut(allocation.project)
    if shut:
        raise Refused(409, shut)
    if allocation.state not in (AllocationState.APPROVED, AllocationState.DISBURSING):
        raise Refused(
            409,
            _("the allocation is %(state)s, not approved", state=label(allocation.state)),
            state=allocation.state.value,
        )
    left = allocation_left(session, allocation)
    if amount > left:
        raise Refused(
            422,
            allocation_refusal(amount, left, allocation.amount),
            fields={"amount": left_for_the_field(left)},
        )
    # The request as the rule reads it, not yet joined to the allocation or the session.
    asked = Installment(amount=amount)
    set_committed_value(asked, "allocation", allocation)
    refuse_dead_request(session, "installment", asked, actor)
    installment = Installment(
        allocation=allocation,
        amount=amount,
        purpose=purpose.strip(),
        state=InstallmentState.REQUESTED,
        requested_by_id=actor.id,
    )
    session.add(installment)
    session.flush()
    record(
        session,
        action="installment.request",
        object_type="installment",
        object_id=installment.id,
        actor=actor,
        to_state=installment.state.value,
        changes={"amount": str(amount)},
    )
    emit(
        session,
        kind="installment.request",
        object_type="installment",
        object_id=installment.id,
        actor=actor,
        payload={
            "to": "requested",
            "unit_id": allocation.project.responsible_unit_id,
            "project_id": allocation.project_id,
            "amount": str(amount),
            "allocation_id": allocation.id,
            "above_limit": above_limit(allocation, amount),
        },
    )
    return installment


#: What an item nobody may approve as it stands records and tells, by its kind.
UNDECIDABLE = {"allocation": "allocation.undecidable", "installment": "installment.undecidable"}


#: pg_advisory_xact_lock key serialising the sweeps of `tell_undecidable`.
UNDECIDABLE_LOCK = 2566_0003


def tell_undecidable(session: Session) -> int:
    """Tell whoever asked for each waiting item (a submitted allocation, a requested
    installment) that nobody may approve it as it stands (`undecidable`: four eyes bars
    every person with the authority), once per item (per approval round of an allocation):
    items asked for before such requests were refused. Records it in the item's history and
    emits the event its preparers are told of; approves nothing and changes no state. Returns
    how many items were told. Flushes only."""
    if session.get_bind().dialect.name == "postgresql":
        # Two sweeps at once (a run outlasting the hour, or one started by hand) would both
        # find an item not yet told and both tell it: the later one waits here until the
        # first commits, and then reads its record. Transaction-scoped, so it works through
        # PgBouncer; SQLite's writers are serialised as they begin (BEGIN IMMEDIATE).
        session.execute(select(func.pg_advisory_xact_lock(UNDECIDABLE_LOCK)))
    # with what four eyes and the limits read of each: its project and responsible unit
    to_project = joinedload(Allocation.project).joinedload(Project.responsible_unit)
    waiting: list[tuple[str, Allocation | Installment]] = [
        ("allocation", a)
        for a in session.scalars(
            select(Allocation)
            .where(Allocation.state == AllocationState.SUBMITTED)
            .options(to_project)
        )
    ]
    waiting += [
        ("installment", i)
        for i in session.scalars(
            select(Installment)
            .where(Installment.state == InstallmentState.REQUESTED)
            .options(joinedload(Installment.allocation).options(to_project))
        )
    ]
    # What four eyes reads of each item, read in bulk as /approvals reads it (who prepared
    # each, who holds the authority once per unit and side of the limit)
    remember_guard_facts(
        session,
        [obj for kind, obj in waiting if isinstance(obj, Allocation)],
        [obj for kind, obj in waiting if isinstance(obj, Installment)],
    )
    stuck = [
        (kind, obj, found)
        for kind, obj in waiting
        if (found := undecidable(session, kind, obj)) is not None
    ]
    told_before: set[tuple[str, int, int]] = set()
    for kind in UNDECIDABLE:
        ids = [obj.id for k, obj, _found in stuck if k == kind]
        if not ids:
            continue
        for ident, changes in session.execute(
            select(AuditEntry.object_id, AuditEntry.changes).where(
                AuditEntry.object_type == kind,
                AuditEntry.object_id.in_(ids),
                AuditEntry.action == UNDECIDABLE[kind],
            )
        ):
            told_before.add((kind, ident, int((changes or {}).get("round", 1))))
    told = 0
    for kind, obj, found in stuck:
        round_ = obj.approval_round if isinstance(obj, Allocation) else 1
        if (kind, obj.id, round_) in told_before:
            continue
        allocation = obj if isinstance(obj, Allocation) else obj.allocation
        holders = [p.id for p in found.holders]
        record(
            session,
            action=UNDECIDABLE[kind],
            object_type=kind,
            object_id=obj.id,
            from_state=obj.state.value,
            to_state=obj.state.value,
            changes={"round": round_, "holders": holders},
        )
        emit(
            session,
            kind=UNDECIDABLE[kind],
            object_type=kind,
            object_id=obj.id,
            payload={
                "round": round_,
                "unit_id": allocation.project.responsible_unit_id,
                "project_id": allocation.project_id,
                "amount": str(obj.amount),
                "holders": holders,
            },
        )
        told += 1
    session.flush()
    return told


def record_payment(
    session: Session,
    actor: User,
    installment_id: int,
    *,
    paid_on: date,
    amount: Decimal,
    document_ref: str,
    acting_for: User | None = None,
) -> Payment:
    """One payment of the approved installment `installment_id`: its day, amount and the
    reference number of the document it was paid against. The payment that completes the
    installment takes its `pay` transition (the installment is then paid on that day).

    The installment's row is locked first, so two payments at once are added one after the
    other and never exceed it. Raises Refused: 404 (not visible), 403 (may not pay), 409 (not
    approved, or paid already), 422 (amount above what is left, a day in the future, no
    document number)."""
    principal = resolve_principal(session, actor, acting_for, local_today())
    installment = lock(session, Installment, installment_id)
    if installment is None or not can_see_installment(session, principal, installment):
        raise missing("installment", installment_id)
    allowed = may_decide_installment(session, principal, installment, paying=True)
    if not allowed:
        raise Refused(403, allowed.reason)
    if installment.state is InstallmentState.PAID:
        # Paid in full meanwhile (by someone else, from a page loaded before): not "not
        # approved", which would send them to look for an approval.
        raise Refused(
            409,
            _("the installment is paid in full already: nothing is left to pay"),
            state=installment.state.value,
        )
    if installment.state is not InstallmentState.APPROVED:
        raise Refused(
            409,
            _("the installment is %(state)s, not approved", state=label(installment.state)),
            state=installment.state.value,
        )
    amount = _amount(amount)
    document = payment_document(document_ref)
    refuse_payment_day(installment, paid_on, local_today())
    left = installment.amount - paid_so_far(session, installment.id)
    if amount > left:
        raise Refused(
            422,
            _(
                "%(amount)s baht is more than the %(left)s baht left to pay of the installment"
                " of %(whole)s",
                amount=format_baht(amount),
                left=format_baht(left),
                whole=format_baht(installment.amount),
            ),
            fields={"amount": left_for_the_field(left)},
        )
    if amount == left:
        take(
            session,
            actor,
            "installment",
            installment.id,
            "pay",
            {"paid_on": paid_on, "document_ref": document},
            acting_for=acting_for,
        )
        payment = session.scalars(
            select(Payment)
            .where(Payment.installment_id == installment.id)
            .order_by(Payment.id.desc())
            .limit(1)
        ).one()
        return payment
    payment = Payment(
        installment_id=installment.id,
        paid_on=paid_on,
        amount=amount,
        document_ref=document,
        recorded_by_id=actor.id,
    )
    session.add(payment)
    session.flush()
    allocation = installment.allocation
    record(
        session,
        action="installment.payment",
        object_type="installment",
        object_id=installment.id,
        actor=actor,
        acting_for=principal if principal.id != actor.id else None,
        from_state=installment.state.value,
        to_state=installment.state.value,
        changes={
            "payment_id": payment.id,
            "amount": amount,
            "paid_on": paid_on,
            "document_ref": document,
            "left": left - amount,
        },
    )
    emit(
        session,
        kind="installment.payment",
        object_type="installment",
        object_id=installment.id,
        actor=actor,
        payload={
            "to": installment.state.value,
            "unit_id": allocation.project.responsible_unit_id,
            "project_id": allocation.project_id,
            "paid": amount,
            "paid_on": paid_on,
        },
    )
    return payment


def create_transfer(
    session: Session,
    actor: User,
    source: Project,
    amount: Decimal,
    reason: str,
    *,
    target: Project | None = None,
    new_project: dict[str, str] | None = None,
) -> BudgetTransfer:
    """A prepared budget transfer of `amount` from `source` to `target`, another project of
    the same unit and fiscal year, or to a new draft project (`new_project`: its code and
    name) made here for it. Approval moves the money (service.budget.workflow).

    Raises Refused: 403 (may not prepare), 422 (no reason, the same project, another unit or
    year, a project withdrawn or closed, more than the source may give without falling below
    what it has allocated)."""
    amount = _amount(amount)
    reason = (reason or "").strip()
    if not reason:
        raise Refused(422, _("a transfer needs a reason"), fields={"reason": _("is required")})
    allowed = needs_role(
        session, actor, DISTRICT, source.responsible_unit, _("prepare budget transfers")
    )
    if not allowed:
        raise Refused(403, allowed.reason)
    if target is None:
        if not new_project:
            raise Refused(
                422,
                _("choose the project that receives the money"),
                fields={"target_id": _("choose a project")},
            )
        target = create_project(
            session,
            actor,
            code=new_project.get("code", ""),
            name=new_project.get("name", ""),
            fiscal_year=source.fiscal_year,
            owner_unit=source.owner_unit,
            responsible_unit=source.responsible_unit,
            kind=source.kind,
        )
    if (
        target.id == source.id
        or target.owner_unit_id != source.owner_unit_id
        or target.fiscal_year_id != source.fiscal_year_id
        or target.state in NO_NEW_MONEY
    ):
        raise Refused(
            422,
            _("the money goes to another open project of the same unit and fiscal year"),
            fields={"target_id": _("choose another project of the same unit")},
        )
    if source.state in NO_NEW_MONEY:
        raise Refused(
            422,
            _("project %(code)s is closed or withdrawn", code=source.code),
            fields={"source_id": _("choose an open project")},
        )
    free = free_budget(session, source)
    if amount > free:
        raise Refused(
            422,
            transfer_refusal(amount, free, source),
            fields={"amount": left_for_the_field(free)},
        )
    transfer = BudgetTransfer(
        source_id=source.id,
        target_id=target.id,
        amount=amount,
        reason=reason,
        state=TransferState.PREPARED,
        created_by_id=actor.id,
    )
    session.add(transfer)
    session.flush()
    record(
        session,
        action="budget_transfer.create",
        object_type="budget_transfer",
        object_id=transfer.id,
        actor=actor,
        to_state=transfer.state.value,
        changes={"amount": amount, "source_id": source.id, "target_id": target.id},
        reason=reason,
    )
    emit(
        session,
        kind="budget_transfer.create",
        object_type="budget_transfer",
        object_id=transfer.id,
        actor=actor,
        payload={
            "to": transfer.state.value,
            "unit_id": source.responsible_unit_id,
            "project_id": source.id,
            "amount": amount,
            "target_id": target.id,
        },
    )
    return transfer

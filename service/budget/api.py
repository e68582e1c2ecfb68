"""/api/v1/allocations and /api/v1/installments: budget handed down and its approval."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from service.api.auth import actor
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import Presented, page_of
from service.api.scoping import (
    get_project,
    get_unit,
    get_visible,
    in_subtree,
    visible_allocations,
    visible_installments,
)
from service.api.transitions import ID, add_transition_routes
from service.budget import operations
from service.budget.models import Allocation, Approval, BudgetTransfer, Installment
from service.budget.queries import disbursement, unit_projects
from service.budget.schemas import (
    AllocationCreate,
    AllocationDetailOut,
    AllocationFilter,
    AllocationOut,
    DisbursementArgs,
    DisbursementOut,
    InstallmentCreate,
    InstallmentDetailOut,
    InstallmentFilter,
    InstallmentOut,
    PaymentCreate,
    PaymentOut,
    TransferCreate,
    TransferDetailOut,
    TransferFilter,
    TransferOut,
)
from service.core.fiscal import fiscal_year_of, local_today
from service.core.translate import gettext as _
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit
from service.org.scope import in_scope, sees_everything, unit_filter
from service.projects.models import Project
from service.workflow.engine import Refused, missing

blp = Blueprint(
    "api_budget", __name__, url_prefix="/api/v1", description="Allocations, installments"
)


def _approvals(session: Session, subject_type: str, subject_id: int) -> list[Approval]:
    return list(
        session.scalars(
            select(Approval)
            .where(Approval.subject_type == subject_type, Approval.subject_id == subject_id)
            .order_by(Approval.round, Approval.level)
        )
    )


def present_allocation(session: Session, allocation: Allocation) -> Presented:
    return Presented(allocation, approvals=_approvals(session, "allocation", allocation.id))


def present_installment(session: Session, installment: Installment) -> Presented:
    return Presented(installment, approvals=_approvals(session, "installment", installment.id))


@blp.route("/allocations")
@blp.arguments(AllocationFilter, location="query")
@blp.response(200, page_of(AllocationOut, "AllocationPage"))
@blp.doc(summary="Allocations the caller may see, filtered, a page at a time")
def list_allocations(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    stmt = select(Allocation).where(visible_allocations(session, user)).order_by(Allocation.id)
    if "fiscal_year" in args:
        stmt = (
            stmt.join(Project, Project.id == Allocation.project_id)
            .join(FiscalYear, FiscalYear.id == Project.fiscal_year_id)
            .where(FiscalYear.be_year == args["fiscal_year"])
        )
    if "project" in args:
        stmt = stmt.where(Allocation.project_id == args["project"])
    if "unit" in args:
        stmt = stmt.where(in_subtree(session, args["unit"], Allocation.recipient_unit_id))
    if "state" in args:
        stmt = stmt.where(Allocation.state == args["state"])
    return paginate(session, stmt, args, capped=sees_everything(session, user))


@blp.route("/allocations", methods=["POST"])
@blp.arguments(AllocationCreate)
@blp.response(201, AllocationDetailOut)
@blp.doc(summary="A draft allocation from a project to a network or school")
@commits
def create_allocation(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    try:
        project = get_project(session, user, data["project_id"])
    except Refused:
        raise Refused(
            422, _("no such project"), fields={"project_id": _("no such project")}
        ) from None
    allocation = operations.create_allocation(
        session,
        user,
        project,
        get_unit(
            session, data["recipient_unit_id"], "recipient_unit_id", within=project.owner_unit
        ),
        data["amount"],
        data["purpose"],
    )
    return present_allocation(session, allocation)


@blp.route(f"/allocations/<{ID}:ident>")
@blp.response(200, AllocationDetailOut)
@blp.doc(summary="One allocation with its approvals (who, when, amount, round)")
def get_allocation(ident: int) -> Any:
    session = db.session()
    return present_allocation(session, get_visible(session, actor(), "allocation", ident))


@blp.route(f"/allocations/<{ID}:ident>/installments", methods=["POST"])
@blp.arguments(InstallmentCreate)
@blp.response(201, InstallmentDetailOut)
@blp.doc(summary="Request an installment (เงินประจำงวด) against an approved allocation")
@commits
def request_installment(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    allocation = get_visible(session, user, "allocation", ident)
    installment = operations.request_installment(
        session, user, allocation, data["amount"], data["purpose"]
    )
    return present_installment(session, installment)


@blp.route("/installments")
@blp.arguments(InstallmentFilter, location="query")
@blp.response(200, page_of(InstallmentOut, "InstallmentPage"))
@blp.doc(summary="Installments the caller may see, filtered, a page at a time")
def list_installments(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    stmt = (
        select(Installment)
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .where(visible_installments(session, user))
        .order_by(Installment.id)
    )
    if "fiscal_year" in args:
        stmt = (
            stmt.join(Project, Project.id == Allocation.project_id)
            .join(FiscalYear, FiscalYear.id == Project.fiscal_year_id)
            .where(FiscalYear.be_year == args["fiscal_year"])
        )
    if "allocation" in args:
        stmt = stmt.where(Installment.allocation_id == args["allocation"])
    if "unit" in args:
        stmt = stmt.where(in_subtree(session, args["unit"], Allocation.recipient_unit_id))
    if "state" in args:
        stmt = stmt.where(Installment.state == args["state"])
    return paginate(session, stmt, args, capped=sees_everything(session, user))


@blp.route(f"/installments/<{ID}:ident>")
@blp.response(200, InstallmentDetailOut)
@blp.doc(summary="One installment with its approvals")
def get_installment(ident: int) -> Any:
    session = db.session()
    return present_installment(session, get_visible(session, actor(), "installment", ident))


@blp.route(f"/installments/<{ID}:ident>/payments")
@blp.response(200, PaymentOut(many=True))
@blp.doc(summary="The payments of an installment, oldest first")
def list_payments(ident: int) -> Any:
    session = db.session()
    installment = get_visible(session, actor(), "installment", ident)
    return installment.payments


@blp.route(f"/installments/<{ID}:ident>/payments", methods=["POST"])
@blp.arguments(PaymentCreate)
@blp.response(201, PaymentOut)
@blp.doc(
    summary="Record one payment of an approved installment (day, amount, document number);"
    " the payment that completes it makes it paid"
)
@commits
def create_payment(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    get_visible(session, user, "installment", ident)
    return operations.record_payment(session, user, ident, **data)


def _span(session: Session, be_year: int | None) -> tuple[FiscalYear, tuple[date, date]]:
    year_number = be_year or fiscal_year_of(local_today())
    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == year_number))
    if year is None:
        raise Refused(
            422,
            _("no fiscal year %(year)s", year=year_number),
            fields={"fiscal_year": _("no such fiscal year")},
        )
    return year, (year.starts_on, year.ends_on)


@blp.route(f"/projects/<{ID}:ident>/disbursement")
@blp.response(200, DisbursementOut)
@blp.doc(summary="The project's money paid against its plan, month end by month end")
def project_disbursement(ident: int) -> Any:
    session = db.session()
    project = get_project(session, actor(), ident)
    year = project.fiscal_year
    return disbursement(session, [project], (year.starts_on, year.ends_on), local_today(), "en")


@blp.route(f"/units/<{ID}:ident>/disbursement")
@blp.arguments(DisbursementArgs, location="query")
@blp.response(200, DisbursementOut)
@blp.doc(summary="The unit's (and its subtree's) money paid against the plan, by month end")
def unit_disbursement(args: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    unit = session.get(OrgUnit, ident)
    if unit is None or not in_scope(session, user, unit):
        raise missing("org_unit", ident)
    year, span = _span(session, args.get("fiscal_year"))
    projects = unit_projects(session, unit, year.id)
    return disbursement(session, projects, span, local_today(), "en")


def present_transfer(session: Session, transfer: BudgetTransfer) -> Presented:
    return Presented(transfer, approvals=_approvals(session, "budget_transfer", transfer.id))


@blp.route("/budget-transfers")
@blp.arguments(TransferFilter, location="query")
@blp.response(200, page_of(TransferOut, "TransferPage"))
@blp.doc(summary="Budget transfers of projects the caller may see, a page at a time")
def list_transfers(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    # service.budget.permissions.can_see_transfer as SQL: a project of either end whose
    # responsible or owning unit is in the caller's scope.
    responsible, owner = aliased(OrgUnit), aliased(OrgUnit)
    visible = (
        select(Project.id)
        .join(responsible, responsible.id == Project.responsible_unit_id)
        .join(owner, owner.id == Project.owner_unit_id)
        .where(unit_filter(session, user, responsible) | unit_filter(session, user, owner))
    )
    stmt = (
        select(BudgetTransfer)
        .where(or_(BudgetTransfer.source_id.in_(visible), BudgetTransfer.target_id.in_(visible)))
        .order_by(BudgetTransfer.id)
    )
    if "project" in args:
        stmt = stmt.where(
            or_(
                BudgetTransfer.source_id == args["project"],
                BudgetTransfer.target_id == args["project"],
            )
        )
    if "state" in args:
        stmt = stmt.where(BudgetTransfer.state == args["state"])
    return paginate(session, stmt, args, capped=sees_everything(session, user))


@blp.route("/budget-transfers", methods=["POST"])
@blp.arguments(TransferCreate)
@blp.response(201, TransferDetailOut)
@blp.doc(
    summary="Prepare a transfer of part of a project's approved budget to another project of"
    " the same unit (or a new one); another person endorses, then it is approved"
)
@commits
def create_transfer(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    source = get_project(session, user, data["source_id"])
    target = get_project(session, user, data["target_id"]) if "target_id" in data else None
    transfer = operations.create_transfer(
        session,
        user,
        source,
        data["amount"],
        data["reason"],
        target=target,
        new_project=data.get("new_project"),
    )
    return present_transfer(session, transfer)


@blp.route(f"/budget-transfers/<{ID}:ident>")
@blp.response(200, TransferDetailOut)
@blp.doc(summary="One budget transfer with its endorsements and approval")
def get_transfer(ident: int) -> Any:
    session = db.session()
    return present_transfer(session, get_visible(session, actor(), "budget_transfer", ident))


add_transition_routes(
    blp,
    workflow="budget_transfer",
    path="budget-transfers",
    out_schema=TransferDetailOut,
    present=present_transfer,
)
add_transition_routes(
    blp,
    workflow="allocation",
    path="allocations",
    out_schema=AllocationDetailOut,
    present=present_allocation,
)
add_transition_routes(
    blp,
    workflow="installment",
    path="installments",
    out_schema=InstallmentDetailOut,
    present=present_installment,
)

"""The district's budget screens: the allocation and installment queue (create, submit,
endorse, approve, return, reject; approve and pay installments) and the approver's queue of
decisions above the officer's limit, with amounts in figures and in words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from werkzeug.wrappers import Response

from service.audit.permissions import trail_units
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    BudgetTransfer,
    Installment,
    InstallmentState,
    TransferState,
)
from service.budget.operations import create_allocation, create_transfer, record_payment
from service.budget.permissions import (
    above_limit,
    approval_rule,
    can_see_allocation,
    endorsements_required,
)
from service.budget.queries import (
    above_officer_limit,
    disbursement,
    officer_limits,
    unit_projects,
)
from service.budget.schemas import read_payment, read_transfer
from service.budget.workflow import asked_by, remember_guard_facts, undecidable
from service.core.charts import money_curve_chart
from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import FormId, Invalid, Money, value_of
from service.core.fiscal import fiscal_year_of, local_date, local_today
from service.core.labels import label
from service.core.paging import page_number, paged
from service.core.permissions import holds_anywhere
from service.core.sql import dialect_of, ids_read_first, in_ids_of, in_ids_or_query
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.scope import unit_filter, unit_ids_in_scope
from service.projects.models import Project, ProjectState
from service.projects.queries import run_or_owned, run_or_owned_ids
from service.workflow.engine import Refused
from service.workflow.screens import actor, gate, options_for, run_change, session

bp = Blueprint("budget", __name__)

RECIPIENT_KINDS = (UnitKind.SCHOOL_NETWORK, UnitKind.SCHOOL, UnitKind.DIVISION)


def _holds_one_of(*roles: Role) -> Callable[[Session, User], bool]:
    def allowed(db_session: Session, user: User) -> bool:
        return any(holds_anywhere(db_session, user, role) for role in roles)

    return allowed


district = gate(_holds_one_of(Role.OFFICER, Role.APPROVER))
approvers = gate(_holds_one_of(Role.APPROVER))


def _district_projects(open_years_only: bool = False) -> list[Project]:
    """Projects whose responsible or owning unit is in the user's scope; with
    `open_years_only`, those of open fiscal years (what the new-allocation form offers: a
    district's three years were 1,400 options and 300 KB)."""
    return list(session().scalars(_district_projects_query(open_years_only)))


def _district_project_ids() -> list[int] | Any:
    """The ids of `_district_projects` (a district's three years: about 1,400), read first:
    as a subquery, PostgreSQL guessed three times as many and started from every district's
    waiting installments (120 ms for the approvals page). The state goes into each index
    range (the unit indexes carry it): as `Project.id IN (union)` beside it, the year's
    index was read whole to join them (22 vs 1 ms for a district)."""
    units = unit_ids_in_scope(session(), actor())
    if units is None:
        statement = _district_projects_query().with_only_columns(Project.id).order_by(None)
        return ids_read_first(session(), statement)
    return run_or_owned_ids(session(), units, Project.state != ProjectState.WITHDRAWN)


def _of_district_projects(column: Any, ids: list[int] | Any = None) -> ColumnElement[bool]:
    """`column` (a project id) is one of the district's projects (`ids`, when read
    already)."""
    if ids is None:
        ids = _district_project_ids()
    return in_ids_or_query(dialect_of(session()), column, ids)


def _in_district() -> ColumnElement[bool]:
    """A condition on `Project`: its responsible or owning unit lies in the user's scope.
    The scope's unit ids (a district's: about a hundred) are read once per request and the
    projects found by two index ranges; matching paths, PostgreSQL read all 100,000 projects
    three times for each budget page (60-90 ms each)."""
    units = unit_ids_in_scope(session(), actor())
    if units is None:
        return true()
    return run_or_owned(dialect_of(session()), units)


def _district_projects_query(open_years_only: bool = False) -> Select[Project]:
    statement = (
        select(Project)
        .where(_in_district(), Project.state != ProjectState.WITHDRAWN)
        .order_by(Project.code)
    )
    if open_years_only:
        statement = statement.join(FiscalYear, FiscalYear.id == Project.fiscal_year_id).where(
            FiscalYear.is_open.is_(True)
        )
    return statement


def _approvals_of(subject_type: str, ids: list[int]) -> dict[int, list[Approval]]:
    """The standing approvals of each of the `subject_type` objects `ids`, in one query."""
    found: dict[int, list[Approval]] = {ident: [] for ident in ids}
    if not ids:
        return found
    for approval in session().scalars(
        select(Approval)
        .where(
            Approval.subject_type == subject_type,
            Approval.subject_id.in_(ids or [0]),
            Approval.cancelled_at.is_(None),
        )
        .options(joinedload(Approval.approver), joinedload(Approval.acting_for))
        .order_by(Approval.subject_id, Approval.round, Approval.level)
    ):
        found[approval.subject_id].append(approval)
    return found


def _with_parents(statement: Any) -> Any:
    """Allocations with what their rows show loaded alongside (not one query per row)."""
    return statement.options(
        joinedload(Allocation.project).joinedload(Project.owner_unit),
        joinedload(Allocation.recipient_unit),
        selectinload(Allocation.installments).selectinload(Installment.payments),
    )


def _queue_query() -> Any:
    """The allocations of the district's projects, newest first (the budget page's list)."""
    return (
        select(Allocation)
        .where(_of_district_projects(Allocation.project_id))
        .order_by(Allocation.id.desc())
    )


def _allocation_rows(db_session: Any, ids: Sequence[int], lang: str) -> list[tuple[Any, ...]]:
    """The exported values of the allocations `ids`, in that order (read in `db_session`)."""
    found = {
        a.id: a
        for a in db_session.scalars(_with_parents(select(Allocation).where(Allocation.id.in_(ids))))
    }
    rows = []
    for allocation in (found[i] for i in ids if i in found):
        paid = sum(
            (i.amount for i in allocation.installments if i.state == InstallmentState.PAID),
            Decimal("0.00"),
        )
        rows.append(
            (
                allocation.id,
                allocation.project.code,
                allocation.project.name,
                allocation.recipient_unit.name(lang),
                allocation.amount,
                label(allocation.state),
                allocation.purpose,
                paid,
                local_date(allocation.submitted_at) if allocation.submitted_at else None,
            )
        )
    return rows


ALLOCATION_COLUMNS = (
    Column(_l("Allocation"), lambda r: r[0], "number", 10),
    Column(_l("Project code"), lambda r: r[1], width=16),
    Column(_l("Project"), lambda r: r[2], width=50),
    Column(_l("Recipient"), lambda r: r[3], width=28),
    Column(_l("Allocated (baht)"), lambda r: r[4], "money", 18),
    Column(_l("State"), lambda r: r[5], width=16),
    Column(_l("Purpose"), lambda r: r[6], width=40),
    Column(_l("Paid (baht)"), lambda r: r[7], "money", 18),
    Column(_l("Submitted"), lambda r: r[8], "date"),
)


def _export_allocations(fmt: str, ids: list[int], name: str, title: str) -> Any:
    lang = current_language()
    rows = rows_in_chunks(ids, lambda s, chunk: _allocation_rows(s, chunk, lang))
    return download(fmt, name, ALLOCATION_COLUMNS, rows, title)


def _export_format() -> str | None:
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        abort(404)
    return fmt


#: Allocations with nothing left to do: the budget page lists them only when asked
#: (`?show=all`); a district's year of them made the page some 30,000 px tall on a phone.
SETTLED = (AllocationState.COMPLETED, AllocationState.REJECTED, AllocationState.WITHDRAWN)


def _page(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> str:
    show_all = request.args.get("show") == "all"
    listed = _queue_query()
    if not show_all:
        listed = listed.where(Allocation.state.not_in(SETTLED))
    listing = paged(
        session(),
        _with_parents(listed),
        page_number(request.args.get("page")),
        after=request.args.get("after"),
    )
    allocations = listing.rows
    remember_guard_facts(session(), allocations, [i for a in allocations for i in a.installments])
    user = actor()
    recipients = list(
        session().scalars(
            select(OrgUnit)
            .where(unit_filter(session(), user), OrgUnit.kind.in_(RECIPIENT_KINDS))
            .order_by(OrgUnit.path)
        )
    )
    return render_template(
        "budget/queue.html",
        projects=_district_projects(open_years_only=True),
        allocations=allocations,
        listing=listing,
        show_all=show_all,
        page_url=lambda number: (
            url_for("budget.queue", page=number, show="all" if show_all else None) + "#h-list"
        ),
        export_url=lambda fmt: url_for("budget.queue", format=fmt),
        recipients=recipients,
        allocation_options={a.id: options_for(a) for a in allocations},
        installment_options={i.id: options_for(i) for a in allocations for i in a.installments},
        approvals=_approvals_of("allocation", [a.id for a in allocations]),
        rules={a.id: approval_rule(a) for a in allocations},
        above={a.id: above_limit(a) for a in allocations},
        form=form or {},
        errors=errors or {},
        exports_trail=bool(trail_units(session(), actor())),
    )


@bp.route("/budget")
@district
def queue() -> Any:
    fmt = _export_format()
    if fmt is not None:
        ids = list(session().scalars(_queue_query().with_only_columns(Allocation.id)))
        return _export_allocations(fmt, ids, "budget", _("Budget"))
    return _page()


@bp.route("/budget/allocations", methods=["POST"])
@district
def create() -> Response | tuple[str, int]:
    """A draft allocation from the form; refused input comes back with the form filled in."""
    form = {
        key: request.form.get(key, "").strip()
        for key in ("project_id", "recipient_unit_id", "amount", "purpose")
    }

    def change() -> Allocation:
        project_id = _id_or_none(form, "project_id")
        recipient_id = _id_or_none(form, "recipient_unit_id")
        project = session().get(Project, project_id) if project_id else None
        recipient = session().get(OrgUnit, recipient_id) if recipient_id else None
        if project is None or project not in _district_projects():
            raise Refused(422, _("choose a project"), fields={"project_id": _("choose a project")})
        # A unit outside the project's district is answered as a missing one: the
        # operation's refusal would name it, and so tell any unit's name by its id.
        if recipient is None or not recipient.path.startswith(project.owner_unit.path):
            raise Refused(
                422,
                _("choose a recipient"),
                fields={"recipient_unit_id": _("choose a recipient")},
            )
        try:
            amount = value_of(Money(commas=True, required=True), form, "amount")
        except Invalid as invalid:
            raise Refused(422, invalid.message, fields={"amount": invalid.message}) from None
        return create_allocation(session(), actor(), project, recipient, amount, form["purpose"])

    def again(form: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
        return _page(form, errors), status

    return run_change(
        change,
        done="",
        back="",
        again=again,
        answer=lambda allocation: _drafted(allocation),
    )


def _id_or_none(form: dict[str, str], name: str) -> int | None:
    """The id the form chose; None for a blank or malformed one (the choice is refused)."""
    try:
        found: int | None = value_of(FormId(), form, name)
    except Invalid:
        return None
    return found


def _drafted(allocation: Allocation) -> Response:
    flash(_("Allocation #%(id)s is drafted: submit it for approval.", id=allocation.id), "info")
    return redirect(url_for("budget.queue") + f"#allocation-{allocation.id}")


@bp.route("/budget/installments/<int:installment_id>/payments", methods=["POST"])
@district
def pay(installment_id: int) -> Response | tuple[Any, int]:
    """One payment of an approved installment, from the budget page's form."""
    back = url_for("budget.queue") + f"#installment-{installment_id}-payments"

    def change() -> Any:
        data = read_payment(request.form, typed=True)
        return record_payment(session(), actor(), installment_id, **data)

    def again(
        form: dict[str, Any], errors: dict[str, str], status: int
    ) -> Response | tuple[str, int]:
        # The reason is flashed; the form comes back as typed, each field with its problem.
        installment = session().get(Installment, installment_id)
        if installment is None or not can_see_allocation(
            session(), actor(), installment.allocation
        ):
            return redirect(back)
        paid = sum((p.amount for p in installment.payments), Decimal("0.00"))
        if installment.state is not InstallmentState.APPROVED or paid >= installment.amount:
            # Nothing is left to pay (paid in full meanwhile): no form, the flashed reason
            # on the budget page.
            return redirect(back)
        page = render_template(
            "budget/payment_refused.html",
            installment=installment,
            left=installment.amount - paid,
            form=form,
            errors=errors,
            back=back,
        )
        return page, status

    return run_change(change, done=_("The payment is recorded."), back=back, again=again)


@bp.route("/budget/disbursement")
@district
def disbursement_page() -> Any:
    """A unit's money paid against the plan, month by month, for one fiscal year."""
    user = actor()
    units = list(
        session().scalars(
            select(OrgUnit)
            .where(
                unit_filter(session(), user),
                OrgUnit.kind.in_((UnitKind.DISTRICT_OFFICE, UnitKind.DIVISION, *RECIPIENT_KINDS)),
            )
            .order_by(OrgUnit.path)
        )
    )
    years = list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc())))
    if not units or not years:
        abort(404)
    try:
        unit_id = value_of(FormId(), request.args, "unit")
        be_year = value_of(FormId(), request.args, "year")
    except Invalid:
        abort(404)
    unit = next((u for u in units if u.id == unit_id), units[0])
    today = local_today()
    year = next((y for y in years if y.be_year == (be_year or fiscal_year_of(today))), years[0])
    projects = unit_projects(session(), unit, year.id)
    span = (year.starts_on, year.ends_on)
    lang = current_language()
    wide = disbursement(session(), projects, span, today, lang)
    narrow = money_curve_chart(wide.points, wide.budget, span, today, lang, narrow=True)
    return render_template(
        "budget/disbursement.html",
        units=units,
        years=years,
        unit=unit,
        year=year,
        curve=wide,
        narrow=narrow,
        projects=projects,
    )


def _of_district_transfers(ids: list[int] | Any = None) -> ColumnElement[bool]:
    """A condition on BudgetTransfer: out of or into one of the district's projects (`ids`,
    when read already)."""
    if ids is None:
        ids = _district_project_ids()
    return or_(
        _of_district_projects(BudgetTransfer.source_id, ids),
        _of_district_projects(BudgetTransfer.target_id, ids),
    )


def _transfers_query() -> Any:
    """The transfers out of or into the district's projects, newest first."""
    return (
        select(BudgetTransfer)
        .where(_of_district_transfers())
        .options(
            joinedload(BudgetTransfer.source),
            joinedload(BudgetTransfer.target),
            joinedload(BudgetTransfer.created_by),
        )
        .order_by(BudgetTransfer.id.desc())
    )


def _transfers_page(form: dict[str, Any] | None = None, refused: Refused | None = None) -> str:
    listing = paged(session(), _transfers_query(), page_number(request.args.get("page")))
    transfers = listing.rows
    approvals = _approvals_of("budget_transfer", [t.id for t in transfers])
    return render_template(
        "budget/transfers.html",
        projects=_district_projects(open_years_only=True),
        transfers=transfers,
        listing=listing,
        page_url=lambda number: url_for("budget.transfers", page=number) + "#h-transfers",
        options={t.id: options_for(t) for t in transfers},
        approvals=approvals,
        needed={t.id: endorsements_required(t) for t in transfers},
        # the approval that moved the money is among the rows, but is no endorsement
        endorsed={
            t.id: len(approvals[t.id]) - (t.state is TransferState.APPROVED) for t in transfers
        },
        form=form or {},
        errors=refused.fields if refused else {},
    )


@bp.route("/budget/transfers")
@district
def transfers() -> Any:
    return _transfers_page()


@bp.route("/budget/transfers", methods=["POST"])
@district
def create_transfer_view() -> Response | tuple[Any, int]:
    """A prepared transfer from the form; refused input comes back with the form filled."""
    fields = ("source_id", "target_id", "new_code", "new_name", "amount", "reason")
    form = {key: request.form.get(key, "").strip() for key in fields}

    def change() -> Any:
        data = read_transfer(form, typed=True)
        mine = {p.id: p for p in _district_projects()}
        source = mine.get(data["source_id"])
        target = mine.get(data["target_id"]) if data["target_id"] else None
        if source is None:
            raise Refused(422, _("choose a project"), fields={"source_id": _("choose a project")})
        if data["target_id"] and target is None:
            raise Refused(422, _("choose a project"), fields={"target_id": _("choose a project")})
        return create_transfer(
            session(),
            actor(),
            source,
            data["amount"],
            data["reason"],
            target=target,
            new_project=data["new_project"],
        )

    def again(form: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
        return _transfers_page(form, Refused(status, "", fields=errors)), status

    def prepared(transfer: Any) -> Response:
        flash(
            _("Transfer #%(id)s is prepared: another person endorses it.", id=transfer.id), "info"
        )
        return redirect(url_for("budget.transfers") + f"#transfer-{transfer.id}")

    return run_change(change, done="", back="", again=again, answer=prepared)


def _waiting_decisions(
    ids: list[int] | Any = None,
) -> tuple[Select[Allocation], Select[Installment]]:
    """The submitted allocations and requested installments of the approver's districts whose
    amount is above the officer's limit in force for the project's owning unit: the oldest
    first, as SQL (the limit is the district's rule up the org tree, stated as a CASE over the
    owning unit's path), so a page reads its own rows only. `ids`: the district's project
    ids, when read already."""
    in_district = _of_district_projects(Allocation.project_id, ids)
    limits = officer_limits(session())
    owner = aliased(OrgUnit)
    allocations = (
        select(Allocation)
        .join(Project, Project.id == Allocation.project_id)
        .join(owner, owner.id == Project.owner_unit_id)
        .where(
            in_district,
            Allocation.state == AllocationState.SUBMITTED,
            above_officer_limit(limits, Allocation.amount, owner.path),
        )
        .order_by(func.coalesce(Allocation.submitted_at, Allocation.created_at), Allocation.id)
    )
    # The installments of the district's allocations, by their ids: joined to the allocations,
    # PostgreSQL walked every requested installment of the country (13,000 rows, 19,000
    # buffers at 100,000 projects), in the page and again in its count.
    district_allocations = select(Allocation.id).where(in_district)
    installments = (
        select(Installment)
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .join(Project, Project.id == Allocation.project_id)
        .join(owner, owner.id == Project.owner_unit_id)
        .where(
            in_ids_of(dialect_of(session()), Installment.allocation_id, district_allocations),
            Installment.state == InstallmentState.REQUESTED,
            above_officer_limit(limits, Installment.amount, owner.path),
        )
        .order_by(Installment.requested_at, Installment.id)
    )
    return _with_parents(allocations), installments.options(
        joinedload(Installment.allocation)
        .joinedload(Allocation.project)
        .joinedload(Project.owner_unit),
        joinedload(Installment.allocation).joinedload(Allocation.recipient_unit),
    )


@bp.route("/approvals")
@approvers
def approvals() -> Any:
    """Decisions above the officer's limit: submitted allocations and requested installments
    of the approver's districts, each list a page at a time (by number, or by key after a
    cursor: `?after=` for allocations, `?installments_after=` for installments).
    `?format=csv|xlsx` downloads every waiting allocation and installment (one row each)."""
    fmt = _export_format()
    district_ids = _district_project_ids()
    waiting_allocations, waiting_installments = _waiting_decisions(district_ids)
    if fmt is not None:
        lang = current_language()
        rows = [
            _approval_row("allocation", a, a.amount, lang)
            for a in session().scalars(waiting_allocations)
        ] + [
            _approval_row("installment", i, i.amount, lang)
            for i in session().scalars(waiting_installments)
        ]
        return _export_approvals(fmt, rows)
    allocation_page = paged(
        session(),
        waiting_allocations,
        page_number(request.args.get("page")),
        after=request.args.get("after"),
    )
    installment_page = paged(
        session(),
        waiting_installments,
        page_number(request.args.get("installments_page")),
        after=request.args.get("installments_after"),
    )
    allocations, installments = allocation_page.rows, installment_page.rows
    remember_guard_facts(session(), allocations, installments)
    allocation_options = {a.id: options_for(a) for a in allocations}
    installment_options = {i.id: options_for(i) for i in installments}

    def page_url(key: str, anchor: str) -> Any:
        def url(number: int) -> str:
            args: dict[str, Any] = {**request.args.to_dict(), key: str(number)}
            args.pop("after" if key == "page" else "installments_after", None)
            return url_for("budget.approvals", **args) + anchor

        return url

    # Transfers are decided on their own page: the approver is told here how many wait there.
    transfers_waiting = session().scalar(
        select(func.count())
        .select_from(BudgetTransfer)
        .where(
            _of_district_transfers(district_ids),
            BudgetTransfer.state.in_((TransferState.PREPARED, TransferState.ENDORSED)),
        )
    )
    return render_template(
        "budget/approvals.html",
        transfers_waiting=transfers_waiting or 0,
        allocations=allocations,
        installments=installments,
        allocation_page=allocation_page,
        installment_page=installment_page,
        allocation_page_url=page_url("page", "#h-alloc"),
        export_url=lambda fmt: url_for("budget.approvals", format=fmt),
        installment_page_url=page_url("installments_page", "#h-inst"),
        allocation_options=allocation_options,
        installment_options=installment_options,
        approvals=_approvals_of("allocation", [a.id for a in allocations]),
        rules={a.id: approval_rule(a) for a in allocations},
        prepared_by=asked_by(session(), "allocation", allocations),
        requested_by=asked_by(session(), "installment", installments),
        # Items nobody may approve as they stand (asked for before such requests were
        # refused): who may unblock them, in words.
        stuck={
            (kind, item.id): found.who_unblocks(kind)
            for kind, items, options in (
                ("allocation", allocations, allocation_options),
                ("installment", installments, installment_options),
            )
            for item in items
            # a reader who may approve it now is someone left to approve it: only the rest
            # are asked about (the reader's own options are read already)
            if not _may_approve(options[item.id])
            and (found := undecidable(session(), kind, item)) is not None
        },
    )


def _may_approve(options: list[Any]) -> bool:
    return any(o.allowed and o.name == "approve" for o in options)


def _approval_row(kind: str, subject: Any, amount: Decimal, lang: str) -> tuple[Any, ...]:
    """One waiting decision as exported values (plain values: nothing read after the session
    is closed)."""
    allocation = subject if kind == "allocation" else subject.allocation
    when = subject.submitted_at if kind == "allocation" else subject.requested_at
    return (
        _("Allocation") if kind == "allocation" else _("Installment"),
        subject.id,
        allocation.project.code,
        allocation.project.name,
        allocation.recipient_unit.name(lang),
        amount,
        local_date(when) if when else None,
    )


APPROVAL_COLUMNS = (
    Column(_l("Type"), lambda r: r[0], width=20),
    Column(_l("Code"), lambda r: r[1], "number", 10),
    Column(_l("Project code"), lambda r: r[2], width=16),
    Column(_l("Project"), lambda r: r[3], width=50),
    Column(_l("Recipient"), lambda r: r[4], width=28),
    Column(_l("Amount (baht)"), lambda r: r[5], "money", 18),
    Column(_l("Submitted"), lambda r: r[6], "date"),
)


def _export_approvals(fmt: str, rows: list[tuple[Any, ...]]) -> Any:
    """The waiting decisions, already read as plain values (a district's waiting decisions
    above the limit are few)."""
    return download(fmt, "approvals", APPROVAL_COLUMNS, rows, _("Approvals"))

"""Reads of the money: what an installment has had paid, the monthly disbursement curve of a
project or a unit against its plan, and a project's budget history (original, transfers in
and out, current)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session, joinedload

from service.budget.models import (
    Allocation,
    BudgetTransfer,
    Installment,
    InstallmentState,
    Payment,
    TransferState,
)
from service.core.charts import MoneyPoint, SCurve, money_curve_chart
from service.core.db import Money
from service.core.progress import StepPlan, planned_progress
from service.org.models import OrgUnit
from service.projects.models import PlanStep, Project, ProjectState

ZERO = Decimal("0.00")


def installment_paid(installment: Installment) -> Decimal:
    """What has been paid of `installment` (its payments loaded): the sum of its payments;
    a paid installment from before payments were recorded counts whole."""
    if installment.state is InstallmentState.PAID and not installment.payments:
        return installment.amount
    return sum((p.amount for p in installment.payments), ZERO)


def _month_ends(start: date, end: date) -> list[date]:
    ends = []
    month = date(start.year, start.month, 1)
    while month <= end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        ends.append(min(following - timedelta(days=1), end))
        month = following
    return ends


@dataclass
class Disbursement:
    """A monthly disbursement curve against the plan: the budget, the month ends with the
    planned and paid money (cumulative) and the chart drawn from them."""

    budget: Decimal
    paid: Decimal
    points: list[MoneyPoint]
    chart: SCurve


def _payments(session: Session, project_ids: Sequence[int]) -> list[tuple[date, Decimal]]:
    """(day, amount) of every payment of the projects' installments, and of the installments
    paid before payments were recorded."""
    if not project_ids:
        return []
    of_projects = Allocation.project_id.in_(list(project_ids))
    rows: list[tuple[date | None, Decimal]] = [
        (day, amount)
        for day, amount in session.execute(
            select(Payment.paid_on, Payment.amount)
            .join(Installment, Installment.id == Payment.installment_id)
            .join(Allocation, Allocation.id == Installment.allocation_id)
            .where(of_projects)
        )
    ]
    rows += [
        (day, amount)
        for day, amount in session.execute(
            select(Installment.paid_on, Installment.amount)
            .join(Allocation, Allocation.id == Installment.allocation_id)
            .where(
                of_projects,
                Installment.state == InstallmentState.PAID,
                Installment.paid_on.is_not(None),
                ~exists().where(Payment.installment_id == Installment.id),
            )
        )
    ]
    return [(day, Decimal(amount)) for day, amount in rows if day is not None]


def disbursement(
    session: Session,
    projects: Iterable[Project],
    span: tuple[date, date],
    today: date,
    lang: str,
    narrow: bool = False,
) -> Disbursement:
    """The curve of `projects` over `span`: the plan spends each project's approved budget
    as its steps are planned to progress (weight × elapsed share), the actual is the money
    paid by each month end."""
    projects = list(projects)
    budget = sum((p.approved_budget for p in projects), ZERO)
    steps: dict[int, list[StepPlan]] = {p.id: [] for p in projects}
    if projects:
        for step in session.scalars(
            select(PlanStep).where(PlanStep.project_id.in_([p.id for p in projects]))
        ):
            steps[step.project_id].append(
                StepPlan(step.weight, step.planned_start, step.planned_end)
            )
    payments = _payments(session, [p.id for p in projects])
    plans = [(p.approved_budget, steps[p.id]) for p in projects]
    points = curve_points(plans, payments, span, today)
    total = sum((a for _d, a in payments), ZERO)
    chart = money_curve_chart(points, budget, span, today, lang, narrow)
    return Disbursement(budget, total, points, chart)


def curve_points(
    plans: Sequence[tuple[Decimal, Sequence[StepPlan]]],
    payments: Sequence[tuple[date, Decimal]],
    span: tuple[date, date],
    today: date,
) -> list[MoneyPoint]:
    """Each month end of `span`: the money the plans expect spent (each budget spent as its
    steps are planned to progress) and the money paid by then (None for months not begun)."""
    points = []
    for day in _month_ends(*span):
        planned = sum(
            (
                (budget * planned_progress(steps, day) / 100).quantize(ZERO)
                for budget, steps in plans
            ),
            ZERO,
        )
        begun = date(day.year, day.month, 1) <= today
        paid = sum((a for d, a in payments if d <= day), ZERO) if begun else None
        points.append(MoneyPoint(day, planned, paid))
    return points


def installment_payments(installment: Installment) -> list[tuple[date, Decimal]]:
    """(day, amount) of the installment's payments (loaded); a paid installment from before
    payments were recorded is one payment on its paid day."""
    if installment.state is InstallmentState.PAID and not installment.payments:
        return [(installment.paid_on, installment.amount)] if installment.paid_on else []
    return [(p.paid_on, p.amount) for p in installment.payments]


def unit_projects(session: Session, unit: OrgUnit, fiscal_year_id: int) -> list[Project]:
    """The unit's subtree's projects of the year (owned or the responsibility of), but those
    withdrawn."""
    return list(
        session.scalars(
            select(Project)
            .join(
                OrgUnit,
                or_(
                    OrgUnit.id == Project.owner_unit_id,
                    OrgUnit.id == Project.responsible_unit_id,
                ),
            )
            .where(
                OrgUnit.path.startswith(unit.path),
                Project.fiscal_year_id == fiscal_year_id,
                Project.state != ProjectState.WITHDRAWN,
            )
            .distinct()
            .order_by(Project.code)
        )
    )


# ---- budget history ------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetMove:
    transfer: BudgetTransfer
    incoming: bool  # True: money in from the other project

    @property
    def signed(self) -> Decimal:
        return self.transfer.amount if self.incoming else -self.transfer.amount

    @property
    def other(self) -> Project:
        return self.transfer.source if self.incoming else self.transfer.target


@dataclass
class BudgetHistory:
    """A project's budget: what it was before any approved transfer, each approved transfer
    in and out, and what it is now; transfers still in their workflow are listed apart."""

    original: Decimal
    moves: list[BudgetMove]
    current: Decimal
    pending: list[BudgetMove]

    @property
    def transferred_in(self) -> Decimal:
        return sum((m.transfer.amount for m in self.moves if m.incoming), ZERO)

    @property
    def transferred_out(self) -> Decimal:
        return sum((m.transfer.amount for m in self.moves if not m.incoming), ZERO)


PENDING = (TransferState.PREPARED, TransferState.ENDORSED, TransferState.RETURNED)


def budget_history(session: Session, project: Project) -> BudgetHistory:
    transfers = session.scalars(
        select(BudgetTransfer)
        .where(
            or_(BudgetTransfer.source_id == project.id, BudgetTransfer.target_id == project.id),
            BudgetTransfer.state.in_((TransferState.APPROVED, *PENDING)),
        )
        .options(joinedload(BudgetTransfer.source), joinedload(BudgetTransfer.target))
        .order_by(BudgetTransfer.approved_at, BudgetTransfer.id)
    ).all()
    moves: list[BudgetMove] = []
    pending: list[BudgetMove] = []
    for transfer in transfers:
        move = BudgetMove(transfer, transfer.target_id == project.id)
        (moves if transfer.state is TransferState.APPROVED else pending).append(move)
    current = project.approved_budget
    original = current - sum((m.signed for m in moves), ZERO)
    return BudgetHistory(original, moves, current, pending)


def officer_limits(session: Session) -> list[tuple[str, Decimal]]:
    """(path, approval limit) of every unit that sets a limit, the deepest first: few (the
    districts, an office), read once for `above_officer_limit`."""
    return [
        (str(path), Decimal(str(limit)))
        for path, limit in session.execute(
            select(OrgUnit.path, OrgUnit.approval_limit)
            .where(OrgUnit.approval_limit.is_not(None))
            .order_by(func.length(OrgUnit.path).desc(), OrgUnit.path)
        )
    ]


def above_officer_limit(
    limits: list[tuple[str, Decimal]], amount: Any, owner_path: Any
) -> ColumnElement[bool]:
    """`service.budget.permissions.above_limit` as SQL: `amount` is above the approval limit
    in force for the project's owning unit whose path is `owner_path`: its own, or its
    nearest ancestor's (`limits`, from `officer_limits`); no limit anywhere above it, never.

    One CASE over the owning unit's path, the deepest limit first, so the approvals page
    filters and pages in SQL rather than reading every waiting decision to filter it."""
    if not limits:
        return false()
    limit = case(
        *(
            (owner_path.startswith(path, autoescape=True), literal(value, Money()))
            for path, value in limits
        ),
        else_=null(),
    )
    return and_(limit.is_not(None), amount > limit)

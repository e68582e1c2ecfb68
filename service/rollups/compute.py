"""Quarterly rollups, computed with set-based SQL and upserted by natural key.

For a fiscal year and quarter, as of the quarter's last day (Asia/Bangkok):

- per project: actual progress (Σ weight × the mean accepted completion over the step's
  result rows, a result counting only if it was reviewed before the quarter ended), planned
  progress (Σ weight × the fraction of the step's span elapsed on the quarter's last day),
  their variance, behind schedule (more than 10 points behind, as the project page says),
  and the budget approved, allocated (allocations approved or beyond) and paid (installments
  paid by the quarter's end);
- per unit (the projects it owns or is responsible for, its subtree included) and per
  strategy-tree node (projects aligned to it or below it): project count, how many are behind,
  mean actual and planned progress, budget sums;
- per KPI whose value is computed (`Kpi.computation`): numerator, denominator and value.

Every statement is INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE the figures differ, so a
rerun leaves the rows exactly as they were (computed_at included) and a change rewrites only
the rows it changes. Projects go in id ranges, so a long run can report its progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from service.budget.models import (
    Allocation,
    AllocationState,
    Installment,
    InstallmentState,
    Payment,
)
from service.core.db import UTCDateTime
from service.core.fiscal import DEFAULT_TZ, FiscalQuarter, local_date, quarter_bounds
from service.core.progress import DEFAULT_TOLERANCE
from service.core.sql import date_literal, days_between, upsert_insert
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiQuarterResult
from service.org.queries import unit_ancestors
from service.projects.models import (
    UNDER_WAY,
    PlanStep,
    Project,
    ProjectKind,
    ProjectState,
    StepResult,
    project_strategy,
)
from service.rollups.models import ProjectRollup, StrategyRollup, UnitRollup
from service.strategy.models import StrategyNode

#: Projects per statement: small enough to report progress, large enough to stay set-based.
PROJECT_CHUNK = 20_000
#: Allocations that count as allocated.
ALLOCATED_STATES = (AllocationState.APPROVED, AllocationState.DISBURSING, AllocationState.COMPLETED)


class RollupError(ValueError):
    """The fiscal year or quarter asked for does not exist."""


def quarter_just_ended(now: datetime, tz: str = DEFAULT_TZ) -> FiscalQuarter:
    """The quarter that ended before the Bangkok day of `now` began: what the quarter-end
    beat (00:30 on 1 Jan, 1 Apr, 1 Jul, 1 Oct, Bangkok) computes. 2023-09-30T17:30Z is
    00:30 on 1 Oct in Bangkok: Q4 of FY 2566."""
    return FiscalQuarter.of(local_date(now, tz) - timedelta(days=1))


@dataclass(frozen=True)
class RollupPlan:
    """What one run computes: the fiscal year row, the quarter, its last day, the instant the
    quarter ended (results reviewed later do not count) and the project id ranges."""

    fiscal_year_id: int
    be_year: int
    quarter: int
    quarter_end: date
    cutoff: datetime
    id_ranges: list[tuple[int, int]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.id_ranges) + 3  # project ranges, then units, strategies, KPIs


def rollup_plan(
    session: Session, be_year: int, quarter: int, *, chunk: int = PROJECT_CHUNK
) -> RollupPlan:
    """Plan the rollup of `quarter` of fiscal year `be_year`. Raises RollupError when the
    fiscal year is not in the database (ValueError/TypeError for an impossible quarter)."""
    quarter_end = quarter_bounds(be_year, quarter)[1]
    year_id = session.scalar(select(FiscalYear.id).where(FiscalYear.be_year == be_year))
    if year_id is None:
        raise RollupError(f"fiscal year {be_year} is not in the database")
    cutoff = datetime.combine(
        quarter_end + timedelta(days=1), time(0), tzinfo=ZoneInfo(DEFAULT_TZ)
    ).astimezone(UTC)
    low, high = session.execute(
        select(func.min(Project.id), func.max(Project.id)).where(Project.fiscal_year_id == year_id)
    ).one()
    ranges = (
        [(start, min(start + chunk - 1, high)) for start in range(low, high + 1, chunk)]
        if low is not None
        else []
    )
    return RollupPlan(year_id, be_year, quarter, quarter_end, cutoff, ranges)


def _round2(dialect: str, value: Any) -> Any:
    if dialect == "postgresql":
        return func.round(cast(value, Numeric), 2)
    # SQLite computes in binary floating point: nudge exact halves (12.345) up, as
    # ROUND_HALF_UP on the exact decimal would.
    return func.round(value + 1e-9, 2)


def _real(dialect: str, value: Any) -> Any:
    # SQLite keeps integral NUMERIC values as integers, and 20 * 5 / 31 would divide as such.
    return cast(value, Float) if dialect == "sqlite" else value


def _upsert(
    dialect: str,
    table: Any,
    columns: list[str],
    query: Any,
    keys: list[str],
    compared: list[str],
    stamp: str,
) -> Any:
    statement = upsert_insert(dialect, table).from_select(columns, query)
    target = table.__table__.c
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: statement.excluded[name] for name in [*compared, stamp]},
        where=or_(*(target[name] != statement.excluded[name] for name in compared)),
    )


_FIGURES = [
    "actual_progress",
    "planned_progress",
    "budget_approved",
    "budget_allocated",
    "budget_paid",
]


def rollup_projects(
    session: Session, plan: RollupPlan, id_range: tuple[int, int], *, now: datetime
) -> None:
    """Upsert the project rollups of the projects with ids in `id_range` (inclusive)."""
    dialect = session.get_bind().dialect.name
    low, high = id_range
    quarter_end = date_literal(dialect, plan.quarter_end)
    in_range = and_(
        Project.fiscal_year_id == plan.fiscal_year_id,
        Project.id >= low,
        Project.id <= high,
        Project.state != ProjectState.WITHDRAWN,
    )
    counted = case(
        (
            and_(
                StepResult.accepted_completion.is_not(None),
                StepResult.reviewed_at < literal(plan.cutoff, UTCDateTime),
            ),
            _real(dialect, StepResult.accepted_completion),
        ),
        else_=0,
    )
    step_mean = (
        select(StepResult.step_id, func.avg(counted).label("mean"))
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(in_range)
        .group_by(StepResult.step_id)
        .subquery("step_mean")
    )
    weight = _real(dialect, PlanStep.weight)
    elapsed = days_between(dialect, quarter_end, PlanStep.planned_start) + 1
    span = days_between(dialect, PlanStep.planned_end, PlanStep.planned_start) + 1
    planned_share = case(
        (PlanStep.planned_end <= quarter_end, weight),
        (PlanStep.planned_start > quarter_end, 0),
        else_=weight * elapsed / span,
    )
    progress = (
        select(
            PlanStep.project_id,
            _round2(dialect, func.sum(weight * func.coalesce(step_mean.c.mean, 0) / 100)).label(
                "actual"
            ),
            _round2(dialect, func.sum(planned_share)).label("planned"),
        )
        .join(Project, Project.id == PlanStep.project_id)
        .outerjoin(step_mean, step_mean.c.step_id == PlanStep.id)
        .where(in_range)
        .group_by(PlanStep.project_id)
        .subquery("progress")
    )
    allocated = (
        select(Allocation.project_id, func.sum(Allocation.amount).label("amount"))
        .join(Project, Project.id == Allocation.project_id)
        .where(in_range, Allocation.state.in_(ALLOCATED_STATES))
        .group_by(Allocation.project_id)
        .subquery("allocated")
    )
    # Money paid by the quarter's end: every payment, and each installment paid before
    # payments were recorded (none of its own) as one payment on its paid day.
    money_out = union_all(
        select(
            Payment.installment_id.label("installment_id"),
            Payment.paid_on.label("paid_on"),
            Payment.amount.label("amount"),
        ),
        select(Installment.id, Installment.paid_on, Installment.amount).where(
            Installment.state == InstallmentState.PAID,
            ~exists().where(Payment.installment_id == Installment.id),
        ),
    ).subquery("money_out")
    paid = (
        select(Allocation.project_id, func.sum(money_out.c.amount).label("amount"))
        .select_from(money_out)
        .join(Installment, Installment.id == money_out.c.installment_id)
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .join(Project, Project.id == Allocation.project_id)
        .where(in_range, money_out.c.paid_on <= quarter_end)
        .group_by(Allocation.project_id)
        .subquery("paid")
    )
    actual = func.coalesce(progress.c.actual, 0)
    planned = func.coalesce(progress.c.planned, 0)
    figures = (
        select(
            Project.id.label("project_id"),
            actual.label("actual"),
            planned.label("planned"),
            Project.approved_budget.label("approved"),
            # a plan not approved yet cannot be behind it
            Project.state.in_(UNDER_WAY).label("under_way"),
            func.coalesce(allocated.c.amount, 0).label("allocated"),
            func.coalesce(paid.c.amount, 0).label("paid"),
        )
        .outerjoin(progress, progress.c.project_id == Project.id)
        .outerjoin(allocated, allocated.c.project_id == Project.id)
        .outerjoin(paid, paid.c.project_id == Project.id)
        .where(in_range)
        .subquery("figures")
    )
    query = select(
        figures.c.project_id,
        literal(plan.fiscal_year_id, Integer),
        literal(plan.quarter, Integer),
        figures.c.actual,
        figures.c.planned,
        figures.c.actual - figures.c.planned,
        and_(
            figures.c.under_way,
            figures.c.planned - figures.c.actual > literal(int(DEFAULT_TOLERANCE), Integer),
        ),
        figures.c.approved,
        figures.c.allocated,
        figures.c.paid,
        literal(now, UTCDateTime),
    ).where(figures.c.project_id >= low)  # SQLite needs a WHERE before ON CONFLICT
    session.execute(
        _upsert(
            dialect,
            ProjectRollup,
            [
                "project_id",
                "fiscal_year_id",
                "quarter",
                "actual_progress",
                "planned_progress",
                "variance",
                "behind_schedule",
                "budget_approved",
                "budget_allocated",
                "budget_paid",
                "computed_at",
            ],
            query,
            ["project_id", "fiscal_year_id", "quarter"],
            [*_FIGURES, "variance", "behind_schedule"],
            "computed_at",
        )
    )


def _aggregate_into(
    session: Session,
    plan: RollupPlan,
    table: Any,
    key: str,
    membership: Any,
    *,
    now: datetime,
) -> None:
    """Upsert `table` rows keyed by `key` from the project rollups of the projects each key
    covers (`membership`: a subquery of distinct (key, project_id))."""
    dialect = session.get_bind().dialect.name
    rollup = ProjectRollup
    query = (
        select(
            membership.c.key,
            literal(plan.fiscal_year_id, Integer),
            literal(plan.quarter, Integer),
            func.count(),
            func.sum(case((rollup.behind_schedule, 1), else_=0)),
            _round2(dialect, func.avg(_real(dialect, rollup.actual_progress))),
            _round2(dialect, func.avg(_real(dialect, rollup.planned_progress))),
            func.sum(rollup.budget_approved),
            func.sum(rollup.budget_allocated),
            func.sum(rollup.budget_paid),
            literal(now, UTCDateTime),
        )
        .select_from(membership)
        .join(
            rollup,
            and_(
                rollup.project_id == membership.c.project_id,
                rollup.fiscal_year_id == plan.fiscal_year_id,
                rollup.quarter == plan.quarter,
            ),
        )
        .where(membership.c.key.is_not(None))
        .group_by(membership.c.key)
    )
    session.execute(
        _upsert(
            dialect,
            table,
            [
                key,
                "fiscal_year_id",
                "quarter",
                "projects",
                "behind_schedule",
                "actual_progress",
                "planned_progress",
                "budget_approved",
                "budget_allocated",
                "budget_paid",
                "computed_at",
            ],
            query,
            [key, "fiscal_year_id", "quarter"],
            ["projects", "behind_schedule", *_FIGURES],
            "computed_at",
        )
    )


def rollup_units(session: Session, plan: RollupPlan, *, now: datetime) -> None:
    """Upsert every unit's rollup: the projects it or a unit below it owns or is responsible
    for, each counted once."""
    ancestors = unit_ancestors()
    of_year = Project.fiscal_year_id == plan.fiscal_year_id
    membership = union(
        select(ancestors.c.ancestor_id.label("key"), Project.id.label("project_id"))
        .join(Project, Project.owner_unit_id == ancestors.c.unit_id)
        .where(of_year),
        select(ancestors.c.ancestor_id.label("key"), Project.id.label("project_id"))
        .join(Project, Project.responsible_unit_id == ancestors.c.unit_id)
        .where(of_year),
    ).subquery("unit_project")
    _aggregate_into(session, plan, UnitRollup, "unit_id", membership, now=now)


def strategy_ancestors() -> Any:
    """(node_id, ancestor_id) for every strategy node and each node at or above it."""
    base = select(StrategyNode.id.label("node_id"), StrategyNode.id.label("ancestor_id")).cte(
        "strategy_ancestor", recursive=True
    )
    parent = StrategyNode.__table__.alias("strategy_parent")
    return base.union_all(
        select(base.c.node_id, parent.c.parent_id)
        .join(parent, parent.c.id == base.c.ancestor_id)
        .where(parent.c.parent_id.is_not(None))
    )


def rollup_strategies(session: Session, plan: RollupPlan, *, now: datetime) -> None:
    """Upsert every strategy node's rollup: projects aligned to it or to a node below it."""
    ancestors = strategy_ancestors()
    membership = (
        select(ancestors.c.ancestor_id.label("key"), Project.id.label("project_id"))
        .select_from(project_strategy)
        .join(ancestors, ancestors.c.node_id == project_strategy.c.strategy_node_id)
        .join(Project, Project.id == project_strategy.c.project_id)
        .where(Project.fiscal_year_id == plan.fiscal_year_id)
        .distinct()
        .subquery("strategy_project")
    )
    _aggregate_into(session, plan, StrategyRollup, "strategy_node_id", membership, now=now)


def _routine_projects_on_target(session: Session, plan: RollupPlan) -> Any:
    """KPI 5023-6525 and its kind: among the routine projects owned in the KPI owner unit's
    subtree, numerator = those on target at the quarter's end (actual ≥ planned),
    denominator = all of them."""
    ancestors = unit_ancestors()
    members = (
        select(
            ancestors.c.ancestor_id.label("unit_id"),
            case(
                (ProjectRollup.actual_progress >= ProjectRollup.planned_progress, 1), else_=0
            ).label("on_target"),
        )
        .join(Project, Project.owner_unit_id == ancestors.c.unit_id)
        .join(
            ProjectRollup,
            and_(
                ProjectRollup.project_id == Project.id,
                ProjectRollup.fiscal_year_id == plan.fiscal_year_id,
                ProjectRollup.quarter == plan.quarter,
            ),
        )
        .where(
            Project.fiscal_year_id == plan.fiscal_year_id,
            Project.kind == ProjectKind.ROUTINE,
            Project.state != ProjectState.WITHDRAWN,
        )
        .subquery("kpi_member")
    )
    return (
        select(
            Kpi.id.label("kpi_id"),
            func.coalesce(func.sum(members.c.on_target), 0).label("numerator"),
            func.count(members.c.unit_id).label("denominator"),
        )
        .outerjoin(members, members.c.unit_id == Kpi.owner_unit_id)
        .where(
            Kpi.fiscal_year_id == plan.fiscal_year_id,
            Kpi.computation == "routine_projects_on_target",
        )
        .group_by(Kpi.id)
        .subquery("kpi_fraction")
    )


#: Computations by `Kpi.computation`: each gives (kpi_id, numerator, denominator) rows.
COMPUTATIONS: dict[str, Callable[[Session, RollupPlan], Any]] = {
    "routine_projects_on_target": _routine_projects_on_target,
}


def compute_kpis(session: Session, plan: RollupPlan, *, now: datetime) -> None:
    """Upsert the quarter's result of every computed KPI of the year: numerator, denominator
    (the legacy page's `2.1 / 2.2`) and value = 100 × numerator / denominator (0 with none)."""
    dialect = session.get_bind().dialect.name
    for computation in COMPUTATIONS.values():
        fraction = computation(session, plan)
        value = case(
            (fraction.c.denominator == 0, 0),
            else_=func.round(
                _real(dialect, 100 * fraction.c.numerator) / _real(dialect, fraction.c.denominator),
                4,
            ),
        )
        query = select(
            fraction.c.kpi_id,
            literal(plan.quarter, Integer),
            value,
            fraction.c.numerator,
            fraction.c.denominator,
            literal("", String),
            literal(now, UTCDateTime),
        ).where(fraction.c.kpi_id.is_not(None))
        session.execute(
            _upsert(
                dialect,
                KpiQuarterResult,
                [
                    "kpi_id",
                    "quarter",
                    "value",
                    "numerator",
                    "denominator",
                    "narrative",
                    "updated_at",
                ],
                query,
                ["kpi_id", "quarter"],
                ["value", "numerator", "denominator"],
                "updated_at",
            )
        )


Progress = Callable[[int, int, str], None]


def run_rollup(
    session: Session,
    be_year: int,
    quarter: int,
    *,
    now: datetime,
    progress: Progress | None = None,
    chunk: int = PROJECT_CHUNK,
) -> RollupPlan:
    """Compute every rollup of `quarter` of `be_year`, committing after each step (project
    ranges, units, strategies, KPIs) and calling `progress(done, total, phase)` after it.
    Steps are idempotent upserts, so a run cut short is completed by running it again. This
    runner commits (it is what the task and the CLI call); the steps above do not."""
    plan = rollup_plan(session, be_year, quarter, chunk=chunk)
    session.commit()
    report = progress or (lambda _done, _total, _phase: None)
    done = 0
    for id_range in plan.id_ranges:
        rollup_projects(session, plan, id_range, now=now)
        session.commit()
        done += 1
        report(done, plan.steps, "projects")
    for phase, step in (
        ("units", rollup_units),
        ("strategies", rollup_strategies),
        ("kpis", compute_kpis),
    ):
        step(session, plan, now=now)
        session.commit()
        done += 1
        report(done, plan.steps, phase)
    return plan


__all__ = [
    "COMPUTATIONS",
    "PROJECT_CHUNK",
    "RollupError",
    "RollupPlan",
    "compute_kpis",
    "quarter_just_ended",
    "rollup_plan",
    "rollup_projects",
    "rollup_strategies",
    "rollup_units",
    "run_rollup",
]

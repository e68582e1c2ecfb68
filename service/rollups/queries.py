"""The figures of a unit and of its children, and of every node of the strategy tree, for one
fiscal year, as the reader may see them.

Which figures, and why: for a reader whose scope is a district or less, the figures of today
are live aggregates (service.projects.aggregates,
as the dashboard and the project page compute them): they agree with the project rows a reader
drills down to, they need no worker run, and they are computed over the projects the reader
may see (`visible_projects`), so a district officer's strategy tree counts that district's
projects only. They are one set-based statement per view: per project figures joined once,
grouped by unit (or strategy node) ancestor. The quarter-end history is read from the
rollups the workers compute (UnitRollup, StrategyRollup): a quarter's figures as they stood at
its end (results reviewed later do not count), which live aggregates cannot restate. A unit's
rollup covers its subtree, all of it in the scope of whoever may open the unit; a strategy
node's rollup covers the whole country, so it is shown only to tree-wide readers.

Tree-wide readers (evaluators, the root's admins) read the whole country: live aggregates
over a year's 30,000 projects took 5-7 s on PostgreSQL (300,000 steps, 900,000 results), so
they read the latest rollup of the year instead (the current quarter is recomputed nightly),
labelled with the quarter and when it was computed; live only while no rollup exists yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text, union
from sqlalchemy.orm import Session, aliased

from service.core.progress import DEFAULT_TOLERANCE
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.org.queries import unit_ancestors
from service.projects.aggregates import (
    allocation_figures,
    installment_figures,
    money_value,
    percent_value,
    step_figures,
    zero_if_null,
)
from service.projects.models import UNDER_WAY, Project, ProjectState, project_strategy
from service.projects.queries import visible_projects
from service.rollups.compute import strategy_ancestors
from service.rollups.models import ProjectRollup, StrategyRollup, UnitRollup
from service.strategy.models import StrategyNode


@dataclass(frozen=True)
class Figures:
    """What a unit or a strategy node adds up over its projects."""

    projects: int = 0
    behind: int = 0
    actual: Decimal = Decimal("0.00")  # mean over the projects
    planned: Decimal = Decimal("0.00")
    approved: Decimal = Decimal("0.00")
    allocated: Decimal = Decimal("0.00")
    granted: Decimal | None = Decimal("0.00")  # None: not in the rollups
    paid: Decimal = Decimal("0.00")

    @property
    def gap(self) -> Decimal:
        return self.planned - self.actual

    @property
    def paid_share(self) -> Decimal:
        """Paid as a percent of approved (0 with nothing approved)."""
        if not self.approved:
            return Decimal("0.00")
        return percent_value(self.paid * 100 / self.approved)


EMPTY = Figures()


def _project_figures(session: Session, user: User, year: FiscalYear, day: date) -> Any:
    """One row per project of `year` that `user` may see: its units and figures on `day`."""
    ids = select(Project.id).where(visible_projects(session, user, year.id)).scalar_subquery()
    steps = step_figures(ids, day).subquery("steps")
    allocations = allocation_figures(ids).subquery("allocations")
    installments = installment_figures(ids).subquery("installments")
    actual = zero_if_null(steps.c.actual)
    planned = zero_if_null(steps.c.planned)
    # A plan not approved yet is not behind it. (Its budget is approved money all the same:
    # the budget comes with the project, and money is allocated before the plan is locked.)
    under_way = Project.state.in_(UNDER_WAY)
    return (
        select(
            Project.id.label("project_id"),
            Project.owner_unit_id,
            Project.responsible_unit_id,
            actual.label("actual"),
            planned.label("planned"),
            case((and_(under_way, planned - actual > DEFAULT_TOLERANCE), 1), else_=0).label(
                "behind"
            ),
            Project.approved_budget.label("approved"),
            zero_if_null(allocations.c.allocated).label("allocated"),
            zero_if_null(installments.c.granted).label("granted"),
            zero_if_null(installments.c.paid).label("paid"),
        )
        .outerjoin(steps, steps.c.project_id == Project.id)
        .outerjoin(allocations, allocations.c.project_id == Project.id)
        .outerjoin(installments, installments.c.project_id == Project.id)
        # A withdrawn project is out of the plan: in no unit's figures, as the rollups.
        .where(
            Project.fiscal_year_id == year.id,
            Project.id.in_(ids),
            Project.state != ProjectState.WITHDRAWN,
        )
        .subquery("figures")
    )


def _tune_for_aggregates(session: Session) -> None:
    """On PostgreSQL, for this transaction: no JIT (compiling the plan costs seconds and saves
    less on a statement that reads each row once) and room to hash the per-step aggregates in
    memory, as the dashboard's derived sorts do."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def _grouped(session: Session, membership: Any, figures: Any) -> dict[int, Figures]:
    _tune_for_aggregates(session)
    rows = session.execute(
        select(
            membership.c.key,
            func.count(),
            func.sum(figures.c.behind),
            func.avg(figures.c.actual),
            func.avg(figures.c.planned),
            func.sum(figures.c.approved),
            func.sum(figures.c.allocated),
            func.sum(figures.c.granted),
            func.sum(figures.c.paid),
        )
        .join(figures, figures.c.project_id == membership.c.project_id)
        .group_by(membership.c.key)
    )
    return {
        key: Figures(
            projects=int(count),
            behind=int(behind or 0),
            actual=percent_value(actual),
            planned=percent_value(planned),
            approved=money_value(approved),
            allocated=money_value(allocated),
            granted=money_value(granted),
            paid=money_value(paid),
        )
        for key, count, behind, actual, planned, approved, allocated, granted, paid in rows
    }


def unit_figures(
    session: Session, user: User, year: FiscalYear, units: list[OrgUnit], day: date
) -> dict[int, Figures]:
    """For each of `units`: the figures over the projects of `year` it or a unit below it owns
    or is responsible for (each counted once), among those `user` may see."""
    if not units:
        return {}
    figures = _project_figures(session, user, year, day)
    ancestors = unit_ancestors()
    wanted = [u.id for u in units]
    membership = union(
        select(ancestors.c.ancestor_id.label("key"), figures.c.project_id)
        .join(figures, figures.c.owner_unit_id == ancestors.c.unit_id)
        .where(ancestors.c.ancestor_id.in_(wanted)),
        select(ancestors.c.ancestor_id.label("key"), figures.c.project_id)
        .join(figures, figures.c.responsible_unit_id == ancestors.c.unit_id)
        .where(ancestors.c.ancestor_id.in_(wanted)),
    ).subquery("unit_project")
    return _grouped(session, membership, figures)


def strategy_figures(
    session: Session, user: User, year: FiscalYear, day: date
) -> dict[int, Figures]:
    """For each strategy node: the figures over the projects of `year` aligned to it or to a
    node below it (each counted once), among those `user` may see."""
    figures = _project_figures(session, user, year, day)
    ancestors = strategy_ancestors()
    membership = (
        select(ancestors.c.ancestor_id.label("key"), figures.c.project_id)
        .select_from(project_strategy)
        .join(ancestors, ancestors.c.node_id == project_strategy.c.strategy_node_id)
        .join(figures, figures.c.project_id == project_strategy.c.project_id)
        .distinct()
        .subquery("strategy_project")
    )
    return _grouped(session, membership, figures)


def node_project_ids(
    session: Session, user: User, year: FiscalYear, node: StrategyNode
) -> list[int]:
    """The ids of the projects of `year` aligned to `node` or below it that `user` may see,
    by code."""
    ancestors = strategy_ancestors()
    below = select(ancestors.c.node_id).where(ancestors.c.ancestor_id == node.id)
    return list(
        session.scalars(
            select(Project.id)
            .where(
                Project.fiscal_year_id == year.id,
                Project.state != ProjectState.WITHDRAWN,
                visible_projects(session, user, year.id),
                Project.id.in_(
                    select(project_strategy.c.project_id).where(
                        project_strategy.c.strategy_node_id.in_(below)
                    )
                ),
            )
            .order_by(Project.code, Project.id)
        )
    )


@dataclass(frozen=True)
class QuarterEnd:
    """A rollup row: the figures as they stood at the end of `quarter`, computed at
    `computed_at`."""

    quarter: int
    figures: Figures
    computed_at: Any


def _quarter_ends(rows: Any) -> list[QuarterEnd]:
    return [
        QuarterEnd(
            r.quarter,
            Figures(
                projects=r.projects,
                behind=r.behind_schedule,
                actual=r.actual_progress,
                planned=r.planned_progress,
                approved=r.budget_approved,
                allocated=r.budget_allocated,
                paid=r.budget_paid,
            ),
            r.computed_at,
        )
        for r in rows
    ]


def unit_quarter_ends(session: Session, year: FiscalYear, unit: OrgUnit) -> list[QuarterEnd]:
    """The unit's rollups of `year`, by quarter (those the workers have computed)."""
    return _quarter_ends(
        session.scalars(
            select(UnitRollup)
            .where(UnitRollup.unit_id == unit.id, UnitRollup.fiscal_year_id == year.id)
            .order_by(UnitRollup.quarter)
        )
    )


def strategy_quarter_ends(
    session: Session, year: FiscalYear, node: StrategyNode
) -> list[QuarterEnd]:
    return _quarter_ends(
        session.scalars(
            select(StrategyRollup)
            .where(
                StrategyRollup.strategy_node_id == node.id,
                StrategyRollup.fiscal_year_id == year.id,
            )
            .order_by(StrategyRollup.quarter)
        )
    )


def latest_quarter(session: Session, year: FiscalYear) -> int | None:
    """The latest quarter of `year` the workers have rolled up, None before the first run."""
    found: int | None = session.scalar(
        select(func.max(UnitRollup.quarter)).where(UnitRollup.fiscal_year_id == year.id)
    )
    return found


def _from_rollup(row: Any) -> Figures:
    return Figures(
        projects=row.projects,
        behind=row.behind_schedule,
        actual=row.actual_progress,
        planned=row.planned_progress,
        approved=row.budget_approved,
        allocated=row.budget_allocated,
        granted=None,
        paid=row.budget_paid,
    )


def unit_rollups(
    session: Session, year: FiscalYear, quarter: int, units: list[OrgUnit]
) -> tuple[dict[int, Figures], Any]:
    """The rolled-up figures of `units` for `quarter` of `year`, and when they were computed."""
    rows = list(
        session.scalars(
            select(UnitRollup).where(
                UnitRollup.fiscal_year_id == year.id,
                UnitRollup.quarter == quarter,
                UnitRollup.unit_id.in_([u.id for u in units]),
            )
        )
    )
    return {r.unit_id: _from_rollup(r) for r in rows}, max(
        (r.computed_at for r in rows), default=None
    )


def strategy_rollups(
    session: Session, year: FiscalYear, quarter: int
) -> tuple[dict[int, Figures], Any]:
    rows = list(
        session.scalars(
            select(StrategyRollup).where(
                StrategyRollup.fiscal_year_id == year.id, StrategyRollup.quarter == quarter
            )
        )
    )
    return {r.strategy_node_id: _from_rollup(r) for r in rows}, max(
        (r.computed_at for r in rows), default=None
    )


@dataclass(frozen=True)
class BehindProject:
    project_id: int
    code: str
    name: str
    actual: Decimal
    planned: Decimal

    @property
    def gap(self) -> Decimal:
        return self.planned - self.actual


def behind_in_rollup(
    session: Session, year: FiscalYear, quarter: int, unit: OrgUnit, limit: int = 10
) -> list[BehindProject]:
    """The projects of `unit`'s subtree (owned or responsible) furthest behind plan in the
    quarter's rollup."""
    owner = aliased(OrgUnit)
    responsible = aliased(OrgUnit)
    rows = session.execute(
        select(
            Project.id,
            Project.code,
            Project.name,
            ProjectRollup.actual_progress,
            ProjectRollup.planned_progress,
        )
        .join(ProjectRollup, ProjectRollup.project_id == Project.id)
        .join(owner, owner.id == Project.owner_unit_id)
        .join(responsible, responsible.id == Project.responsible_unit_id)
        .where(
            ProjectRollup.fiscal_year_id == year.id,
            ProjectRollup.quarter == quarter,
            ProjectRollup.behind_schedule.is_(True),
            or_(owner.path.startswith(unit.path), responsible.path.startswith(unit.path)),
        )
        .order_by(ProjectRollup.variance, Project.code)
        .limit(limit)
    )
    return [BehindProject(*row) for row in rows]

"""What the project page shows: everything the legacy page holds, and what Tidtam adds
(planned against actual progress, the step timeline, the budget chain, the evaluation history
and the audit trail with the time spent in each state).

One read of the project, a fixed number of queries whatever its size, used alike by the
signed-in page, the public page and the print view. Nothing here writes. `load_project`
reads the project with everything hanging off it that the page shows, so that building and
rendering the page loads nothing lazily (tests/test_statement_counts.py checks).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad

from service.audit.models import AuditEntry
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    Installment,
    InstallmentState,
)
from service.budget.queries import (
    BudgetHistory,
    budget_history,
    installment_paid,
    installment_payments,
)
from service.core.fiscal import local_date
from service.core.progress import (
    FULL,
    StepPlan,
    actual_progress,
    is_behind_schedule,
    planned_progress,
)
from service.core.sql import dialect_of, in_ids
from service.evaluations.models import Evaluation, EvaluationState
from service.evaluations.permissions import score_shown
from service.kpis.models import Kpi, KpiQuarterResult, kpi_project
from service.org.models import OrgUnit
from service.projects.models import (
    UNDER_WAY,
    PlanStep,
    ProgressReport,
    Project,
    ResultState,
    StepResult,
    TargetKind,
)
from service.strategy.models import StrategyNode

#: Strategy nodes sit at levels 1 to 8 (a CHECK constraint): a linked node has at most seven
#: ancestors, all joined to the project's own read.
STRATEGY_ANCESTORS = 7

#: Allocation states whose amount counts as handed down.
ALLOCATED_STATES = (AllocationState.APPROVED, AllocationState.DISBURSING, AllocationState.COMPLETED)
#: Installment states whose amount counts as granted (approved, whether paid yet or not).
GRANTED_INSTALLMENT_STATES = (InstallmentState.APPROVED, InstallmentState.PAID)


@dataclass
class StepRow:
    step: PlanStep
    plan: StepPlan
    results: list[StepResult]
    completion: Decimal | None  # mean accepted completion; None when nothing is accepted
    overdue: bool

    @property
    def status(self) -> str:
        """done, partly (something accepted, not all of it), overdue or planned."""
        if self.completion is not None and self.completion >= FULL:
            return "done"
        if self.overdue:
            return "overdue"
        if self.completion is not None:
            return "partly"
        return "planned"


@dataclass
class ReportRow:
    number: int
    report: ProgressReport
    planned: Decimal  # what the plan expected on the report's day

    @property
    def behind(self) -> bool:
        return is_behind_schedule(self.report.percent, self.planned)

    @property
    def gap(self) -> Decimal:
        return self.planned - self.report.percent


@dataclass
class KpiBlock:
    kpi: Kpi
    quarters: list[KpiQuarterResult | None]  # index 0 is Q1

    @property
    def achieved(self) -> KpiQuarterResult | None:
        """The latest quarter that has a result (KPI values are cumulative through the year)."""
        for result in reversed(self.quarters):
            if result is not None and result.measured:
                return result
        return None


@dataclass
class InstallmentRow:
    installment: Installment
    approvals: list[Approval]


@dataclass
class AllocationRow:
    allocation: Allocation
    approvals: list[Approval]
    installments: list[InstallmentRow]


@dataclass
class BudgetChain:
    approved: Decimal
    allocated: Decimal
    granted: Decimal  # installments approved or paid
    paid: Decimal
    allocations: list[AllocationRow]
    #: (day, amount) of every payment, for the disbursement curve.
    payments: list[tuple[date, Decimal]] = field(default_factory=list)
    #: Original, transfers in and out, current (None where it was not read).
    history: BudgetHistory | None = None


@dataclass
class StateSpan:
    """An object's stay in one state: entered with `entry`, left at `left_at` (None: still)."""

    entry: AuditEntry
    left_at: datetime | None
    duration: timedelta


@dataclass
class ObjectTrail:
    """One object's stays in its states. It is named by its type, then `unit` (in the
    reader's language) and `number` (a code, a step or installment number, a quarter)."""

    object_type: str
    object_id: int
    unit: OrgUnit | None
    number: str
    spans: list[StateSpan]


@dataclass
class ProjectPage:
    project: Project
    today: date
    actual: Decimal
    planned: Decimal
    strategy_paths: list[list[StrategyNode]]
    targets_by_kind: dict[TargetKind, list[str]]
    steps: list[StepRow]
    reports: list[ReportRow]
    kpis: list[KpiBlock]
    budget: BudgetChain
    evaluations: list[Evaluation]
    progress_events: list[tuple[date, Decimal]]
    audit_entries: list[AuditEntry]
    trails: list[ObjectTrail] = field(default_factory=list)
    #: False: only the project's own states were read, and `history_count` counts the audit
    #: rows of everything on the page (the page links to its history instead).
    full_history: bool = True
    history_count: int = 0
    #: The reader's `sees_unpublished_scores` answer for the project's responsible unit:
    #: False (the public page, the print view of the public, a school) shows published
    #: scores only.
    unpublished_shown: bool = False

    @property
    def behind(self) -> bool:
        """Behind an approved plan only, as the lists say (a plan not yet approved is no plan
        anyone agreed to: service.projects.models.UNDER_WAY)."""
        return self.project.state in UNDER_WAY and is_behind_schedule(self.actual, self.planned)

    @property
    def gap(self) -> Decimal:
        return self.planned - self.actual

    @property
    def public(self) -> bool:
        """Whether the project has a public page (a draft or withdrawn one has none)."""
        from service.dashboard.queries import PUBLIC_STATES

        return self.project.state in PUBLIC_STATES

    @property
    def overdue_steps(self) -> int:
        return sum(1 for row in self.steps if row.overdue)

    @property
    def latest_evaluation(self) -> Evaluation | None:
        """The latest published quarter (the legacy page's 'สยป. ประเมินโครงการ' line)."""
        published = [e for e in self.evaluations if e.state is EvaluationState.PUBLISHED]
        return max(published, key=lambda e: e.quarter) if published else None

    def shows_score(self, evaluation: Evaluation) -> bool:
        """Whether the page shows `evaluation`'s score, sub-scores, comment and evaluator."""
        return score_shown(evaluation, self.unpublished_shown)


def _strategy_paths(project: Project) -> list[list[StrategyNode]]:
    """Each linked strategy node with its ancestors, root first (`load_project` joins the
    ancestors to the project's read)."""
    paths = []
    for node in project.strategies:
        chain: list[StrategyNode] = []
        current: StrategyNode | None = node
        while current is not None:
            chain.append(current)
            current = current.parent
        paths.append(list(reversed(chain)))
    return paths


def _project_loaders() -> list[_AbstractLoad]:
    """What the page shows of the project itself, read with it: its year and units, its
    texts and strategy nodes joined to the project's row (short lists typed in by a person:
    the join multiplies a handful of rows), then its steps with their results and units, and
    its progress reports, one statement each."""
    strategies = joinedload(Project.strategies)
    for _level in range(STRATEGY_ANCESTORS):
        strategies = strategies.joinedload(StrategyNode.parent)
    return [
        joinedload(Project.fiscal_year),
        joinedload(Project.owner_unit),
        joinedload(Project.responsible_unit),
        joinedload(Project.targets),
        joinedload(Project.objectives),
        strategies,
        selectinload(Project.steps).joinedload(PlanStep.results).joinedload(StepResult.unit),
        selectinload(Project.steps).joinedload(PlanStep.responsible_unit),
        selectinload(Project.reports),
    ]


def _history_count_of(project_id: Any) -> ScalarSelect[int]:
    """The number of audit rows of the project and of every part of it the page lists (its
    steps, step results, reports, allocations, installments and evaluations), as one scalar
    subquery: a sum of per-type counts, each an index probe of `ix_audit_entry_object`."""

    def count(kind: str, ids: Any) -> ScalarSelect[int]:
        return (
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.object_type == kind, AuditEntry.object_id.in_(ids))
            .scalar_subquery()
        )

    steps = select(PlanStep.id).where(PlanStep.project_id == project_id)
    results = (
        select(StepResult.id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .where(PlanStep.project_id == project_id)
    )
    reports = select(ProgressReport.id).where(ProgressReport.project_id == project_id)
    allocations = select(Allocation.id).where(Allocation.project_id == project_id)
    installments = (
        select(Installment.id)
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .where(Allocation.project_id == project_id)
    )
    evaluations = select(Evaluation.id).where(Evaluation.project_id == project_id)
    total = (
        count("project", [project_id])
        + count("plan_step", steps)
        + count("step_result", results)
        + count("progress_report", reports)
        + count("allocation", allocations)
        + count("installment", installments)
        + count("evaluation", evaluations)
    )
    return select(total).scalar_subquery()


@cache
def _project_statement(history_count: bool) -> Select[*tuple[Any, ...]]:
    """`load_project`'s statement, built once: the project (and the count of its audit rows)
    by a bound id. Building it, its loaders and its seven counts, cost more Python than
    running it."""
    project_id = bindparam("project_id", type_=Integer)
    columns: list[ColumnElement[int] | ScalarSelect[int]] = []
    if history_count:
        columns.append(_history_count_of(project_id))
    return (
        select(Project, *columns)
        .where(Project.id == project_id)
        .options(*_project_loaders())
        .execution_options(populate_existing=True)
    )


def load_project(
    session: Session, project_id: int, history_count: bool = False
) -> tuple[Project, int] | None:
    """The project with what its page shows of it (see `_project_loaders`), and with
    `history_count` the number of audit rows of it and its parts (0 without); None when there
    is no such project."""
    found = (
        session.execute(_project_statement(history_count), {"project_id": project_id})
        .unique()
        .one_or_none()
    )
    if found is None:
        return None
    return found[0], (found[1] if history_count else 0)


def _step_rows(project: Project, today: date) -> list[StepRow]:
    rows = []
    for step in project.steps:
        step_results = sorted(step.results, key=lambda result: result.id)
        accepted = [
            r.accepted_completion for r in step_results if r.accepted_completion is not None
        ]
        completion = (
            sum(accepted, Decimal(0)) / len(step_results) if accepted and step_results else None
        )
        # Settled only when every unit's result is accepted: one school of six accepted
        # leaves the step late for the other five.
        settled = bool(step_results) and all(r.state is ResultState.ACCEPTED for r in step_results)
        rows.append(
            StepRow(
                step=step,
                plan=StepPlan(step.weight, step.planned_start, step.planned_end),
                results=step_results,
                completion=completion,
                overdue=step.planned_end < today and not settled,
            )
        )
    return rows


def _progress_events(rows: list[StepRow], today: date) -> list[tuple[date, Decimal]]:
    """(day, points added) for every accepted result: the day it was accepted (Bangkok) and
    weight × accepted completion ÷ number of result rows of its step ÷ 100. Summed up to a day
    they give that day's actual progress, the same figure `project_progress` gives today."""
    events = []
    for row in rows:
        for result in row.results:
            if result.accepted_completion is None:
                continue
            day = local_date(result.reviewed_at) if result.reviewed_at else today
            share = row.step.weight * result.accepted_completion / FULL / len(row.results)
            events.append((day, share))
    return sorted(events)


def _kpi_blocks(session: Session, project: Project) -> list[KpiBlock]:
    kpis = session.scalars(
        select(Kpi)
        .join(kpi_project, kpi_project.c.kpi_id == Kpi.id)
        .where(kpi_project.c.project_id == project.id)
        .options(joinedload(Kpi.results))
        .order_by(Kpi.code)
    ).unique()
    blocks = []
    for kpi in kpis:
        quarters: list[KpiQuarterResult | None] = [None] * 4
        for result in kpi.results:
            quarters[result.quarter - 1] = result
        blocks.append(KpiBlock(kpi, quarters))
    return blocks


def _budget_chain(session: Session, project: Project) -> BudgetChain:
    allocations = (
        session.scalars(
            select(Allocation)
            .where(Allocation.project_id == project.id)
            .options(
                joinedload(Allocation.installments).joinedload(Installment.payments),
                joinedload(Allocation.recipient_unit),
            )
            .order_by(Allocation.id)
        )
        .unique()
        .all()
    )
    approvals: dict[tuple[str, int], list[Approval]] = defaultdict(list)
    if allocations:
        # By the ids of the allocations and installments loaded above, each side an index
        # range of (subject_type, subject_id): the same by subquery was an OR of two
        # semi-joins PostgreSQL answered by reading every approval (35 ms at 100,000
        # projects).
        dialect = dialect_of(session)
        allocation_ids = [allocation.id for allocation in allocations]
        installment_ids = [i.id for allocation in allocations for i in allocation.installments]
        rows = session.scalars(
            select(Approval)
            .where(
                or_(
                    and_(
                        Approval.subject_type == "allocation",
                        in_ids(dialect, Approval.subject_id, allocation_ids),
                    ),
                    and_(
                        Approval.subject_type == "installment",
                        in_ids(dialect, Approval.subject_id, installment_ids),
                    ),
                )
            )
            .options(joinedload(Approval.approver), joinedload(Approval.acting_for))
            .order_by(Approval.approved_at, Approval.id)
        ).all()
        for approval in rows:
            approvals[(approval.subject_type, approval.subject_id)].append(approval)
    zero = Decimal("0.00")
    allocated = granted = paid = zero
    payments: list[tuple[date, Decimal]] = []
    chain_rows = []
    for allocation in allocations:
        if allocation.state in ALLOCATED_STATES:
            allocated += allocation.amount
        installments = []
        for installment in allocation.installments:
            if installment.state in GRANTED_INSTALLMENT_STATES:
                granted += installment.amount
            paid += installment_paid(installment)
            payments.extend(installment_payments(installment))
            installments.append(
                InstallmentRow(installment, approvals[("installment", installment.id)])
            )
        chain_rows.append(
            AllocationRow(allocation, approvals[("allocation", allocation.id)], installments)
        )
    return BudgetChain(
        project.approved_budget,
        allocated,
        granted,
        paid,
        chain_rows,
        payments,
        budget_history(session, project)
        if project.budget_transferred_at is not None
        else BudgetHistory(project.approved_budget, [], project.approved_budget, []),
    )


def _audit_of(subjects: dict[str, list[int]]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(ids))
            for kind, ids in subjects.items()
            if ids
        )
    )


def _audit_count(session: Session, subjects: dict[str, list[int]]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(_audit_of(subjects))) or 0
    )


def _audit_entries(session: Session, subjects: dict[str, list[int]]) -> list[AuditEntry]:
    """The audit rows of the given objects (object type → ids), oldest first."""
    entries = session.scalars(
        select(AuditEntry)
        .where(_audit_of(subjects))
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.acting_for))
        .order_by(AuditEntry.occurred_at, AuditEntry.id)
    ).all()
    return list(entries)


def time_in_states(
    entries: list[AuditEntry], now: datetime
) -> dict[tuple[str, int], list[StateSpan]]:
    """For each object, its stays in each state, from the audit rows that changed its state:
    a stay runs from the row that entered a state to the next such row of the same object,
    or to `now` for the state it is still in. Rows without a `to_state` are not state changes
    and are skipped, as are rows that leave the object in the state it was in (a part
    payment of an approved installment: one stay, not one row per payment). Entries must be
    in time order."""
    changes: dict[tuple[str, int], list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        if entry.to_state is None:
            continue
        rows = changes[(entry.object_type, entry.object_id)]
        if rows and rows[-1].to_state == entry.to_state:
            continue
        rows.append(entry)
    spans: dict[tuple[str, int], list[StateSpan]] = {}
    for key, rows in changes.items():
        spans[key] = []
        for index, entry in enumerate(rows):
            left_at = rows[index + 1].occurred_at if index + 1 < len(rows) else None
            spans[key].append(
                StateSpan(entry, left_at, max((left_at or now) - entry.occurred_at, timedelta()))
            )
    return spans


def build_project_page(
    session: Session,
    project: Project,
    today: date,
    now: datetime,
    full_history: bool = True,
    unpublished_shown: bool = False,
    history_count: int | None = None,
) -> ProjectPage:
    """Everything the project page shows about `project`, as of `today` (a Bangkok day) and
    `now` (the instant open states are measured to). Reads only.

    Without `full_history`, the states of the project itself only, and a count of the audit
    rows of all its parts: a busy project has hundreds, which belong on its history page
    rather than on the page a school clerk opens on a phone.

    `unpublished_shown` is the reader's `sees_unpublished_scores` answer for the project's
    responsible unit (service.evaluations.permissions); without it, evaluations not yet
    published are listed without their score, sub-scores, comment or evaluator.

    `project` should come from `load_project` (otherwise its parts load lazily), with the
    `history_count` it gives when not `full_history` (None: counted here)."""
    steps = _step_rows(project, today)
    plans = [row.plan for row in steps]
    actual = actual_progress((row.step.weight, row.completion) for row in steps)
    reports = [r for r in project.reports if r.withdrawn_at is None]
    report_rows = [
        ReportRow(number, report, planned_progress(plans, report.reported_on))
        for number, report in enumerate(reports, start=1)
    ]
    evaluations = list(
        session.scalars(
            select(Evaluation)
            .where(Evaluation.project_id == project.id)
            .options(joinedload(Evaluation.revisions), joinedload(Evaluation.evaluator))
            .order_by(Evaluation.quarter)
        )
        .unique()
        .all()
    )
    budget = _budget_chain(session, project)
    targets: dict[TargetKind, list[str]] = {kind: [] for kind in TargetKind}
    for target in project.targets:
        targets[target.kind].append(target.text)

    subjects = {
        "project": [project.id],
        "plan_step": [row.step.id for row in steps],
        "step_result": [r.id for row in steps for r in row.results],
        "progress_report": [r.id for r in project.reports],
        "allocation": [a.allocation.id for a in budget.allocations],
        "installment": [i.installment.id for a in budget.allocations for i in a.installments],
        "evaluation": [e.id for e in evaluations],
    }
    if full_history:
        entries = _audit_entries(session, subjects)
        history_count = 0
    else:
        entries = _audit_entries(session, {"project": [project.id]})
        if history_count is None:
            history_count = _audit_count(session, subjects)
    page = ProjectPage(
        project=project,
        today=today,
        actual=actual,
        planned=planned_progress(plans, today),
        strategy_paths=_strategy_paths(project),
        targets_by_kind=targets,
        steps=steps,
        reports=report_rows,
        kpis=_kpi_blocks(session, project),
        budget=budget,
        evaluations=evaluations,
        progress_events=_progress_events(steps, today),
        audit_entries=entries,
        full_history=full_history,
        history_count=history_count,
        unpublished_shown=unpublished_shown,
    )
    page.trails = _trails(page, time_in_states(entries, now))
    return page


def _trails(page: ProjectPage, spans: dict[tuple[str, int], list[StateSpan]]) -> list[ObjectTrail]:
    """The objects with state changes, in page order: the project, its step results, its
    allocations and installments, its evaluations."""
    names: list[tuple[str, int, OrgUnit | None, str]] = [
        ("project", page.project.id, None, page.project.code)
    ]
    for row in page.steps:
        for result in row.results:
            names.append(("step_result", result.id, result.unit, str(row.step.position)))
    for alloc in page.budget.allocations:
        recipient = alloc.allocation.recipient_unit
        names.append(("allocation", alloc.allocation.id, recipient, ""))
        for position, inst in enumerate(alloc.installments, start=1):
            names.append(("installment", inst.installment.id, recipient, str(position)))
    for evaluation in page.evaluations:
        # The quarter's number alone: the page names it in the reader's language.
        names.append(("evaluation", evaluation.id, None, str(evaluation.quarter)))
    trails = []
    for object_type, object_id, unit, number in names:
        found = spans.get((object_type, object_id))
        if found:
            trails.append(ObjectTrail(object_type, object_id, unit, number, found))
    return trails

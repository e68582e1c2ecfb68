"""What the project page shows: everything the legacy page holds, and what Tidtam adds
(planned against actual progress, the step timeline, the budget chain, the evaluation history
and the audit trail with the time spent in each state).

One read of the project, a fixed number of queries whatever its size, used alike by the
signed-in page, the public page and the print view. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from service.audit.models import AuditEntry
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    Installment,
    InstallmentState,
)
from service.core.fiscal import local_date
from service.core.progress import (
    FULL,
    StepPlan,
    actual_progress,
    is_behind_schedule,
    planned_progress,
)
from service.evaluations.models import Evaluation, EvaluationState
from service.evaluations.permissions import score_shown
from service.kpis.models import Kpi, KpiQuarterResult, kpi_project
from service.org.models import OrgUnit
from service.projects.models import (
    PlanStep,
    ProgressReport,
    Project,
    ResultState,
    StepResult,
    TargetKind,
)
from service.strategy.models import StrategyNode

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
            if result is not None and result.value is not None:
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
        return is_behind_schedule(self.actual, self.planned)

    @property
    def gap(self) -> Decimal:
        return self.planned - self.actual

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


def _strategy_paths(session: Session, project: Project) -> list[list[StrategyNode]]:
    """Each linked strategy node with its ancestors, root first. The ancestors come in one
    recursive query; walking `parent` then finds them in the session instead of loading
    them one level at a time."""
    parents = [node.parent_id for node in project.strategies if node.parent_id is not None]
    ancestors: list[StrategyNode] = []  # held: the session keeps only weak references
    if parents:
        up = (
            select(StrategyNode.id, StrategyNode.parent_id)
            .where(StrategyNode.id.in_(parents))
            .cte("ancestor", recursive=True)
        )
        up = up.union_all(
            select(StrategyNode.id, StrategyNode.parent_id).join(
                up, StrategyNode.id == up.c.parent_id
            )
        )
        ancestors += session.scalars(
            select(StrategyNode).where(StrategyNode.id.in_(select(up.c.id)))
        )
    paths = []
    for node in project.strategies:
        chain: list[StrategyNode] = []
        current: StrategyNode | None = node
        while current is not None:
            chain.append(current)
            current = current.parent
        paths.append(list(reversed(chain)))
    return paths


def _step_rows(session: Session, project: Project, today: date) -> list[StepRow]:
    results = session.scalars(
        select(StepResult)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .where(PlanStep.project_id == project.id)
        .options(selectinload(StepResult.unit))
        .order_by(StepResult.step_id, StepResult.id)
    ).all()
    by_step: dict[int, list[StepResult]] = defaultdict(list)
    for result in results:
        by_step[result.step_id].append(result)
    rows = []
    for step in project.steps:
        step_results = by_step.get(step.id, [])
        accepted = [
            r.accepted_completion for r in step_results if r.accepted_completion is not None
        ]
        completion = (
            sum(accepted, Decimal(0)) / len(step_results) if accepted and step_results else None
        )
        any_accepted = any(r.state is ResultState.ACCEPTED for r in step_results)
        rows.append(
            StepRow(
                step=step,
                plan=StepPlan(step.weight, step.planned_start, step.planned_end),
                results=step_results,
                completion=completion,
                overdue=step.planned_end < today and not any_accepted,
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
        .options(selectinload(Kpi.results))
        .order_by(Kpi.code)
    ).all()
    blocks = []
    for kpi in kpis:
        quarters: list[KpiQuarterResult | None] = [None] * 4
        for result in kpi.results:
            quarters[result.quarter - 1] = result
        blocks.append(KpiBlock(kpi, quarters))
    return blocks


def _budget_chain(session: Session, project: Project) -> BudgetChain:
    allocations = session.scalars(
        select(Allocation)
        .where(Allocation.project_id == project.id)
        .options(selectinload(Allocation.installments), selectinload(Allocation.recipient_unit))
        .order_by(Allocation.id)
    ).all()
    allocation_ids = [a.id for a in allocations]
    installment_ids = [i.id for a in allocations for i in a.installments]
    approvals: dict[tuple[str, int], list[Approval]] = defaultdict(list)
    if allocation_ids or installment_ids:
        rows = session.scalars(
            select(Approval)
            .where(
                or_(
                    and_(
                        Approval.subject_type == "allocation",
                        Approval.subject_id.in_(allocation_ids),
                    ),
                    and_(
                        Approval.subject_type == "installment",
                        Approval.subject_id.in_(installment_ids),
                    ),
                )
            )
            .options(selectinload(Approval.approver), selectinload(Approval.acting_for))
            .order_by(Approval.approved_at, Approval.id)
        ).all()
        for approval in rows:
            approvals[(approval.subject_type, approval.subject_id)].append(approval)
    zero = Decimal("0.00")
    allocated = granted = paid = zero
    chain_rows = []
    for allocation in allocations:
        if allocation.state in ALLOCATED_STATES:
            allocated += allocation.amount
        installments = []
        for installment in allocation.installments:
            if installment.state in GRANTED_INSTALLMENT_STATES:
                granted += installment.amount
            if installment.state is InstallmentState.PAID:
                paid += installment.amount
            installments.append(
                InstallmentRow(installment, approvals[("installment", installment.id)])
            )
        chain_rows.append(
            AllocationRow(allocation, approvals[("allocation", allocation.id)], installments)
        )
    return BudgetChain(project.approved_budget, allocated, granted, paid, chain_rows)


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
        .options(selectinload(AuditEntry.actor), selectinload(AuditEntry.acting_for))
        .order_by(AuditEntry.occurred_at, AuditEntry.id)
    ).all()
    return list(entries)


def time_in_states(
    entries: list[AuditEntry], now: datetime
) -> dict[tuple[str, int], list[StateSpan]]:
    """For each object, its stays in each state, from the audit rows that changed its state:
    a stay runs from the row that entered a state to the next such row of the same object,
    or to `now` for the state it is still in. Rows without a `to_state` are not state changes
    and are skipped. Entries must be in time order."""
    changes: dict[tuple[str, int], list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        if entry.to_state is not None:
            changes[(entry.object_type, entry.object_id)].append(entry)
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
) -> ProjectPage:
    """Everything the project page shows about `project`, as of `today` (a Bangkok day) and
    `now` (the instant open states are measured to). Reads only.

    Without `full_history`, the states of the project itself only, and a count of the audit
    rows of all its parts: a busy project has hundreds, which belong on its history page
    rather than on the page a school clerk opens on a phone.

    `unpublished_shown` is the reader's `sees_unpublished_scores` answer for the project's
    responsible unit (service.evaluations.permissions); without it, evaluations not yet
    published are listed without their score, sub-scores, comment or evaluator."""
    steps = _step_rows(session, project, today)
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
            .options(selectinload(Evaluation.revisions), selectinload(Evaluation.evaluator))
            .order_by(Evaluation.quarter)
        ).all()
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
    history_count = 0
    if full_history:
        entries = _audit_entries(session, subjects)
    else:
        entries = _audit_entries(session, {"project": [project.id]})
        history_count = _audit_count(session, subjects)
    page = ProjectPage(
        project=project,
        today=today,
        actual=actual,
        planned=planned_progress(plans, today),
        strategy_paths=_strategy_paths(session, project),
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
        names.append(("evaluation", evaluation.id, None, f"Q{evaluation.quarter}"))
    trails = []
    for object_type, object_id, unit, number in names:
        found = spans.get((object_type, object_id))
        if found:
            trails.append(ObjectTrail(object_type, object_id, unit, number, found))
    return trails

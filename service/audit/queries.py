"""Reads of the audit trail: a unit's entries over a range of days, in chain order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, joinedload

from service.audit.models import AuditEntry
from service.budget.models import Allocation, BudgetTransfer, Installment
from service.core.fiscal import DEFAULT_TZ
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi
from service.notifications.models import LineGroup
from service.org.models import OrgUnit
from service.projects.models import PlanStep, Project, StepResult
from service.threads.models import Comment


def _projects_of(unit: OrgUnit) -> Any:
    """The ids of projects owned by or the responsibility of a unit of `unit`'s subtree."""
    return (
        select(Project.id)
        .join(
            OrgUnit,
            or_(OrgUnit.id == Project.owner_unit_id, OrgUnit.id == Project.responsible_unit_id),
        )
        .where(OrgUnit.path.startswith(unit.path))
    )


def _of_unit(unit: OrgUnit) -> ColumnElement[bool]:
    """Entries about the unit's subtree: its projects and what hangs from them (step results,
    allocations, installments, evaluations), its KPIs' evaluations and the units themselves."""
    projects = _projects_of(unit)
    subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))
    results = (
        select(StepResult.id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .where(PlanStep.project_id.in_(projects))
    )
    allocations = select(Allocation.id).where(Allocation.project_id.in_(projects))
    installments = select(Installment.id).where(Installment.allocation_id.in_(allocations))
    evaluations = select(Evaluation.id).where(
        or_(
            Evaluation.project_id.in_(projects),
            Evaluation.kpi_id.in_(select(Kpi.id).where(Kpi.owner_unit_id.in_(subtree))),
        )
    )
    subjects: list[tuple[str, Any]] = [
        ("project", projects),
        ("step_result", results),
        ("allocation", allocations),
        ("installment", installments),
        ("evaluation", evaluations),
    ]
    # The comments of the threads on those subjects.
    comments = select(Comment.id).where(
        or_(
            *(
                and_(Comment.subject_type == kind, Comment.subject_id.in_(ids))
                for kind, ids in subjects
            )
        )
    )
    kinds: list[tuple[str, Any]] = [
        *subjects,
        ("org_unit", subtree),
        ("kpi", select(Kpi.id).where(Kpi.owner_unit_id.in_(subtree))),
        ("line_group", select(LineGroup.id).where(LineGroup.unit_id.in_(subtree))),
        ("comment", comments),
        (
            "budget_transfer",
            select(BudgetTransfer.id).where(
                or_(BudgetTransfer.source_id.in_(projects), BudgetTransfer.target_id.in_(projects))
            ),
        ),
    ]
    return or_(
        *(
            and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(ids))
            for kind, ids in kinds
        )
    )


def day_bounds(first: date, last: date, tz: str = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """The instants from the start of `first` to the end of `last`, local days."""
    where = ZoneInfo(tz)
    return (
        datetime.combine(first, time.min, where),
        datetime.combine(last + timedelta(days=1), time.min, where),
    )


def unit_trail_ids(
    session: Session, unit: OrgUnit, first: date, last: date, *, whole_service: bool = False
) -> list[int]:
    """The ids of the unit's audit entries from `first` to `last` (local days), in chain
    order (entries not chained yet last, by id). With `whole_service` (the root unit's
    admin), every entry: accounts, tokens, delegations, and things since gone."""
    start, end = day_bounds(first, last)
    trail = select(AuditEntry.id).where(
        AuditEntry.occurred_at >= start, AuditEntry.occurred_at < end
    )
    if not whole_service:
        trail = trail.where(_of_unit(unit))
    return list(
        session.scalars(
            trail.order_by(AuditEntry.chain_seq.is_(None), AuditEntry.chain_seq, AuditEntry.id)
        )
    )


def entries_by_ids(session: Session, ids: Sequence[int]) -> list[AuditEntry]:
    """The entries `ids`, with who did it and for whom, in the order of `ids`."""
    found = {
        e.id: e
        for e in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id.in_(list(ids)))
            .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.acting_for))
        )
    }
    return [found[i] for i in ids if i in found]

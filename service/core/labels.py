"""What each enum value is called on screen, in one place (English msgids, Thai in the catalog).

Templates use the ``label`` filter (``{{ project.state|label }}``); exports call :func:`label`.
A workflow's states, transitions and kind are named through `service.workflow.registry`,
which reads its state names from here.
A value without an entry shows as itself, so a new enum member is visible (and caught by the
translation test) rather than hidden.
"""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.budget.models import AllocationState, InstallmentState
from service.core.translate import lazy_gettext as _l
from service.evaluations.models import EvaluationState
from service.kpis.models import KpiLevel, KpiType, MeasureKind
from service.org.models import Role, UnitKind
from service.projects.models import ProjectKind, ProjectState, ResultState, TargetKind

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
    Role: {
        Role.SCHOOL.value: _l("School"),
        Role.OFFICER.value: _l("District officer"),
        Role.APPROVER.value: _l("District approver"),
        Role.EVALUATOR.value: _l("Evaluator"),
        Role.ADMIN.value: _l("Administrator"),
    },
    UnitKind: {
        UnitKind.ADMINISTRATION.value: _l("Administration"),
        UnitKind.DISTRICT_OFFICE.value: _l("District office"),
        UnitKind.DEPARTMENT.value: _l("Department"),
        UnitKind.DIVISION.value: _l("Division"),
        UnitKind.SCHOOL_NETWORK.value: _l("School network"),
        UnitKind.SCHOOL.value: _l("School"),
    },
    ProjectKind: {
        ProjectKind.ROUTINE.value: _l("Routine work"),
        ProjectKind.STRATEGIC.value: _l("Strategic"),
    },
    ProjectState: {
        ProjectState.DRAFT.value: _l("Draft"),
        ProjectState.SUBMITTED.value: _l("Submitted"),
        ProjectState.LOCKED.value: _l("Plan locked"),
        ProjectState.REVISION_REQUESTED.value: _l("Revision requested"),
        ProjectState.CLOSED.value: _l("Closed"),
        ProjectState.WITHDRAWN.value: _l("Withdrawn"),
    },
    TargetKind: {
        TargetKind.QUANTITY.value: _l("Quantity"),
        TargetKind.QUALITY.value: _l("Quality"),
    },
    ResultState: {
        ResultState.NOT_STARTED.value: _l("Not started"),
        ResultState.IN_PROGRESS.value: _l("In progress"),
        ResultState.SUBMITTED.value: _l("Submitted for review"),
        ResultState.ACCEPTED.value: _l("Accepted"),
        ResultState.RETURNED.value: _l("Returned"),
    },
    AllocationState: {
        AllocationState.DRAFT.value: _l("Draft"),
        AllocationState.SUBMITTED.value: _l("Awaiting approval"),
        AllocationState.RETURNED.value: _l("Returned"),
        AllocationState.APPROVED.value: _l("Approved"),
        AllocationState.DISBURSING.value: _l("Disbursing"),
        AllocationState.COMPLETED.value: _l("Completed"),
        AllocationState.REJECTED.value: _l("Rejected"),
        AllocationState.WITHDRAWN.value: _l("Withdrawn"),
    },
    InstallmentState: {
        InstallmentState.REQUESTED.value: _l("Requested"),
        InstallmentState.APPROVED.value: _l("Approved"),
        InstallmentState.PAID.value: _l("Paid"),
        InstallmentState.REJECTED.value: _l("Rejected"),
    },
    EvaluationState: {
        EvaluationState.OPEN.value: _l("Open"),
        EvaluationState.SELF_ASSESSED.value: _l("Self-assessed"),
        EvaluationState.SCORED.value: _l("Scored"),
        EvaluationState.PUBLISHED.value: _l("Published"),
    },
    MeasureKind: {
        MeasureKind.PERCENT.value: _l("Percent"),
        MeasureKind.COUNT.value: _l("Count"),
        MeasureKind.LEVEL.value: _l("Level"),
        MeasureKind.AVERAGE.value: _l("Average"),
        MeasureKind.STEPS_COMPLETE.value: _l("Steps complete"),
        MeasureKind.OTHER.value: _l("Other"),
    },
    KpiType: {
        KpiType.ROUTINE.value: _l("Routine-work KPI"),
        KpiType.STRATEGIC.value: _l("Strategic KPI"),
    },
    KpiLevel: {
        KpiLevel.OUTPUT.value: _l("Output-level KPI"),
        KpiLevel.OUTCOME.value: _l("Outcome-level KPI"),
    },
}


#: Object types of audit entries, as the audit trail names them.
OBJECT_TYPES: dict[str, LazyString] = {
    "project": _l("Project"),
    "plan_step": _l("Plan step"),
    "step_result": _l("Step result"),
    "progress_report": _l("Progress report"),
    "allocation": _l("Allocation"),
    "installment": _l("Installment"),
    "evaluation": _l("Evaluation"),
}


def label(value: object) -> str:
    """The on-screen name of an enum member in the current language; anything else as text."""
    if isinstance(value, enum.Enum):
        found = LABELS.get(type(value), {}).get(str(value.value))
        if found is not None:
            return str(found)
        return str(value.value)
    return "" if value is None else str(value)


def object_type_label(value: str) -> str:
    """The on-screen name of an audited object type (``"allocation"`` → Allocation)."""
    found = OBJECT_TYPES.get(value)
    return str(found) if found is not None else value

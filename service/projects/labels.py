"""What the projects' words are called: kinds and states of projects and step results, kinds
of target, the objects of a project, the actions on them and the inputs of their forms."""

from __future__ import annotations

import enum

from flask_babel.speaklater import LazyString

from service.core.translate import lazy_gettext as _l
from service.projects.models import ProjectKind, ProjectState, ResultState, TargetKind

LABELS: dict[type[enum.Enum], dict[str, LazyString]] = {
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
}

OBJECT_TYPES: dict[str, LazyString] = {
    "project": _l("Project"),
    "plan_step": _l("Plan step"),
    "step_result": _l("Step result"),
    "progress_report": _l("Progress report"),
}

ACTIONS: dict[str, LazyString] = {
    "project.create": _l("Project created"),
    "project.update": _l("Project changed"),
    "project.texts": _l("Project texts changed"),
    "project.strategies": _l("Strategies changed"),
    "project.report": _l("Progress reported"),
    "step.save": _l("Plan step saved"),
    "step_result.assign": _l("Step assigned"),
    "evidence.upload": _l("Evidence uploaded"),
    "evidence.withdraw": _l("Evidence withdrawn"),
}

FIELDS: dict[str, LazyString] = {
    "completion": _l("Completion"),
    "weight": _l("Weight"),
    "planned_start": _l("Planned start"),
    "planned_end": _l("Planned end"),
    "position": _l("Step"),
    "approved_budget": _l("Approved budget (baht)"),
    "percent": _l("Progress (percent)"),
    "responsible_unit_id": _l("Responsible unit"),
    "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"),
    "in_plan": _l("In the annual plan"),
    "multi_year": _l("Multi-year"),
    "rationale": _l("Rationale"),
    "obstacles": _l("Obstacles"),
    "problems": _l("Problems"),
    "overdue": _l("Overdue"),
    "reported_on": _l("Reported on"),
    "unit_codes": _l("Units (codes)"),
}

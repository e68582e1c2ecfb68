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

from service.budget.models import AllocationState, InstallmentState, TransferState
from service.core.translate import lazy_gettext as _l
from service.evaluations.models import EvaluationState
from service.kpis.models import KpiLevel, KpiType, MeasureKind
from service.notifications.models import ReminderKind
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
    TransferState: {
        TransferState.PREPARED.value: _l("Prepared"),
        TransferState.ENDORSED.value: _l("Endorsed"),
        TransferState.APPROVED.value: _l("Approved"),
        TransferState.RETURNED.value: _l("Returned"),
        TransferState.REJECTED.value: _l("Rejected"),
        TransferState.WITHDRAWN.value: _l("Withdrawn"),
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
    ReminderKind: {
        ReminderKind.STEP_DUE.value: _l("Step due soon"),
        ReminderKind.STEP_OVERDUE.value: _l("Step overdue"),
        ReminderKind.REVIEW_WAITING.value: _l("Result waiting for review"),
        ReminderKind.INSTALLMENT_WAITING.value: _l("Installment waiting for approval"),
        ReminderKind.REPORT_MISSING.value: _l("Monthly report missing"),
        ReminderKind.EVALUATION_SELF.value: _l("Self-assessment overdue"),
        ReminderKind.EVALUATION_SCORE.value: _l("Scoring overdue"),
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
    "budget_transfer": _l("Budget transfer"),
    "evaluation": _l("Evaluation"),
    "org_unit": _l("Unit"),
    "unit": _l("Unit"),
    "app_user": _l("User"),
    "user": _l("User"),
    "delegation": _l("Delegation"),
    "fiscal_year": _l("Fiscal year"),
    "strategy_node": _l("Strategy"),
    "reminder_rule": _l("Reminder rule"),
    "api_token": _l("API token"),
    "user_session": _l("Sign-in session"),
    "webhook_endpoint": _l("Webhook"),
    "line_group": _l("LINE group"),
    "notification": _l("Notification"),
    "comment": _l("Comment"),
    "kpi": _l("KPI"),
    "kpi_result": _l("KPI result"),
    "kpi_evidence": _l("KPI evidence file"),
}

#: The audit actions and notification kinds that are not a transition of a workflow table (the
#: tables name their own transitions: `action_label`).
ACTIONS: dict[str, LazyString] = {
    "allocation.create": _l("Allocation created"),
    "installment.request": _l("Installment requested"),
    "installment.payment": _l("Part of an installment paid"),
    "budget_transfer.create": _l("Budget transfer prepared"),
    "delegation.create": _l("Delegation given"),
    "delegation.withdraw": _l("Delegation withdrawn"),
    "project.create": _l("Project created"),
    "project.update": _l("Project changed"),
    "project.texts": _l("Project texts changed"),
    "project.strategies": _l("Strategies changed"),
    "project.report": _l("Progress reported"),
    "step.save": _l("Plan step saved"),
    "step_result.assign": _l("Step assigned"),
    "evidence.upload": _l("Evidence uploaded"),
    "evidence.withdraw": _l("Evidence withdrawn"),
    "evaluation.open": _l("Evaluation opened"),
    "role.grant": _l("Role granted"),
    "role.withdraw": _l("Role withdrawn"),
    "unit.limit": _l("Approval rule changed"),
    "fiscal_year.create": _l("Fiscal year added"),
    "fiscal_year.open": _l("Fiscal year opened"),
    "fiscal_year.close": _l("Fiscal year closed"),
    "strategy.create": _l("Strategy added"),
    "reminder_rule.create": _l("Reminder rule added"),
    "reminder_rule.activate": _l("Reminder rule switched on or off"),
    "user.deactivate": _l("Account deactivated"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "demo.load": _l("Demo data loaded"),
    "webhook.create": _l("Webhook added"),
    "webhook.update": _l("Webhook changed"),
    "webhook.rotate_secret": _l("Webhook secret rotated"),
    "webhook.withdraw": _l("Webhook withdrawn"),
    "webhook.test": _l("Webhook test"),
    "notification.retry": _l("Notification retried"),
    "notification.retry_all": _l("Failed notifications retried"),
    "line_account.link": _l("LINE account linked"),
    "line_account.unlink": _l("LINE account unlinked"),
    "line_group.join": _l("Bot joined a LINE group"),
    "line_group.leave": _l("Bot left a LINE group"),
    "line_group.link": _l("LINE group linked"),
    "line_group.unlink": _l("LINE group unlinked"),
    "comment.add": _l("Comment added"),
    "comment.edit": _l("Comment reworded"),
    "comment.withdraw": _l("Comment withdrawn"),
    "comment.mention": _l("Mentioned in a comment"),
    "calendar_feed.create": _l("Calendar feed address made"),
    "calendar_feed.revoke": _l("Calendar feed address revoked"),
    "kpi.create": _l("KPI created"),
    "kpi.update": _l("KPI changed"),
    "kpi.link": _l("KPI linked to a project"),
    "kpi.unlink": _l("KPI unlinked from a project"),
    "kpi.result": _l("KPI result reported"),
    "kpi.evidence_upload": _l("KPI evidence uploaded"),
    "kpi.evidence_withdraw": _l("KPI evidence withdrawn"),
    "user.sign_in": _l("Signed in"),
    "user.sign_in_failed": _l("Sign-in failed"),
    "user.sign_out": _l("Signed out"),
    "user.session_end": _l("Session ended"),
    "user.sessions_end": _l("All sessions ended"),
    "user.password_change": _l("Password changed"),
    "user.password_reset": _l("Password reset by e-mail link"),
    "user.password_reset_request": _l("Password reset link asked for"),
    "user.password_set": _l("Temporary password set by an admin"),
    "user.totp_enrol": _l("Authenticator app enrolled"),
    "user.totp_remove": _l("Authenticator app removed"),
    "user.totp_reset": _l("Second factor reset by an admin"),
    "user.recovery_code_use": _l("Recovery code used"),
    "user.sso_link": _l("Linked to single sign-on"),
    "user.update": _l("Account changed"),
}

#: The labels of the inputs that refusals name (`Refused.fields`), as the forms call them.
FIELDS: dict[str, LazyString] = {
    "reason": _l("Reason"),
    "completion": _l("Completion"),
    "narrative": _l("What was done"),
    "paid_on": _l("Paid on"),
    "score": _l("Score"),
    "sub_score_1": _l("Sub-score 1"),
    "sub_score_2": _l("Sub-score 2"),
    "comment": _l("Comment"),
    "self_value": _l("Self-assessment"),
    "self_narrative": _l("What was done"),
    "amount": _l("Amount"),
    "name": _l("Name"),
    "current_password": _l("Current password"),
    "new_password": _l("New password"),
    "sso_identity": _l("Single sign-on identity"),
    "code": _l("Code"),
    "weight": _l("Weight"),
    "planned_end": _l("Planned end"),
    "position": _l("Step"),
    "approved_budget": _l("Approved budget (baht)"),
    "limit": _l("Approval limit"),
    "approvals_required": _l("Approvals required"),
    "be_year": _l("Fiscal year"),
    "repeat_days": _l("Repeat every (days)"),
    "escalate_after_days": _l("Escalate after (days)"),
    "kind": _l("Kind"),
    "role": _l("Role"),
    "percent": _l("Progress (percent)"),
    "responsible_unit_id": _l("Responsible unit"),
    "project_id": _l("Project"),
    "kpi_id": _l("KPI"),
    "quarter": _l("Quarter"),
    "starts_on": _l("From"),
    "ends_on": _l("To"),
    "recipient_unit_id": _l("Recipient"),
    "parent_code": _l("Parent's code"),
    "approval_limit": _l("Approval limit"),
    "name_th": _l("Thai name"),
    "name_en": _l("English name"),
    "email": _l("Email"),
    "password": _l("Password"),
    "language": _l("Language"),
    "offset_days": _l("Days from the anchor (negative: before)"),
    "user_id": _l("User"),
    "url": _l("Address"),
    "kinds": _l("Kinds"),
    "channel": _l("Channel"),
    "body": _l("Comment"),
    "mentions": _l("People mentioned"),
    "files": _l("Attached files"),
    "file": _l("File"),
    "identity": _l("Identity at the identity provider"),
    "source_id": _l("From project"),
    "target_id": _l("To project"),
    "new_project": _l("New project"),
    "from": _l("From"),
    "to": _l("To"),
    "document_ref": _l("Document number"),
    "format": _l("File format"),
    "after": _l("Next page's position"),
    "allocation": _l("Allocation"),
    "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"),
    "delegate_id": _l("Delegate"),
    "principal_id": _l("On behalf of"),
    "fiscal_year": _l("Fiscal year"),
    "ids": _l("Items"),
    "in_plan": _l("In the annual plan"),
    "is_head": _l("Head of the unit"),
    "is_open": _l("Open for the year's work"),
    "multi_year": _l("Multi-year"),
    "obstacles": _l("Obstacles"),
    "problems": _l("Problems"),
    "overdue": _l("Overdue"),
    "owner_unit_id": _l("Owner unit"),
    "page": _l("Page"),
    "per_page": _l("Per page"),
    "parent": _l("Parent unit"),
    "parent_id": _l("Parent"),
    "phone": _l("Phone"),
    "planned_start": _l("Planned start"),
    "project": _l("Project"),
    "purpose": _l("Purpose"),
    "rationale": _l("Rationale"),
    "reported_on": _l("Reported on"),
    "state": _l("State"),
    "unit": _l("Unit"),
    "unit_id": _l("Unit"),
    "unit_codes": _l("Units (codes)"),
    "definition": _l("Definition"),
    "unit_label": _l("Unit of measure"),
    "measure_kind": _l("Kind of measure"),
    "target": _l("Target"),
    "kpi_type": _l("KPI type"),
    "level": _l("KPI level"),
    "value": _l("Result"),
    "numerator": _l("Numerator"),
    "denominator": _l("Denominator"),
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


def action_label(value: str) -> str:
    """The on-screen name of an audit action or notification kind (``"allocation.endorse"``
    → Endorse, ``"deadline.step_overdue"`` → Step overdue); an unknown one as itself."""
    prefix, _dot, name = value.partition(".")
    if prefix == "deadline" and name in LABELS[ReminderKind]:
        return str(LABELS[ReminderKind][name])
    found = ACTIONS.get(value)
    if found is not None:
        return str(found)
    from service.core.translate import current
    from service.workflow.registry import kind_label, transition_label, workflows

    workflow = workflows().get(prefix)
    if workflow is not None and any(t.name == name for t in workflow.transitions):
        return f"{kind_label(prefix)}: {transition_label(prefix, name, current())}"
    return value


def field_label(name: str) -> str:
    """What the form calls input `name`; an unknown one as itself."""
    found = FIELDS.get(name)
    return str(found) if found is not None else name

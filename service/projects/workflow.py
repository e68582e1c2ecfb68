"""The project plan and step result workflows, as tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.core.db import utcnow
from service.core.progress import weights_problem
from service.core.translate import gettext as _
from service.projects.models import Project, ProjectState, ResultState, StepResult
from service.projects.permissions import (
    can_see_project,
    can_see_result,
    may_approve_plan,
    may_edit_plan,
    may_report_result,
    may_review_result,
)
from service.threads.operations import open_with_reason
from service.workflow.engine import (
    REASON,
    Context,
    Transition,
    Workflow,
    decimal_field,
    register,
    text_field,
)

P = ProjectState


def plan_problem(ctx: Context) -> str | None:
    """Why the plan cannot be locked: weights, dates, the fiscal year; None when it can."""
    project: Project = ctx.obj
    steps = project.steps
    if not steps:
        return _("the plan has no steps")
    problem = weights_problem(step.weight for step in steps)
    if problem:
        return problem
    year = project.fiscal_year
    for step in steps:
        if step.planned_start > step.planned_end:
            return _("step %(position)s ends before it starts", position=step.position)
        outside = step.planned_start < year.starts_on or step.planned_end > year.ends_on
        if outside and not project.multi_year:
            return _(
                "step %(position)s lies outside fiscal year %(year)s"
                " and the project is not multi-year",
                position=step.position,
                year=year.be_year,
            )
    return None


def _who_edits(ctx: Context) -> Any:
    return may_edit_plan(ctx.session, ctx.principal, ctx.obj)


def _who_approves(ctx: Context) -> Any:
    return may_approve_plan(ctx.session, ctx.principal, ctx.obj)


def _reason_in_thread(action: str) -> Any:
    """An effect writing the transition's reason as the project's thread opening comment:
    the officer reads why a plan was returned, the approver why a revision is asked (it was
    in a notification and the history alone), the officer why it was declined, each where
    they answer it."""

    def effect(ctx: Context) -> dict[str, Any]:
        open_with_reason(ctx.session, ctx.actor, "project", ctx.obj, action, ctx.data["reason"])
        return {}

    return effect


PROJECT = register(
    Workflow(
        name="project",
        model=Project,
        states=tuple(s.value for s in ProjectState),
        initial=P.DRAFT.value,
        visible=can_see_project,
        unit_of=lambda p: p.responsible_unit_id,
        project_of=lambda p: p.id,
        transitions=(
            Transition(
                "submit",
                (P.DRAFT,),
                P.SUBMITTED,
                _who_edits,
                ("ส่งแผนเพื่ออนุมัติ", "Submit plan"),
                guards=(plan_problem,),
            ),
            Transition(
                "lock",
                (P.SUBMITTED,),
                P.LOCKED,
                _who_approves,
                ("อนุมัติและล็อกแผน", "Approve and lock plan"),
                guards=(plan_problem,),
            ),
            Transition(
                "return",
                (P.SUBMITTED,),
                P.DRAFT,
                _who_approves,
                ("ส่งกลับแก้ไข", "Return for changes"),
                requires=(REASON,),
                effect=_reason_in_thread("project.return"),
            ),
            Transition(
                "request_revision",
                (P.LOCKED,),
                P.REVISION_REQUESTED,
                _who_edits,
                ("ขอปรับแผน", "Request revision"),
                requires=(REASON,),
                effect=_reason_in_thread("project.request_revision"),
            ),
            Transition(
                "decline_revision",
                (P.REVISION_REQUESTED,),
                P.LOCKED,
                _who_approves,
                ("ไม่อนุมัติการปรับแผน", "Decline the revision"),
                requires=(REASON,),
                effect=_reason_in_thread("project.decline_revision"),
            ),
            Transition(
                "reopen",
                (P.REVISION_REQUESTED,),
                P.DRAFT,
                _who_approves,
                ("เปิดให้ปรับแผน", "Reopen for revision"),
            ),
            Transition(
                "close", (P.LOCKED,), P.CLOSED, _who_approves, ("ปิดโครงการ", "Close"), system=True
            ),
            Transition(
                "withdraw",
                (P.DRAFT, P.SUBMITTED),
                P.WITHDRAWN,
                _who_edits,
                ("ถอนโครงการ", "Withdraw"),
                requires=(REASON,),
            ),
        ),
    )
)

R = ResultState


def _who_reports(ctx: Context) -> Any:
    return may_report_result(ctx.session, ctx.principal, ctx.obj)


def _who_reviews(ctx: Context) -> Any:
    return may_review_result(ctx.session, ctx.principal, ctx.obj)


def _plan_is_locked(ctx: Context) -> str | None:
    project = ctx.obj.step.project
    if project.state not in (P.LOCKED, P.REVISION_REQUESTED):
        return _("results are reported once the plan is locked")
    return None


def _record_submission(ctx: Context) -> dict[str, Any]:
    result: StepResult = ctx.obj
    result.completion = ctx.data["completion"]
    result.narrative = ctx.data["narrative"]
    result.submitted_by_id = ctx.actor.id
    result.submitted_at = utcnow()
    return {"completion": result.completion, "narrative": result.narrative}


def _accept(ctx: Context) -> dict[str, Any]:
    """Accept the reported completion. A note given with the acceptance is written in the
    result's thread, where a return's reason is, and kept in the audit with the acceptance:
    the review queue's one reason box was dropped silently when the officer accepted.
    `review_reason` is a return's reason only (the result page shows it as one), so it is
    cleared."""
    result: StepResult = ctx.obj
    before = result.accepted_completion
    result.accepted_completion = result.completion
    result.reviewed_by_id = ctx.actor.id
    result.reviewed_at = utcnow()
    result.review_reason = ""
    if ctx.data["reason"]:
        open_with_reason(
            ctx.session, ctx.actor, "step_result", result, "step_result.accept", ctx.data["reason"]
        )
    return {"accepted_completion": [before, result.accepted_completion]}


def _return(ctx: Context) -> dict[str, Any]:
    result: StepResult = ctx.obj
    result.reviewed_by_id = ctx.actor.id
    result.reviewed_at = utcnow()
    result.review_reason = ctx.data["reason"]
    open_with_reason(
        ctx.session, ctx.actor, "step_result", result, "step_result.return", result.review_reason
    )
    return {}


COMPLETION = decimal_field("completion", minimum=Decimal(0), maximum=Decimal(100), example="75.5")
NARRATIVE = text_field("narrative")
#: What the reviewer may say with an acceptance (the review queue's reason box): optional.
ACCEPT_NOTE = text_field("reason", required=False)

STEP_RESULT = register(
    Workflow(
        name="step_result",
        model=StepResult,
        states=tuple(s.value for s in ResultState),
        initial=R.NOT_STARTED.value,
        visible=can_see_result,
        unit_of=lambda r: r.unit_id,
        project_of=lambda r: r.step.project_id,
        payload=lambda r: {"step_id": r.step_id},
        transitions=(
            Transition(
                "start",
                (R.NOT_STARTED,),
                R.IN_PROGRESS,
                _who_reports,
                ("เริ่มดำเนินการ", "Start"),
                guards=(_plan_is_locked,),
            ),
            Transition(
                "submit",
                (R.NOT_STARTED, R.IN_PROGRESS, R.RETURNED, R.ACCEPTED),
                R.SUBMITTED,
                _who_reports,
                ("ส่งผลการดำเนินงาน", "Submit result"),
                guards=(_plan_is_locked,),
                requires=(COMPLETION, NARRATIVE),
                effect=_record_submission,
            ),
            Transition(
                "accept",
                (R.SUBMITTED,),
                R.ACCEPTED,
                _who_reviews,
                ("รับรองผล", "Accept"),
                requires=(ACCEPT_NOTE,),
                effect=_accept,
            ),
            Transition(
                "return",
                (R.SUBMITTED,),
                R.RETURNED,
                _who_reviews,
                ("ส่งกลับแก้ไข", "Return"),
                requires=(REASON,),
                effect=_return,
            ),
        ),
    )
)

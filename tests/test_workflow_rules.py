"""The rules the workflow tables carry: two-level approval, budget ceilings, the plan guard,
four eyes, delegation, reopening with history, and progress moved only by accepted results."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState, Approval, Installment
from service.budget.operations import create_allocation, request_installment
from service.core.fiscal import local_today
from service.evaluations.models import EvaluationRevision
from service.org.models import Role, User
from service.org.operations import create_delegation, create_user, grant_role
from service.projects.models import PlanStep
from service.projects.queries import project_progress
from service.workflow.engine import Refused, load_workflows, options, take
from tests.project_data import make_user
from tests.test_workflows import (
    build_evaluation,
    build_project,
    build_result,
    demo_project,
    unit,
    user,
)

PREPARER = "preparer@demo.tidtam.local"


def _allocation(session: Session, amount: str, budget: str = "1000000.00") -> Allocation:
    """A submitted allocation prepared by a second officer of the division: the demo's officer
    and approver, who decide on it, did not prepare it (four eyes)."""
    project = demo_project(session)
    project.approved_budget = Decimal(budget)
    preparer = (
        session.scalar(select(User).where(User.email == PREPARER))
        or (make_user(session, Role.OFFICER, unit(session, "50230700"), PREPARER)[0])
    )
    allocation = create_allocation(
        session, preparer, project, unit(session, "50230771"), Decimal(amount)
    )
    take(session, preparer, "allocation", allocation.id, "submit")
    return allocation


def test_within_the_limit_one_officer_approval_is_enough(session: Session) -> None:
    allocation = _allocation(session, "50000.00")
    take(session, user(session, "officer"), "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED


def test_above_the_limit_officer_endorses_and_approver_approves(session: Session) -> None:
    allocation = _allocation(session, "50000.01")
    officer, approver = user(session, "officer"), user(session, "approver")
    with pytest.raises(Refused, match="only the approver decides") as refused:
        take(session, officer, "allocation", allocation.id, "approve")
    assert refused.value.status == 403
    with pytest.raises(Refused, match="needs 1 more endorsement"):
        take(session, approver, "allocation", allocation.id, "approve")
    take(session, officer, "allocation", allocation.id, "endorse")
    with pytest.raises(Refused, match=r"endorsed this round already|every endorsement is in"):
        take(session, officer, "allocation", allocation.id, "endorse")
    take(session, approver, "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED
    approvals = session.scalars(
        select(Approval)
        .where(Approval.subject_id == allocation.id, Approval.subject_type == "allocation")
        .order_by(Approval.level)
    ).all()
    assert [(a.level, a.approver_id, a.amount) for a in approvals] == [
        (1, officer.id, Decimal("50000.01")),
        (2, approver.id, Decimal("50000.01")),
    ]


def test_requires_changes_cancels_the_approvals_given(session: Session) -> None:
    allocation = _allocation(session, "70000.00")
    officer, approver = user(session, "officer"), user(session, "approver")
    take(session, officer, "allocation", allocation.id, "endorse")
    take(session, approver, "allocation", allocation.id, "return", {"reason": "แก้ยอด"})
    given = session.scalars(
        select(Approval).where(
            Approval.subject_id == allocation.id, Approval.subject_type == "allocation"
        )
    ).all()
    assert len(given) == 1 and given[0].cancelled_at is not None
    assert allocation.approval_round == 2
    take(session, officer, "allocation", allocation.id, "revise")
    take(session, officer, "allocation", allocation.id, "submit")
    # The old endorsement no longer counts: the approver needs a new one.
    with pytest.raises(Refused, match="needs 1 more endorsement"):
        take(session, approver, "allocation", allocation.id, "approve")


def test_approved_allocations_never_exceed_the_budget(session: Session) -> None:
    # The demo already spends 180,000 of 180,000 on networks 71 and 72; asked for while
    # 1,000 was left, the budget was cut before the approval.
    allocation = _allocation(session, "1000.00", budget="181000.00")
    demo_project(session).approved_budget = Decimal("180000.00")
    with pytest.raises(Refused, match=r"more than the 0\.00 baht left") as refused:
        take(session, user(session, "officer"), "allocation", allocation.id, "approve")
    assert refused.value.status == 422
    assert allocation.state is AllocationState.SUBMITTED


def test_installments_never_exceed_the_allocation(session: Session) -> None:
    allocation = _allocation(session, "40000.00")
    officer, school = user(session, "officer"), user(session, "school")
    take(session, officer, "allocation", allocation.id, "approve")
    first = request_installment(session, school, allocation, Decimal("30000"))
    take(session, officer, "installment", first.id, "approve")
    # Two requests each within the 10,000 left: the second approval would exceed it.
    second = request_installment(session, school, allocation, Decimal("10000"))
    third = request_installment(session, school, allocation, Decimal("0.01"))
    take(session, officer, "installment", second.id, "approve")
    with pytest.raises(Refused, match=r"more than the 0\.00 baht left"):
        take(session, officer, "installment", third.id, "approve")
    session.refresh(third)
    assert third.state.value == "requested"


def test_installment_requests_need_an_approved_allocation(session: Session) -> None:
    allocation = _allocation(session, "40000.00")
    with pytest.raises(Refused) as refused:
        request_installment(session, user(session, "officer"), allocation, Decimal("100"))
    assert refused.value.status == 409
    assert (
        session.scalar(select(Installment).where(Installment.allocation_id == allocation.id))
        is None
    )


def test_plan_lock_guard_says_what_is_wrong(session: Session) -> None:
    project = build_project(session, "submitted", "lock")
    project.steps[-1].weight = Decimal("0.01")
    session.flush()
    approver = user(session, "approver")
    with pytest.raises(Refused, match=r"weights sum to 80.01, not 100"):
        take(session, approver, "project", project.id, "lock")
    project.steps[-1].weight = Decimal("20")
    project.steps[-1].planned_end = date(2023, 10, 2)
    session.flush()
    with pytest.raises(Refused, match="outside fiscal year 2566"):
        take(session, approver, "project", project.id, "lock")
    project.multi_year = True
    session.flush()
    take(session, approver, "project", project.id, "lock")
    lock_option = [o for o in options(session, approver, project) if o.name == "lock"]
    assert lock_option == []  # locked now: not offered again


def test_options_explain_why_not(session: Session) -> None:
    project = build_project(session, "draft", "submit")
    project.steps[0].weight = Decimal("0.5")
    session.flush()
    submit = next(
        o for o in options(session, user(session, "officer"), project) if o.name == "submit"
    )
    assert not submit.allowed
    assert submit.reason == "weights sum to 80.5, not 100"


def test_the_submitter_cannot_review_their_own_result(session: Session) -> None:
    result = build_result(session, "submitted", "accept")
    officer = user(session, "officer")
    result.submitted_by_id = officer.id
    session.flush()
    with pytest.raises(Refused, match="another officer must review"):
        take(session, officer, "step_result", result.id, "accept")


def test_only_accepted_results_move_progress(session: Session) -> None:
    project = demo_project(session)
    assert project_progress(session, project.id) == Decimal("20.00")
    step = session.scalar(
        select(PlanStep).where(PlanStep.project_id == project.id, PlanStep.position == 2)
    )
    assert step is not None
    result = step.results[0]
    officer, approver = user(session, "officer"), user(session, "approver")
    take(
        session,
        officer,
        "step_result",
        result.id,
        "submit",
        {"completion": "100", "narrative": "จัดสรรแล้ว"},
    )
    assert project_progress(session, project.id) == Decimal("20.00")
    take(session, approver, "step_result", result.id, "accept")
    assert project_progress(session, project.id) == Decimal("40.00")
    # A new submission does not lower progress until it is reviewed.
    take(
        session,
        officer,
        "step_result",
        result.id,
        "submit",
        {"completion": "50", "narrative": "แก้ไข"},
    )
    assert project_progress(session, project.id) == Decimal("40.00")


def test_reopening_a_published_score_keeps_it_in_history(session: Session) -> None:
    evaluation = build_evaluation(session, "published", "reopen")
    evaluator = user(session, "evaluator")
    take(session, evaluator, "evaluation", evaluation.id, "reopen", {"reason": "แก้คะแนน"})
    (revision,) = session.scalars(
        select(EvaluationRevision).where(EvaluationRevision.evaluation_id == evaluation.id)
    ).all()
    assert (revision.score, revision.reason) == (Decimal("80.00"), "แก้คะแนน")
    take(session, evaluator, "evaluation", evaluation.id, "score", {"score": "95"})
    take(session, evaluator, "evaluation", evaluation.id, "publish")
    assert evaluation.score == Decimal("95.00")
    with pytest.raises(Refused) as refused:
        take(session, evaluator, "evaluation", evaluation.id, "reopen", {"reason": " "})
    assert refused.value.fields == {"reason": "must not be empty"}


def test_acting_for_needs_a_delegation_and_is_recorded(session: Session) -> None:
    officer = user(session, "officer")
    deputy = create_user(
        session, email="deputy@demo.tidtam.local", name="รองฯ", password="deputy-password-1"
    )
    grant_role(session, deputy, Role.OFFICER, unit(session, "5023077202"))
    result = build_result(session, "submitted", "accept")
    with pytest.raises(Refused, match="holds no delegation"):
        take(session, deputy, "step_result", result.id, "accept", acting_for=officer)
    today = local_today()
    create_delegation(session, officer, officer, deputy, today, today + timedelta(days=7))
    take(session, deputy, "step_result", result.id, "accept", acting_for=officer)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_id == result.id, AuditEntry.action == "step_result.accept"
        )
    ).one()
    assert (entry.actor_id, entry.acting_for_id) == (deputy.id, officer.id)


def test_expected_version_catches_a_stale_form(session: Session) -> None:
    result = build_result(session, "submitted", "accept")
    stale = result.version - 1
    with pytest.raises(Refused) as refused:
        take(
            session,
            user(session, "officer"),
            "step_result",
            result.id,
            "accept",
            expected_version=stale,
        )
    assert refused.value.status == 409
    assert refused.value.state == "submitted"


def test_every_workflow_draws_its_own_table() -> None:
    for workflow in load_workflows().values():
        diagram = workflow.mermaid()
        for transition in workflow.transitions:
            for source in transition.sources:
                assert f"{source} --> {transition.target}: {transition.name}" in diagram


def test_the_docs_page_draws_every_workflow(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/docs/workflows?lang=en").get_data(as_text=True)
    for workflow in load_workflows().values():
        assert f'id="wf-{workflow.name}-title"' in page
        for transition in workflow.transitions:
            assert f">{transition.name}</text>" in page
        assert "stateDiagram-v2" in page


def test_endorsing_then_approving_as_the_approvers_delegate_is_refused(session: Session) -> None:
    allocation = _allocation(session, "70000.00")
    officer, approver = user(session, "officer"), user(session, "approver")
    today = local_today()
    create_delegation(session, approver, approver, officer, today, today + timedelta(days=3))
    take(session, officer, "allocation", allocation.id, "endorse")
    with pytest.raises(Refused, match="cannot endorse and approve"):
        take(session, officer, "allocation", allocation.id, "approve", acting_for=approver)

"""Every workflow table, parametrised: each transition from each state, taken by the person it
belongs to. From a source state it works and is recorded once; from any other it is refused
with 409 and the current state; the wrong person is refused with a reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry, OutboxEvent
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    BudgetTransfer,
    Installment,
    InstallmentState,
    TransferState,
)
from service.evaluations.models import Evaluation, EvaluationState
from service.org.models import OrgUnit, User
from service.projects.models import PlanStep, Project, ResultState, StepResult
from service.workflow.engine import Refused, load_workflows, take
from service.workflow.registry import state_label
from tests.work_data import sibling_project

WORKFLOWS = load_workflows()
NOW = datetime(2023, 1, 15, 3, tzinfo=UTC)


def user(session: Session, role: str) -> User:
    found = session.scalar(select(User).where(User.email == f"{role}@demo.tidtam.local"))
    assert found is not None
    return found


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None
    return found


def demo_project(session: Session) -> Project:
    found = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def build_project(session: Session, state: str, _transition: str) -> Project:
    project = demo_project(session)
    project.state = state  # type: ignore[assignment]
    session.flush()
    return project


def build_result(session: Session, state: str, _transition: str) -> StepResult:
    step = session.scalar(
        select(PlanStep).where(
            PlanStep.project_id == demo_project(session).id, PlanStep.position == 3
        )
    )
    result = session.scalar(
        select(StepResult).where(
            StepResult.step_id == step.id,  # type: ignore[union-attr]
            StepResult.unit_id == unit(session, "5023077101").id,
        )
    )
    assert result is not None
    school = user(session, "school")
    with session.no_autoflush:
        result.state = ResultState(state)
        if state in ("submitted", "accepted", "returned"):
            result.completion = Decimal("50")
            result.submitted_at = NOW
            result.submitted_by_id = school.id
        if state == "accepted":
            result.accepted_completion = Decimal("50")
            result.reviewed_at = NOW
    session.flush()
    return result


def _room_in_budget(session: Session) -> Project:
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    return project


def build_allocation(session: Session, state: str, transition: str) -> Allocation:
    project = _room_in_budget(session)
    amount = Decimal("60000.00") if transition == "endorse" else Decimal("10000.00")
    allocation = Allocation(
        project=project,
        recipient_unit=unit(session, "50230771"),
        amount=amount,
        state=AllocationState(state),
    )
    session.add(allocation)
    session.flush()
    return allocation


def build_installment(session: Session, state: str, _transition: str) -> Installment:
    project = _room_in_budget(session)
    allocation = Allocation(
        project=project,
        recipient_unit=unit(session, "50230772"),
        amount=Decimal("40000.00"),
        state=AllocationState.APPROVED,
    )
    installment = Installment(
        allocation=allocation,
        amount=Decimal("10000.00"),
        state=InstallmentState(state),
        requested_at=datetime(2023, 1, 10, 3, tzinfo=UTC),  # in the project's year
    )
    if state == "paid":
        installment.paid_on = date(2023, 1, 15)
    session.add(installment)
    session.flush()
    return installment


def build_evaluation(session: Session, state: str, _transition: str) -> Evaluation:
    project = demo_project(session)
    evaluation = Evaluation(
        subject_type="project",
        project=project,
        fiscal_year_id=project.fiscal_year_id,
        quarter=3,
        state=EvaluationState(state),
    )
    if state in ("scored", "published"):
        evaluation.score = Decimal("80")
        evaluation.evaluator_id = user(session, "evaluator").id
    if state == "published":
        evaluation.published_at = NOW
    session.add(evaluation)
    session.flush()
    return evaluation


def build_budget_transfer(session: Session, state: str, transition: str) -> BudgetTransfer:
    source = _room_in_budget(session)
    if transition == "endorse":
        # A second endorsement is asked for only above the limit where three levels are due.
        source.owner_unit.approval_limit = Decimal("5000.00")
        source.owner_unit.approvals_required = 3
    target = sibling_project(session, source, "50230000-7777")
    transfer = BudgetTransfer(
        source_id=source.id,
        target_id=target.id,
        amount=Decimal("10000.00"),
        reason="ปรับแผน",
        state=TransferState(state),
        approved_at=NOW if state == "approved" else None,
    )
    session.add(transfer)
    session.flush()
    if state == "endorsed":  # endorsed once, by someone other than who takes it next
        endorser = "approver" if transition == "endorse" else "officer"
        session.add(
            Approval(
                subject_type="budget_transfer",
                subject_id=transfer.id,
                level=1,
                round=1,
                approver_id=user(session, endorser).id,
                amount=transfer.amount,
            )
        )
        session.flush()
    return transfer


BUILDERS: dict[str, Callable[[Session, str, str], Any]] = {
    "project": build_project,
    "step_result": build_result,
    "allocation": build_allocation,
    "installment": build_installment,
    "evaluation": build_evaluation,
    "budget_transfer": build_budget_transfer,
}

# Who takes each transition, and with what input.
TAKERS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("project", "submit"): ("officer", {}),
    ("project", "lock"): ("approver", {}),
    ("project", "return"): ("approver", {"reason": "ปรับน้ำหนักขั้นตอน"}),
    ("project", "request_revision"): ("officer", {"reason": "เปลี่ยนกำหนดการ"}),
    ("project", "decline_revision"): ("approver", {"reason": "ยังไม่จำเป็นต้องปรับ"}),
    ("project", "reopen"): ("approver", {}),
    ("project", "close"): ("approver", {}),
    ("project", "withdraw"): ("officer", {"reason": "ยกเลิก"}),
    ("step_result", "start"): ("school", {}),
    ("step_result", "submit"): ("school", {"completion": "60", "narrative": "ดำเนินการแล้ว"}),
    ("step_result", "accept"): ("officer", {}),
    ("step_result", "return"): ("officer", {"reason": "แนบหลักฐานเพิ่ม"}),
    ("allocation", "submit"): ("officer", {}),
    ("allocation", "endorse"): ("officer", {}),
    ("allocation", "approve"): ("officer", {}),
    ("allocation", "return"): ("officer", {"reason": "แก้วัตถุประสงค์"}),
    ("allocation", "revise"): ("officer", {}),
    ("allocation", "reject"): ("approver", {"reason": "ซ้ำซ้อน"}),
    ("allocation", "withdraw"): ("officer", {"reason": "ไม่ใช้แล้ว"}),
    ("allocation", "start_disbursing"): ("officer", {}),
    ("allocation", "complete"): ("officer", {}),
    ("installment", "approve"): ("officer", {}),
    ("installment", "pay"): ("officer", {"paid_on": "2023-01-20", "document_ref": "ขบ 5/2566"}),
    ("installment", "reject"): ("approver", {"reason": "เอกสารไม่ครบ"}),
    ("budget_transfer", "endorse"): ("officer", {}),
    ("budget_transfer", "approve"): ("approver", {}),
    ("budget_transfer", "return"): ("officer", {"reason": "ระบุเหตุผลให้ชัด"}),
    ("budget_transfer", "revise"): ("officer", {}),
    ("budget_transfer", "reject"): ("approver", {"reason": "ไม่จำเป็น"}),
    ("budget_transfer", "withdraw"): ("officer", {"reason": "ไม่โอนแล้ว"}),
    ("evaluation", "self_assess"): ("officer", {"self_value": "80", "self_narrative": "ตามแผน"}),
    ("evaluation", "score"): ("evaluator", {"score": "90", "sub_score_1": "2", "comment": "ดี"}),
    ("evaluation", "publish"): ("evaluator", {}),
    ("evaluation", "reopen"): ("evaluator", {"reason": "คะแนนผิด"}),
}

CASES = [
    pytest.param(w.name, t.name, state, id=f"{w.name}.{t.name}.from-{state}")
    for w in WORKFLOWS.values()
    for t in w.transitions
    for state in w.states
]


def test_every_transition_has_a_taker() -> None:
    declared = {(w.name, t.name) for w in WORKFLOWS.values() for t in w.transitions}
    assert declared == set(TAKERS)


def _count(session: Session, model: type, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.scalar(stmt) or 0


@pytest.mark.parametrize(("workflow", "name", "state"), CASES)
def test_transition_from_state(session: Session, workflow: str, name: str, state: str) -> None:
    table = WORKFLOWS[workflow]
    transition = table.transition(name)
    obj = BUILDERS[workflow](session, state, name)
    role, data = TAKERS[(workflow, name)]
    actor = user(session, role)
    audits = _count(session, AuditEntry, object_type=workflow, object_id=obj.id)
    if state not in transition.sources:
        with pytest.raises(Refused) as refused:
            take(session, actor, workflow, obj.id, name, data, system=transition.system)
        assert refused.value.status == 409
        assert refused.value.state == state
        assert f"is {state_label(workflow, state)}:" in refused.value.reason
        assert _count(session, AuditEntry, object_type=workflow, object_id=obj.id) == audits
        return
    result = take(session, actor, workflow, obj.id, name, data, system=transition.system)
    assert str(result.state.value) == transition.target
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == workflow,
            AuditEntry.object_id == obj.id,
            AuditEntry.action == f"{workflow}.{name}",
        )
    ).all()
    assert len(entries) == 1
    assert (entries[0].from_state, entries[0].to_state) == (state, transition.target)
    assert entries[0].actor_id == actor.id
    assert _count(session, OutboxEvent, kind=f"{workflow}.{name}", object_id=obj.id) == 1


@pytest.mark.parametrize(
    ("workflow", "name"),
    [(w, t) for (w, t) in TAKERS if not WORKFLOWS[w].transition(t).system],
)
def test_admins_manage_but_never_take_transitions(
    session: Session, workflow: str, name: str
) -> None:
    transition = WORKFLOWS[workflow].transition(name)
    obj = BUILDERS[workflow](session, transition.sources[0], name)
    with pytest.raises(Refused) as refused:
        take(session, user(session, "admin"), workflow, obj.id, name, TAKERS[(workflow, name)][1])
    assert refused.value.status == 403
    assert refused.value.reason


def test_system_transitions_are_not_for_people(session: Session) -> None:
    project = build_project(session, "locked", "close")
    with pytest.raises(Refused) as refused:
        take(session, user(session, "approver"), "project", project.id, "close")
    assert refused.value.status == 403


def test_unknown_transition_is_404(session: Session) -> None:
    project = demo_project(session)
    with pytest.raises(Refused) as refused:
        take(session, user(session, "officer"), "project", project.id, "teleport")
    assert refused.value.status == 404


def test_missing_input_names_the_fields_and_writes_nothing(session: Session) -> None:
    result = build_result(session, "in_progress", "submit")
    before = _count(session, AuditEntry)
    with pytest.raises(Refused) as refused:
        take(
            session,
            user(session, "school"),
            "step_result",
            result.id,
            "submit",
            {"completion": "120"},
        )
    assert refused.value.status == 422
    assert set(refused.value.fields) == {"completion", "narrative"}
    assert _count(session, AuditEntry) == before
    assert result.state is ResultState.IN_PROGRESS


def test_a_school_cannot_touch_another_schools_result(session: Session) -> None:
    other_school = unit(session, "5023077201")
    result = session.scalars(
        select(StepResult).where(StepResult.unit_id == other_school.id)
    ).first()
    assert result is not None
    with pytest.raises(Refused) as refused:
        take(
            session,
            user(session, "school"),
            "step_result",
            result.id,
            "submit",
            TAKERS[("step_result", "submit")][1],
        )
    assert refused.value.status == 404

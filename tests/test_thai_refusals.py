"""Every refusal in Thai: with the Thai locale, each transition of each workflow table is tried
from each state by each role (the engine's `options` and `take`), with missing and malformed
input, and in the situations where its guards refuse; the permission predicates are asked for
people who may not. No reason, and no problem named for an input, may be left in English."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Approval, Installment
from service.budget.permissions import may_request_installment
from service.core.permissions import may_administer, may_grant, needs_role
from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.operations import OrgError, create_delegation, create_unit, create_user
from service.projects.models import PlanStep, ProjectState
from service.projects.workflow import plan_problem
from service.workflow.engine import (
    Context,
    Refused,
    load_workflows,
    no_delegation,
    options,
    take,
)
from tests.test_workflows import BUILDERS, TAKERS, demo_project, unit, user

WORKFLOWS = load_workflows()
ROLES = ("school", "officer", "approver", "evaluator", "admin")
# Values that each input of a transition must refuse with a reason (or take, for some kinds).
BAD_INPUTS: tuple[Any, ...] = (None, "", "abc", "1.234", "-1", "101", 1.5, 123, "x" * 6000)
# Codes and names that are the same in Thai: file kinds, KPI, the brand.
CODES = {"PDF", "JPG", "PNG", "DOCX", "XLSX", "KPI", "API", "Tidtam"}
_WORD = re.compile(r"[A-Za-z]{3,}")
_ADDRESS = re.compile(r"\S+@\S+")


def english_in(text: str) -> list[str]:
    """The English words of `text`: runs of 3+ Latin letters that are not codes (nor part of
    an e-mail address, which is data)."""
    words = _WORD.findall(_ADDRESS.sub(" ", text))
    return [w for w in words if w not in CODES and not w.isupper()]


@pytest.fixture
def thai(app: Flask) -> Iterator[None]:
    with app.test_request_context("/?lang=th"):
        g.lang = "th"
        yield


class Reasons:
    """Every message a person could read, with where it came from."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def refusal(self, where: str, refused: Refused) -> None:
        self.found.append((where, refused.reason))
        for name, problem in refused.fields.items():
            self.found.append((f"{where} [{name}]", problem))

    def add(self, where: str, reason: str) -> None:
        self.found.append((where, reason))

    def english(self) -> list[str]:
        return [
            f"{where}: {text!r}" for where, text in self.found if text and english_in(str(text))
        ]


def _attempt(session: Session, reasons: Reasons, where: str, call: Callable[[], Any]) -> bool:
    """`call` inside a savepoint rolled back after it; True when it was refused."""
    savepoint = session.begin_nested()
    try:
        call()
    except Refused as refused:
        reasons.refusal(where, refused)
        return True
    finally:
        savepoint.rollback()
    return False


CASES = [
    pytest.param(w.name, t.name, state, id=f"{w.name}.{t.name}.from-{state}")
    for w in WORKFLOWS.values()
    for t in w.transitions
    for state in w.states
]


@pytest.mark.parametrize(("workflow", "name", "state"), CASES)
def test_every_refusal_of_the_tables_is_thai(
    thai: None, session: Session, workflow: str, name: str, state: str
) -> None:
    transition = WORKFLOWS[workflow].transition(name)
    obj = BUILDERS[workflow](session, state, name)
    _taker, data = TAKERS[(workflow, name)]
    reasons = Reasons()
    refusals = 0
    for role in ROLES:
        actor = user(session, role)
        for option in options(session, actor, obj):
            if not option.allowed:
                reasons.add(f"{role} options {option.name}", option.reason or "")
        where = f"{role} take {workflow}.{name} from {state}"
        refusals += _attempt(
            session,
            reasons,
            where,
            lambda: take(session, actor, workflow, obj.id, name, data),  # noqa: B023
        )
    # Each input the transition requires, missing or malformed, by the one who takes it.
    if state in transition.sources and transition.requires:
        actor = user(session, _taker)
        for spec in transition.requires:
            for bad in BAD_INPUTS:
                wrong = {**data, spec.name: bad}
                refusals += _attempt(
                    session,
                    reasons,
                    f"{_taker} {workflow}.{name} {spec.name}={str(bad)[:12]!r}",
                    lambda: take(session, actor, workflow, obj.id, name, wrong),  # noqa: B023
                )
    assert refusals, "nobody was refused: the case tests nothing"
    english = reasons.english()
    assert not english, "English left in Thai refusals:\n" + "\n".join(english)


# ---- the guards, in the situations where they refuse ---------------------------------------


def _allocation(session: Session, amount: str, state: AllocationState, **kw: Any) -> Allocation:
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = Allocation(
        project=project,
        recipient_unit=unit(session, "50230771"),
        amount=Decimal(amount),
        state=state,
        **kw,
    )
    session.add(allocation)
    session.flush()
    return allocation


def _approve(session: Session, allocation: Allocation, approver: User, level: int = 1) -> None:
    session.add(
        Approval(
            subject_type="allocation",
            subject_id=allocation.id,
            level=level,
            round=allocation.approval_round,
            approver_id=approver.id,
            amount=allocation.amount,
            approved_at=allocation.created_at,
        )
    )
    session.flush()


def _steps(session: Session) -> list[PlanStep]:
    return list(demo_project(session).steps)


def guard_weights(session: Session) -> tuple[str, Any, str]:
    project = demo_project(session)
    project.state = ProjectState.DRAFT
    _steps(session)[0].weight += Decimal(1)
    session.flush()
    return "project", project, "submit"


def guard_outside_year(session: Session) -> tuple[str, Any, str]:
    project = demo_project(session)
    project.state = ProjectState.SUBMITTED
    project.multi_year = False
    _steps(session)[-1].planned_end = date(2030, 1, 1)
    session.flush()
    return "project", project, "lock"


def guard_plan_not_locked(session: Session) -> tuple[str, Any, str]:
    result = BUILDERS["step_result"](session, "in_progress", "submit")
    result.step.project.state = ProjectState.DRAFT
    session.flush()
    return "step_result", result, "submit"


def guard_within_limit(session: Session) -> tuple[str, Any, str]:
    return "allocation", _allocation(session, "10000.00", AllocationState.SUBMITTED), "endorse"


def guard_endorsements_missing(session: Session) -> tuple[str, Any, str]:
    return "allocation", _allocation(session, "60000.00", AllocationState.SUBMITTED), "approve"


def guard_endorsed_already(session: Session) -> tuple[str, Any, str]:
    allocation = _allocation(session, "60000.00", AllocationState.SUBMITTED)
    _approve(session, allocation, user(session, "officer"))
    return "allocation", allocation, "endorse"


def guard_same_person(session: Session) -> tuple[str, Any, str]:
    allocation = _allocation(session, "60000.00", AllocationState.SUBMITTED)
    _approve(session, allocation, user(session, "approver"))
    return "allocation", allocation, "approve"


def guard_over_budget(session: Session) -> tuple[str, Any, str]:
    allocation = _allocation(session, "10000.00", AllocationState.DRAFT)
    allocation.project.approved_budget = Decimal("1.00")
    session.flush()
    return "allocation", allocation, "submit"


def guard_four_eyes(session: Session) -> tuple[str, Any, str]:
    officer = user(session, "officer")
    allocation = _allocation(session, "10000.00", AllocationState.SUBMITTED)
    allocation.created_by_id = officer.id
    session.flush()
    return "allocation", allocation, "approve"


def guard_allocation_not_approved(session: Session) -> tuple[str, Any, str]:
    installment = BUILDERS["installment"](session, "requested", "approve")
    installment.allocation.state = AllocationState.DRAFT
    session.flush()
    return "installment", installment, "approve"


def guard_over_allocation(session: Session) -> tuple[str, Any, str]:
    installment: Installment = BUILDERS["installment"](session, "requested", "approve")
    installment.amount = Decimal("90000.00")
    session.flush()
    return "installment", installment, "approve"


GUARDS = [
    guard_weights,
    guard_outside_year,
    guard_plan_not_locked,
    guard_within_limit,
    guard_endorsements_missing,
    guard_endorsed_already,
    guard_same_person,
    guard_over_budget,
    guard_four_eyes,
    guard_allocation_not_approved,
    guard_over_allocation,
]


@pytest.mark.parametrize("situation", GUARDS, ids=[f.__name__ for f in GUARDS])
def test_every_guard_refuses_in_thai(
    thai: None, session: Session, situation: Callable[[Session], tuple[str, Any, str]]
) -> None:
    workflow, obj, name = situation(session)
    data = TAKERS[(workflow, name)][1]
    reasons = Reasons()
    guarded = 0
    for role in ROLES:
        actor = user(session, role)
        for option in options(session, actor, obj):
            if not option.allowed:
                reasons.add(f"{role} options {option.name}", option.reason or "")
        savepoint = session.begin_nested()
        try:
            take(session, actor, workflow, obj.id, name, data)
        except Refused as refused:
            reasons.refusal(f"{role} take {workflow}.{name}", refused)
            guarded += refused.status == 422
        finally:
            savepoint.rollback()
    assert guarded, f"no guard refused {workflow}.{name}: {reasons.found}"
    english = reasons.english()
    assert not english, "English left in Thai refusals:\n" + "\n".join(english)


def test_the_engine_and_the_predicates_refuse_in_thai(thai: None, session: Session) -> None:
    """What the engine says of an unknown object, transition or delegation, what a transition
    the system takes says, and what every permission predicate says to people who may not."""
    reasons = Reasons()
    officer, school, admin = (user(session, r) for r in ("officer", "school", "admin"))
    project = demo_project(session)
    for where, call in {
        "no object": lambda: take(session, officer, "project", 10**9, "submit"),
        "no transition": lambda: take(session, officer, "project", project.id, "teleport"),
        "system": lambda: take(session, user(session, "approver"), "project", project.id, "close"),
        "stale": lambda: take(
            session, officer, "project", project.id, "submit", expected_version=-1
        ),
    }.items():
        assert _attempt(session, reasons, where, call), where
    reasons.refusal("delegation", no_delegation(officer.id))
    division = session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_not(None)))
    assert division is not None
    answers = {
        "needs_role": needs_role(session, school, (Role.APPROVER,), division, _("lock this plan")),
        "may_administer tree": may_administer(session, officer, None, _("add fiscal years")),
        "may_administer unit": may_administer(session, officer, division, _("change this unit")),
        "may_grant": may_grant(session, officer, Role.EVALUATOR, division),
    }
    allocation = _allocation(session, "10000.00", AllocationState.APPROVED)
    answers["may_request_installment"] = may_request_installment(
        session, user(session, "evaluator"), allocation
    )
    for where, answer in answers.items():
        assert not answer, where
        reasons.add(where, answer.reason)
    # Plans the database would not store, judged as the guard would judge them.
    year = project.fiscal_year
    backwards = SimpleNamespace(
        position=1,
        weight=Decimal(100),
        planned_start=year.starts_on + timedelta(days=2),
        planned_end=year.starts_on,
    )
    for where, steps in {"no steps": [], "step backwards": [backwards]}.items():
        plan = SimpleNamespace(steps=steps, fiscal_year=year, multi_year=False)
        problem = plan_problem(Context(session, admin, admin, plan, {}, date.today()))
        assert problem, where
        reasons.add(where, problem)
    english = reasons.english()
    assert not english, "English left in Thai refusals:\n" + "\n".join(english)


def test_org_changes_refuse_in_thai(thai: None, session: Session) -> None:
    """What the admin pages show when a unit, an account or a delegation is refused."""
    officer, school = user(session, "officer"), user(session, "school")
    today = date.today()
    attempts: dict[str, Callable[[], Any]] = {
        "unit without code": lambda: create_unit(
            session, code="", name_th="ทดสอบ", kind=UnitKind.SCHOOL
        ),
        "unit code taken": lambda: create_unit(
            session, code="50230000", name_th="ซ้ำ", kind=UnitKind.DISTRICT_OFFICE
        ),
        "not an email": lambda: create_user(
            session, email="ไม่ใช่อีเมล", name="ก", password="long-enough-1"
        ),
        "short password": lambda: create_user(
            session, email="new@example.org", name="ก", password="สั้น"
        ),
        "account exists": lambda: create_user(
            session, email="officer@demo.tidtam.local", name="ก", password="long-enough-1"
        ),
        "delegate to oneself": lambda: create_delegation(
            session, officer, officer, officer, starts_on=today, ends_on=today
        ),
        "backwards": lambda: create_delegation(
            session, officer, officer, school, starts_on=today, ends_on=today - timedelta(1)
        ),
        "not theirs": lambda: create_delegation(
            session, school, officer, school, starts_on=today, ends_on=today
        ),
    }
    reasons = Reasons()
    for where, call in attempts.items():
        savepoint = session.begin_nested()
        try:
            call()
        except (OrgError, Refused) as error:
            reasons.add(where, str(error))
        else:
            raise AssertionError(f"{where} was not refused")
        finally:
            savepoint.rollback()
    english = reasons.english()
    assert not english, "English left in Thai refusals:\n" + "\n".join(english)


def test_admin_operations_refuse_in_thai(thai: None, session: Session) -> None:
    """What every door (the admin pages, the API, the command line) answers when one of the
    one-operation admin changes is refused: reasons and field problems, in Thai."""
    from service.admin import operations as admin_ops
    from service.notifications.models import ReminderKind
    from service.strategy.models import StrategyNode

    admin, officer, school = (
        user(session, "admin"),
        user(session, "officer"),
        user(session, "school"),
    )
    district = session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).first()
    assert district is not None
    node = session.scalars(select(StrategyNode)).first()
    assert node is not None
    today = date.today()

    def deactivated_owner() -> Any:
        school.active = False
        return admin_ops.create_token(session, school, school, "สคริปต์")

    def others_token() -> Any:
        row, _secret = admin_ops.create_token(session, school, school, "ของโรงเรียน")
        return admin_ops.revoke_token(session, officer, row)

    attempts: dict[str, Callable[[], Any]] = {
        "unit by a non-admin": lambda: admin_ops.create_unit(
            session, officer, parent=district, code="1", name_th="ก", kind=UnitKind.SCHOOL
        ),
        "unit without parent": lambda: admin_ops.create_unit(
            session, officer, parent=None, code="1", name_th="ก", kind=UnitKind.SCHOOL
        ),
        "unit without name": lambda: admin_ops.create_unit(
            session, admin, parent=district, code="77770000", name_th="", kind=UnitKind.SCHOOL
        ),
        "unit code too long": lambda: admin_ops.create_unit(
            session, admin, parent=district, code="9" * 40, name_th="ก", kind=UnitKind.SCHOOL
        ),
        "limit not a number": lambda: admin_ops.update_unit(
            session, admin, district, approval_limit="abc"
        ),
        "limit too large": lambda: admin_ops.update_unit(
            session, admin, district, approval_limit="1e15"
        ),
        "approvals out of range": lambda: admin_ops.update_unit(
            session, admin, district, approvals_required=9
        ),
        "account by a non-admin": lambda: admin_ops.create_user(
            session, officer, email="n@example.org", name="ก", password="long-enough-1"
        ),
        "email too long": lambda: admin_ops.create_user(
            session, admin, email="a" * 300, name="ก", password="long-enough-1"
        ),
        "password too long": lambda: admin_ops.create_user(
            session, admin, email="n@example.org", name="ก", password="p" * 300
        ),
        "short password": lambda: admin_ops.create_user(
            session, admin, email="n@example.org", name="ก", password="สั้น"
        ),
        "deactivate oneself": lambda: admin_ops.deactivate_user(session, admin, admin),
        "deactivate by a non-admin": lambda: admin_ops.deactivate_user(session, officer, school),
        "change by a non-admin": lambda: admin_ops.update_user(session, officer, school, name="ก"),
        "unknown language": lambda: admin_ops.update_user(session, admin, school, language="xx"),
        "empty name": lambda: admin_ops.update_user(session, admin, school, name=""),
        "fiscal year by a non-admin": lambda: admin_ops.create_fiscal_year(session, officer, 2600),
        "fiscal year out of range": lambda: admin_ops.create_fiscal_year(session, admin, 1999),
        "strategy without code": lambda: admin_ops.create_strategy_node(
            session, admin, "", "", None
        ),
        "strategy code taken": lambda: admin_ops.create_strategy_node(
            session, admin, node.code, "ซ้ำ", None
        ),
        "strategy renamed empty": lambda: admin_ops.update_strategy_node(
            session, admin, node, name=""
        ),
        "reminder by a non-admin": lambda: admin_ops.create_reminder_rule(
            session,
            officer,
            kind=ReminderKind.STEP_DUE,
            name="ก",
            offset_days=0,
            repeat_days=None,
            escalate_after_days=None,
        ),
        "reminder with bad numbers": lambda: admin_ops.create_reminder_rule(
            session,
            admin,
            kind=ReminderKind.STEP_DUE,
            name="",
            offset_days=0,
            repeat_days=0,
            escalate_after_days=-1,
        ),
        "token for someone else": lambda: admin_ops.create_token(session, officer, school, "ก"),
        "token an admin makes for another": lambda: admin_ops.create_token(
            session, admin, school, "ก"
        ),
        "token without name": lambda: admin_ops.create_token(session, school, school, ""),
        "token of a deactivated owner": deactivated_owner,
        "another's token": others_token,
        "delegation too long": lambda: create_delegation(
            session, officer, officer, school, starts_on=today, ends_on=today + timedelta(400)
        ),
    }
    reasons = Reasons()
    for where, call in attempts.items():
        if not _attempt(session, reasons, where, call):
            raise AssertionError(f"{where} was not refused")
    english = reasons.english()
    assert not english, "English left in Thai refusals:\n" + "\n".join(english)

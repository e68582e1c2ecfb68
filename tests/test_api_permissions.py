"""The permission matrix: every /api/v1 route × every kind of caller, with the status each
must get. A route added without a row here fails `test_every_api_route_is_in_the_matrix`.

Callers: anonymous, school A (the demo school, โรงเรียนวัดหัวกระบือ), school B (a second
school, โรงเรียนวัดพรหมรังษี, made here), the district officer, the district approver, the
evaluator and the admin. A school sees its own results and the projects it reports on; objects
of other units do not exist for it (404). Admins manage org, users, years and strategy but
approve nothing (403). For bulk routes the status is the one item's status inside the 200.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.auth.models import UserSession
from service.budget.models import Allocation, BudgetTransfer, Installment
from service.core.db import utcnow
from service.core.fiscal import local_today
from service.evaluations.models import Evaluation
from service.fiscal.models import FiscalYear
from service.kpis.models import (
    Kpi,
    KpiEvidenceFile,
    KpiLevel,
    KpiQuarterResult,
    KpiType,
    MeasureKind,
)
from service.notifications.operations import create_webhook, send_webhook_test
from service.org.models import Delegation, RoleAssignment
from service.projects.evidence import Upload
from service.projects.models import PlanStep, Project, StepResult
from service.strategy.models import StrategyNode
from service.threads.operations import add_comment
from tests.api_support import ROLES, demo_project, headers_for, problem_of, unit, user
from tests.work_data import PDF

W = dict[str, Any]


#: Where the matrix's webhooks point: an address, not a name, so that making one asks no
#: resolver (a name that does not resolve made a test wait 5 s whenever the resolver did not
#: answer: a minute of every run); public, so the check for local addresses lets it through.
#: Nothing is ever sent to it here (no worker runs in this file).
HOOKS = "https://1.1.1.1/hooks"


def world(session: Session, app: Flask | None = None) -> W:
    """The ids the rows use, from the demo plus a delegation, an officer's token and an
    officer's comment with a file (stored in `app`'s upload folder, else a folder of its own)."""
    project = demo_project(session)
    school_a, school_b = unit(session, "5023077101"), unit(session, "5023077201")
    step_3 = session.scalar(
        select(PlanStep).where(PlanStep.project_id == project.id, PlanStep.position == 3)
    )
    assert step_3 is not None
    result_a = session.scalar(
        select(StepResult).where(StepResult.step_id == step_3.id, StepResult.unit_id == school_a.id)
    )
    allocation = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    installment = session.scalars(select(Installment).order_by(Installment.id)).first()
    assert installment is not None
    # The demo spends every baht; money is asked for only within what is left, so leave some
    # for the rows that ask (the project's budget, and the first allocation's).
    project.approved_budget += Decimal("10000.00")
    installment.amount -= Decimal("10000.00")
    evaluation = session.scalars(select(Evaluation).order_by(Evaluation.id)).first()
    year_2567 = session.scalar(select(FiscalYear).where(FiscalYear.be_year == 2567))
    node = session.scalars(select(StrategyNode).order_by(StrategyNode.id)).first()
    teacher = user(session, "school_a")
    assignment = session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == teacher.id))
    today = local_today()
    delegation = Delegation(
        principal=user(session, "approver"),
        delegate=user(session, "officer"),
        starts_on=today,
        ends_on=today + timedelta(days=2),
    )
    session.add(delegation)
    token, _secret = new_token(session, user(session, "officer"), "the officer's script")
    officer_session = UserSession(
        user_id=user(session, "officer").id, key_hash=uuid.uuid4().hex, method="password"
    )
    session.add(officer_session)
    assert result_a is not None
    comment, _written = add_comment(
        session,
        user(session, "officer"),
        "step_result",
        result_a.id,
        "ขอรูปถ่ายเพิ่ม",
        uploads=[Upload("ตัวอย่าง.pdf", PDF)],
        folder=Path(app.config["UPLOAD_FOLDER"] if app else tempfile.mkdtemp()),
        max_bytes=1024 * 1024,
    )
    endpoint, _hook_secret = create_webhook(
        session, user(session, "admin"), unit(session, "50230000"), url=f"{HOOKS}/t"
    )
    delivery = send_webhook_test(
        session, user(session, "admin"), endpoint, now=utcnow(), requeue_after=timedelta(minutes=5)
    )
    kpi = Kpi(
        code="5023-7000",
        fiscal_year=project.fiscal_year,
        name="ตัวชี้วัดที่รายงานเอง",
        measure_kind=MeasureKind.PERCENT,
        target=Decimal(80),
        kpi_type=KpiType.ROUTINE,
        level=KpiLevel.OUTPUT,
        owner_unit=unit(session, "50230000"),
    )
    session.add(kpi)
    kpi_result = KpiQuarterResult(kpi=kpi, quarter=1, value=Decimal(10))
    session.add(kpi_result)
    kpi_file = KpiEvidenceFile(
        result=kpi_result,
        original_name="หลักฐาน.pdf",
        stored_name="0" * 48,
        content_type="application/pdf",
        size=10,
        uploaded_by_id=user(session, "officer").id,
    )
    session.add(kpi_file)
    other = Project(
        code="50230000-7001",
        name="โครงการรับโอน",
        fiscal_year_id=project.fiscal_year_id,
        owner_unit_id=project.owner_unit_id,
        responsible_unit_id=project.responsible_unit_id,
        kind=project.kind,
    )
    session.add(other)
    session.flush()
    # Prepared by the approver: the officer may endorse it (another pair of eyes).
    transfer = BudgetTransfer(
        source_id=project.id,
        target_id=other.id,
        amount=Decimal("1000.00"),
        reason="ปรับแผน",
        created_by_id=user(session, "approver").id,
    )
    session.add(transfer)
    session.flush()
    assert result_a and allocation and installment and evaluation and year_2567 and assignment
    assert node is not None
    step_1 = min(project.steps, key=lambda s: s.position)
    return {
        "project": project.id,
        "step": step_1.id,
        "result_a": result_a.id,
        "allocation": allocation.id,
        "installment": installment.id,
        "transfer": transfer.id,
        "other_project": other.id,
        "evaluation": evaluation.id,
        "year": year_2567.id,
        "strategy_node": node.id,
        "district": unit(session, "50230000").id,
        "division": unit(session, "50230700").id,
        "network_71": unit(session, "50230771").id,
        "school_b_unit": school_b.id,
        "teacher": teacher.id,
        "assignment": assignment.id,
        "officer": user(session, "officer").id,
        "evaluator": user(session, "evaluator").id,
        "delegation": delegation.id,
        "token": token.id,
        "officer_session": officer_session.id,
        "comment": comment.id,
        "comment_file": comment.attachments[0].id,
        "webhook": endpoint.id,
        "delivery": delivery.id,
        "kpi": kpi.id,
        "kpi_file": kpi_file.id,
        "fiscal_year_be": project.fiscal_year.be_year,
        "today": today.isoformat(),
        "later": (today + timedelta(days=5)).isoformat(),
    }


def expect(everyone: int, *, anonymous: int = 401, **roles: int) -> dict[str, int]:
    """`everyone` for each signed-in caller unless named; anonymous gets 401 unless named."""
    answers = {role: everyone for role in ROLES}
    answers["anonymous"] = anonymous
    answers.update(roles)
    return answers


SCHOOLS_404 = {"school_a": 404, "school_b": 404}
ADMIN_ONLY = expect(403, admin=200)
DISTRICT_201 = expect(403, officer=201, approver=201)


@dataclass(frozen=True)
class Row:
    method: str
    rule: str
    path: Callable[[W], str]
    expected: dict[str, int]
    body: Callable[[W], dict[str, Any]] | None = None
    bulk: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    form: bool = False  # the body goes as multipart/form-data, not JSON

    @property
    def key(self) -> str:
        return f"{self.method} {self.rule}"


I = "<int(max=2147483647):ident>"  # noqa: E741
A = "/api/v1"
ALLOCATION_NAMES = "submit,endorse,approve,return,revise,reject,withdraw,start_disbursing,complete"
INSTALLMENT_NAMES = "approve,pay,reject"
EVALUATION_NAMES = "self_assess,score,publish,reopen"
PROJECT_NAMES = "submit,lock,return,request_revision,decline_revision,reopen,close,withdraw"
RESULT_NAMES = "start,submit,accept,return"
AUDITED = (
    "project,kpi,step_result,allocation,installment,budget_transfer,evaluation,user,delegation"
)
THREAD = "any(step_result,allocation,installment,evaluation,project)"
TRANSFER_NAMES = "endorse,approve,return,revise,reject,withdraw"

ROWS = [
    # ---- budget
    Row("GET", f"{A}/allocations", lambda w: f"{A}/allocations", expect(200)),
    Row(
        "POST",
        f"{A}/allocations",
        lambda w: f"{A}/allocations",
        DISTRICT_201,
        lambda w: {
            "project_id": w["project"],
            "recipient_unit_id": w["network_71"],
            "amount": "1000.00",
        },
    ),
    Row(
        "GET",
        f"{A}/allocations/{I}",
        lambda w: f"{A}/allocations/{w['allocation']}",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/allocations/{I}/installments",
        lambda w: f"{A}/allocations/{w['allocation']}/installments",
        # The allocation is above the officer's limit: its installments are the approver's
        # alone to approve, so she may not ask for one herself (nobody could approve it).
        expect(403, officer=201, approver=409, **SCHOOLS_404),
        lambda w: {"amount": "1000.00"},
    ),
    Row(
        "GET",
        f"{A}/allocations/{I}/transitions",
        lambda w: f"{A}/allocations/{w['allocation']}/transitions",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/allocations/{I}/transitions/<any({ALLOCATION_NAMES}):name>",
        lambda w: f"{A}/allocations/{w['allocation']}/transitions/start_disbursing",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
        lambda w: {},
    ),
    Row(
        "POST",
        f"{A}/allocations/transitions/<any({ALLOCATION_NAMES}):name>",
        lambda w: f"{A}/allocations/transitions/start_disbursing",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
        lambda w: {"ids": [w["allocation"]]},
        bulk=True,
    ),
    Row("GET", f"{A}/installments", lambda w: f"{A}/installments", expect(200)),
    Row(
        "GET",
        f"{A}/installments/{I}",
        lambda w: f"{A}/installments/{w['installment']}",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "GET",
        f"{A}/installments/{I}/transitions",
        lambda w: f"{A}/installments/{w['installment']}/transitions",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/installments/{I}/transitions/<any({INSTALLMENT_NAMES}):name>",
        lambda w: f"{A}/installments/{w['installment']}/transitions/pay",
        # 90,000 is above the officer's limit of 50,000: only the approver pays it out.
        expect(403, approver=200, **SCHOOLS_404),
        lambda w: {"paid_on": w["today"], "document_ref": "ขบ 2/2569"},
    ),
    Row(
        "POST",
        f"{A}/installments/transitions/<any({INSTALLMENT_NAMES}):name>",
        lambda w: f"{A}/installments/transitions/pay",
        expect(403, approver=200, **SCHOOLS_404),
        lambda w: {"ids": [w["installment"]], "paid_on": w["today"], "document_ref": "ขบ 3/2569"},
        bulk=True,
    ),
    Row(
        "GET",
        f"{A}/installments/{I}/payments",
        lambda w: f"{A}/installments/{w['installment']}/payments",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/installments/{I}/payments",
        lambda w: f"{A}/installments/{w['installment']}/payments",
        # 90,000 is above the officer's limit: only the approver pays it out.
        expect(403, approver=201, **SCHOOLS_404),
        lambda w: {"paid_on": w["today"], "amount": "100.00", "document_ref": "ขบ 1/2569"},
    ),
    Row(
        "GET",
        f"{A}/projects/{I}/disbursement",
        lambda w: f"{A}/projects/{w['project']}/disbursement",
        expect(200),  # both schools report on the demo project
    ),
    Row(
        "GET",
        f"{A}/units/{I}/disbursement",
        lambda w: f"{A}/units/{w['district']}/disbursement?fiscal_year=2566",
        # the district office lies above the officer's division: outside their scope
        expect(200, officer=404, **SCHOOLS_404),
    ),
    Row("GET", f"{A}/budget-transfers", lambda w: f"{A}/budget-transfers", expect(200)),
    Row(
        "POST",
        f"{A}/budget-transfers",
        lambda w: f"{A}/budget-transfers",
        expect(403, officer=201, approver=201, **SCHOOLS_404),
        lambda w: {
            "source_id": w["project"],
            "target_id": w["other_project"],
            "amount": "500.00",
            "reason": "ย้ายงบ",
        },
    ),
    Row(
        "GET",
        f"{A}/budget-transfers/{I}",
        lambda w: f"{A}/budget-transfers/{w['transfer']}",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "GET",
        f"{A}/budget-transfers/{I}/transitions",
        lambda w: f"{A}/budget-transfers/{w['transfer']}/transitions",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/budget-transfers/{I}/transitions/<any({TRANSFER_NAMES}):name>",
        lambda w: f"{A}/budget-transfers/{w['transfer']}/transitions/endorse",
        # the approver prepared it: four eyes, another person endorses
        expect(403, officer=200, approver=422, **SCHOOLS_404),
        lambda w: {},
    ),
    Row(
        "POST",
        f"{A}/budget-transfers/transitions/<any({TRANSFER_NAMES}):name>",
        lambda w: f"{A}/budget-transfers/transitions/endorse",
        expect(403, officer=200, approver=422, **SCHOOLS_404),
        lambda w: {"ids": [w["transfer"]]},
        bulk=True,
    ),
    Row(
        "GET",
        f"{A}/audit-export",
        lambda w: f"{A}/audit-export?unit_id={w['division']}&format=csv",
        # the evaluator's role lies on the evaluation office, not over the division
        expect(200, evaluator=404, **SCHOOLS_404),
    ),
    # ---- evaluations
    Row("GET", f"{A}/evaluations", lambda w: f"{A}/evaluations", expect(200)),
    Row(
        "POST",
        f"{A}/evaluations",
        lambda w: f"{A}/evaluations",
        expect(403, evaluator=201),
        lambda w: {"project_id": w["project"], "fiscal_year": 2566, "quarter": 3},
    ),
    Row(
        "GET",
        f"{A}/evaluations/{I}",
        lambda w: f"{A}/evaluations/{w['evaluation']}",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "GET",
        f"{A}/evaluations/{I}/transitions",
        lambda w: f"{A}/evaluations/{w['evaluation']}/transitions",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "POST",
        f"{A}/evaluations/{I}/transitions/<any({EVALUATION_NAMES}):name>",
        lambda w: f"{A}/evaluations/{w['evaluation']}/transitions/reopen",
        expect(403, evaluator=200, **SCHOOLS_404),
        lambda w: {"reason": "คะแนนผิด"},
    ),
    Row(
        "POST",
        f"{A}/evaluations/transitions/<any({EVALUATION_NAMES}):name>",
        lambda w: f"{A}/evaluations/transitions/reopen",
        expect(403, evaluator=200, **SCHOOLS_404),
        lambda w: {"ids": [w["evaluation"]], "reason": "คะแนนผิด"},
        bulk=True,
    ),
    # ---- projects
    Row("GET", f"{A}/projects", lambda w: f"{A}/projects", expect(200)),
    Row(
        "POST",
        f"{A}/projects",
        lambda w: f"{A}/projects",
        DISTRICT_201,
        lambda w: {
            "code": "50230000-7777",
            "name": "โครงการใหม่",
            "fiscal_year": 2566,
            "owner_unit_id": w["district"],
            "responsible_unit_id": w["division"],
        },
    ),
    Row("GET", f"{A}/projects/{I}", lambda w: f"{A}/projects/{w['project']}", expect(200)),
    Row(
        "PATCH",
        f"{A}/projects/{I}",
        lambda w: f"{A}/projects/{w['project']}",
        # The demo plan is locked: the district may edit drafts only.
        expect(403, officer=409, approver=409),
        lambda w: {"name": "ชื่อใหม่"},
    ),
    Row(
        "GET", f"{A}/projects/{I}/kpis", lambda w: f"{A}/projects/{w['project']}/kpis", expect(200)
    ),
    Row(
        "GET",
        f"{A}/projects/{I}/reports",
        lambda w: f"{A}/projects/{w['project']}/reports",
        expect(200),
    ),
    Row(
        "POST",
        f"{A}/projects/{I}/reports",
        lambda w: f"{A}/projects/{w['project']}/reports",
        DISTRICT_201,
        lambda w: {"reported_on": w["today"], "percent": "40.00", "narrative": "ก้าวหน้า"},
    ),
    Row(
        "GET",
        f"{A}/projects/{I}/steps",
        lambda w: f"{A}/projects/{w['project']}/steps",
        expect(200),
    ),
    Row(
        "POST",
        f"{A}/projects/{I}/steps",
        lambda w: f"{A}/projects/{w['project']}/steps",
        expect(403, officer=409, approver=409),
        lambda w: {
            "position": 6,
            "name": "ขั้นตอนเพิ่ม",
            "weight": "10.00",
            "planned_start": "2023-01-01",
            "planned_end": "2023-02-01",
        },
    ),
    Row(
        "GET",
        f"{A}/projects/{I}/transitions",
        lambda w: f"{A}/projects/{w['project']}/transitions",
        expect(200),
    ),
    Row(
        "POST",
        f"{A}/projects/{I}/transitions/<any({PROJECT_NAMES}):name>",
        lambda w: f"{A}/projects/{w['project']}/transitions/request_revision",
        expect(403, officer=200, approver=200),
        lambda w: {"reason": "ขอเพิ่มขั้นตอน"},
    ),
    Row(
        "POST",
        f"{A}/projects/transitions/<any({PROJECT_NAMES}):name>",
        lambda w: f"{A}/projects/transitions/request_revision",
        expect(403, officer=200, approver=200),
        lambda w: {"ids": [w["project"]], "reason": "ขอเพิ่มขั้นตอน"},
        bulk=True,
    ),
    # ---- results
    Row("GET", f"{A}/results", lambda w: f"{A}/results", expect(200)),
    Row(
        "GET",
        f"{A}/results/{I}",
        lambda w: f"{A}/results/{w['result_a']}",
        expect(200, school_b=404),
    ),
    Row(
        "GET",
        f"{A}/results/{I}/transitions",
        lambda w: f"{A}/results/{w['result_a']}/transitions",
        expect(200, school_b=404),
    ),
    Row(
        "POST",
        f"{A}/results/{I}/transitions/<any({RESULT_NAMES}):name>",
        lambda w: f"{A}/results/{w['result_a']}/transitions/start",
        expect(403, school_a=200, school_b=404),  # a school's result: the school's alone
        lambda w: {},
    ),
    Row(
        "POST",
        f"{A}/results/transitions/<any({RESULT_NAMES}):name>",
        lambda w: f"{A}/results/transitions/start",
        expect(403, school_a=200, school_b=404),  # a school's result: the school's alone
        lambda w: {"ids": [w["result_a"]]},
        bulk=True,
    ),
    Row(
        "POST",
        f"{A}/steps/{I}/results",
        lambda w: f"{A}/steps/{w['step']}/results",
        DISTRICT_201,
        lambda w: {"unit_id": w["school_b_unit"]},
    ),
    # ---- the overview figures: the dashboard's roles, a unit within the caller's scope
    Row(
        "GET",
        f"{A}/overview/units/<code>",
        lambda w: f"{A}/overview/units/50230700?fiscal_year={w['fiscal_year_be']}",
        expect(200, school_a=403, school_b=403),
    ),
    Row(
        "GET",
        f"{A}/overview/strategy",
        lambda w: f"{A}/overview/strategy?fiscal_year={w['fiscal_year_be']}",
        expect(200, school_a=403, school_b=403),
    ),
    # ---- KPIs: the owning district's officer and approver manage them; schools see none
    Row("GET", f"{A}/kpis", lambda w: f"{A}/kpis", expect(200)),
    Row(
        "POST",
        f"{A}/kpis",
        lambda w: f"{A}/kpis",
        DISTRICT_201,
        lambda w: {
            "code": "5023-7999",
            "name": "ตัวชี้วัดใหม่",
            "fiscal_year": w["fiscal_year_be"],
            "owner_unit_id": w["district"],
            "target": "100",
        },
    ),
    Row("GET", f"{A}/kpis/{I}", lambda w: f"{A}/kpis/{w['kpi']}", expect(200, **SCHOOLS_404)),
    Row(
        "PATCH",
        f"{A}/kpis/{I}",
        lambda w: f"{A}/kpis/{w['kpi']}",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
        lambda w: {"target": "90"},
    ),
    Row(
        "POST",
        f"{A}/kpis/{I}/projects",
        lambda w: f"{A}/kpis/{w['kpi']}/projects",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
        lambda w: {"project_id": w["project"]},
    ),
    Row(
        "DELETE",
        f"{A}/kpis/{I}/projects/{I.replace('ident', 'project_id')}",
        lambda w: f"{A}/kpis/{w['kpi']}/projects/{w['project']}",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
    ),
    Row(
        "PUT",
        f"{A}/kpis/{I}/results/<int(min=1, max=4):quarter>",
        lambda w: f"{A}/kpis/{w['kpi']}/results/1",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
        lambda w: {"value": "10"},
    ),
    Row(
        "POST",
        f"{A}/kpis/{I}/results/<int(min=1, max=4):quarter>/evidence",
        lambda w: f"{A}/kpis/{w['kpi']}/results/1/evidence",
        # The file is a multipart part: a JSON body is refused before anything is looked up.
        expect(422),
    ),
    Row(
        "POST",
        f"{A}/kpis/evidence/{I.replace('ident', 'evidence_id')}/withdraw",
        lambda w: f"{A}/kpis/evidence/{w['kpi_file']}/withdraw",
        expect(403, officer=200, approver=200, **SCHOOLS_404),
    ),
    # ---- the annual plan from a spreadsheet (tests/test_plan_import_api.py sends real files)
    Row(
        "GET",
        f"{A}/plan-imports/template.xlsx",
        lambda w: f"{A}/plan-imports/template.xlsx",
        expect(403, officer=200, approver=200),
    ),
    Row(
        "POST",
        f"{A}/plan-imports",
        lambda w: f"{A}/plan-imports",
        # The file is a multipart part: a JSON body is refused before anything is looked up.
        expect(422),
    ),
    Row(
        "POST",
        f"{A}/plan-imports/<string(length=32):preview_id>",
        lambda w: f"{A}/plan-imports/{'0' * 32}",
        # Nobody's preview: a preview is its uploader's alone.
        expect(403, officer=404, approver=404),
    ),
    # ---- audit
    Row(
        "GET",
        f"{A}/audit/<any({AUDITED}):object_type>/{I}",
        lambda w: f"{A}/audit/allocation/{w['allocation']}",
        expect(200, **SCHOOLS_404),
    ),
    # ---- org, users, years, strategy, delegations
    Row("GET", f"{A}/me", lambda w: f"{A}/me", expect(200)),
    Row("GET", f"{A}/units", lambda w: f"{A}/units", expect(200)),
    Row(
        "POST",
        f"{A}/units",
        lambda w: f"{A}/units",
        expect(403, admin=201),
        lambda w: {
            "code": "5023077104",
            "name_th": "โรงเรียนใหม่",
            "kind": "school",
            "parent_id": w["network_71"],
        },
    ),
    Row(
        "GET",
        f"{A}/units/{I}",
        lambda w: f"{A}/units/{w['division']}",
        expect(200, **SCHOOLS_404),
    ),
    Row(
        "PATCH",
        f"{A}/units/{I}",
        lambda w: f"{A}/units/{w['division']}",
        expect(403, admin=200, **SCHOOLS_404),
        lambda w: {"name_en": "Education Division (renamed)"},
    ),
    Row("GET", f"{A}/users", lambda w: f"{A}/users", expect(200)),
    Row(
        "POST",
        f"{A}/users",
        lambda w: f"{A}/users",
        expect(403, admin=201),
        lambda w: {"email": "new@test.tidtam.local", "name": "ครูใหม่", "password": "long-enough-1"},
    ),
    Row(
        "GET",
        f"{A}/users/{I}",
        lambda w: f"{A}/users/{w['teacher']}",
        expect(403, school_a=200, admin=200),
    ),
    Row(
        "PATCH",
        f"{A}/users/{I}",
        lambda w: f"{A}/users/{w['teacher']}",
        ADMIN_ONLY,
        lambda w: {"phone": "02-123-4567"},
    ),
    Row(
        "POST",
        f"{A}/users/{I}/deactivate",
        lambda w: f"{A}/users/{w['teacher']}/deactivate",
        ADMIN_ONLY,
    ),
    Row(
        "POST",
        f"{A}/users/{I}/reactivate",
        lambda w: f"{A}/users/{w['teacher']}/reactivate",
        expect(403, admin=409),  # the teacher is active: nothing to reactivate
    ),
    Row(
        "POST",
        f"{A}/users/{I}/temporary-password",
        lambda w: f"{A}/users/{w['teacher']}/temporary-password",
        ADMIN_ONLY,
        lambda w: {"password": "temporary-meadow-3391"},
    ),
    Row(
        "POST",
        f"{A}/users/{I}/sessions/end",
        lambda w: f"{A}/users/{w['teacher']}/sessions/end",
        expect(403, admin=200, school_a=200),  # the teacher ends their own sessions too
    ),
    Row(
        "POST",
        f"{A}/users/{I}/second-factor/reset",
        lambda w: f"{A}/users/{w['teacher']}/second-factor/reset",
        ADMIN_ONLY,
    ),
    Row(
        "POST",
        f"{A}/users/{I}/sso-identity",
        lambda w: f"{A}/users/{w['teacher']}/sso-identity",
        ADMIN_ONLY,
        lambda w: {"identity": "3100700456789"},
    ),
    Row(
        "POST",
        f"{A}/users/{I}/roles",
        lambda w: f"{A}/users/{w['teacher']}/roles",
        expect(403, admin=201),
        lambda w: {"role": "school", "unit_id": w["school_b_unit"]},
    ),
    Row(
        "POST",
        f"{A}/users/{I}/roles/<int(max=2147483647):assignment>/withdraw",
        lambda w: f"{A}/users/{w['teacher']}/roles/{w['assignment']}/withdraw",
        ADMIN_ONLY,
    ),
    Row("GET", f"{A}/fiscal-years", lambda w: f"{A}/fiscal-years", expect(200)),
    Row(
        "POST",
        f"{A}/fiscal-years",
        lambda w: f"{A}/fiscal-years",
        expect(403, admin=201),
        lambda w: {"be_year": 2568},
    ),
    Row(
        "PATCH",
        f"{A}/fiscal-years/{I}",
        lambda w: f"{A}/fiscal-years/{w['year']}",
        ADMIN_ONLY,
        lambda w: {"is_open": False},
    ),
    Row("GET", f"{A}/strategy-nodes", lambda w: f"{A}/strategy-nodes", expect(200)),
    Row(
        "POST",
        f"{A}/strategy-nodes",
        lambda w: f"{A}/strategy-nodes",
        expect(403, admin=201),
        lambda w: {"code": "9", "name": "ยุทธศาสตร์ใหม่"},
    ),
    Row(
        "PATCH",
        f"{A}/strategy-nodes/{I}",
        lambda w: f"{A}/strategy-nodes/{w['strategy_node']}",
        ADMIN_ONLY,
        lambda w: {"name": "ยุทธศาสตร์ (เปลี่ยนชื่อ)"},
    ),
    Row("GET", f"{A}/delegations", lambda w: f"{A}/delegations", expect(200)),
    Row(
        "POST",
        f"{A}/delegations",
        lambda w: f"{A}/delegations",
        # Anyone delegates their own authority, to someone who works where they do: the
        # evaluator (administration-wide) stands in for the admin alone, and not for themself.
        expect(422, admin=201),
        lambda w: {"delegate_id": w["evaluator"], "starts_on": w["today"], "ends_on": w["later"]},
    ),
    Row(
        "POST",
        f"{A}/delegations/{I}/withdraw",
        lambda w: f"{A}/delegations/{w['delegation']}/withdraw",
        # The approver gave it; the officer holds it but may not end it; others never see it.
        expect(404, officer=403, approver=200, admin=200),
    ),
    Row("GET", f"{A}/tokens", lambda w: f"{A}/tokens", expect(200)),
    Row("POST", f"{A}/tokens", lambda w: f"{A}/tokens", expect(201), lambda w: {"name": "x"}),
    Row(
        "DELETE",
        f"{A}/tokens/{I}",
        lambda w: f"{A}/tokens/{w['token']}",
        expect(404, officer=204),
    ),
    # A person's own sessions: only the officer's is theirs to end; others' do not exist.
    Row("GET", f"{A}/me/sessions", lambda w: f"{A}/me/sessions", expect(200)),
    Row(
        "POST",
        f"{A}/me/sessions/{I}/end",
        lambda w: f"{A}/me/sessions/{w['officer_session']}/end",
        expect(404, officer=204),
    ),
    # ---- threads: whoever sees the work sees and writes in its thread; only the author
    # rewords or withdraws a comment (the officer wrote the world's comment)
    Row(
        "GET",
        f"{A}/threads/<{THREAD}:subject_type>/<int(max=2147483647):subject_id>",
        lambda w: f"{A}/threads/step_result/{w['result_a']}",
        expect(200, school_b=404),
    ),
    Row(
        "POST",
        f"{A}/threads/<{THREAD}:subject_type>/<int(max=2147483647):subject_id>",
        lambda w: f"{A}/threads/step_result/{w['result_a']}",
        expect(201, school_b=404),
        lambda w: {"body": "รับทราบ"},
    ),
    Row(
        "POST",
        f"{A}/threads/<{THREAD}:subject_type>/<int(max=2147483647):subject_id>/with-files",
        lambda w: f"{A}/threads/step_result/{w['result_a']}/with-files",
        expect(201, school_b=404),
        lambda w: {"body": "รับทราบ"},
        form=True,
    ),
    Row(
        "GET",
        f"{A}/comment-files/{I}",
        lambda w: f"{A}/comment-files/{w['comment_file']}",
        expect(200, school_b=404),
    ),
    Row(
        "GET",
        f"{A}/comments/{I}",
        lambda w: f"{A}/comments/{w['comment']}",
        expect(200, school_b=404),
    ),
    Row(
        "PATCH",
        f"{A}/comments/{I}",
        lambda w: f"{A}/comments/{w['comment']}",
        expect(403, officer=200, school_b=404),
        lambda w: {"body": "ขอรูปถ่ายเพิ่ม 2 รูป"},
    ),
    Row(
        "POST",
        f"{A}/comments/{I}/withdraw",
        lambda w: f"{A}/comments/{w['comment']}/withdraw",
        expect(403, officer=200, school_b=404),
    ),
    # ---- webhooks: an admin manages the endpoints of the units below their grant; everyone
    # else is told nothing exists (the list is empty for them); retrying every failed
    # delivery is for an admin of the whole tree
    Row("GET", f"{A}/webhooks", lambda w: f"{A}/webhooks", expect(200)),
    Row(
        "POST",
        f"{A}/webhooks",
        lambda w: f"{A}/webhooks",
        expect(403, admin=201),
        lambda w: {"unit_id": w["district"], "url": f"{HOOKS}/new", "kinds": []},
    ),
    Row(
        "GET", f"{A}/webhooks/{I}", lambda w: f"{A}/webhooks/{w['webhook']}", expect(404, admin=200)
    ),
    Row(
        "PATCH",
        f"{A}/webhooks/{I}",
        lambda w: f"{A}/webhooks/{w['webhook']}",
        expect(404, admin=200),
        lambda w: {"name": "ระบบของเขต"},
    ),
    Row(
        "DELETE",
        f"{A}/webhooks/{I}",
        lambda w: f"{A}/webhooks/{w['webhook']}",
        expect(404, admin=204),
    ),
    Row(
        "POST",
        f"{A}/webhooks/{I}/rotate-secret",
        lambda w: f"{A}/webhooks/{w['webhook']}/rotate-secret",
        expect(404, admin=200),
    ),
    Row(
        "POST",
        f"{A}/webhooks/{I}/test",
        lambda w: f"{A}/webhooks/{w['webhook']}/test",
        expect(404, admin=202),
    ),
    Row(
        "GET",
        f"{A}/webhooks/{I}/deliveries",
        lambda w: f"{A}/webhooks/{w['webhook']}/deliveries",
        expect(404, admin=200),
    ),
    Row(
        "POST",
        f"{A}/webhooks/{I}/deliveries/{I.replace('ident', 'delivery')}/retry",
        lambda w: f"{A}/webhooks/{w['webhook']}/deliveries/{w['delivery']}/retry",
        # The world's delivery is a pending test, not a failed one: the admin is let in and
        # told it has not failed.
        expect(404, admin=409),
    ),
    Row(
        "POST",
        f"{A}/notifications/retry-failed",
        lambda w: f"{A}/notifications/retry-failed",
        expect(403, admin=202),
        lambda w: {},
    ),
    # ---- documents (public: the API's description is no secret)
    Row("GET", f"{A}/openapi.json", lambda w: f"{A}/openapi.json", expect(200, anonymous=200)),
    Row("GET", f"{A}/docs", lambda w: f"{A}/docs", expect(200, anonymous=200)),
]
MATRIX = {row.key: row for row in ROWS}


def api_rules(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_every_api_route_is_in_the_matrix(app: Flask) -> None:
    missing = api_rules(app) - MATRIX.keys()
    assert not missing, f"routes without a row in the permission matrix: {sorted(missing)}"
    stale = MATRIX.keys() - api_rules(app)
    assert not stale, f"rows for routes that do not exist: {sorted(stale)}"
    assert len(MATRIX) == len(ROWS), "two rows for one route"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", sorted(MATRIX))
def test_route_answers_each_caller_as_the_matrix_says(
    client: FlaskClient, session: Session, key: str, role: str
) -> None:
    row = MATRIX[key]
    ids = world(session, client.application)
    headers = {**headers_for(session, role), **row.extra}
    session.commit()
    body = row.body(ids) if row.body else None
    if row.form:
        response = client.open(
            row.path(ids),
            method=row.method,
            data=body,
            content_type="multipart/form-data",
            headers=headers,
        )
    else:
        response = client.open(row.path(ids), method=row.method, json=body, headers=headers)
    response.get_data()  # read whole (a file answer's stream is then closed below)
    response.close()
    status = response.status_code
    if row.bulk and status == 200:
        (item,) = response.get_json()["results"]
        status = item["status"]
        assert item["ok"] is (status == 200)
    assert status == row.expected[role], (role, key, response.get_data(as_text=True)[:400])
    if response.status_code >= 400:
        problem_of(response)

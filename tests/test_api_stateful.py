"""Hypothesis state machines, one per workflow, driving the API against a model of it.

Each machine makes a few objects through the API, then takes random transitions as random
callers. A model written from the rules (who may, which states, which guards) predicts every
answer: the status, and on success the new state; on a 409 the state the problem names. After
each step the object read back through the API must be in the model's state. Every example runs
in a transaction rolled back at its end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy import select

from service.fiscal.models import FiscalYear
from service.projects.models import PlanStep, Project, ProjectState, StepResult
from service.workflow.engine import load_workflows
from tests.api_support import demo_project, headers_for, problem_of, rolled_back, unit

CALLERS = ("school_a", "officer", "approver", "evaluator", "admin")
DISTRICT = {"officer", "approver"}
# Every input any transition may need: each transition reads what it requires.
INPUT = {
    "reason": "เหตุผล",
    "completion": "60.00",
    "narrative": "ดำเนินการแล้ว",
    "paid_on": "2023-02-01",
    "document_ref": "ขบ 1/2566",
    "self_value": "80.0000",
    "self_narrative": "ประเมินตนเอง",
    "score": "85.00",
}
# No shrinking: a failing run of at most 12 steps reads well as it is, and shrinking a
# stateful run through HTTP takes minutes.
SETTINGS = settings(
    phases=[Phase.explicit, Phase.generate],
    max_examples=6,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


class WorkflowMachine(RuleBasedStateMachine):
    """What every workflow's machine shares; subclasses say how objects are made and what
    the rules predict."""

    app: ClassVar[Flask]
    workflow: ClassVar[str]
    path: ClassVar[str]
    reader: ClassVar[str] = "officer"  # a caller who sees every object of the machine

    def __init__(self) -> None:
        super().__init__()
        self._block = rolled_back(self.app)
        self.session, self.client = self._block.__enter__()
        self.headers = {role: headers_for(self.session, role) for role in CALLERS}
        self.session.commit()
        self.model: dict[int, dict[str, Any]] = {}
        self.table = load_workflows()[self.workflow]

    def teardown(self) -> None:
        self._block.__exit__(None, None, None)

    def post(self, url: str, role: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1{url}", json=body, headers=self.headers[role])

    # ---- what the rules say ------------------------------------------------------------------

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return True

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        raise NotImplementedError

    def guard(self, name: str, ident: int, role: str) -> bool:
        """True when the transition's guards let `role` take it now."""
        return True

    def expect(self, ident: int, role: str, name: str) -> tuple[int, str]:
        item = self.model[ident]
        transition = self.table.transition(name)
        if not self.sees(role, item):
            return 404, item["state"]
        if item["state"] not in transition.sources:
            return 409, item["state"]
        if transition.system or not self.may(role, name, item):
            return 403, item["state"]
        if not self.guard(name, ident, role):
            return 422, item["state"]
        return 200, transition.target.value

    def applied(self, ident: int, role: str, name: str) -> None:
        """Bookkeeping after a success beyond the state (who submitted, what was approved)."""

    @rule(data=st.data())
    def take(self, data: st.DataObject) -> None:
        if not self.model:
            return
        ident = data.draw(st.sampled_from(sorted(self.model)), label="id")
        role = data.draw(st.sampled_from(CALLERS), label="caller")
        name = data.draw(st.sampled_from([t.name for t in self.table.transitions]), label="name")
        status, state = self.expect(ident, role, name)
        response = self.post(f"/{self.path}/{ident}/transitions/{name}", role, INPUT)
        assert response.status_code == status, (
            name,
            role,
            self.model[ident],
            response.get_data(as_text=True)[:300],
        )
        if status == 200:
            assert response.get_json()["state"] == state
            self.model[ident]["state"] = state
            self.applied(ident, role, name)
        else:
            body = problem_of(response)
            if status == 409:
                assert body["state"] == self.model[ident]["state"]
        shown = self.client.get(f"/api/v1/{self.path}/{ident}", headers=self.headers[self.reader])
        assert shown.get_json()["state"] == self.model[ident]["state"]


class AllocationMachine(WorkflowMachine):
    workflow = "allocation"
    path = "allocations"
    budget = Decimal("50000.00")

    @initialize()
    def project(self) -> None:
        project = demo_project(self.session)
        project.approved_budget = Decimal("180000.00") + self.budget  # the demo spends 180,000
        self.session.commit()
        self.project_id = project.id
        self.network = unit(self.session, "50230771").id

    def spent(self) -> Decimal:
        spending = ("approved", "disbursing", "completed")
        return sum((i["amount"] for i in self.model.values() if i["state"] in spending), Decimal(0))

    @rule(amount=st.sampled_from(["10000.00", "20000.00", "30000.00"]))
    def create(self, amount: str) -> None:
        body = {"project_id": self.project_id, "recipient_unit_id": self.network, "amount": amount}
        response = self.post("/allocations", "officer", body)
        if self.spent() + Decimal(amount) > self.budget:
            # More than is left is refused when asked for.
            assert response.status_code == 422, response.get_data(as_text=True)
            return
        assert response.status_code == 201, response.get_data(as_text=True)
        item = {"state": "draft", "amount": Decimal(amount), "prepared_by": {"officer"}}
        self.model[response.get_json()["id"]] = item

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return role != "school_a"  # the recipient is the network, not the school

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        return role in DISTRICT

    def guard(self, name: str, ident: int, role: str) -> bool:
        item = self.model[ident]
        if name == "endorse":
            return False  # within the officer's limit one approval is enough
        if name == "approve" and role in item["prepared_by"]:
            return False  # four eyes: whoever prepared or submitted it never approves it
        if name in ("submit", "approve"):
            return self.spent() + item["amount"] <= self.budget
        return True

    def applied(self, ident: int, role: str, name: str) -> None:
        if name == "submit":
            self.model[ident]["prepared_by"].add(role)


class InstallmentMachine(WorkflowMachine):
    workflow = "installment"
    path = "installments"
    allocated = Decimal("40000.00")

    @initialize()
    def allocation(self) -> None:
        project = demo_project(self.session)
        project.approved_budget = Decimal("180000.00") + self.allocated
        self.session.commit()
        body = {
            "project_id": project.id,
            "recipient_unit_id": unit(self.session, "50230771").id,
            "amount": str(self.allocated),
        }
        made = self.post("/allocations", "officer", body).get_json()
        for name, role in (("submit", "officer"), ("approve", "approver")):
            answer = self.post(f"/allocations/{made['id']}/transitions/{name}", role, {})
            assert answer.status_code == 200, answer.get_data(as_text=True)
        self.allocation_id = made["id"]

    def committed(self) -> Decimal:
        states = ("approved", "paid")
        return sum((i["amount"] for i in self.model.values() if i["state"] in states), Decimal(0))

    @rule(amount=st.sampled_from(["10000.00", "25000.00"]))
    def request(self, amount: str) -> None:
        response = self.post(
            f"/allocations/{self.allocation_id}/installments", "officer", {"amount": amount}
        )
        if self.committed() + Decimal(amount) > self.allocated:
            # More than is left is refused when asked for.
            assert response.status_code == 422, response.get_data(as_text=True)
            return
        assert response.status_code == 201, response.get_data(as_text=True)
        self.model[response.get_json()["id"]] = {"state": "requested", "amount": Decimal(amount)}

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return role != "school_a"

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        return role in DISTRICT

    def guard(self, name: str, ident: int, role: str) -> bool:
        if name != "approve":
            return True
        if role == "officer":
            return False  # four eyes: the officer asked for every installment here
        return self.committed() + self.model[ident]["amount"] <= self.allocated


class ProjectMachine(WorkflowMachine):
    workflow = "project"
    path = "projects"

    @initialize()
    def units(self) -> None:
        self.owner = unit(self.session, "50230000").id
        self.division = unit(self.session, "50230700").id
        self.made = 0

    @rule(planned=st.booleans())
    def create(self, planned: bool) -> None:
        self.made += 1
        body = {
            "code": f"50230000-S{self.made}",
            "name": "โครงการทดลอง",
            "fiscal_year": 2566,
            "owner_unit_id": self.owner,
            "responsible_unit_id": self.division,
        }
        response = self.post("/projects", "officer", body)
        assert response.status_code == 201, response.get_data(as_text=True)
        ident = response.get_json()["id"]
        if planned:
            for position, (start, end) in enumerate(
                [("2022-10-01", "2023-03-31"), ("2023-04-01", "2023-09-30")], start=1
            ):
                step = {
                    "position": position,
                    "name": f"ขั้นตอน {position}",
                    "weight": "50.00",
                    "planned_start": start,
                    "planned_end": end,
                }
                assert self.post(f"/projects/{ident}/steps", "officer", step).status_code == 201
        self.model[ident] = {"state": "draft", "planned": planned}

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return role != "school_a"  # no school reports on these projects

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        if name in ("lock", "return", "reopen"):
            return role == "approver"
        return role in DISTRICT

    def guard(self, name: str, ident: int, role: str) -> bool:
        return name not in ("submit", "lock") or self.model[ident]["planned"]


class StepResultMachine(WorkflowMachine):
    workflow = "step_result"
    path = "results"

    @initialize()
    def results(self) -> None:
        project = demo_project(self.session)
        # The school's two results, and the division's own (its district steps)
        for code, count in (("5023077101", 2), ("50230700", 3)):
            results = self.session.scalars(
                select(StepResult)
                .join(PlanStep, PlanStep.id == StepResult.step_id)
                .where(
                    PlanStep.project_id == project.id,
                    StepResult.unit_id == unit(self.session, code).id,
                )
            ).all()
            assert len(results) == count
            for result in results:
                self.model[result.id] = {
                    "state": result.state.value,
                    "submitted_by": None,
                    "reporter": "school_a" if code == "5023077101" else "officer",
                }

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return role != "school_a" or item["reporter"] == "school_a"  # not the division's

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        if name in ("start", "submit"):
            # a school reports its own results; an officer the division's, never a school's
            return role == item["reporter"]
        # Review: the district, but never the person who submitted.
        return role in DISTRICT and item["submitted_by"] != role

    def applied(self, ident: int, role: str, name: str) -> None:
        if name == "submit":
            self.model[ident]["submitted_by"] = role


class EvaluationMachine(WorkflowMachine):
    workflow = "evaluation"
    path = "evaluations"

    @initialize()
    def evaluations(self) -> None:
        year = self.session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2566)).one()
        project = Project(
            code="50230000-E1",
            name="ประเมิน",
            fiscal_year=year,
            owner_unit=unit(self.session, "50230000"),
            responsible_unit=unit(self.session, "50230700"),
            kind="routine",
            state=ProjectState.LOCKED,
        )
        self.session.add(project)
        self.session.commit()
        for quarter in (1, 2):
            body = {"project_id": project.id, "fiscal_year": 2566, "quarter": quarter}
            response = self.post("/evaluations", "evaluator", body)
            assert response.status_code == 201, response.get_data(as_text=True)
            self.model[response.get_json()["id"]] = {"state": "open"}

    def sees(self, role: str, item: dict[str, Any]) -> bool:
        return role != "school_a"

    def may(self, role: str, name: str, item: dict[str, Any]) -> bool:
        return role in DISTRICT if name == "self_assess" else role == "evaluator"


def _run(app: Flask, machine: type[WorkflowMachine]) -> None:
    machine.app = app
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_allocation_workflow_against_its_model(app: Flask) -> None:
    _run(app, AllocationMachine)


def test_installment_workflow_against_its_model(app: Flask) -> None:
    _run(app, InstallmentMachine)


def test_project_workflow_against_its_model(app: Flask) -> None:
    _run(app, ProjectMachine)


def test_step_result_workflow_against_its_model(app: Flask) -> None:
    _run(app, StepResultMachine)


def test_evaluation_workflow_against_its_model(app: Flask) -> None:
    _run(app, EvaluationMachine)

"""Quarterly rollups: set-based SQL that agrees with the Python progress functions, upserts
that a rerun leaves identical, the 30 Sep / 1 Oct boundary in Asia/Bangkok, the demo KPI's
`2.1 / 2.2` fraction computed from its data, and a worker run that reports its progress."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Installment, InstallmentState
from service.core.db import db, utcnow
from service.core.fiscal import FiscalQuarter, local_date
from service.core.progress import StepPlan, is_behind_schedule, planned_progress
from service.kpis.models import Kpi, KpiQuarterResult
from service.projects.models import (
    PlanStep,
    Project,
    ProjectKind,
    ProjectState,
    ResultState,
    StepResult,
)
from service.projects.queries import project_progress
from service.rollups.compute import quarter_just_ended, rollup_plan, run_rollup
from service.rollups.models import ProjectRollup, StrategyRollup, UnitRollup
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.stack import committed_stack
from tests.work_data import demo_project, unit
from tests.workers import running_worker


def _rows(session: Session, model: Any) -> list[tuple[Any, ...]]:
    columns = list(model.__table__.c)
    return [tuple(row) for row in session.execute(select(*columns).order_by(columns[0])).all()]


def _snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        model.__name__: _rows(session, model)
        for model in (ProjectRollup, UnitRollup, StrategyRollup, KpiQuarterResult)
    }


def _accept(result: StepResult, completion: int, at: datetime) -> None:
    result.state = ResultState.ACCEPTED
    result.completion = result.accepted_completion = Decimal(completion)
    result.submitted_at = result.reviewed_at = at


def _results_of(session: Session, project: Project, position: int) -> list[StepResult]:
    return list(
        session.scalars(
            select(StepResult)
            .join(PlanStep)
            .where(PlanStep.project_id == project.id, PlanStep.position == position)
        )
    )


def test_a_rerun_leaves_identical_rows(session: Session) -> None:
    seen: list[tuple[int, int, str]] = []
    run_rollup(session, 2566, 1, now=utcnow(), progress=lambda *step: seen.append(step))
    assert seen == [(1, 4, "projects"), (2, 4, "units"), (3, 4, "strategies"), (4, 4, "kpis")]
    first = _snapshot(session)
    assert all(first.values())
    run_rollup(session, 2566, 1, now=utcnow() + timedelta(hours=1))
    assert _snapshot(session) == first  # computed_at included: nothing was rewritten

    project = demo_project(session)
    _accept(_results_of(session, project, 2)[0], 100, datetime(2022, 11, 2, tzinfo=UTC))
    session.flush()
    later = utcnow() + timedelta(hours=2)
    run_rollup(session, 2566, 1, now=later)
    row = session.scalars(select(ProjectRollup).where(ProjectRollup.quarter == 1)).one()
    session.refresh(row)
    assert row.actual_progress == Decimal("40.00") and row.computed_at == later


def test_demo_figures_and_kpi_fraction_come_from_the_data(session: Session) -> None:
    project = demo_project(session)
    run_rollup(session, 2566, 1, now=utcnow())
    row = session.scalars(select(ProjectRollup).where(ProjectRollup.quarter == 1)).one()
    # The legacy page: 20 % reported while steps 1–3 (60 %) were due by the quarter's end.
    assert (row.actual_progress, row.planned_progress) == (Decimal("20.00"), Decimal("60.00"))
    assert row.variance == Decimal("-40.00") and row.behind_schedule is True
    assert (row.budget_approved, row.budget_allocated, row.budget_paid) == (
        Decimal("180000.00"),
        Decimal("180000.00"),
        Decimal("0.00"),
    )
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    result = session.scalars(
        select(KpiQuarterResult).where(
            KpiQuarterResult.kpi_id == kpi.id, KpiQuarterResult.quarter == 1
        )
    ).one()
    session.refresh(result)
    assert (result.numerator, result.denominator, result.value) == (
        Decimal("0.0000"),
        Decimal("1.0000"),
        Decimal("0.0000"),
    )

    # Steps 2 and 3 done and accepted in time: on target, so the fraction is 1 / 1.
    reviewed = datetime(2022, 12, 20, tzinfo=UTC)
    for position in (2, 3):
        for step_result in _results_of(session, project, position):
            _accept(step_result, 100, reviewed)
    session.flush()
    run_rollup(session, 2566, 1, now=utcnow())
    session.refresh(result)
    assert (result.numerator, result.denominator, result.value) == (
        Decimal("1.0000"),
        Decimal("1.0000"),
        Decimal("100.0000"),
    )
    assert project_progress(session, project.id) == Decimal("60.00")

    district = unit(session, "50230000")
    unit_row = session.scalars(
        select(UnitRollup).where(UnitRollup.unit_id == district.id, UnitRollup.quarter == 1)
    ).one()
    session.refresh(unit_row)
    assert (unit_row.projects, unit_row.behind_schedule) == (1, 0)
    assert unit_row.actual_progress == Decimal("60.00")
    school = unit(session, "5023077101")  # reports on the project but owns none
    assert session.scalar(select(UnitRollup.id).where(UnitRollup.unit_id == school.id)) is None
    strategy = session.scalars(select(StrategyRollup).where(StrategyRollup.quarter == 1)).all()
    assert len(strategy) == 4 and {s.projects for s in strategy} == {1}  # ๗ → … → ๗.๒.๒.๒


def test_the_30_september_1_october_boundary_in_bangkok(session: Session) -> None:
    end_of_q4 = datetime(2023, 9, 30, 17, 0, tzinfo=UTC)  # midnight in Bangkok
    beat = end_of_q4 + timedelta(minutes=30)  # the quarter-end beat, 00:30 on 1 Oct
    assert beat.date() == date(2023, 9, 30)  # still 30 September in UTC
    assert quarter_just_ended(beat) == FiscalQuarter(2566, 4)
    assert FiscalQuarter.of(local_date(beat)) == FiscalQuarter(2567, 1)

    project = demo_project(session)
    just_before = end_of_q4 - timedelta(minutes=30)  # 23:30 on 30 Sep in Bangkok
    just_after = end_of_q4 + timedelta(minutes=30)  # 00:30 on 1 Oct in Bangkok
    _accept(_results_of(session, project, 2)[0], 100, just_before)
    _accept(_results_of(session, project, 5)[0], 100, just_after)
    installments = session.scalars(select(Installment).order_by(Installment.id)).all()
    for installment, paid_on in zip(
        installments, (date(2023, 9, 30), date(2023, 10, 1)), strict=True
    ):
        installment.state = InstallmentState.PAID
        installment.paid_on = paid_on
    session.flush()
    plan = run_rollup(session, 2566, 4, now=utcnow())
    assert plan.cutoff == end_of_q4 and plan.quarter_end == date(2023, 9, 30)
    row = session.scalars(select(ProjectRollup).where(ProjectRollup.quarter == 4)).one()
    session.refresh(row)
    assert row.actual_progress == Decimal("40.00")  # step 2 counts, step 5 came on 1 Oct
    assert row.budget_paid == Decimal("90000.00")  # paid on 30 Sep; 1 Oct is FY 2567
    assert project_progress(session, project.id) == Decimal("60.00")  # the page: as of now


def test_sql_agrees_with_the_python_progress_functions(session: Session) -> None:
    """Random plans and results: the set-based figures equal project_progress() and
    planned_progress() (with every result reviewed before the quarter ends)."""
    rng = random.Random(2566)
    template = demo_project(session)
    division, school = unit(session, "50230700"), unit(session, "5023077101")
    other = unit(session, "5023077102")
    projects = []
    for n in range(12):
        project = Project(
            code=f"TEST-{n:03}",
            fiscal_year_id=template.fiscal_year_id,
            name=f"โครงการทดสอบ {n}",
            owner_unit_id=template.owner_unit_id,
            responsible_unit_id=division.id,
            kind=ProjectKind.ROUTINE,
            state=ProjectState.LOCKED,
        )
        session.add(project)
        session.flush()
        cuts = sorted(rng.sample(range(1, 100), rng.randint(0, 5)))
        weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        for position, weight in enumerate(weights, start=1):
            start = date(2022, 10, 1) + timedelta(days=rng.randint(0, 300))
            step = PlanStep(
                project_id=project.id,
                position=position,
                name=f"ขั้นตอน {position}",
                weight=Decimal(weight),
                planned_start=start,
                planned_end=start + timedelta(days=rng.randint(0, 120)),
            )
            session.add(step)
            session.flush()
            for reporter in rng.sample([division, school, other], rng.randint(0, 3)):
                result = StepResult(step_id=step.id, unit_id=reporter.id)
                if rng.random() < 0.7:
                    _accept(result, rng.randint(0, 100), datetime(2022, 9, 1, tzinfo=UTC))
                session.add(result)
        projects.append(project)
    session.flush()
    for quarter in (1, 2, 3, 4):
        run_rollup(session, 2566, quarter, now=utcnow(), chunk=5)  # several id ranges
        quarter_end = FiscalQuarter(2566, quarter).end
        for project in projects:
            row = session.scalars(
                select(ProjectRollup).where(
                    ProjectRollup.project_id == project.id, ProjectRollup.quarter == quarter
                )
            ).one()
            session.refresh(row)
            steps = session.scalars(select(PlanStep).where(PlanStep.project_id == project.id))
            planned = planned_progress(
                [StepPlan(s.weight, s.planned_start, s.planned_end) for s in steps], quarter_end
            )
            actual = project_progress(session, project.id)
            assert (row.actual_progress, row.planned_progress) == (actual, planned), project.code
            assert row.behind_schedule is is_behind_schedule(actual, planned)


def test_a_plan_splits_projects_into_ranges(session: Session) -> None:
    plan = rollup_plan(session, 2566, 2, chunk=1)
    assert plan.quarter_end == date(2023, 3, 31) and plan.steps == len(plan.id_ranges) + 3


def test_worker_run_on_demand_reports_progress(tmp_path: Path, app: Flask) -> None:
    with committed_stack(tmp_path, "rollups") as stack:
        client = stack.app.test_client()
        login(client, "admin@demo.tidtam.local", DEMO_PASSWORDS["admin@demo.tidtam.local"])
        token = csrf_token(client, "/notifications")
        with running_worker(stack.env, queues="rollups", log=tmp_path / "worker.log"):
            answer = client.post(
                "/admin/rollups", data={"fiscal_year": "2566", "quarter": "2", "csrf_token": token}
            )
            assert answer.status_code == 202, answer.get_data(as_text=True)
            status_url = answer.get_json()["status_url"]
            states = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = client.get(status_url).get_json()
                states.append(status["state"])
                if status["state"] in ("SUCCESS", "FAILURE"):
                    break
                time.sleep(0.05)
        assert status["state"] == "SUCCESS", (tmp_path / "worker.log").read_text()[-3000:]
        assert status["done"] == status["total"] == 4
        assert set(states) <= {"PENDING", "PROGRESS", "SUCCESS"}
        with stack.app.app_context():
            quarters = db.session.scalars(select(ProjectRollup.quarter)).all()
            db.session.rollback()
        assert quarters == [2]
        other = stack.app.test_client()
        login(other, "school@demo.tidtam.local", DEMO_PASSWORDS["school@demo.tidtam.local"])
        refused = other.post(
            "/admin/rollups",
            data={
                "fiscal_year": "2566",
                "quarter": "2",
                "csrf_token": csrf_token(other, "/notifications"),
            },
        )
        assert refused.status_code == 403

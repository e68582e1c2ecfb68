"""The living demo district (issue 14 §3): beside the legacy project, `demo-data` loads a few
dozen projects of the fiscal year the clock is in and of the last, with results, money,
reports, KPIs and evaluations in every state and steps overdue; loading twice changes
nothing. The legacy project itself is checked, unchanged, by tests/test_demo.py."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.budget.workflow import NO_NEW_MONEY
from service.core.db import Base
from service.core.fiscal import fiscal_year_of, local_today
from service.demo.district import CURRENT_PROJECTS, LAST_YEAR_PROJECTS, load_district
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiQuarterResult
from service.org.models import RoleAssignment
from service.projects.models import PlanStep, ProgressReport, Project, ResultState, StepResult
from tests.conftest import DEMO_PASSWORDS, login


def _counts(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(select(func.count()).select_from(table)) or 0
        for name, table in Base.metadata.tables.items()
    }


def _projects_of(session: Session, be_year: int) -> list[Project]:
    return list(
        session.scalars(
            select(Project)
            .join(FiscalYear)
            .where(FiscalYear.be_year == be_year, Project.code != "50230000-3598")
        )
    )


def test_the_district_lives_in_this_year_and_the_last(session: Session) -> None:
    today = local_today()
    load_district(session, today)
    this_year = fiscal_year_of(today)
    assert len(_projects_of(session, this_year)) == CURRENT_PROJECTS
    assert len(_projects_of(session, this_year - 1)) == LAST_YEAR_PROJECTS
    assert set(session.scalars(select(StepResult.state))) == set(ResultState)
    assert set(session.scalars(select(Allocation.state))) == set(AllocationState)
    assert set(session.scalars(select(Installment.state))) == set(InstallmentState)
    evaluations = set(session.scalars(select(Evaluation.state)))
    assert {EvaluationState.SCORED, EvaluationState.PUBLISHED} <= evaluations
    assert session.scalar(select(func.count(ProgressReport.id))) >= LAST_YEAR_PROJECTS
    assert session.scalar(select(func.count(Kpi.id))) >= 8
    assert session.scalar(select(func.count(KpiQuarterResult.id))) >= 16
    # Steps over and not accepted everywhere: the alerts have something to say.
    overdue = session.scalar(
        select(func.count(func.distinct(PlanStep.id)))
        .join(StepResult, StepResult.step_id == PlanStep.id)
        .where(PlanStep.planned_end < today, StepResult.state != ResultState.ACCEPTED)
    )
    assert overdue >= 5
    # Each result is submitted by someone of its own unit (a school's clerk; the division's
    # second officer), never by the officer who reviews it.
    strangers = session.scalar(
        select(func.count(StepResult.id)).where(
            StepResult.submitted_by_id.is_not(None),
            ~exists().where(
                RoleAssignment.user_id == StepResult.submitted_by_id,
                RoleAssignment.unit_id == StepResult.unit_id,
            ),
            StepResult.step_id.in_(
                select(PlanStep.id).where(
                    PlanStep.project_id.in_(
                        select(Project.id).where(Project.code != "50230000-3598")
                    )
                )
            ),
        )
    )
    assert strangers == 0
    assert not session.scalar(
        select(func.count(StepResult.id)).where(
            StepResult.submitted_by_id == StepResult.reviewed_by_id
        )
    )
    # Nothing on a closed project waits for money nobody may grant any more (allocation #22 of
    # 50230000-7009 was submitted on one and approved on /approvals).
    shut = select(Project.id).where(Project.state.in_(NO_NEW_MONEY))
    waiting = (
        AllocationState.DRAFT,
        AllocationState.SUBMITTED,
        AllocationState.RETURNED,
        AllocationState.APPROVED,
    )
    assert session.scalar(select(func.count(Project.id)).where(Project.id.in_(shut)))
    assert not session.scalar(
        select(func.count(Allocation.id)).where(
            Allocation.project_id.in_(shut), Allocation.state.in_(waiting)
        )
    )
    assert not session.scalar(
        select(func.count(Installment.id))
        .join(Allocation)
        .where(Allocation.project_id.in_(shut), Installment.state == InstallmentState.REQUESTED)
    )
    # Years before the last are closed: their steps are not chased.
    closed = session.scalars(select(FiscalYear).where(FiscalYear.be_year < this_year - 1)).all()
    assert closed and not [y.be_year for y in closed if y.is_open]
    # Several schools report.
    schools = session.scalar(
        select(func.count(func.distinct(StepResult.unit_id))).where(
            StepResult.state != ResultState.NOT_STARTED
        )
    )
    assert schools >= 6


def test_loading_twice_changes_nothing_on_any_day(session: Session) -> None:
    load_district(session, date(2026, 12, 6))
    session.flush()
    once = _counts(session)
    load_district(session, date(2026, 12, 6))
    session.flush()
    assert _counts(session) == once
    # Nor a week later: the projects are there; the delegation is there.
    load_district(session, date(2026, 12, 13))
    session.flush()
    assert _counts(session) == once


def test_pages_of_an_ordinary_day(app: Flask, client: FlaskClient, session: Session) -> None:
    load_district(session, local_today())
    session.commit()
    login(client, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    dashboard = client.get("/dashboard").get_data(as_text=True)
    this_year = _projects_of(session, fiscal_year_of(local_today()))
    assert sum(project.code in dashboard for project in this_year) >= 10
    assert client.get("/review").status_code == 200
    assert client.get("/budget").status_code == 200
    approver = app.test_client()
    login(approver, "approver@demo.tidtam.local", DEMO_PASSWORDS["approver@demo.tidtam.local"])
    waiting = approver.get("/approvals").get_data(as_text=True)
    assert "data-allocation=" in waiting  # endorsed above the limit, the approver's to decide
    deputy = app.test_client()
    login(deputy, "deputy@demo.tidtam.local", "demo-deputy-2566")
    assert 'href="/acting"' in deputy.get("/budget").get_data(as_text=True)

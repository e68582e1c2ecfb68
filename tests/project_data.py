"""Projects made inside a test's transaction, for the pages and lists of part A (project page,
dashboard, public list, exports): plain rows with steps, results and money, nothing more."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.operations import create_unit, create_user, grant_role
from service.projects.figures import settle_figures
from service.projects.models import (
    PlanStep,
    Project,
    ProjectKind,
    ProjectParticipant,
    ProjectState,
    ResultState,
    StepResult,
)

_serial = itertools.count(9000)


@dataclass
class StepSpec:
    """A step: weight, planned span, and one accepted completion per result row (None: a row
    with nothing accepted)."""

    weight: str
    start: str
    end: str
    accepted: Sequence[str | None] = ()
    units: Sequence[OrgUnit] = field(default_factory=list)


def unit(session: Session, code: str) -> OrgUnit:
    found = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    assert found is not None, code
    return found


def year(session: Session, be_year: int = 2566) -> FiscalYear:
    found = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    assert found is not None
    return found


def make_project(
    session: Session,
    *,
    owner: OrgUnit,
    responsible: OrgUnit | None = None,
    name: str = "โครงการทดสอบ",
    steps: Sequence[StepSpec] = (),
    state: ProjectState = ProjectState.LOCKED,
    budget: str = "0.00",
    allocations: Sequence[tuple[OrgUnit, str, Sequence[tuple[str, InstallmentState]]]] = (),
    be_year: int = 2566,
    code: str | None = None,
) -> Project:
    """A project with `steps`; each accepted completion becomes a result row of the step
    (accepted, reviewed on the step's end day), for `StepSpec.units` or the responsible unit."""
    responsible = responsible or owner
    project = Project(
        code=code or f"{owner.code[:8]}-{next(_serial)}",
        fiscal_year=year(session, be_year),
        name=name,
        owner_unit=owner,
        responsible_unit=responsible,
        kind=ProjectKind.ROUTINE,
        approved_budget=Decimal(budget),
        state=state,
    )
    session.add(project)
    session.flush()
    for position, spec in enumerate(steps, start=1):
        step = PlanStep(
            project=project,
            position=position,
            name=f"ขั้นตอนทดสอบ {position}",
            weight=Decimal(spec.weight),
            planned_start=date.fromisoformat(spec.start),
            planned_end=date.fromisoformat(spec.end),
            responsible_unit=responsible,
        )
        session.add(step)
        session.flush()
        units = list(spec.units) or [responsible] * len(spec.accepted)
        for row_unit, accepted in zip(units, spec.accepted, strict=True):
            reviewed = datetime.fromisoformat(spec.end).replace(hour=5, tzinfo=UTC)
            session.add(
                StepResult(
                    step=step,
                    unit=row_unit,
                    state=ResultState.ACCEPTED if accepted is not None else ResultState.NOT_STARTED,
                    completion=Decimal(accepted or "0"),
                    accepted_completion=Decimal(accepted) if accepted is not None else None,
                    submitted_at=reviewed if accepted is not None else None,
                    reviewed_at=reviewed if accepted is not None else None,
                )
            )
    for recipient, amount, installments in allocations:
        allocation = Allocation(
            project=project,
            recipient_unit=recipient,
            amount=Decimal(amount),
            state=AllocationState.APPROVED,
        )
        session.add(allocation)
        session.flush()
        for installment_amount, installment_state in installments:
            session.add(
                Installment(
                    allocation=allocation,
                    amount=Decimal(installment_amount),
                    state=installment_state,
                    paid_on=date(2023, 1, 15)
                    if installment_state is InstallmentState.PAID
                    else None,
                )
            )
    settle_figures(session)  # as a commit would: the dashboard reads the figures
    return project


def make_user(session: Session, role: Role, unit_: OrgUnit, email: str) -> tuple[User, str]:
    """A user holding `role` in `unit_`; returns the user and their password."""
    password = "test-password-" + email.split("@")[0]
    user = create_user(
        session, email=email, name=f"ผู้ทดสอบ {email.split('@')[0]}", password=password
    )
    grant_role(session, user, role, unit_)
    session.flush()
    return user, password


def make_district(session: Session, code: str) -> tuple[OrgUnit, OrgUnit, OrgUnit]:
    """Another district office with a division and a school: (district, division, school)."""
    root = unit(session, "10000000")
    district = create_unit(
        session,
        code=code,
        name_th=f"สำนักงานเขตทดสอบ {code}",
        name_en=f"Test District {code}",
        kind=UnitKind.DISTRICT_OFFICE,
        parent=root,
    )
    division = create_unit(
        session,
        code=code[:4] + "0700",
        name_th="ฝ่ายการศึกษา (ทดสอบ)",
        name_en="Education Division (test)",
        kind=UnitKind.DIVISION,
        parent=district,
    )
    school = create_unit(
        session,
        code=code[:4] + "077101",
        name_th="โรงเรียนทดสอบ",
        name_en="Test School",
        kind=UnitKind.SCHOOL,
        parent=division,
    )
    session.flush()
    return district, division, school


def participants_recorded(session: Session) -> set[tuple[int, int, int]]:
    """project_participant's rows as (project, unit, year)."""
    rows = session.execute(
        select(
            ProjectParticipant.project_id,
            ProjectParticipant.unit_id,
            ProjectParticipant.fiscal_year_id,
        )
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


def participants_derived(session: Session) -> set[tuple[int, int, int]]:
    """What project_participant must hold: the (project, unit, year) of every step result."""
    rows = session.execute(
        select(PlanStep.project_id, StepResult.unit_id, Project.fiscal_year_id)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .distinct()
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]

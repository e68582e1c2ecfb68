"""Rows the work-screen tests act on: the demo's users, units and results, and small files of
each accepted kind (real magic bytes, built here rather than shipped)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Approval, Installment
from service.core.fiscal import DEFAULT_TZ
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.projects.models import PlanStep, Project, StepResult
from service.projects.operations import create_project


@pytest.fixture(autouse=True)
def in_app_context(app: Flask, session: Session) -> Iterator[None]:
    """The test's own commits release work after commit (the outbox nudge), which needs the
    app, as in a request: each commit of the test session runs inside an app context. (Not
    the whole test: requests of the test client must each get an app context of their own.)"""
    commit = session.commit

    def commit_in_app_context() -> None:
        with app.app_context():
            commit()

    session.commit = commit_in_app_context  # type: ignore[method-assign]
    yield


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def office_file(kind: str) -> bytes:
    """A minimal zip with the parts that make it a DOCX ("word") or XLSX ("xl")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        part = "word/document.xml" if kind == "docx" else "xl/workbook.xml"
        archive.writestr(part, "<x/>")
    return buffer.getvalue()


def user(session: Session, role: str) -> User:
    return session.scalars(select(User).where(User.email == f"{role}@demo.tidtam.local")).one()


def unit(session: Session, code: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.code == code)).one()


def demo_project(session: Session) -> Project:
    return session.scalars(select(Project).where(Project.code == "50230000-3598")).one()


def division_project(
    session: Session, code: str, budget: str, be_year: int | None = None
) -> Project:
    """A project the demo officer registers for his division under `code`, with `budget`
    baht approved, in fiscal year `be_year` (None: the newest the database has)."""
    years = select(FiscalYear).order_by(FiscalYear.be_year.desc())
    if be_year is not None:
        years = years.where(FiscalYear.be_year == be_year)
    year = session.scalars(years).first()
    assert year is not None
    return create_project(
        session,
        user(session, "officer"),
        code=code,
        name=f"โครงการ {code}",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal(budget),
    )


def approved_from_the_years_start(session: Session, installment: Installment) -> None:
    """Date `installment`'s approvals on the first day of its project's fiscal year, 09:00
    Bangkok: a payment may then be dated any day of the year so far."""
    year = installment.allocation.project.fiscal_year
    starts = datetime.combine(year.starts_on, time(9), ZoneInfo(DEFAULT_TZ))
    for approval in session.scalars(
        select(Approval).where(
            Approval.subject_type == "installment", Approval.subject_id == installment.id
        )
    ):
        approval.approved_at = starts


def sibling_project(session: Session, source: Project, code: str) -> Project:
    """A project of `source`'s year, units and kind under `code` (a budget transfer's
    target, say), flushed."""
    project = Project(
        code=code,
        name="โครงการรับโอน",
        fiscal_year_id=source.fiscal_year_id,
        owner_unit_id=source.owner_unit_id,
        responsible_unit_id=source.responsible_unit_id,
        kind=source.kind,
    )
    session.add(project)
    session.flush()
    return project


def school_result(
    session: Session, school_code: str = "5023077101", position: int = 3
) -> StepResult:
    """The demo school's result row for step `position` (3 and 4 are the schools' steps)."""
    return session.scalars(
        select(StepResult)
        .join(PlanStep)
        .join(OrgUnit, OrgUnit.id == StepResult.unit_id)
        .where(
            PlanStep.project_id == demo_project(session).id,
            PlanStep.position == position,
            OrgUnit.code == school_code,
        )
    ).one()


def audited(session: Session, action: str, object_id: int | None = None) -> int:
    """How many audit entries record `action` (of the object `object_id`, when given)."""
    counted = select(func.count(AuditEntry.id)).where(AuditEntry.action == action)
    if object_id is not None:
        counted = counted.where(AuditEntry.object_id == object_id)
    return int(session.scalar(counted) or 0)


def school_allocation(session: Session, state: Any = None) -> Any:
    """30,000 baht of the demo project allocated to the demo school (approved unless `state`
    says otherwise), committed."""
    from decimal import Decimal

    from service.budget.models import Allocation, AllocationState

    allocation = Allocation(
        project=demo_project(session),
        recipient_unit=unit(session, "5023077101"),
        amount=Decimal("30000.00"),
        state=state or AllocationState.APPROVED,
        created_by_id=user(session, "officer").id,
    )
    session.add(allocation)
    session.commit()
    return allocation

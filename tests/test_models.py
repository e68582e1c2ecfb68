"""The invariants the database itself guards, on whichever engine the run uses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Float, Numeric, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from service.budget.models import Allocation, Approval
from service.core.db import Base, Money
from service.evaluations.models import Evaluation
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, UnitKind, User
from service.org.operations import OrgError, create_unit, create_user
from service.projects.models import PlanStep, Project, ProjectKind
from tests.conftest import on_postgres

MONEY_COLUMNS = {
    ("project", "approved_budget"),
    ("allocation", "amount"),
    ("installment", "amount"),
    ("approval", "amount"),
    ("org_unit", "approval_limit"),
}


def _project(session: Session) -> Project:
    project = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert project is not None
    return project


def _violates(session: Session, obj: object) -> None:
    """Adding `obj` must be refused by the database, and leave nothing behind."""
    savepoint = session.begin_nested()
    session.add(obj)
    with pytest.raises(IntegrityError):
        session.flush()
    savepoint.rollback()


def test_no_float_columns_and_money_is_numeric_14_2() -> None:
    for table in Base.metadata.tables.values():
        for column in table.columns:
            assert not isinstance(column.type, Float), f"{table.name}.{column.name} is a float"
    for table_name, column_name in MONEY_COLUMNS:
        column_type = Base.metadata.tables[table_name].columns[column_name].type
        assert isinstance(column_type, Money)
        impl = column_type.impl
        assert isinstance(impl, Numeric)
        assert (impl.precision, impl.scale) == (14, 2)


def test_money_is_exact_to_the_satang(session: Session) -> None:
    project = _project(session)
    project.approved_budget = Decimal("1234567890.05")
    session.flush()
    session.expire(project)
    assert project.approved_budget == Decimal("1234567890.05")
    total = session.scalar(
        text("SELECT approved_budget + approved_budget FROM project WHERE id = :id"),
        {"id": project.id},
    )
    assert Decimal(str(total)).quantize(Decimal("0.01")) == Decimal("2469135780.10")


def test_float_money_is_refused(session: Session) -> None:
    project = _project(session)
    project.approved_budget = 0.1  # type: ignore[assignment]
    with pytest.raises(StatementError, match="refuse float"):
        session.flush()
    session.rollback()


@pytest.mark.parametrize("weight", [Decimal("0"), Decimal("-5"), Decimal("100.01")])
def test_step_weight_must_lie_in_0_to_100(session: Session, weight: Decimal) -> None:
    step = PlanStep(
        project_id=_project(session).id,
        position=99,
        name="x",
        weight=weight,
        planned_start=date(2022, 10, 1),
        planned_end=date(2022, 10, 2),
    )
    _violates(session, step)


def test_step_must_start_before_it_ends(session: Session) -> None:
    step = PlanStep(
        project_id=_project(session).id,
        position=99,
        name="x",
        weight=Decimal("10"),
        planned_start=date(2022, 10, 2),
        planned_end=date(2022, 10, 1),
    )
    _violates(session, step)


def test_step_positions_are_unique_within_a_project(session: Session) -> None:
    step = PlanStep(
        project_id=_project(session).id,
        position=1,
        name="again",
        weight=Decimal("10"),
        planned_start=date(2022, 10, 1),
        planned_end=date(2022, 10, 1),
    )
    _violates(session, step)


def test_project_code_unique_per_fiscal_year(session: Session) -> None:
    existing = _project(session)
    duplicate = Project(
        code=existing.code,
        fiscal_year_id=existing.fiscal_year_id,
        name="duplicate",
        owner_unit_id=existing.owner_unit_id,
        responsible_unit_id=existing.responsible_unit_id,
        kind=ProjectKind.ROUTINE,
    )
    _violates(session, duplicate)
    other_year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == 2567))
    assert other_year is not None
    duplicate.fiscal_year_id = other_year.id
    session.add(
        Project(
            code=existing.code,
            fiscal_year_id=other_year.id,
            name="next year",
            owner_unit_id=existing.owner_unit_id,
            responsible_unit_id=existing.responsible_unit_id,
            kind=ProjectKind.ROUTINE,
        )
    )
    session.flush()


def test_allocation_amount_must_be_positive(session: Session) -> None:
    project = _project(session)
    _violates(
        session,
        Allocation(
            project_id=project.id, recipient_unit_id=project.owner_unit_id, amount=Decimal("0.00")
        ),
    )


def test_the_same_approval_level_counts_once(session: Session) -> None:
    approval = session.scalars(select(Approval).where(Approval.level == 2)).first()
    assert approval is not None
    _violates(
        session,
        Approval(
            subject_type=approval.subject_type,
            subject_id=approval.subject_id,
            level=2,
            round=approval.round,
            approver_id=approval.approver_id,
            amount=approval.amount,
        ),
    )


def test_an_evaluation_has_exactly_one_subject(session: Session) -> None:
    project = _project(session)
    _violates(
        session,
        Evaluation(
            subject_type="kpi",
            project_id=project.id,
            fiscal_year_id=project.fiscal_year_id,
            quarter=1,
        ),
    )


def test_a_quarter_lies_in_1_to_4(session: Session) -> None:
    project = _project(session)
    _violates(
        session,
        Evaluation(
            subject_type="project",
            project_id=project.id,
            fiscal_year_id=project.fiscal_year_id,
            quarter=5,
        ),
    )


def test_unknown_enum_values_are_refused(session: Session) -> None:
    project = _project(session)
    savepoint = session.begin_nested()
    with pytest.raises(IntegrityError):
        session.execute(
            text("UPDATE project SET state = 'teleported' WHERE id = :id"), {"id": project.id}
        )
    savepoint.rollback()


def test_instants_come_back_aware_in_utc(session: Session) -> None:
    user = session.scalar(select(User).where(User.email == "admin@demo.tidtam.local"))
    assert user is not None
    user.created_at = datetime(2023, 9, 30, 17, 30, tzinfo=UTC)
    session.flush()
    session.expire(user)
    assert user.created_at == datetime(2023, 9, 30, 17, 30, tzinfo=UTC)
    assert user.created_at.utcoffset() is not None


def test_naive_instants_are_refused(session: Session) -> None:
    user = session.scalar(select(User).where(User.email == "admin@demo.tidtam.local"))
    assert user is not None
    user.created_at = datetime(2023, 9, 30, 17, 30)
    with pytest.raises(StatementError, match="naive"):
        session.flush()
    session.rollback()


def test_unit_paths_make_subtrees(session: Session) -> None:
    network = session.scalar(select(OrgUnit).where(OrgUnit.code == "50230771"))
    assert network is not None
    school = create_unit(
        session, code="5023077199", name_th="โรงเรียนทดสอบ", kind=UnitKind.SCHOOL, parent=network
    )
    assert school.path == f"{network.path}{school.id}/"
    assert school.ancestor_ids[:-1] == network.ancestor_ids


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"email": "not-an-email"}, "not an email"),
        ({"password": "short"}, "at least 10"),
        ({"language": "fr"}, "unknown language"),
        ({"email": "ADMIN@demo.tidtam.local"}, "already has an account"),
    ],
)
def test_bad_users_are_refused_with_a_reason(
    session: Session, kwargs: dict[str, str], message: str
) -> None:
    before = session.scalar(text("SELECT count(*) FROM app_user"))
    arguments = {"email": "new@example.org", "name": "New", "password": "long-enough-1"}
    arguments.update(kwargs)
    with pytest.raises(OrgError, match=message):
        create_user(session, **arguments)
    assert session.scalar(text("SELECT count(*) FROM app_user")) == before


def test_duplicate_unit_code_is_refused_with_a_reason(session: Session) -> None:
    with pytest.raises(OrgError, match="taken"):
        create_unit(session, code="50230000", name_th="ซ้ำ", kind=UnitKind.DISTRICT_OFFICE)


@pytest.mark.skipif(not on_postgres(), reason="the append-only trigger is PostgreSQL's")
def test_audit_rows_cannot_be_changed_or_deleted_on_postgres(session: Session) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in ("UPDATE audit_entry SET reason = 'rewritten'", "DELETE FROM audit_entry"):
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        savepoint.rollback()

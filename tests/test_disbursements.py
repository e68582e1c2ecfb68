"""Disbursements: an approved installment is paid in one or more payments (day, amount,
document number), never above it, also when two are recorded at once on PostgreSQL; the one
that completes it makes it paid; the project page and the unit page show the money paid
against the plan month by month; the API records and lists payments and gives the curves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.audit.models import AuditEntry, OutboxEvent
from service.budget.models import Approval, Installment, InstallmentState, Payment
from service.budget.operations import create_allocation, record_payment, request_installment
from service.cli import alembic_config
from service.core.db import make_engine
from service.core.fiscal import DEFAULT_TZ, local_today
from service.demo.load import load_demo
from service.fiscal.models import FiscalYear
from service.projects.models import Project
from service.projects.operations import create_project
from service.workflow.engine import Refused, take
from tests.conftest import create_database, csrf_token, drop_database, on_postgres
from tests.work_data import (  # noqa: F401
    approved_from_the_years_start,
    in_app_context,
    unit,
    user,
)

TODAY = local_today()


def _project(session: Session, code: str = "50230000-9501") -> Project:
    year = session.scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc())).first()
    assert year is not None
    return create_project(
        session,
        user(session, "officer"),
        code=code,
        name="โครงการทดสอบการเบิกจ่าย",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal("100000.00"),
    )


def _approved_installment(session: Session, amount: str = "30000.00") -> Installment:
    officer, approver = user(session, "officer"), user(session, "approver")
    project = _project(session)
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("40000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, approver, "allocation", allocation.id, "approve")
    installment = request_installment(session, officer, allocation, Decimal(amount))
    take(session, approver, "installment", installment.id, "approve")
    approved_from_the_years_start(session, installment)
    session.commit()
    return installment


def _pay(session: Session, installment: Installment, amount: str, ref: str, day: date = TODAY):
    return record_payment(
        session,
        user(session, "approver"),
        installment.id,
        paid_on=day,
        amount=Decimal(amount),
        document_ref=ref,
    )


def _pay_the_rest(session: Session, installment: Installment, ref: str, day: date = TODAY) -> Any:
    """The `pay` transition: what is left of the installment, on `day`."""
    return take(
        session,
        user(session, "approver"),
        "installment",
        installment.id,
        "pay",
        {"paid_on": day.isoformat(), "document_ref": ref},
    )


def test_payments_add_up_to_the_installment_and_the_last_makes_it_paid(session: Session) -> None:
    installment = _approved_installment(session)
    _pay(session, installment, "10000.00", "กง 0001/2567", TODAY - timedelta(days=2))
    session.commit()
    assert installment.state is InstallmentState.APPROVED
    with pytest.raises(Refused) as over:
        _pay(session, installment, "20000.01", "กง 0002/2567")
    assert over.value.status == 422 and "amount" in over.value.fields
    session.rollback()
    _pay(session, installment, "20000.00", "กง 0002/2567")
    session.commit()
    session.refresh(installment)
    assert installment.state is InstallmentState.PAID and installment.paid_on == TODAY
    payments = session.scalars(
        select(Payment).where(Payment.installment_id == installment.id).order_by(Payment.id)
    ).all()
    assert [(p.amount, p.document_ref) for p in payments] == [
        (Decimal("10000.00"), "กง 0001/2567"),
        (Decimal("20000.00"), "กง 0002/2567"),
    ]
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "installment", AuditEntry.object_id == installment.id
        )
    ).all()
    assert "installment.payment" in actions and "installment.pay" in actions
    kinds = session.scalars(
        select(OutboxEvent.kind).where(OutboxEvent.object_id == installment.id)
    ).all()
    assert "installment.payment" in kinds
    with pytest.raises(Refused) as paid:
        _pay(session, installment, "1.00", "x")
    assert paid.value.status == 409


def test_bad_payments_are_refused_naming_the_field(session: Session) -> None:
    installment = _approved_installment(session)
    for kwargs, field in (
        ({"amount": "1.00", "ref": "  "}, "document_ref"),
        ({"amount": "1.00", "ref": "x", "day": TODAY + timedelta(days=1)}, "paid_on"),
        ({"amount": "0.00", "ref": "x"}, "amount"),
    ):
        with pytest.raises(Refused) as refused:
            _pay(session, installment, **kwargs)  # type: ignore[arg-type]
        assert refused.value.status == 422 and field in refused.value.fields
    school = user(session, "school")
    with pytest.raises(Refused) as not_theirs:
        record_payment(
            session, school, installment.id, paid_on=TODAY, amount=Decimal(1), document_ref="x"
        )
    assert not_theirs.value.status in (403, 404)


def test_a_payment_dated_after_today_or_before_the_year_is_refused_at_every_door(
    session: Session,
) -> None:
    """A payment's day lies between the start of its project's fiscal year and today, whether
    it is recorded as a payment or as the `pay` transition (the action button, the API's
    transitions): 1 Jan 2500 (BE) or a day in 2057 was kept, and drawn on the curves."""
    installment = _approved_installment(session)
    year_starts = installment.allocation.project.fiscal_year.starts_on
    before = year_starts - timedelta(days=1)
    with pytest.raises(Refused) as early:
        _pay(session, installment, "1.00", "x", before)
    assert early.value.status == 422 and "paid_on" in early.value.fields
    session.rollback()
    for day in (TODAY + timedelta(days=1), before, date(1957, 1, 1)):
        with pytest.raises(Refused) as refused:
            _pay_the_rest(session, installment, "A-1", day)
        assert refused.value.status == 422 and "paid_on" in refused.value.fields, day
        session.rollback()
    assert (
        session.scalar(
            select(func.count(Payment.id)).where(Payment.installment_id == installment.id)
        )
        == 0
    )
    # Nor before the installment was approved: its money was not there.
    approval = session.scalars(
        select(Approval).where(
            Approval.subject_type == "installment", Approval.subject_id == installment.id
        )
    ).one()
    approval.approved_at = datetime.combine(
        year_starts + timedelta(days=3), time(9), ZoneInfo(DEFAULT_TZ)
    )
    session.commit()
    with pytest.raises(Refused) as unapproved:
        _pay(session, installment, "1.00", "x", year_starts + timedelta(days=2))
    assert unapproved.value.status == 422 and "paid_on" in unapproved.value.fields
    assert "approved" in unapproved.value.reason
    session.rollback()
    # The day it was approved and today are both fine.
    _pay(session, installment, "1.00", "A-2", year_starts + timedelta(days=3))
    _pay_the_rest(session, installment, "A-3")
    session.commit()
    assert installment.state is InstallmentState.PAID


def test_the_pay_transition_records_what_is_left(session: Session) -> None:
    installment = _approved_installment(session)
    _pay(session, installment, "5000.00", "A-1")
    _pay_the_rest(session, installment, "A-2")
    session.commit()
    total = session.scalar(
        select(func.sum(Payment.amount)).where(Payment.installment_id == installment.id)
    )
    assert Decimal(total) == Decimal("30000.00")


def test_pages_show_the_payments_and_the_curves(
    session: Session, login_as, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    installment = _approved_installment(session)
    project_id = installment.allocation.project_id
    approver = login_as("approver")
    response = approver.post(
        f"/budget/installments/{installment.id}/payments",
        data={
            "csrf_token": csrf_token(approver, "/budget"),
            "paid_on": f"{TODAY.day}/{TODAY.month}/{TODAY.year + 543}",
            "amount": "12,500.00",
            "document_ref": "ขบ 77/2567",
        },
    )
    assert response.status_code == 302
    # A refused payment comes back as typed, the day's problem beside the day, in Thai: the
    # typed amount and document number are not lost.
    refused = approver.post(
        f"/budget/installments/{installment.id}/payments",
        data={
            "csrf_token": csrf_token(approver, "/budget"),
            "paid_on": "31/13/2569",
            "amount": "๑,๒๐๐",
            "document_ref": "ขบ 78/2567",
        },
    )
    assert refused.status_code == 422
    form = refused.get_data(as_text=True)
    assert 'value="31/13/2569"' in form and 'value="๑,๒๐๐"' in form
    assert 'value="ขบ 78/2567"' in form and 'id="paid_on-error"' in form
    assert "ไม่ใช่วันที่" in form and "17,500.00" in form  # what is left to pay
    page = approver.get(f"/projects/{project_id}").get_data(as_text=True)
    assert "ขบ 77/2567" in page and "12,500.00" in page
    assert 'class="chart chart-wide"' in page and "money-title" in page
    budget = approver.get("/budget").get_data(as_text=True)
    assert "ขบ 77/2567" in budget and "17,500.00" in budget  # what is left to pay
    unit_page = approver.get("/budget/disbursement").get_data(as_text=True)
    assert "unit-money-title" in unit_page


def test_the_api_records_lists_and_draws(session: Session, client: FlaskClient) -> None:
    installment = _approved_installment(session)
    _row, token = new_token(session, user(session, "approver"), "test")
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/installments/{installment.id}/payments"
    made = client.post(
        path,
        json={"paid_on": TODAY.isoformat(), "amount": "1000.00", "document_ref": "API-1"},
        headers=headers,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.json["amount"] == "1000.00"
    over = client.post(
        path,
        json={"paid_on": TODAY.isoformat(), "amount": "29000.01", "document_ref": "API-2"},
        headers=headers,
    )
    assert over.status_code == 422
    listed = client.get(path, headers=headers)
    assert [p["document_ref"] for p in listed.json] == ["API-1"]
    project_id = installment.allocation.project_id
    curve = client.get(f"/api/v1/projects/{project_id}/disbursement", headers=headers).json
    assert curve["paid"] == "1000.00" and len(curve["months"]) == 12
    district = unit(session, "50230000")
    year = installment.allocation.project.fiscal_year.be_year
    units = client.get(
        f"/api/v1/units/{district.id}/disbursement?fiscal_year={year}", headers=headers
    )
    assert units.status_code == 200 and Decimal(units.json["paid"]) >= Decimal("1000.00")


@pytest.fixture(scope="module")
def race_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = create_database(tmp_path_factory.mktemp("payments"), "payments")
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url, pool_size=12, max_overflow=2)
    with Session(engine) as session:
        load_demo(session)
        session.commit()
    yield engine
    engine.dispose()
    drop_database(url)


@pytest.mark.skipif(not on_postgres(), reason="payments at once are raced on PostgreSQL")
def test_payments_at_once_never_exceed_the_installment(race_engine: Engine) -> None:
    with Session(race_engine) as session:
        installment_id = _approved_installment(session, "10000.00").id
    outcomes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def pay() -> None:
        with Session(race_engine) as session:
            installment = session.get(Installment, installment_id)
            assert installment is not None
            barrier.wait()
            try:
                _pay(session, installment, "3000.00", "RACE")
                session.commit()
                status = 201
            except Refused as refused:
                session.rollback()
                status = refused.status
            with lock:
                outcomes.append(status)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count(201) == 3 and len(outcomes) == 8
    with Session(race_engine) as session:
        total = session.scalar(
            select(func.sum(Payment.amount)).where(Payment.installment_id == installment_id)
        )
        assert Decimal(total) == Decimal("9000.00")


def test_the_quarter_rollup_counts_partial_payments(session: Session) -> None:
    from service.core.db import utcnow
    from service.rollups.compute import run_rollup
    from service.rollups.models import ProjectRollup
    from tests.work_data import demo_project

    project = demo_project(session)  # FY 2566; its two installments are approved, not paid
    installment = session.scalars(
        select(Installment)
        .join(Installment.allocation)
        .where(Installment.state == InstallmentState.APPROVED)
        .order_by(Installment.id)
    ).first()
    assert installment is not None and installment.allocation.project_id == project.id
    session.add_all(
        [
            Payment(
                installment_id=installment.id,
                paid_on=date(2023, 2, 1),
                amount=Decimal("1000.00"),
                document_ref="Q2",
            ),
            Payment(
                installment_id=installment.id,
                paid_on=date(2023, 5, 1),
                amount=Decimal("2000.00"),
                document_ref="Q3",
            ),
        ]
    )
    session.flush()
    run_rollup(session, 2566, 2, now=utcnow())
    row = session.scalars(
        select(ProjectRollup).where(
            ProjectRollup.project_id == project.id, ProjectRollup.quarter == 2
        )
    ).one()
    session.refresh(row)
    assert row.budget_paid == Decimal("1000.00")  # the May payment is of the next quarter


def test_an_installment_paid_meanwhile_is_said_to_be_paid_and_its_form_goes(
    session: Session, login_as, client: FlaskClient
) -> None:  # type: ignore[no-untyped-def]
    """Two people load /budget with 30,000 left; the approver pays it all; the officer then
    sends the same payment: he is told it is paid in full already (not that it is not
    approved), and no payment form is offered for it any more."""
    installment = _approved_installment(session)
    _pay(session, installment, "30000.00", "ขบ 90/2567")
    session.commit()
    officer = login_as("officer")
    token = csrf_token(officer, "/budget")
    response = officer.post(
        f"/budget/installments/{installment.id}/payments",
        data={
            "csrf_token": token,
            "paid_on": f"{TODAY.day}/{TODAY.month}/{TODAY.year + 543}",
            "amount": "30,000.00",
            "document_ref": "ขบ 91/2567",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#installment-{installment.id}-payments")
    page = officer.get("/budget").get_data(as_text=True)
    assert "จ่ายครบแล้ว" in page
    assert "ยังไม่ได้รับอนุมัติ" not in page
    assert f'action="/budget/installments/{installment.id}/payments"' not in page
    with pytest.raises(Refused, match="paid in full already") as refused:
        _pay(session, installment, "1.00", "ขบ 92/2567")
    assert refused.value.status == 409
    assert (
        session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.installment_id == installment.id)
        )
        == 1
    )


def test_a_payment_refused_by_the_api_names_recording_a_payment(
    session: Session, client: FlaskClient
) -> None:
    """An evaluator may read installments but not pay them: the refusal says so, not that
    only the district approves allocations."""
    installment = _approved_installment(session)
    _row, token = new_token(session, user(session, "evaluator"), "test")
    session.commit()
    refused = client.post(
        f"/api/v1/installments/{installment.id}/payments",
        json={"paid_on": TODAY.isoformat(), "amount": "1000.00", "document_ref": "API-9"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403
    detail = refused.json["detail"]
    assert "บันทึกการจ่ายเงินประจำงวด" in detail, detail
    assert "การจัดสรร" not in detail

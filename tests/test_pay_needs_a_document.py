"""Paying out an installment asks for the number of the document it was paid against at every
door, by the one rule of the budget page's payment form: the `pay` transition through the API
(one installment or many) and through the pages' action endpoint refuse it without one (blank,
or longer than its column holds) on the document_ref field, in Thai or English, what was typed
kept on the page, and nothing is paid; with one, the payment carries it."""

from __future__ import annotations

from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.budget.models import Installment, InstallmentState, Payment
from service.budget.operations import create_allocation, request_installment
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.projects.operations import create_project
from service.workflow.engine import take
from tests.api_support import headers_for, problem_of
from tests.conftest import csrf_token
from tests.work_data import in_app_context, unit, user  # noqa: F401

TODAY = local_today()
API = "/api/v1"


def _approved_installments(session: Session, count: int = 1) -> list[Installment]:
    officer, approver = user(session, "officer"), user(session, "approver")
    year = session.scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc())).first()
    assert year is not None
    project = create_project(
        session,
        officer,
        code="50230000-9601",
        name="โครงการทดสอบเลขที่เอกสารการจ่าย",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal("100000.00"),
    )
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("40000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, approver, "allocation", allocation.id, "approve")
    made = []
    for _ in range(count):
        installment = request_installment(session, officer, allocation, Decimal("10000.00"))
        take(session, approver, "installment", installment.id, "approve")
        made.append(installment)
    session.commit()
    return made


def _payments(session: Session, installment: Installment) -> list[str]:
    return list(
        session.scalars(
            select(Payment.document_ref).where(Payment.installment_id == installment.id)
        )
    )


def test_the_api_pay_transition_asks_for_the_document_number(
    session: Session, client: FlaskClient
) -> None:
    (installment,) = _approved_installments(session)
    headers = headers_for(session, "approver")
    session.commit()
    path = f"{API}/installments/{installment.id}/transitions/pay"
    day = TODAY.isoformat()
    for body in ({"paid_on": day}, {"paid_on": day, "document_ref": "   "}):
        refused = client.post(path, json=body, headers={**headers, "Accept-Language": "th"})
        assert refused.status_code == 422, body
        assert problem_of(refused)["errors"] == {"document_ref": "ต้องกรอก"}, body
    english = client.post(path, json={"paid_on": day}, headers={**headers, "Accept-Language": "en"})
    assert problem_of(english)["errors"] == {"document_ref": "is required"}
    too_long = client.post(path, json={"paid_on": day, "document_ref": "ก" * 65}, headers=headers)
    assert too_long.status_code == 422 and "document_ref" in problem_of(too_long)["errors"]
    # Both problems at once: the day and the document.
    both = client.post(path, json={}, headers=headers)
    assert set(problem_of(both)["errors"]) == {"paid_on", "document_ref"}
    session.expire_all()
    assert installment.state is InstallmentState.APPROVED and _payments(session, installment) == []

    paid = client.post(path, json={"paid_on": day, "document_ref": " ขบ 90/2569 "}, headers=headers)
    assert paid.status_code == 200, paid.get_data(as_text=True)
    session.expire_all()
    assert installment.state is InstallmentState.PAID
    assert _payments(session, installment) == ["ขบ 90/2569"]


def test_the_api_bulk_pay_asks_for_it_item_by_item(session: Session, client: FlaskClient) -> None:
    first, second = _approved_installments(session, 2)
    headers = headers_for(session, "approver")
    session.commit()
    path = f"{API}/installments/transitions/pay"
    ids = [first.id, second.id]
    english = {**headers, "Accept-Language": "en"}
    refused = client.post(path, json={"ids": ids, "paid_on": TODAY.isoformat()}, headers=english)
    assert refused.status_code == 200
    results = refused.get_json()["results"]
    assert [(r["ok"], r["status"], r["errors"]) for r in results] == [
        (False, 422, {"document_ref": "is required"})
    ] * 2
    assert (
        session.scalar(select(func.count(Payment.id)).where(Payment.installment_id.in_(ids))) == 0
    )
    paid = client.post(
        path,
        json={"ids": ids, "paid_on": TODAY.isoformat(), "document_ref": "ขบ 91/2569"},
        headers=headers,
    )
    assert [r["ok"] for r in paid.get_json()["results"]] == [True, True]
    assert _payments(session, first) == _payments(session, second) == ["ขบ 91/2569"]


def test_the_pages_action_endpoint_asks_for_it_and_keeps_what_was_typed(  # type: ignore[no-untyped-def]
    login_as, session: Session
) -> None:
    (installment,) = _approved_installments(session)
    client = login_as("approver")
    path = f"/actions/installment/{installment.id}/pay"
    typed_day = f"{TODAY.day}/{TODAY.month}/{TODAY.year + 543}"
    form = {"csrf_token": csrf_token(client, "/budget"), "next": "/budget", "paid_on": typed_day}
    refused = client.post(path, data=form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "เลขที่เอกสาร: ต้องกรอก" in page
    assert f'value="{typed_day}"' in page
    assert 'name="document_ref" value="" maxlength="64" aria-invalid="true"' in page
    too_long = client.post(path, data={**form, "document_ref": "ข" * 65})
    assert too_long.status_code == 422
    assert 'value="' + "ข" * 65 + '"' in too_long.get_data(as_text=True)
    session.expire_all()
    assert installment.state is InstallmentState.APPROVED and _payments(session, installment) == []

    assert client.post(path, data={**form, "document_ref": "ขบ 92/2569"}).status_code == 302
    session.expire_all()
    assert installment.state is InstallmentState.PAID
    assert _payments(session, installment) == ["ขบ 92/2569"]


def test_an_allocation_is_complete_only_when_nothing_of_it_waits(session: Session) -> None:
    """ "Complete" was taken with an installment approved and unpaid (payments then went on
    being recorded on a completed allocation): it is refused while an installment is asked
    for or approved and not paid, and the budget page offers it with that reason; once each
    is paid, it is taken."""
    from service.workflow.engine import Refused, options

    officer, approver = user(session, "officer"), user(session, "approver")
    (installment,) = _approved_installments(session)
    allocation = installment.allocation
    take(session, officer, "allocation", allocation.id, "start_disbursing")
    asked = request_installment(session, officer, allocation, Decimal("5000.00"))
    session.commit()
    for waiting in (2, 1):
        try:
            take(session, officer, "allocation", allocation.id, "complete")
            raise AssertionError("complete was taken with installments waiting")
        except Refused as refused:
            assert f"{waiting} installment" in refused.reason or str(waiting) in refused.reason
        session.rollback()
        offered = {o.name: o for o in options(session, officer, allocation)}
        assert not offered["complete"].allowed
        if waiting == 2:
            take(session, approver, "installment", asked.id, "reject", {"reason": "ซ้ำ"})
            session.commit()
    take(
        session,
        approver,
        "installment",
        installment.id,
        "pay",
        {"paid_on": TODAY.isoformat(), "document_ref": "กค 0001/1"},
    )
    take(session, officer, "allocation", allocation.id, "complete")
    session.commit()
    assert allocation.state.value == "completed"


def test_a_part_paid_is_paid_on_every_page(session: Session) -> None:
    """A payment of part of an installment counts as paid in the project's kept figures (the
    dashboard's, the overview's, the exports') as on the project page and the disbursement
    curve: they showed 16,000.00 and 18,001.50 for the same project."""
    from service.budget.operations import record_payment
    from service.projects.figures import ProjectFigures

    approver = user(session, "approver")
    (installment,) = _approved_installments(session)
    project_id = installment.allocation.project_id
    record_payment(
        session,
        approver,
        installment.id,
        paid_on=TODAY,
        amount=Decimal("2001.50"),
        document_ref="กค 0002/1",
    )
    session.commit()
    kept = session.get(ProjectFigures, project_id)
    assert kept is not None and kept.budget_paid == Decimal("2001.50")


def test_an_empty_payment_form_names_every_missing_field_at_once(  # type: ignore[no-untyped-def]
    session: Session, login_as
) -> None:
    """It named the day alone, and the document number only on the next try."""
    (installment,) = _approved_installments(session)
    client = login_as("approver")
    token = csrf_token(client, "/budget")
    response = client.post(
        f"/budget/installments/{installment.id}/payments?lang=en",
        data={"csrf_token": token, "paid_on": "", "amount": "", "document_ref": ""},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("paid_on", "amount", "document_ref"):
        assert f'id="{field}-error"' in page or f'aria-describedby="{field}-error"' in page, field
    assert _payments(session, installment) == []

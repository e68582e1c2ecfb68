"""The allocation and installment queue, and the approver's approvals above the limit."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.projects.models import Project
from service.projects.operations import create_project
from tests.conftest import csrf_token
from tests.work_data import (
    in_app_context,  # noqa: F401
    unit,
    user,
)


def _project(session: Session, budget: str = "200000.00") -> Project:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    project = create_project(
        session,
        user(session, "officer"),
        code="50230000-9001",
        name="โครงการทดสอบการจัดสรร",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal(budget),
    )
    session.commit()
    return project


def _create(client: FlaskClient, project: Project, recipient: int, amount: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/budget/allocations",
        data={
            "csrf_token": csrf_token(client, "/budget?lang=en"),
            "project_id": str(project.id),
            "recipient_unit_id": str(recipient),
            "amount": amount,
            "purpose": "ค่าวัสดุอบรม",
        },
    )


def _act(client: FlaskClient, workflow: str, ident: int, name: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/actions/{workflow}/{ident}/{name}",
        data={"csrf_token": csrf_token(client, "/budget?lang=en"), "next": "/budget", **data},
    )


def _article(page: str, ident: int) -> str:
    return page.split(f'id="allocation-{ident}"')[1].split("</article>")[0]


def test_above_the_limit_officer_endorses_and_the_approver_approves(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    project = _project(session)
    network = unit(session, "50230771")
    login_as("officer")
    response = _create(client, project, network.id, "60,000")
    assert response.status_code == 302
    allocation = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id)
    ).one()
    assert allocation.state is AllocationState.DRAFT and allocation.amount == Decimal("60000.00")
    assert _act(client, "allocation", allocation.id, "submit").status_code == 302
    article = _article(client.get("/budget").get_data(as_text=True), allocation.id)
    # The officer may endorse; approving is hidden and the reason shown instead.
    assert 'data-action="endorse"' in article
    assert 'data-action="approve"' not in article
    assert "only the approver decides" in article
    assert _act(client, "allocation", allocation.id, "endorse").status_code == 302
    # Approving anyway is refused.
    assert _act(client, "allocation", allocation.id, "approve").status_code == 403
    # refused for who the person is (a page drawn while acting for the approver, pressed
    # after acting ended): the reason is said and what was typed is kept to copy
    refused = _act(client, "allocation", allocation.id, "reject", reason="งบซ้ำกับโครงการอื่น")
    assert refused.status_code == 403
    page = refused.get_data(as_text=True)
    assert 'data-testid="typed">งบซ้ำกับโครงการอื่น<' in page
    assert 'class="field-error"' in page and project.code in page
    assert client.get("/approvals").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})

    login_as("approver")
    page = client.get("/approvals").get_data(as_text=True)
    assert f'data-allocation="{allocation.id}"' in page
    assert "60,000.00" in page and "หกหมื่นบาทถ้วน" in page
    assert _act(client, "allocation", allocation.id, "approve").status_code == 302
    session.expire_all()
    assert allocation.state is AllocationState.APPROVED
    assert f'data-allocation="{allocation.id}"' not in client.get("/approvals").get_data(
        as_text=True
    )


def test_within_the_limit_one_approval_by_another_person_then_installments_are_paid(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    project = _project(session)
    login_as("officer")
    _create(client, project, unit(session, "50230772").id, "30000")
    allocation = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id)
    ).one()
    _act(client, "allocation", allocation.id, "submit")
    # Whoever prepared it never approves it (four eyes), even within the limit.
    article = _article(client.get("/budget?lang=en").get_data(as_text=True), allocation.id)
    assert 'data-action="approve"' not in article
    assert "cannot approve it" in article
    assert _act(client, "allocation", allocation.id, "approve").status_code == 422
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})

    login_as("approver")
    article = _article(client.get("/budget?lang=en").get_data(as_text=True), allocation.id)
    assert 'data-action="approve"' in article and 'data-action="endorse"' not in article
    assert "one approval is enough" in article
    assert _act(client, "allocation", allocation.id, "approve").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})

    login_as("officer")
    response = client.post(
        f"/allocations/{allocation.id}/installments",
        data={"csrf_token": csrf_token(client, "/budget"), "amount": "10000", "next": "/budget"},
    )
    assert response.status_code == 302
    installment = session.scalars(
        select(Installment).where(Installment.allocation_id == allocation.id)
    ).one()
    assert _act(client, "installment", installment.id, "approve").status_code == 422
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})

    login_as("approver")
    assert _act(client, "installment", installment.id, "approve").status_code == 302
    # Paying needs the day it was paid and the document number, as the payment form does;
    # without them the form comes back (422).
    refused = _act(client, "installment", installment.id, "pay")
    assert refused.status_code == 422
    # the refusal names what it was about: the project, the recipient and the amount
    about = refused.get_data(as_text=True).split('data-testid="about">')[1].split("</p>")[0]
    assert project.code in about and "10,000.00" in about
    assert (
        _act(
            client, "installment", installment.id, "pay", paid_on=local_today().isoformat()
        ).status_code
        == 422
    )
    paid = _act(
        client,
        "installment",
        installment.id,
        "pay",
        paid_on=local_today().isoformat(),
        document_ref="ขบ 1",
    )
    assert paid.status_code == 302
    session.expire_all()
    assert installment.state is InstallmentState.PAID


def test_refused_input_comes_back_as_typed(login_as, client: FlaskClient, session: Session) -> None:  # type: ignore[no-untyped-def]
    project = _project(session)
    login_as("officer")
    response = _create(client, project, unit(session, "50230771").id, "12.345")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="12.345"' in page and re.search(rf'value="{project.id}"\s+selected', page)
    assert (
        session.scalars(select(Allocation).where(Allocation.project_id == project.id)).all() == []
    )
    # A recipient outside the project's district.
    outside = unit(session, "11000000")
    assert _create(client, project, outside.id, "1000").status_code == 422


def test_return_needs_a_reason_and_keeps_what_was_typed(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    project = _project(session)
    login_as("officer")
    _create(client, project, unit(session, "50230771").id, "70000")
    allocation = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id)
    ).one()
    _act(client, "allocation", allocation.id, "submit")
    # Whoever prepared it withdraws it, never returns it: the approver does.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})
    login_as("approver")
    refused = _act(client, "allocation", allocation.id, "return", reason="  ")
    assert refused.status_code == 422
    returned = _act(client, "allocation", allocation.id, "return", reason="แก้วัตถุประสงค์")
    assert returned.status_code == 302
    session.expire_all()
    assert allocation.state is AllocationState.RETURNED
    # A state change that no longer applies is a conflict (409), not an error page.
    assert _act(client, "allocation", allocation.id, "submit").status_code == 409


def test_the_budget_screens_are_the_districts(login_as, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    login_as("school")
    assert client.get("/budget").status_code == 403
    assert client.get("/approvals").status_code == 403
    token = csrf_token(client, "/school")
    assert client.post("/budget/allocations", data={"csrf_token": token}).status_code == 403


def test_options_read_from_remembered_facts_are_the_options_read_one_by_one(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The budget pages read the guards' facts for every listed object at once
    (remember_guard_facts); what each option says must not change by it, and a transition
    (which locks its row) reads afresh."""
    from service.budget.workflow import remember_guard_facts
    from service.workflow import engine

    project = _project(session, budget="500000.00")
    login_as("officer")
    _create(client, project, unit(session, "50230771").id, "60000")  # above the limit
    _create(client, project, unit(session, "50230772").id, "30000")
    endorsed, spent = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id).order_by(Allocation.id)
    ).all()
    _act(client, "allocation", endorsed.id, "submit")
    _act(client, "allocation", endorsed.id, "endorse")
    _act(client, "allocation", spent.id, "submit")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})
    login_as("approver")  # whoever prepared it does not approve it
    assert _act(client, "allocation", spent.id, "approve").status_code == 302
    session.expire_all()
    for amount, state in (
        ("10000", InstallmentState.PAID),
        ("12000", InstallmentState.APPROVED),
        ("5000", InstallmentState.REQUESTED),
        ("9000", InstallmentState.REQUESTED),  # more than the 8,000 left
    ):
        paid_on = date(2024, 1, 15) if state is InstallmentState.PAID else None
        session.add(
            Installment(allocation=spent, amount=Decimal(amount), state=state, paid_on=paid_on)
        )
    session.commit()
    allocations = [endorsed, spent]
    installments = list(spent.installments)
    objects = [*allocations, *installments]
    for role in ("officer", "approver"):
        reader = user(session, role)
        one_by_one = [engine.options(session, reader, obj) for obj in objects]
        remember_guard_facts(session, allocations, installments)
        assert [engine.options(session, reader, obj) for obj in objects] == one_by_one
    reasons = {o.reason for options in one_by_one for o in options if o.reason}
    assert any("more than the 8,000.00 baht left" in reason for reason in reasons)
    assert any("endorsed" in reason or "endorsement" in reason for reason in reasons)

    remember_guard_facts(session, allocations, installments)
    engine.lock(session, Allocation, spent.id)
    assert engine.display_facts(session, "committed") is None


def test_a_button_pressed_on_a_stale_page_offers_no_retry_and_keeps_the_reason(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The allocation was returned on another page; this one, left open, returns it again
    with a reason typed. The answer (409) says what happened, shows the reason typed and
    leads to the list, not to a "try again" that can only be refused again."""
    project = _project(session)
    login_as("officer")
    _create(client, project, unit(session, "50230771").id, "70000")
    allocation = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id)
    ).one()
    _act(client, "allocation", allocation.id, "submit")
    # Whoever prepared it withdraws it, never returns it: the approver does.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})
    login_as("approver")
    assert _act(client, "allocation", allocation.id, "return", reason="ครั้งแรก").status_code == 302
    stale = client.post(
        f"/actions/allocation/{allocation.id}/return",
        data={
            "csrf_token": csrf_token(client, "/budget?lang=th"),
            "next": "/budget",
            "reason": "ขอแก้วัตถุประสงค์",
        },
    )
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "ลองอีกครั้ง" not in page and "ดูสถานะล่าสุด" in page
    assert 'data-testid="typed">ขอแก้วัตถุประสงค์<' in page and 'href="/budget"' in page
    # The reason reads as Thai for every decision, a "ไม่อนุมัติ" too (not "จึงไม่อนุมัติไม่ได้").
    assert "อยู่ในสถานะ “ส่งกลับแก้ไข” จึงทำรายการ “ส่งกลับแก้ไข” ไม่ได้" in page


def test_the_payment_form_is_offered_only_to_whoever_may_pay(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """An installment above the officer's limit is paid by the approver only: the officer's
    budget page said so beside the payment form it offered all the same, and pressing its
    button answered with a bare 403 page, what was typed lost. The reason alone is shown."""
    from service.budget.operations import create_allocation, request_installment
    from service.workflow.engine import take

    officer, approver = user(session, "officer"), user(session, "approver")
    project = _project(session)
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("60000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, officer, "allocation", allocation.id, "endorse")
    take(session, approver, "allocation", allocation.id, "approve")
    installment = request_installment(session, officer, allocation, Decimal("55000.00"))
    take(session, approver, "installment", installment.id, "approve")
    session.commit()
    pay_form = f'action="/budget/installments/{installment.id}/payments"'

    login_as("officer")
    row = client.get("/budget?lang=en").get_data(as_text=True)
    row = row.split(f'data-installment="{installment.id}"')[1].split("</tbody>")[0]
    assert pay_form not in row
    assert 'data-refused="pay"' in row and "only the approver" in row
    client.post("/logout", data={"csrf_token": csrf_token(client, "/budget")})

    login_as("approver")
    row = client.get("/budget?lang=en").get_data(as_text=True)
    row = row.split(f'data-installment="{installment.id}"')[1].split("</tbody>")[0]
    assert pay_form in row and 'data-refused="pay"' not in row


def test_a_scope_too_wide_to_send_as_ids_shows_the_same_rows(
    login_as, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Past IDS_SENT_AT_MOST projects in scope, the budget page, the transfers and the
    approvals find the district's rows by a subquery instead: the same rows."""
    import re

    from service.core import sql

    client = login_as("approver")
    paths = ("/budget", "/budget/transfers", "/approvals")

    def shown() -> dict[str, list[str]]:
        found = {}
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, path
            found[path] = re.findall(
                r'id="(?:allocation|transfer)-(\d+)"', answer.get_data(as_text=True)
            )
        return found

    sent = shown()
    assert sent["/budget"]
    monkeypatch.setattr(sql, "IDS_SENT_AT_MOST", 0)
    assert shown() == sent


def test_an_installment_with_nothing_to_do_says_so(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A paid installment's row read "Actions:" over nothing on a phone."""
    paid = session.scalars(select(Installment).order_by(Installment.id)).first()
    assert paid is not None
    paid.state, paid.paid_on = InstallmentState.PAID, local_today()
    session.commit()
    page = login_as("officer").get("/budget").get_data(as_text=True)
    cells = dict(
        re.findall(
            r'<tr data-installment="(\d+)">.*?<td data-label="การดำเนินการ">(.*?)</td>\s*</tr>',
            page,
            flags=re.S,
        )
    )
    assert cells and all(cell.strip() for cell in cells.values())
    assert cells[str(paid.id)].strip() == "—"


def test_settled_allocations_are_listed_only_when_asked(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A district's year of completed, rejected and withdrawn allocations made /budget some
    30,000 px tall on a phone: it lists those still open, all of them when asked, and the
    download holds every one."""
    settled = session.scalars(select(Allocation).order_by(Allocation.id)).first()
    assert settled is not None
    settled.state = AllocationState.COMPLETED
    session.commit()
    client = login_as("officer")
    card = f'data-allocation="{settled.id}"'
    page = client.get("/budget").get_data(as_text=True)
    assert card not in page and 'href="/budget?show=all#h-list"' in page
    assert card in client.get("/budget?show=all").get_data(as_text=True)
    download = client.get("/budget?format=csv").get_data(as_text=True)
    assert any(line.startswith(f"{settled.id},") for line in download.splitlines())

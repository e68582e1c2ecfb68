"""Budget transfers (โอนเปลี่ยนแปลงงบประมาณ): part of one project's approved budget moved to
another project of the same unit, or a new one, with a reason, through its workflow:
prepared, endorsed by another person, approved at the level the amount needs; never leaving a
project below what it has allocated; the project page shows original, in, out and current."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.audit.models import OutboxEvent
from service.budget.models import Allocation, AllocationState, BudgetTransfer, TransferState
from service.budget.operations import create_transfer
from service.core.db import utcnow
from service.fiscal.models import FiscalYear
from service.notifications.models import Notification
from service.notifications.operations import relay_outbox
from service.org.models import Role, User
from service.projects.models import Project, ProjectState
from service.workflow.engine import Refused, take
from tests.conftest import csrf_token, login
from tests.project_data import make_user
from tests.work_data import division_project, in_app_context, unit, user  # noqa: F401


def _project(session: Session, code: str, budget: str) -> Project:
    return division_project(session, code, budget, be_year=2567)


def _colleague(session: Session) -> tuple[User, str]:
    return make_user(session, Role.OFFICER, unit(session, "50230700"), "peer@test.tidtam.local")


def _allocate(session: Session, project: Project, amount: str) -> None:
    """An allocation already approved (its own workflow is tested elsewhere)."""
    session.add(
        Allocation(
            project=project,
            recipient_unit=unit(session, "50230771"),
            amount=Decimal(amount),
            state=AllocationState.APPROVED,
        )
    )
    session.flush()


def test_a_transfer_is_prepared_endorsed_approved_and_moves_the_money(session: Session) -> None:
    officer, approver = user(session, "officer"), user(session, "approver")
    peer, _password = _colleague(session)
    source = _project(session, "50230000-9601", "100000.00")
    target = _project(session, "50230000-9602", "50000.00")
    _allocate(session, source, "70000.00")
    transfer = create_transfer(
        session, officer, source, Decimal("20000.00"), "งานเร่งด่วน", target=target
    )
    # Four eyes: the preparer neither endorses nor approves.
    for name in ("endorse", "approve"):
        with pytest.raises(Refused):
            take(session, officer, "budget_transfer", transfer.id, name)
    take(session, peer, "budget_transfer", transfer.id, "endorse")
    with pytest.raises(Refused) as same:  # the endorser does not approve too
        take(session, peer, "budget_transfer", transfer.id, "approve")
    assert same.value.status == 422
    take(session, approver, "budget_transfer", transfer.id, "approve")
    session.commit()
    assert transfer.state is TransferState.APPROVED and transfer.approved_at is not None
    assert (source.approved_budget, target.approved_budget) == (
        Decimal("80000.00"),
        Decimal("70000.00"),
    )
    from service.budget.queries import budget_history

    history = budget_history(session, source)
    assert (history.original, history.transferred_out, history.current) == (
        Decimal("100000.00"),
        Decimal("20000.00"),
        Decimal("80000.00"),
    )
    incoming = budget_history(session, target)
    assert (incoming.original, incoming.transferred_in) == (
        Decimal("50000.00"),
        Decimal("20000.00"),
    )


def test_never_below_what_is_allocated(session: Session) -> None:
    officer, approver = user(session, "officer"), user(session, "approver")
    peer, _password = _colleague(session)
    source = _project(session, "50230000-9611", "100000.00")
    target = _project(session, "50230000-9612", "0.00")
    _allocate(session, source, "70000.00")
    with pytest.raises(Refused) as asked:
        create_transfer(session, officer, source, Decimal("30000.01"), "มากไป", target=target)
    assert asked.value.status == 422 and "amount" in asked.value.fields
    transfer = create_transfer(session, officer, source, Decimal("20000.00"), "พอดี", target=target)
    take(session, peer, "budget_transfer", transfer.id, "endorse")
    _allocate(session, source, "15000.00")  # meanwhile: only 15,000 is left to give
    with pytest.raises(Refused) as late:
        take(session, approver, "budget_transfer", transfer.id, "approve")
    assert late.value.status == 422 and "15,000.00" in late.value.reason
    assert source.approved_budget == Decimal("100000.00")


def test_other_unit_same_project_and_no_reason_are_refused(session: Session) -> None:
    officer = user(session, "officer")
    source = _project(session, "50230000-9621", "10000.00")
    with pytest.raises(Refused) as same:
        create_transfer(session, officer, source, Decimal("1.00"), "x", target=source)
    assert same.value.status == 422
    with pytest.raises(Refused) as why:
        create_transfer(session, officer, source, Decimal("1.00"), "  ", target=source)
    assert "reason" in why.value.fields
    other_year = session.scalars(select(FiscalYear).where(FiscalYear.be_year != 2567)).first()
    assert other_year is not None
    elsewhere = _project(session, "50230000-9622", "0.00")
    elsewhere.fiscal_year_id = other_year.id
    with pytest.raises(Refused):
        create_transfer(session, officer, source, Decimal("1.00"), "x", target=elsewhere)


def test_a_transfer_to_a_new_project_makes_a_draft(session: Session) -> None:
    officer = user(session, "officer")
    source = _project(session, "50230000-9631", "10000.00")
    transfer = create_transfer(
        session,
        officer,
        source,
        Decimal("4000.00"),
        "แยกงานออกเป็นโครงการใหม่",
        new_project={"code": "50230000-9632", "name": "โครงการแยกใหม่"},
    )
    new = session.get(Project, transfer.target_id)
    assert new is not None and new.state is ProjectState.DRAFT
    assert (new.owner_unit_id, new.fiscal_year_id) == (source.owner_unit_id, source.fiscal_year_id)


def test_above_the_limit_the_levels_are_endorsed_and_only_the_approver_approves(
    session: Session,
) -> None:
    officer, approver = user(session, "officer"), user(session, "approver")
    peer, _p = _colleague(session)
    third, _p = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "third@test.tidtam.local"
    )
    source = _project(session, "50230000-9641", "100000.00")
    target = _project(session, "50230000-9642", "0.00")
    district = source.owner_unit
    district.approval_limit, district.approvals_required = Decimal("5000.00"), 3
    transfer = create_transfer(
        session, officer, source, Decimal("9000.00"), "เกินวงเงิน", target=target
    )
    take(session, peer, "budget_transfer", transfer.id, "endorse")
    with pytest.raises(Refused) as early:
        take(session, approver, "budget_transfer", transfer.id, "approve")
    assert "more endorsement" in early.value.reason or early.value.status == 422
    take(session, third, "budget_transfer", transfer.id, "endorse")
    with pytest.raises(Refused):  # officers endorse; above the limit they do not approve
        take(session, peer, "budget_transfer", transfer.id, "approve")
    take(session, approver, "budget_transfer", transfer.id, "approve")
    assert transfer.state is TransferState.APPROVED


def test_the_endorsing_officers_are_told_and_the_preparer_is_not(session: Session) -> None:
    officer = user(session, "officer")
    peer, _password = _colleague(session)
    source = _project(session, "50230000-9651", "10000.00")
    target = _project(session, "50230000-9652", "0.00")
    transfer = create_transfer(session, officer, source, Decimal("1000.00"), "ย้าย", target=target)
    session.flush()
    event = session.scalars(
        select(OutboxEvent).where(
            OutboxEvent.kind == "budget_transfer.create", OutboxEvent.object_id == transfer.id
        )
    ).one()
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    told = set(
        session.scalars(
            select(Notification.recipient_id).where(
                Notification.delivery_key.startswith(f"event:{event.id}:")
            )
        )
    )
    assert peer.id in told and officer.id not in told


def test_pages_and_api(session: Session, client: FlaskClient, login_as) -> None:  # type: ignore[no-untyped-def]
    source = _project(session, "50230000-9661", "60000.00")
    target = _project(session, "50230000-9662", "10000.00")
    peer, password = _colleague(session)
    _row, token = new_token(session, user(session, "officer"), "test")
    session.commit()
    officer = login_as("officer")
    made = officer.post(
        "/budget/transfers",
        data={
            "csrf_token": csrf_token(officer, "/budget/transfers"),
            "source_id": str(source.id),
            "target_id": str(target.id),
            "amount": "5,000.00",
            "reason": "ปรับตามมติ",
        },
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    transfer = session.scalars(
        select(BudgetTransfer).where(BudgetTransfer.source_id == source.id)
    ).one()
    page = officer.get("/budget/transfers").get_data(as_text=True)
    assert f'id="transfer-{transfer.id}"' in page and "ปรับตามมติ" in page
    bad = officer.post(
        "/budget/transfers",
        data={"csrf_token": csrf_token(officer, "/budget/transfers"), "source_id": str(source.id)},
    )
    assert bad.status_code == 422
    # both missing fields named at once, each beside its field
    for field in ("amount", "reason"):
        assert f'id="{field}-error"' in bad.get_data(as_text=True), field
    headers = {"Authorization": f"Bearer {token}"}
    api = client.post(
        "/api/v1/budget-transfers",
        json={
            "source_id": source.id,
            "new_project": {"code": "50230000-9663", "name": "ใหม่"},
            "amount": "1000.00",
            "reason": "ทดลอง",
        },
        headers=headers,
    )
    assert api.status_code == 201, api.get_data(as_text=True)
    assert api.json["state"] == "prepared"
    own = client.post(
        f"/api/v1/budget-transfers/{api.json['id']}/transitions/endorse", json={}, headers=headers
    )
    assert own.status_code in (403, 422)  # four eyes through the API too
    listed = client.get(f"/api/v1/budget-transfers?project={source.id}", headers=headers)
    assert listed.status_code == 200 and len(listed.json["items"]) == 2
    # The approver's one place for decisions says a transfer waits, and where.
    approver = client.application.test_client()
    login(approver, "approver@demo.tidtam.local", "demo-approver-2566")
    note = approver.get("/approvals?lang=en").get_data(as_text=True)
    note = note.split('data-testid="transfers-waiting">')[1].split("</p>")[0]
    assert "2 budget transfers wait for endorsement or approval." in note
    assert 'href="/budget/transfers#h-transfers"' in note
    take(session, peer, "budget_transfer", transfer.id, "endorse")
    take(session, user(session, "approver"), "budget_transfer", transfer.id, "approve")
    session.commit()
    body = officer.get(f"/projects/{source.id}").get_data(as_text=True)
    assert 'data-testid="budget-history"' in body and "55,000.00" in body and "ปรับตามมติ" in body
    # Its one endorsement is counted once: the approval that moved the money is no second
    # endorsement (the card read "2 of 1 given").
    card = officer.get("/budget/transfers?lang=en").get_data(as_text=True)
    card = card.split(f'id="transfer-{transfer.id}"')[1].split("</article>")[0]
    assert "1 of 1 given" in card
    assert login is not None and password

"""No new money on a closed or withdrawn project.

An approver approved allocation #22 of project 50230000-7009 on /approvals although the
project was closed (ปิดโครงการแล้ว), and its page then showed 56,000 baht allocated. Now, once
a project is closed or withdrawn, none of its money is allocated (created, submitted,
endorsed, approved), requested or approved as an installment, or transferred to or from it,
with the reason in Thai; an installment approved while it was open is still paid, and what
waits is still rejected, returned or withdrawn.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import (
    Allocation,
    AllocationState,
    Installment,
    InstallmentState,
    TransferState,
)
from service.budget.operations import create_allocation, create_transfer, request_installment
from service.core.fiscal import local_today
from service.org.models import Role
from service.projects.models import Project, ProjectState
from service.workflow.engine import Refused, take
from tests.conftest import csrf_token
from tests.project_data import make_user
from tests.work_data import (  # noqa: F401
    approved_from_the_years_start,
    division_project,
    in_app_context,
    unit,
    user,
)

SHUT = (ProjectState.CLOSED, ProjectState.WITHDRAWN)
#: The refusal in Thai (the pages' default language) and in English (the operations' own).
SHUT_TH = "ไม่มีการจัดสรร ขอเบิก โอน หรืออนุมัติเงินของโครงการนี้อีก"
SHUT_EN = "no more of its money is allocated, requested, transferred or approved"


def _project(session: Session, code: str = "50230000-9701", budget: str = "100000.00") -> Project:
    return division_project(session, code, budget)


def _submitted(session: Session, project: Project, amount: str = "40000.00") -> Allocation:
    officer = user(session, "officer")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal(amount)
    )
    take(session, officer, "allocation", allocation.id, "submit")
    return allocation


def _approved(session: Session, project: Project) -> Allocation:
    allocation = _submitted(session, project)
    take(session, user(session, "approver"), "allocation", allocation.id, "approve")
    return allocation


def _shut(session: Session, project: Project, state: ProjectState) -> None:
    project.state = state
    session.flush()


@pytest.mark.parametrize("state", SHUT)
def test_a_waiting_allocation_is_not_approved_once_the_project_is_shut(
    session: Session, state: ProjectState
) -> None:
    project = _project(session)
    allocation = _submitted(session, project)
    _shut(session, project, state)
    with pytest.raises(Refused) as refused:
        take(session, user(session, "approver"), "allocation", allocation.id, "approve")
    assert refused.value.status == 422
    assert "50230000-9701" in refused.value.reason and SHUT_EN in refused.value.reason
    assert allocation.state is AllocationState.SUBMITTED
    # What waits is still decided: rejected (or returned, or withdrawn by its preparer).
    take(
        session,
        user(session, "approver"),
        "allocation",
        allocation.id,
        "reject",
        {"reason": "ปิดโครงการแล้ว"},
    )
    assert allocation.state is AllocationState.REJECTED


@pytest.mark.parametrize("state", SHUT)
def test_no_allocation_is_created_or_submitted_on_a_shut_project(
    session: Session, state: ProjectState
) -> None:
    officer = user(session, "officer")
    project = _project(session)
    draft = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("10000.00")
    )
    _shut(session, project, state)
    with pytest.raises(Refused) as submitted:
        take(session, officer, "allocation", draft.id, "submit")
    assert submitted.value.status == 422 and SHUT_EN in submitted.value.reason
    with pytest.raises(Refused) as created:
        create_allocation(session, officer, project, unit(session, "50230771"), Decimal("1.00"))
    assert created.value.status == 409 and SHUT_EN in created.value.reason
    assert session.scalars(select(Allocation).where(Allocation.project_id == project.id)).all() == [
        draft
    ]


def test_an_endorsement_is_not_given_on_a_shut_project(session: Session) -> None:
    """Above the limit an officer endorses first: not once the project is closed."""
    peer, _password = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "peer@test.tidtam.local"
    )
    project = _project(session, budget="900000.00")
    allocation = _submitted(session, project, "600000.00")
    _shut(session, project, ProjectState.CLOSED)
    with pytest.raises(Refused) as refused:
        take(session, peer, "allocation", allocation.id, "endorse")
    assert SHUT_EN in refused.value.reason


@pytest.mark.parametrize("state", SHUT)
def test_installments_are_not_requested_or_approved_but_approved_ones_are_paid(
    session: Session, state: ProjectState
) -> None:
    officer, approver = user(session, "officer"), user(session, "approver")
    project = _project(session)
    allocation = _approved(session, project)
    waiting = request_installment(session, officer, allocation, Decimal("10000.00"))
    promised = request_installment(session, officer, allocation, Decimal("20000.00"))
    take(session, approver, "installment", promised.id, "approve")
    approved_from_the_years_start(session, promised)
    _shut(session, project, state)

    with pytest.raises(Refused) as requested:
        request_installment(session, officer, allocation, Decimal("1.00"))
    assert requested.value.status == 409 and SHUT_EN in requested.value.reason
    with pytest.raises(Refused) as approved:
        take(session, approver, "installment", waiting.id, "approve")
    assert SHUT_EN in approved.value.reason
    assert waiting.state is InstallmentState.REQUESTED
    # The money promised while the project was open is paid: the school has it to come.
    take(
        session,
        approver,
        "installment",
        promised.id,
        "pay",
        {"paid_on": local_today().isoformat(), "document_ref": "กง 0001"},
    )
    assert promised.state is InstallmentState.PAID
    assert session.scalars(
        select(Installment.state).where(Installment.allocation_id == allocation.id)
    ).all() == [InstallmentState.REQUESTED, InstallmentState.PAID]


@pytest.mark.parametrize("which", ("source", "target"))
def test_a_transfer_is_not_endorsed_or_approved_once_either_project_is_shut(
    session: Session, which: str
) -> None:
    officer = user(session, "officer")
    peer, _password = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "peer@test.tidtam.local"
    )
    source = _project(session, "50230000-9702")
    target = _project(session, "50230000-9703", "50000.00")
    transfer = create_transfer(
        session, officer, source, Decimal("20000.00"), "งานเร่งด่วน", target=target
    )
    _shut(session, source if which == "source" else target, ProjectState.CLOSED)
    with pytest.raises(Refused) as refused:
        take(session, peer, "budget_transfer", transfer.id, "endorse")
    assert SHUT_EN in refused.value.reason
    assert transfer.state is TransferState.PREPARED
    take(session, officer, "budget_transfer", transfer.id, "withdraw", {"reason": "ปิดโครงการ"})
    assert transfer.state is TransferState.WITHDRAWN
    assert (source.approved_budget, target.approved_budget) == (
        Decimal("100000.00"),
        Decimal("50000.00"),
    )


def test_the_approvals_page_refuses_with_the_reason(
    session: Session, login_as: Callable[[str], FlaskClient], client: FlaskClient
) -> None:
    project = _project(session)
    allocation = _submitted(session, project, "56000.00")  # above the limit: on /approvals
    _shut(session, project, ProjectState.CLOSED)
    session.commit()
    login_as("approver")
    page = client.get("/approvals").get_data(as_text=True)
    response = client.post(
        f"/actions/allocation/{allocation.id}/approve",
        data={"csrf_token": csrf_token(client, "/approvals"), "next": "/approvals"},
    )
    assert response.status_code == 422
    assert SHUT_TH in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Allocation, allocation.id).state is AllocationState.SUBMITTED  # type: ignore[union-attr]
    # The page offers no approval of it, and says why.
    assert 'data-refused="approve"' in page and SHUT_TH in page

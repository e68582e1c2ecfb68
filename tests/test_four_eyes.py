"""Money under four eyes (issue 12, finding 6).

An officer could create, submit and approve his own 40,000-baht allocation, then request and
approve a 30,000-baht installment on it, and was told of his own request. Now:

- whoever prepared or submitted an allocation or installment never approves it: not on the
  page, not through the API, not acting for someone who may approve, and no deputy acting for
  them either; another person who may approve still does;
- money above what is left is refused when it is asked for (created, submitted, requested),
  with the amount left in the reason, and nothing is written;
- nobody is told of their own request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.audit.models import AuditEntry, OutboxEvent
from service.budget.models import Allocation, Approval, Installment
from service.budget.operations import create_allocation, request_installment
from service.core.db import utcnow
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.notifications.models import Notification
from service.notifications.operations import relay_outbox
from service.org.models import Role, User
from service.org.operations import create_delegation, create_user, grant_role
from service.org.scope import active_roles
from service.projects.models import Project
from service.projects.operations import create_project
from service.workflow.engine import Refused, take
from tests.api_support import headers_for, problem_of
from tests.conftest import csrf_token
from tests.project_data import make_user
from tests.work_data import (
    in_app_context,  # noqa: F401
    unit,
    user,
)

#: The reason a preparer is refused, in Thai (the default language of pages and the API), in
#: the words of each kind: an installment is asked for by its requester (it was refused in
#: an allocation's words, "whoever prepared or submitted this").
FOUR_EYES_TH = {
    "allocation": "ผู้จัดทำหรือผู้ส่งขออนุมัติรายการนี้อนุมัติเองไม่ได้",
    "installment": "ผู้ยื่นคำขอเงินประจำงวดนี้อนุมัติเองไม่ได้",
}
FOUR_EYES_EN = {
    "allocation": "whoever prepared or submitted this cannot approve it",
    "installment": "whoever requested this installment cannot approve it",
}
KINDS = ("allocation", "installment")
PATHS = {"allocation": "allocations", "installment": "installments"}


def _project(session: Session, budget: str = "100000.00") -> Project:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    return create_project(
        session,
        user(session, "officer"),
        code="50230000-9401",
        name="โครงการทดสอบสี่ตา",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal(budget),
    )


def _approved_allocation(session: Session, project: Project, amount: str) -> Allocation:
    """An allocation the officer prepared and the approver approved."""
    officer, approver = user(session, "officer"), user(session, "approver")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal(amount)
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, approver, "allocation", allocation.id, "approve")
    return allocation


def _prepared_by_the_officer(session: Session, kind: str) -> int:
    """The issue's case, waiting for approval: the officer's own 40,000-baht allocation
    (created and submitted by him), or his 30,000-baht installment request on one."""
    officer = user(session, "officer")
    project = _project(session)
    if kind == "allocation":
        allocation = create_allocation(
            session, officer, project, unit(session, "50230771"), Decimal("40000.00")
        )
        take(session, officer, "allocation", allocation.id, "submit")
        ident = allocation.id
    else:
        allocation = _approved_allocation(session, project, "40000.00")
        ident = request_installment(session, officer, allocation, Decimal("30000.00")).id
    session.commit()
    return ident


def _state(session: Session, kind: str, ident: int) -> str:
    session.expire_all()
    model = Allocation if kind == "allocation" else Installment
    found = session.get(model, ident)
    assert found is not None
    return found.state.value


def _approvals(session: Session, kind: str, ident: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Approval)
            .where(Approval.subject_type == kind, Approval.subject_id == ident)
        )
        or 0
    )


def _post_action(client: FlaskClient, kind: str, ident: int, name: str) -> Any:
    return client.post(
        f"/actions/{kind}/{ident}/{name}",
        data={"csrf_token": csrf_token(client, "/budget"), "next": "/budget"},
    )


def _api_approve(
    client: FlaskClient, kind: str, ident: int, headers: dict[str, str], acting_for: User | None
) -> Any:
    if acting_for is not None:
        headers = {**headers, "X-Acting-For": str(acting_for.id)}
    return client.post(
        f"/api/v1/{PATHS[kind]}/{ident}/transitions/approve", json={}, headers=headers
    )


# ---- the preparer never approves ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_preparer_is_refused_on_the_page(
    kind: str, login_as: Callable[[str], FlaskClient], client: FlaskClient, session: Session
) -> None:
    ident = _prepared_by_the_officer(session, kind)
    login_as("officer")
    page = client.get("/budget?lang=en").get_data(as_text=True)
    if kind == "allocation":
        row = page.split(f'id="allocation-{ident}"')[1].split("</article>")[0]
    else:
        row = page.split(f'data-installment="{ident}"')[1].split("</tr>")[0]
    # The option is shown refused, with the reason, instead of a button.
    assert 'data-action="approve"' not in row
    assert 'data-refused="approve"' in row and FOUR_EYES_EN[kind] in row

    client.get("/budget?lang=th")
    response = _post_action(client, kind, ident, "approve")
    assert response.status_code == 422
    assert FOUR_EYES_TH[kind] in response.get_data(as_text=True)
    if kind == "installment":
        assert "ผู้จัดทำหรือผู้ส่งขออนุมัติ" not in response.get_data(as_text=True)
    before = "submitted" if kind == "allocation" else "requested"
    assert _state(session, kind, ident) == before
    assert _approvals(session, kind, ident) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_the_preparer_is_refused_by_the_api(
    kind: str, client: FlaskClient, session: Session
) -> None:
    ident = _prepared_by_the_officer(session, kind)
    headers = headers_for(session, "officer")
    session.commit()
    options = client.get(f"/api/v1/{PATHS[kind]}/{ident}/transitions", headers=headers)
    approve = next(o for o in options.get_json() if o["name"] == "approve")
    assert approve["allowed"] is False and FOUR_EYES_TH[kind] in approve["reason"]

    response = _api_approve(client, kind, ident, headers, None)
    assert response.status_code == 422
    assert FOUR_EYES_TH[kind] in problem_of(response)["detail"]
    before = "submitted" if kind == "allocation" else "requested"
    assert _state(session, kind, ident) == before
    assert _approvals(session, kind, ident) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_the_preparer_acting_for_an_approver_is_refused(
    kind: str, client: FlaskClient, session: Session
) -> None:
    """Acting for someone who holds the right does not make the preparer a second person."""
    ident = _prepared_by_the_officer(session, kind)
    officer, approver = user(session, "officer"), user(session, "approver")
    today = local_today()
    create_delegation(session, approver, approver, officer, today, today + timedelta(days=3))
    headers = headers_for(session, "officer")
    session.commit()
    response = _api_approve(client, kind, ident, headers, approver)
    assert response.status_code == 422
    assert FOUR_EYES_TH[kind] in problem_of(response)["detail"]
    assert _approvals(session, kind, ident) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_deputy_acting_for_the_preparer_is_refused(
    kind: str, client: FlaskClient, session: Session
) -> None:
    """The preparer's deputy uses the preparer's authority, and so the preparer's bar too."""
    ident = _prepared_by_the_officer(session, kind)
    officer = user(session, "officer")
    deputy = create_user(
        session, email="deputy@test.tidtam.local", name="นายรอง ทำแทน", password="deputy-pass-2566"
    )
    # A deputy works where the officer does.
    grant_role(session, deputy, Role.OFFICER, active_roles(session, officer)[0].unit)
    today = local_today()
    create_delegation(session, officer, officer, deputy, today, today + timedelta(days=3))
    _row, token = new_token(session, deputy, "the deputy's script")
    session.commit()
    response = _api_approve(client, kind, ident, {"Authorization": f"Bearer {token}"}, officer)
    assert response.status_code == 422
    assert FOUR_EYES_TH[kind] in problem_of(response)["detail"]
    assert _approvals(session, kind, ident) == 0


@pytest.mark.parametrize("door", ("page", "api"))
@pytest.mark.parametrize("kind", KINDS)
def test_another_person_who_may_approve_does(
    kind: str,
    door: str,
    login_as: Callable[[str], FlaskClient],
    client: FlaskClient,
    session: Session,
) -> None:
    ident = _prepared_by_the_officer(session, kind)
    if door == "page":
        login_as("approver")
        assert _post_action(client, kind, ident, "approve").status_code == 302
    else:
        headers = headers_for(session, "approver")
        session.commit()
        assert _api_approve(client, kind, ident, headers, None).status_code == 200
    assert _state(session, kind, ident) == "approved"
    approval = session.scalars(
        select(Approval).where(Approval.subject_type == kind, Approval.subject_id == ident)
    ).one()
    assert approval.approver_id == user(session, "approver").id


def test_the_options_shown_for_a_listed_page_say_the_same(session: Session) -> None:
    """The facts a list page reads in bulk (remember_guard_facts) give the same answer as a
    guard reading them for one object."""
    from service.budget.workflow import remember_guard_facts
    from service.workflow import engine

    ident = _prepared_by_the_officer(session, "installment")
    installment = session.get(Installment, ident)
    assert installment is not None
    objects: list[Any] = [installment.allocation, installment]
    for role in ("officer", "approver"):
        reader = user(session, role)
        one_by_one = [engine.options(session, reader, obj) for obj in objects]
        remember_guard_facts(session, [installment.allocation], [installment])
        assert [engine.options(session, reader, obj) for obj in objects] == one_by_one
        approve = next(o for o in one_by_one[1] if o.name == "approve")
        assert approve.allowed is (role == "approver")


# ---- more than is left is refused when asked for ------------------------------------------------


def _written(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Allocation, Installment, AuditEntry, OutboxEvent)
    )


@pytest.mark.parametrize("door", ("page", "api"))
@pytest.mark.parametrize("kind", KINDS)
def test_more_than_is_left_is_refused_when_requested(
    kind: str,
    door: str,
    login_as: Callable[[str], FlaskClient],
    client: FlaskClient,
    session: Session,
) -> None:
    """40,000 of the project's 90,000 is left after a 50,000 allocation; 10,000 of a
    40,000 allocation after a 30,000 installment. A satang more is refused at once."""
    project = _project(session, budget="90000.00")
    spent = _approved_allocation(session, project, "50000.00")
    if kind == "allocation":
        left, asked = "40,000.00", "40000.01"
    else:
        allocation = _approved_allocation(session, project, "40000.00")
        first = request_installment(
            session, user(session, "school"), allocation, Decimal("30000.00")
        )
        take(session, user(session, "officer"), "installment", first.id, "approve")
        left, asked = "10,000.00", "10000.01"
    headers = headers_for(session, "officer")
    session.commit()
    if door == "page":
        login_as("officer")  # before counting: signing in writes the sign-in history
    before = _written(session)

    if door == "page":
        token = csrf_token(client, "/budget")
        if kind == "allocation":
            form = {
                "project_id": str(project.id),
                "recipient_unit_id": str(unit(session, "50230772").id),
                "amount": asked,
            }
            response = client.post("/budget/allocations", data={"csrf_token": token, **form})
        else:
            response = client.post(
                f"/allocations/{allocation.id}/installments",
                data={"csrf_token": token, "amount": asked, "next": "/budget"},
            )
        shown = response.get_data(as_text=True)
    else:
        if kind == "allocation":
            body = {
                "project_id": project.id,
                "recipient_unit_id": unit(session, "50230772").id,
                "amount": asked,
            }
            response = client.post("/api/v1/allocations", json=body, headers=headers)
        else:
            response = client.post(
                f"/api/v1/allocations/{allocation.id}/installments",
                json={"amount": asked},
                headers=headers,
            )
        problem = problem_of(response)
        assert problem["errors"] == {"amount": f"คงเหลือ {left} บาท"}
        shown = problem["detail"]

    assert response.status_code == 422
    # The amount left, formatted as baht, in the reason (Thai by default).
    assert f"เกินยอดคงเหลือ {left} บาท" in shown
    assert _written(session) == before
    assert spent.id  # the approved allocation stands


def test_submitting_more_than_is_left_is_refused(session: Session) -> None:
    """Drafted while there was room, submitted after another allocation took it: refused on
    submission, not only at approval, with what is left (outside a request: in English)."""
    officer = user(session, "officer")
    project = _project(session, budget="60000.00")
    draft = create_allocation(
        session, officer, project, unit(session, "50230772"), Decimal("40000.00")
    )
    _approved_allocation(session, project, "40000.00")
    with pytest.raises(Refused, match=r"more than the 20,000\.00 baht left") as refused:
        take(session, officer, "allocation", draft.id, "submit")
    assert refused.value.status == 422
    assert draft.state.value == "draft"


# ---- nobody is told of their own request --------------------------------------------------------


def test_nobody_is_told_of_their_own_request(session: Session) -> None:
    """An allocation submitted within the limit is for the division's officers to decide:
    the officer who submitted it is not told; another officer of the division is."""
    officer = user(session, "officer")
    colleague, _password = make_user(
        session, Role.OFFICER, unit(session, "50230700"), "colleague@test.tidtam.local"
    )
    project = _project(session)
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("40000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    session.flush()
    event = session.scalars(
        select(OutboxEvent).where(
            OutboxEvent.kind == "allocation.submit", OutboxEvent.object_id == allocation.id
        )
    ).one()
    assert event.actor_id == officer.id
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    told = set(
        session.scalars(
            select(Notification.recipient_id).where(
                Notification.delivery_key.startswith(f"event:{event.id}:")
            )
        )
    )
    assert told == {colleague.id}


# ---- generated data follows the rule too --------------------------------------------------------


def test_generated_money_is_approved_by_someone_else(session: Session) -> None:
    """The synthetic data (generate-data, the bench) never has the preparer give the last
    approval of an allocation, nor approve his own installment request."""
    from sqlalchemy import text

    from tests.test_generate import SMALL
    from tools.generate import generate

    generate(session, SMALL)
    own_allocations = session.execute(
        text(
            "SELECT count(*) FROM allocation a JOIN approval p ON p.subject_type = 'allocation'"
            " AND p.subject_id = a.id AND p.cancelled_at IS NULL WHERE p.approver_id ="
            " a.created_by_id AND p.level = (SELECT max(q.level) FROM approval q"
            " WHERE q.subject_type = 'allocation' AND q.subject_id = a.id)"
        )
    ).scalar()
    own_installments = session.execute(
        text(
            "SELECT count(*) FROM installment i JOIN approval p ON p.subject_type ="
            " 'installment' AND p.subject_id = i.id WHERE p.approver_id = i.requested_by_id"
        )
    ).scalar()
    approved = session.execute(
        text("SELECT count(*) FROM approval WHERE subject_type = 'allocation'")
    ).scalar()
    assert approved and (own_allocations, own_installments) == (0, 0)


# ---- the preparer withdraws, never rejects or returns ------------------------------------------

PREPARER_DECIDES_EN = (
    "whoever prepared or submitted this allocation does not reject it or return it"
)
PREPARER_DECIDES_TH = "ผู้จัดทำหรือผู้ส่งขออนุมัติการจัดสรรนี้ไม่อนุมัติหรือส่งกลับแก้ไขเองไม่ได้"


def test_the_preparer_withdraws_and_does_not_reject_or_return(
    login_as: Callable[[str], FlaskClient], client: FlaskClient, session: Session
) -> None:
    """The officer was offered ไม่อนุมัติ and ส่งกลับแก้ไข on the allocation he prepared
    (only approving was barred): he withdraws it instead; another person decides it."""
    ident = _prepared_by_the_officer(session, "allocation")
    login_as("officer")
    page = client.get("/budget?lang=en").get_data(as_text=True)
    row = page.split(f'id="allocation-{ident}"')[1].split("</article>")[0]
    for name in ("reject", "return"):
        assert f'data-action="{name}"' not in row
        assert f'data-refused="{name}"' in row
    assert PREPARER_DECIDES_EN in row and 'data-action="withdraw"' in row
    client.get("/budget?lang=th")
    for name in ("reject", "return"):
        response = client.post(
            f"/actions/allocation/{ident}/{name}",
            data={
                "csrf_token": csrf_token(client, "/budget"),
                "next": "/budget",
                "reason": "ขอแก้ไขเอง",
            },
        )
        assert response.status_code == 422
        assert PREPARER_DECIDES_TH in response.get_data(as_text=True)
        assert _state(session, "allocation", ident) == "submitted"
    # Another person who decides still rejects; the preparer still withdraws.
    with pytest.raises(Refused):
        take(session, user(session, "officer"), "allocation", ident, "reject", {"reason": "x"})
    session.rollback()
    take(session, user(session, "approver"), "allocation", ident, "return", {"reason": "แก้ยอด"})
    assert _state(session, "allocation", ident) == "returned"
    take(session, user(session, "officer"), "allocation", ident, "withdraw", {"reason": "ยกเลิก"})
    assert _state(session, "allocation", ident) == "withdrawn"

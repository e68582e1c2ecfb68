"""Nothing is asked for that nobody could approve, and what waits so is said and told.

On the demo district (one approver, a deputy who acts for her, a 50,000-baht officer's limit)
an installment of 60,000 her deputy requested acting for her could only be rejected: four eyes
bars her, whoever acts for her, and the deputy, and above the limit only she approves. The same
for an allocation above the limit she prepared herself. Now:

- asking for such an item is refused with the reason and what to do instead (request it in
  your own name; ask another officer to prepare it), nothing is written, and what was typed
  is kept on the page;
- an item left so from before is marked on /approvals with who may unblock it, and its
  preparer is told once; nothing is approved for it;
- /approvals says who requested each installment: "<deputy> แทน <approver>" when acting.

The rule is one (service.budget.workflow.approvers_left): the request's refusal, the submit
guard, the page and the notice all read it.
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

from service.audit.models import AuditEntry
from service.audit.operations import ACTING_KEY
from service.budget import workflow
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    Installment,
    InstallmentState,
)
from service.budget.operations import create_allocation, request_installment, tell_undecidable
from service.budget.workflow import approvers_left, barred_from, undecidable
from service.core.db import utcnow
from service.core.fiscal import local_today
from service.notifications.models import Channel, Notification
from service.notifications.operations import relay_outbox
from service.org.models import Role, User
from service.org.operations import create_delegation
from service.workflow.engine import Refused, options, take
from tests.conftest import csrf_token, login
from tests.project_data import make_user
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    unit,
    user,
)

DEPUTY_EMAIL = "deputy-g2@demo.tidtam.local"
PASSWORD = "test-password-deputy-g2"


def _people(session: Session) -> dict[str, User]:
    """The demo's officer and approver, and a deputy: an officer of the division who acts
    for the approver while she is away."""
    officer, approver = user(session, "officer"), user(session, "approver")
    deputy, password = make_user(session, Role.OFFICER, unit(session, "50230700"), DEPUTY_EMAIL)
    assert password == PASSWORD
    today = local_today()
    create_delegation(session, approver, approver, deputy, today, today + timedelta(days=30))
    return {"officer": officer, "approver": approver, "deputy": deputy}


def _approved_allocation(
    session: Session, people: dict[str, User], amount: str = "200000.00"
) -> Allocation:
    """An allocation the officer prepared and the approver approved (above the limit, after
    the deputy's endorsement in his own name). Its installments are decided as it is: above
    the limit, by the approver alone."""
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, people["officer"], project, unit(session, "50230771"), Decimal(amount)
    )
    take(session, people["officer"], "allocation", allocation.id, "submit")
    if Decimal(amount) > Decimal("50000.00"):
        take(session, people["deputy"], "allocation", allocation.id, "endorse")
    take(session, people["approver"], "allocation", allocation.id, "approve")
    assert allocation.state is AllocationState.APPROVED
    return allocation


def _acting(session: Session, deputy: User, principal: User) -> None:
    """This session's request acts for `principal`, as the page does (service.org.acting)."""
    session.info[ACTING_KEY] = (deputy.id, principal.id)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_deputy_asking_in_her_name_above_the_limit_is_refused(session: Session) -> None:
    people = _people(session)
    allocation = _approved_allocation(session, people)
    before = _count(session, Installment)
    _acting(session, people["deputy"], people["approver"])
    with pytest.raises(Refused) as refused:
        request_installment(session, people["approver"], allocation, Decimal("60000.00"))
    assert refused.value.status == 409
    reason = refused.value.reason
    assert people["approver"].name in reason and "in your own name" in reason
    session.flush()
    assert _count(session, Installment) == before
    # Within the limit the officer may still approve it: asked for, as before.
    within = _approved_allocation(session, people, "40000.00")
    asked = request_installment(session, people["approver"], within, Decimal("30000.00"))
    assert asked.state is InstallmentState.REQUESTED
    # In his own name the deputy asks, and she approves.
    session.info.pop(ACTING_KEY)
    own = request_installment(session, people["deputy"], allocation, Decimal("60000.00"))
    assert [
        p.id
        for p in approvers_left(
            session, "installment", own, barred_from(session, "installment", own)
        )
    ] == [people["approver"].id]
    take(session, people["approver"], "installment", own.id, "approve")
    assert own.state is InstallmentState.APPROVED


def test_the_approver_asking_herself_above_the_limit_is_refused(session: Session) -> None:
    people = _people(session)
    allocation = _approved_allocation(session, people)
    with pytest.raises(Refused) as refused:
        request_installment(session, people["approver"], allocation, Decimal("60000.00"))
    assert refused.value.status == 409 and "Ask another officer" in refused.value.reason


def test_the_approver_preparing_above_the_limit_is_refused(session: Session) -> None:
    people = _people(session)
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    network = unit(session, "50230771")
    before = _count(session, Allocation)
    for acting in (False, True):
        if acting:
            _acting(session, people["deputy"], people["approver"])
        with pytest.raises(Refused) as refused:
            create_allocation(session, people["approver"], project, network, Decimal("56000.00"))
        assert refused.value.status == 409
        assert ("in your own name" in refused.value.reason) is acting
        session.flush()
        assert _count(session, Allocation) == before
    session.info.pop(ACTING_KEY)
    # Within the limit an officer approves what she prepared: as before.
    within = create_allocation(session, people["approver"], project, network, Decimal("40000.00"))
    take(session, people["approver"], "allocation", within.id, "submit")
    assert within.state is AllocationState.SUBMITTED


def test_submitting_above_the_limit_what_only_the_submitter_approves_is_refused(
    session: Session,
) -> None:
    """The officer prepared a draft; the approver submitting it would bar herself, the
    only one who approves above the limit: the submit option says so."""
    people = _people(session)
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    draft = create_allocation(
        session, people["officer"], project, unit(session, "50230771"), Decimal("56000.00")
    )
    submit = {o.name: o for o in options(session, people["approver"], draft)}["submit"]
    assert not submit.allowed and "nobody could approve" in (submit.reason or "")
    with pytest.raises(Refused):
        take(session, people["approver"], "allocation", draft.id, "submit")
    assert {o.name: o for o in options(session, people["officer"], draft)}["submit"].allowed


def test_the_page_refuses_the_request_and_keeps_what_was_typed(
    client: FlaskClient, session: Session
) -> None:
    """The deputy, acting for the approver in the browser, asks for 60,000: refused with the
    reason on the page, the amount and purpose as typed, nothing written."""
    people = _people(session)
    allocation = _approved_allocation(session, people)
    session.commit()
    before = _count(session, Installment)
    login(client, DEPUTY_EMAIL, PASSWORD)
    token = csrf_token(client, "/acting")
    client.post("/acting", data={"csrf_token": token, "principal_id": str(people["approver"].id)})
    response = client.post(
        f"/allocations/{allocation.id}/installments",
        data={
            "csrf_token": csrf_token(client, "/budget"),
            "amount": "60,000",
            "purpose": "ค่าวัสดุงวดสอง",
            "next": "/budget",
        },
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'value="60,000"' in page and "ค่าวัสดุงวดสอง" in page
    # Who may approve, then the four-eyes bar: it read "only X and X may not approve ...".
    name = people["approver"].name
    assert f"ผู้มีอำนาจอนุมัติมีเพียง {name} เท่านั้น แต่ตามหลักสี่ตา {name} อนุมัติ" in page
    assert f"{name} และ {name}" not in page
    session.expire_all()
    assert _count(session, Installment) == before


def _asked_before_the_fix(session: Session, ask: Any) -> Any:
    """What `ask()` made before such requests were refused: an item left waiting."""
    with pytest.MonkeyPatch.context() as before:
        before.setattr(workflow, "dead_request", lambda *_args, **_kwargs: None)
        return ask()


def _told(session: Session, kind: str, object_id: int) -> set[str]:
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    return set(
        session.scalars(
            select(User.email)
            .join(Notification, Notification.recipient_id == User.id)
            .where(
                Notification.kind == kind,
                Notification.object_id == object_id,
                Notification.channel == Channel.IN_APP,
            )
        )
    )


def test_a_waiting_installment_nobody_may_approve_is_said_and_told_once(
    login_as: Callable[[str], FlaskClient], session: Session
) -> None:
    people = _people(session)
    approver, deputy = people["approver"], people["deputy"]
    allocation = _approved_allocation(session, people)
    _acting(session, deputy, approver)
    stuck = _asked_before_the_fix(
        session,
        lambda: request_installment(session, approver, allocation, Decimal("60000.00")),
    )
    session.info.pop(ACTING_KEY)
    # One the officer asked for in his own name waits for her as usual.
    fine = request_installment(session, people["officer"], allocation, Decimal("55000.00"))
    found = undecidable(session, "installment", stuck)
    assert found is not None and [p.id for p in found.holders] == [approver.id]
    assert undecidable(session, "installment", fine) is None
    session.commit()

    page = login_as("approver").get("/approvals").get_data(as_text=True)
    card = page.split(f'data-installment="{stuck.id}"')[1].split("</article>")[0]
    assert 'data-stuck="installment"' in card and approver.name in card
    requested = card.split('data-testid="requested-by">')[1].split("</dd>")[0]
    assert requested == f"{deputy.name} แทน {approver.name}"
    other = page.split(f'data-installment="{fine.id}"')[1].split("</article>")[0]
    assert "data-stuck=" not in other
    assert other.split('data-testid="requested-by">')[1].split("</dd>")[0] == (
        people["officer"].name
    )
    # She may still reject it: the way out.
    assert 'data-action="reject"' in card

    assert tell_undecidable(session) == 1
    assert tell_undecidable(session) == 0  # once
    session.commit()
    assert _told(session, "installment.undecidable", stuck.id) == {
        "approver@demo.tidtam.local",
        DEPUTY_EMAIL,
    }
    assert _told(session, "installment.undecidable", fine.id) == set()
    # Nothing was decided for it: no approval, the same state.
    session.refresh(stuck)
    assert stuck.state is InstallmentState.REQUESTED
    assert not session.scalars(
        select(Approval).where(
            Approval.subject_type == "installment", Approval.subject_id == stuck.id
        )
    ).all()
    take(session, approver, "installment", stuck.id, "reject", {"reason": "ขอใหม่ในนามตนเอง"})
    assert tell_undecidable(session) == 0


def test_a_waiting_allocation_she_prepared_above_the_limit_is_said_and_told(
    login_as: Callable[[str], FlaskClient], session: Session
) -> None:
    people = _people(session)
    approver = people["approver"]
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")

    def prepare() -> Allocation:
        made = create_allocation(
            session, approver, project, unit(session, "50230771"), Decimal("56000.00")
        )
        take(session, approver, "allocation", made.id, "submit")
        return made

    allocation = _asked_before_the_fix(session, prepare)
    take(session, people["officer"], "allocation", allocation.id, "endorse")
    approve = {o.name: o for o in options(session, approver, allocation)}["approve"]
    assert not approve.allowed
    session.commit()
    page = login_as("approver").get("/approvals").get_data(as_text=True)
    card = page.split(f'data-allocation="{allocation.id}"')[1].split("</article>")[0]
    assert 'data-stuck="allocation"' in card
    assert card.split('data-testid="prepared-by">')[1].split("</dd>")[0] == approver.name
    assert tell_undecidable(session) == 1
    session.commit()
    assert _told(session, "allocation.undecidable", allocation.id) == {"approver@demo.tidtam.local"}
    # Returned (by the officer who endorsed it: she prepared it, so she would withdraw it) and
    # submitted again, in a new round, it is told again only if still stuck.
    take(
        session,
        people["officer"],
        "allocation",
        allocation.id,
        "return",
        {"reason": "ให้เจ้าหน้าที่จัดทำ"},
    )
    assert allocation.state is AllocationState.RETURNED
    assert tell_undecidable(session) == 0
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "allocation.undecidable", AuditEntry.object_id == allocation.id
        )
    ).all()
    assert len(entries) == 1

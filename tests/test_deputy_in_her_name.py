"""What a deputy did in the approver's name, and what it bars her from, in words she reads.

On the demo the deputy, acting for the approver, requested a 51,000-baht installment: four
eyes bars her from approving what was asked in her name, but she was refused as "whoever
prepared or submitted this", though she never did, and the approval lists on /approvals
and /budget named the deputy alone where he had endorsed for her. Now:

- the refusal names the deputy and says he acted for her, and that another person who may
  approve decides;
- an endorsement the deputy gave for her reads "<deputy> แทน <approver>" on /approvals and
  /budget, as on the project page, and her refusal to approve says he endorsed for her;
- "waits for your approval" is not sent to a person four eyes bars from approving (her, for
  the installment asked in her name; her, for the transfer she prepared herself): a second
  approver of the district is asked instead, when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import OutboxEvent
from service.audit.operations import ACTING_KEY
from service.budget import operations
from service.budget.models import Allocation, Approval, Installment
from service.budget.operations import create_allocation, create_transfer, request_installment
from service.core.db import utcnow
from service.core.fiscal import local_today
from service.core.translate import in_language
from service.notifications.models import Notification
from service.notifications.operations import relay_outbox
from service.org.models import Role, User
from service.org.operations import create_delegation
from service.workflow.engine import options, take
from tests.project_data import make_user
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    sibling_project,
    unit,
    user,
)

DEPUTY = "deputy-f3@demo.tidtam.local"


def _deputy(session: Session) -> User:
    """An officer of the division who acts for the approver (as on demo.tidtam.local)."""
    approver = user(session, "approver")
    deputy, _password = make_user(session, Role.OFFICER, unit(session, "50230700"), DEPUTY)
    today = local_today()
    create_delegation(session, approver, approver, deputy, today, today + timedelta(days=30))
    return deputy


def _approved_allocation(session: Session, deputy: User) -> Allocation:
    """90,000 to network 71: the officer prepared it, the deputy endorsed it as himself, the
    approver approved it."""
    officer, approver = user(session, "officer"), user(session, "approver")
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("90000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, deputy, "allocation", allocation.id, "endorse")
    take(session, approver, "allocation", allocation.id, "approve")
    return allocation


def _requested_acting_for_her(
    session: Session, deputy: User, allocation: Allocation, amount: str
) -> Installment:
    """The request as the browser made it while the deputy acted for the approver: the page
    acts with her authority and the records name him, acting for her (service.org.acting).
    In a district with one approver such a request is refused now (nobody could approve it:
    tests/test_nobody_left_to_approve.py); these are the ones made before, still waiting."""
    approver = user(session, "approver")
    session.info[ACTING_KEY] = (deputy.id, approver.id)
    try:
        with pytest.MonkeyPatch.context() as before_the_refusal:
            before_the_refusal.setattr(
                operations, "refuse_dead_request", lambda *_args, **_kwargs: None
            )
            return request_installment(session, approver, allocation, Decimal(amount))
    finally:
        session.info.pop(ACTING_KEY, None)


def test_her_refusal_names_the_deputy_who_requested_in_her_name(
    session: Session, login_as: Callable[[str], FlaskClient]
) -> None:
    deputy = _deputy(session)
    allocation = _approved_allocation(session, deputy)
    installment = _requested_acting_for_her(session, deputy, allocation, "51000.00")
    approver = user(session, "approver")
    with in_language("en"):
        approve = next(o for o in options(session, approver, installment) if o.name == "approve")
    assert not approve.allowed
    assert approve.reason == (
        f"{deputy.name} made this request acting for you, so you cannot approve it: another"
        " person who may approve must decide"
    )
    # The deputy, who made it, is refused as its maker, acting for her or not.
    with in_language("en"):
        as_her = options(session, deputy, installment, acting_for=approver)
    refused = next(o for o in as_her if o.name == "approve")
    assert refused.reason and refused.reason.startswith("whoever requested this installment")
    session.commit()
    page = login_as("approver").get("/approvals").get_data(as_text=True)
    assert f"{deputy.name} ทำงานแทนท่านเป็นผู้ยื่นคำขอนี้" in page
    assert "ผู้จัดทำหรือผู้ส่งขออนุมัติรายการนี้อนุมัติเองไม่ได้" not in page


def test_an_allocation_prepared_in_her_name_is_refused_in_an_allocations_words(
    session: Session, app: Flask
) -> None:
    """An allocation is prepared and submitted, not requested: what the deputy prepared in
    her name was refused to her as "made this request", the installment's words."""
    deputy = _deputy(session)
    approver = user(session, "approver")
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    session.info[ACTING_KEY] = (deputy.id, approver.id)
    try:
        allocation = create_allocation(
            session, approver, project, unit(session, "50230771"), Decimal("40000.00")
        )
        take(session, approver, "allocation", allocation.id, "submit")
    finally:
        session.info.pop(ACTING_KEY, None)
    with in_language("en"):
        approve = next(o for o in options(session, approver, allocation) if o.name == "approve")
    assert approve.reason == (
        f"{deputy.name} prepared or submitted this acting for you, so you cannot approve it:"
        " another person who may approve must decide"
    )
    with app.app_context(), in_language("th"):
        approve = next(o for o in options(session, approver, allocation) if o.name == "approve")
        thai = str(approve.reason)
    assert "ผู้ยื่นคำขอ" not in thai
    assert f"{deputy.name} ทำงานแทนท่านเป็นผู้จัดทำหรือผู้ส่งขออนุมัติรายการนี้" in thai


def test_an_endorsement_given_for_her_reads_deputy_for_approver(
    session: Session, login_as: Callable[[str], FlaskClient]
) -> None:
    """#37: 92,000 endorsed by the deputy acting for the approver (before endorsing with an
    approver's authority was refused): her lists show it as his, for her, and her refusal
    to approve says so."""
    deputy = _deputy(session)
    approver, officer = user(session, "approver"), user(session, "officer")
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("92000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    session.add(
        Approval(
            subject_type="allocation",
            subject_id=allocation.id,
            level=1,
            round=allocation.approval_round,
            approver_id=deputy.id,
            acting_for_id=approver.id,
            amount=allocation.amount,
        )
    )
    session.flush()
    with in_language("en"):
        approve = next(o for o in options(session, approver, allocation) if o.name == "approve")
    assert approve.reason == (
        f"{deputy.name} endorsed this acting for you, so you cannot approve it: another"
        " person who may approve must decide"
    )
    session.commit()
    client = login_as("approver")
    for path in ("/approvals", "/budget"):
        page = client.get(path).get_data(as_text=True)
        assert f"{deputy.name} แทน {approver.name}" in page, path


def _asked(session: Session, kind: str, object_id: int) -> set[str]:
    """Whom the `kind` event about `object_id` was told to, by e-mail address (relayed now)."""
    relay_outbox(session, now=utcnow(), requeue_after=timedelta(minutes=10))
    event_id = session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.kind == kind, OutboxEvent.object_id == object_id)
    )
    assert event_id is not None
    return set(
        session.scalars(
            select(User.email)
            .join(Notification, Notification.recipient_id == User.id)
            .where(Notification.delivery_key.startswith(f"event:{event_id}:"))
        )
    )


@pytest.mark.parametrize("second_approver", [False, True])
def test_the_installment_asked_in_her_name_is_not_put_to_her(
    session: Session, second_approver: bool
) -> None:
    deputy = _deputy(session)
    allocation = _approved_allocation(session, deputy)
    if second_approver:
        make_user(session, Role.APPROVER, unit(session, "50230000"), "approver2@demo.tidtam.local")
    installment = _requested_acting_for_her(session, deputy, allocation, "51000.00")
    asked = _asked(session, "installment.request", installment.id)
    assert "approver@demo.tidtam.local" not in asked
    assert DEPUTY not in asked
    assert asked == ({"approver2@demo.tidtam.local"} if second_approver else set())


def test_the_transfer_she_prepared_is_not_put_to_her_to_approve(session: Session) -> None:
    approver, officer = user(session, "approver"), user(session, "officer")
    make_user(session, Role.APPROVER, unit(session, "50230000"), "approver2@demo.tidtam.local")
    source = demo_project(session)
    source.approved_budget = Decimal("1000000.00")
    target = sibling_project(session, source, "50230000-7779")
    transfer = create_transfer(
        session, approver, source, Decimal("60000.00"), "ปรับแผน", target=target
    )
    take(session, officer, "budget_transfer", transfer.id, "endorse")
    asked = _asked(session, "budget_transfer.endorse", transfer.id)
    assert asked == {"approver2@demo.tidtam.local"}


def test_an_allocation_endorsed_by_the_deputy_is_put_to_the_approver(session: Session) -> None:
    """The usual case is unchanged: the deputy endorses as himself, the approver is asked."""
    deputy = _deputy(session)
    officer = user(session, "officer")
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("56000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, deputy, "allocation", allocation.id, "endorse")
    assert _asked(session, "allocation.endorse", allocation.id) == {"approver@demo.tidtam.local"}


def test_the_deputy_who_endorsed_reads_in_thai_that_she_approves(
    session: Session, app: Flask
) -> None:
    """On /approvals the deputy, acting for her on what he had endorsed as himself, read
    "เห็นชอบ (ระดับต้น): ... แล้วจะไม่มีผู้ใดอนุมัติได้: ได้รับความเห็นชอบครบแล้ว โปรดอนุมัติในฐานะ
    ผู้ทำงานแทน ..." and, beside it, that whoever endorsed may not approve. Both now name her,
    who still approves it, in sentences (the page adds the one colon after the act)."""
    deputy = _deputy(session)
    approver, officer = user(session, "approver"), user(session, "officer")
    project = demo_project(session)
    project.approved_budget = Decimal("1000000.00")
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("56000.00")
    )
    take(session, officer, "allocation", allocation.id, "submit")
    take(session, deputy, "allocation", allocation.id, "endorse")
    with app.app_context(), in_language("th"):
        found = {o.name: o for o in options(session, deputy, allocation, acting_for=approver)}
        endorse, approve = str(found["endorse"].reason), str(found["approve"].reason)
    assert "โปรดอนุมัติ" not in endorse
    assert f"โปรดให้ {approver.name} เป็นผู้อนุมัติ หรือส่งกลับแก้ไข" in endorse
    assert f"{approver.name} ยังอนุมัติรายการนี้ได้" in approve
    assert ":" not in endorse and ":" not in approve

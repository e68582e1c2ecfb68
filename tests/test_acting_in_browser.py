"""Acting for someone in the browser (issue 14 §3): a deputy who holds a delegation chooses
whom they act for; every page then says "แทน <name>", every record names both people, an
ended or withdrawn delegation cannot be used, and acting never reaches past the principal's
scope."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState, Approval
from service.budget.operations import create_allocation
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.org.models import Delegation, Role, User
from service.org.operations import create_delegation, withdraw_delegation
from service.projects.models import Project
from service.projects.operations import create_project
from service.workflow.engine import take
from tests.conftest import csrf_token, login
from tests.project_data import make_district, make_user
from tests.work_data import (
    in_app_context,  # noqa: F401
    unit,
    user,
)

APPROVER_NAME = "นางวิไล ผู้อำนวยการ"


def _project(session: Session) -> Project:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    return create_project(
        session,
        user(session, "officer"),
        code="50230000-9301",
        name="โครงการทดสอบการทำงานแทน",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        approved_budget=Decimal("100000.00"),
    )


def _deputy(session: Session, principal: User, *, days: int = 3) -> tuple[User, str, Delegation]:
    """A deputy (an officer of the division) holding `principal`'s delegation from today."""
    deputy, password = make_user(session, Role.OFFICER, unit(session, "50230700"), "deputy@t.local")
    today = local_today()
    delegation = create_delegation(
        session, principal, principal, deputy, today, today + timedelta(days=days), "ลาพักผ่อน"
    )
    session.commit()
    return deputy, password, delegation


def _act_for(client: FlaskClient, principal: User) -> int:
    token = csrf_token(client, "/acting")
    data = {"csrf_token": token, "principal_id": str(principal.id)}
    return client.post("/acting", data=data).status_code


def test_the_deputy_chooses_and_every_page_says_for_whom(
    client: FlaskClient, session: Session
) -> None:
    approver = user(session, "approver")
    _deputy_user, password, _delegation = _deputy(session, approver)
    login(client, "deputy@t.local", password)
    # The header offers the choice to whoever holds a delegation today, and to nobody else.
    assert 'href="/acting"' in client.get("/budget").get_data(as_text=True)
    assert client.get("/approvals").status_code == 403  # as themselves: an officer
    choose = client.get("/acting").get_data(as_text=True)
    assert APPROVER_NAME in choose
    assert _act_for(client, approver) == 302
    for path in ("/approvals", "/budget", "/dashboard", "/notifications", "/acting"):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert f"แทน {APPROVER_NAME}" in page, path
        assert 'action="/acting/end"' in page, path
    # the home page shows the approver's roles and reach while acting, not the officer's
    home = client.get("/home").get_data(as_text=True)
    assert 'data-role="approver"' in home and 'data-role="officer"' not in home
    # Ended explicitly: the deputy is themselves again.
    token = csrf_token(client, "/budget")
    assert client.post("/acting/end", data={"csrf_token": token}).status_code == 302
    assert f"แทน {APPROVER_NAME}" not in client.get("/budget").get_data(as_text=True)
    assert client.get("/approvals").status_code == 403


def test_records_made_while_acting_name_the_deputy_and_whom_they_acted_for(
    client: FlaskClient,
    session: Session,
    in_app_context: None,  # noqa: F811
) -> None:
    officer, approver = user(session, "officer"), user(session, "approver")
    project = _project(session)
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("30000"), "ค่าวัสดุ"
    )
    take(session, officer, "allocation", allocation.id, "submit")
    session.commit()
    deputy, password, _delegation = _deputy(session, approver)
    login(client, "deputy@t.local", password)
    assert _act_for(client, approver) == 302
    token = csrf_token(client, "/approvals")
    response = client.post(
        f"/actions/allocation/{allocation.id}/approve",
        data={"csrf_token": token, "next": "/approvals"},
    )
    assert response.status_code == 302
    session.expire_all()
    assert allocation.state is AllocationState.APPROVED
    approval = session.scalars(
        select(Approval).where(
            Approval.subject_type == "allocation", Approval.subject_id == allocation.id
        )
    ).one()
    assert (approval.approver_id, approval.acting_for_id) == (deputy.id, approver.id)
    row = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "allocation",
            AuditEntry.object_id == allocation.id,
            AuditEntry.action == "allocation.approve",
        )
    ).one()
    assert (row.actor_id, row.acting_for_id) == (deputy.id, approver.id)
    # A change that is not a transition (an allocation made on the budget page) too.
    response = client.post(
        "/budget/allocations",
        data={
            "csrf_token": csrf_token(client, "/budget"),
            "project_id": str(project.id),
            "recipient_unit_id": str(unit(session, "50230772").id),
            "amount": "20000",
            "purpose": "ค่าอาหาร",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    made = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "allocation.create").order_by(AuditEntry.id)
    ).all()[-1]
    assert (made.actor_id, made.acting_for_id) == (deputy.id, approver.id)
    # The project's page and its history say "X แทน Y".
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert f"{deputy.name} แทน {APPROVER_NAME}" in page
    history = client.get(f"/projects/{project.id}/history").get_data(as_text=True)
    assert f"{deputy.name} แทน {APPROVER_NAME}" in history


def test_an_ended_or_withdrawn_delegation_cannot_be_used(
    client: FlaskClient, session: Session
) -> None:
    approver = user(session, "approver")
    _deputy_user, password, delegation = _deputy(session, approver)
    login(client, "deputy@t.local", password)
    assert _act_for(client, approver) == 302
    assert client.get("/approvals").status_code == 200
    withdraw_delegation(session, approver, delegation)
    session.commit()
    # The next page forgets the choice, says so, and refuses the principal's screens.
    page = client.get("/budget").get_data(as_text=True)
    assert f"แทน {APPROVER_NAME}" not in page
    assert "การทำงานแทนสิ้นสุดแล้ว" in page
    assert client.get("/approvals").status_code == 403
    assert 'href="/acting"' not in page
    assert _act_for(client, approver) == 403
    # The /acting page left open: its button answers with a reason and the list as it is.
    stale = client.post(
        "/acting",
        data={"csrf_token": csrf_token(client, "/acting"), "principal_id": str(approver.id)},
    )
    assert stale.status_code == 403
    assert "การมอบอำนาจนี้สิ้นสุดหรือถูกถอนแล้ว" in stale.get_data(as_text=True)
    assert APPROVER_NAME not in stale.get_data(as_text=True).split("<main")[1]
    # A delegation that ended yesterday is refused as well (written as a row: no door sets up
    # a delegation that has already ended).
    yesterday = local_today() - timedelta(days=1)
    ended = Delegation(
        principal=approver,
        delegate=_deputy_user,
        starts_on=yesterday - timedelta(days=3),
        ends_on=yesterday,
        reason="ลาพักผ่อน",
    )
    session.add(ended)
    session.commit()
    assert ended.id and _act_for(client, approver) == 403
    assert client.get("/approvals").status_code == 403


def test_acting_does_not_reach_past_the_principals_scope(
    client: FlaskClient, session: Session
) -> None:
    """An officer of another district acts for a school clerk: they see what the clerk
    sees, no longer their own district, and none of an officer's screens. (No door sets up
    such a delegation now, `test_a_deputy_works_where_the_person_does`: it is written as a
    row, as one made before that rule, or before the deputy moved, would be.)"""
    _district, division, _school = make_district(session, "50990000")
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    deputy, password = make_user(session, Role.OFFICER, division, "far-officer@t.local")
    own = create_project(
        session,
        deputy,
        code="50990000-0001",
        name="โครงการของเขตอื่น",
        fiscal_year=year,
        owner_unit=_district,
        responsible_unit=division,
        approved_budget=Decimal("1000.00"),
    )
    clerk = user(session, "school")
    today = local_today()
    session.add(Delegation(principal=clerk, delegate=deputy, starts_on=today, ends_on=today))
    session.commit()
    login(client, "far-officer@t.local", password)
    assert client.get(f"/projects/{own.id}").status_code == 200
    assert client.get("/review").status_code == 200
    assert _act_for(client, clerk) == 302
    assert client.get(f"/projects/{own.id}").status_code == 404
    assert client.get("/review").status_code == 403
    assert client.get("/school").status_code == 200
    legacy = session.scalars(select(Project).where(Project.code == "50230000-3598")).one()
    assert client.get(f"/projects/{legacy.id}").status_code == 200


def test_a_deputy_works_where_the_person_does(session: Session) -> None:
    """A deputy holds a role where the principal does (at the principal's unit or below),
    a district role when the principal holds one: a school's clerk made deputy of the
    district's approver could approve money for their own school. Refused at every door
    with the field named; nothing is written."""
    from service.org.operations import create_user, grant_role
    from service.workflow.engine import Refused

    approver, officer, clerk = (
        user(session, "approver"),
        user(session, "officer"),
        user(session, "school"),
    )
    _district, division, _school = make_district(session, "50990000")
    far, _password = make_user(session, Role.OFFICER, division, "far@t.local")
    nobody = create_user(
        session, email="nobody@t.local", name="ไม่มีบทบาท", password="a-long-password-2566"
    )
    today = local_today()
    before = session.scalar(select(func.count()).select_from(Delegation))
    for principal, deputy, field in (
        (approver, clerk, "delegate_id"),  # a school's clerk for the district
        (approver, far, "delegate_id"),  # an officer of another district
        (officer, far, "delegate_id"),
        (approver, nobody, "delegate_id"),  # no role anywhere
        (nobody, officer, "principal_id"),  # nothing to hand over
    ):
        with pytest.raises(Refused) as refused:
            create_delegation(session, user(session, "admin"), principal, deputy, today, today)
        assert refused.value.status == 422 and field in refused.value.fields
    assert session.scalar(select(func.count()).select_from(Delegation)) == before
    # The district's own officer may stand in for its approver, and the approver for the
    # officer; a clerk for a clerk of the same school too.
    assert create_delegation(session, approver, approver, officer, today, today).id
    assert create_delegation(session, officer, officer, approver, today, today).id
    school2 = create_user(
        session, email="clerk2@t.local", name="ธุรการสอง", password="clerk-two-pass-2566"
    )
    grant_role(session, school2, Role.SCHOOL, clerk_unit(session, clerk))
    assert create_delegation(session, clerk, clerk, school2, today, today).id


def clerk_unit(session: Session, clerk: User):  # type: ignore[no-untyped-def]
    from service.org.scope import active_roles

    return active_roles(session, clerk)[0].unit


def test_a_page_left_open_after_the_delegation_ended_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    """The deputy acts for the approver and leaves the budget page open; an administrator
    withdraws the delegation; the deputy then presses a button on that page. It was pressed
    in the approver's name, so it is refused with a Thai message, not done in the deputy's
    own name; their next change is their own."""
    officer, approver = user(session, "officer"), user(session, "approver")
    project = _project(session)
    allocation = create_allocation(
        session, officer, project, unit(session, "50230771"), Decimal("30000"), "ค่าวัสดุ"
    )
    take(session, officer, "allocation", allocation.id, "submit")
    session.commit()
    deputy, password, delegation = _deputy(session, approver)
    login(client, "deputy@t.local", password)
    assert _act_for(client, approver) == 302
    token = csrf_token(client, "/budget")  # the page left open
    withdraw_delegation(session, approver, delegation)
    session.commit()
    made_before = session.scalar(select(func.count(Allocation.id)))
    form = {
        "csrf_token": token,
        "project_id": str(project.id),
        "recipient_unit_id": str(unit(session, "50230772").id),
        "amount": "20000",
        "purpose": "ค่าอาหาร",
    }
    response = client.post("/budget/allocations", data=form)
    assert (response.status_code, response.location) == (303, "/home")
    returned = client.post(
        f"/actions/allocation/{allocation.id}/return",
        data={"csrf_token": token, "reason": "ขอแก้ไข", "next": "/budget"},
    )
    assert returned.status_code == 302  # the choice is forgotten: this one is the deputy's
    page = client.get("/home").get_data(as_text=True)
    assert "ไม่ได้ดำเนินการใด ๆ" in page and "การทำงานแทนสิ้นสุดแล้ว" in page
    session.expire_all()
    assert session.scalar(select(func.count(Allocation.id))) == made_before
    mine = session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor_id == deputy.id, AuditEntry.action.like("allocation.%")
        )
    ).all()
    assert [(row.action, row.acting_for_id) for row in mine] == [("allocation.return", None)]


def test_acting_for_an_admin_does_not_open_the_deliveries_or_the_webhooks(
    client: FlaskClient, session: Session
) -> None:
    """The failed deliveries and the webhooks (with their secrets) are the signed-in admin's
    own: the pages' one role gate asks the signed-in person there, not whom they act for."""
    admin = user(session, "admin")
    _deputy_user, password, _delegation = _deputy(session, admin)
    login(client, "deputy@t.local", password)
    assert _act_for(client, admin) == 302
    for path in ("/admin/notifications/failed", "/admin/webhooks"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/budget")
    assert client.post("/admin/webhooks", data={"csrf_token": token}).status_code == 403

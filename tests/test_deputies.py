"""/deputies: a person hands their own authority to someone in their office for some days,
and withdraws it, without an administrator (the operation is the admin page's and the
API's: service.org.operations.create_delegation)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.core.fiscal import local_today
from service.org.models import Delegation
from tests.conftest import csrf_token
from tests.work_data import (
    in_app_context,  # noqa: F401
    user,
)


def _be(days: int = 0) -> str:
    day = local_today() + timedelta(days=days)
    return f"{day.day:02d}/{day.month:02d}/{day.year + 543}"


def _mine(session: Session, role: str) -> list[Delegation]:
    session.expire_all()
    return list(
        session.scalars(select(Delegation).where(Delegation.principal_id == user(session, role).id))
    )


def test_an_approver_hands_over_for_her_leave_and_takes_it_back(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("approver")
    assert "/deputies" in client.get("/account").get_data(as_text=True)
    page = client.get("/deputies").get_data(as_text=True)
    officer, school = user(session, "officer"), user(session, "school")
    # Offered: the district's officer; not the school's clerk (a deputy works where she does).
    assert f'<option value="{officer.id}"' in page
    assert f'<option value="{school.id}"' not in page
    response = client.post(
        "/deputies",
        data={
            "csrf_token": csrf_token(client, "/deputies"),
            "delegate_id": str(officer.id),
            "starts_on": _be(1),
            "ends_on": _be(7),
            "reason": "ลาพักร้อน",
        },
    )
    assert response.status_code == 302
    (delegation,) = _mine(session, "approver")
    assert (delegation.delegate_id, delegation.reason) == (officer.id, "ลาพักร้อน")
    assert delegation.starts_on == local_today() + timedelta(days=1)
    assert session.scalar(
        select(AuditEntry).where(
            AuditEntry.object_type == "delegation", AuditEntry.object_id == delegation.id
        )
    )
    listed = client.get("/deputies").get_data(as_text=True)
    assert f'data-delegation="{delegation.id}"' in listed and "ลาพักร้อน" in listed
    token = csrf_token(client, "/deputies")
    url = f"/deputies/{delegation.id}/withdraw"
    assert client.post(url, data={"csrf_token": token}).status_code == 302
    assert _mine(session, "approver")[0].withdrawn_at is not None
    # Pressed again from a page left open: nothing is done twice, and the page says so.
    again = client.post(url, data={"csrf_token": token})
    assert again.status_code == 409
    assert "ถูกถอนไปก่อนแล้ว" in again.get_data(as_text=True)


def test_bad_input_is_told_at_its_fields_and_kept(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("approver")
    school = user(session, "school")
    response = client.post(
        "/deputies",
        data={
            "csrf_token": csrf_token(client, "/deputies"),
            "delegate_id": "",
            "starts_on": "31/02/2569",
            "ends_on": "พรุ่งนี้",
            "reason": "ไปอบรม",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("delegate_id", "starts_on", "ends_on"):
        assert f'id="{field}" name="{field}"' in page or f'id="{field}"' in page
        assert f'aria-describedby="{field}-error"' in page, field
    assert 'value="31/02/2569"' in page and 'value="พรุ่งนี้"' in page and 'value="ไปอบรม"' in page
    # Someone the page does not offer (the school's clerk) is refused at the field.
    refused = client.post(
        "/deputies",
        data={
            "csrf_token": csrf_token(client, "/deputies"),
            "delegate_id": str(school.id),
            "starts_on": _be(),
            "ends_on": _be(3),
        },
    )
    assert refused.status_code == 422
    assert 'aria-describedby="delegate_id-error"' in refused.get_data(as_text=True)
    assert _mine(session, "approver") == []


def test_another_persons_delegation_is_not_found_here(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    approver = login_as("approver")
    approver.post(
        "/deputies",
        data={
            "csrf_token": csrf_token(approver, "/deputies"),
            "delegate_id": str(user(session, "officer").id),
            "starts_on": _be(),
            "ends_on": _be(2),
        },
    )
    (delegation,) = _mine(session, "approver")
    approver.post("/logout", data={"csrf_token": csrf_token(approver, "/deputies")})
    officer = login_as("officer")
    answer = officer.post(
        f"/deputies/{delegation.id}/withdraw",
        data={"csrf_token": csrf_token(officer, "/deputies")},
    )
    assert answer.status_code == 404
    assert _mine(session, "approver")[0].withdrawn_at is None
    # The deputy finds it where she acts for others.
    assert user(session, "approver").name in officer.get("/acting").get_data(as_text=True)


def test_the_people_offered_are_those_the_rule_allows(session: Session) -> None:
    """`possible_deputies` (one statement) offers exactly the people `works_where` (the
    rule every door enforces) allows, for each demo person."""
    from service.org.models import User
    from service.org.operations import possible_deputies, works_where

    people = list(session.scalars(select(User).where(User.active.is_(True))))
    for principal in people:
        allowed = {
            other.id
            for other in people
            if other.id != principal.id and works_where(session, principal, other)
        }
        assert {u.id for u in possible_deputies(session, principal)} == allowed, principal.email

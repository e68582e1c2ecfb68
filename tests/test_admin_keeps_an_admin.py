"""Someone always administers the whole tree: the last active account holding an admin role at
a root unit keeps that role and that account, from the page, the API and the operations."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.admin import operations as admin_ops
from service.api.auth import new_token
from service.org.models import Role, RoleAssignment, User
from service.org.operations import grant_role
from service.workflow.engine import Refused
from tests.conftest import csrf_token
from tests.signin_support import a_person
from tests.work_data import audited, in_app_context, unit, user  # noqa: F401

ROOT = "10000000"
DISTRICT = "50230000"


def _role(session: Session, person: User, code: str = ROOT) -> RoleAssignment:
    return session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.user_id == person.id,
            RoleAssignment.role == Role.ADMIN,
            RoleAssignment.unit_id == unit(session, code).id,
        )
    ).one()


def _only_admin(session: Session) -> User:
    """The demo's admin, made the one active account holding an admin role at the root."""
    admin = user(session, "admin")
    for other in session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.role == Role.ADMIN,
            RoleAssignment.withdrawn_at.is_(None),
            RoleAssignment.user_id != admin.id,
        )
    ):
        other.user.active = False
    session.commit()
    return admin


def test_the_last_admin_cannot_withdraw_their_own_admin_role(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The reported lock-out: the only other admin deactivated, the admin withdrew their own
    role at the root and /admin/users was 403 for everyone from then on."""
    client = login_as("admin")
    admin = _only_admin(session)
    # another admin, deactivated, and one granted below the root: neither keeps the system
    # administered
    gone = a_person(session, Role.ADMIN, name="ผู้ดูแลที่ระงับแล้ว")
    gone.active = False
    below = a_person(session, None, name="ผู้ดูแลเขต")
    grant_role(session, below, Role.ADMIN, unit(session, DISTRICT))
    session.commit()
    own = _role(session, admin)
    path = f"/admin/roles/{own.id}/withdraw"

    question = client.get(path, query_string={"q": "admin", "lang": "th"}).get_data(as_text=True)
    assert "ถอนไม่ได้" in question and "ผู้ดูแลระบบ" in question, question
    assert 'name="confirm" value="1"' in question  # the form, without the button
    assert '<button type="submit" class="btn danger">' not in question

    refused = client.post(
        path,
        query_string={"lang": "th"},
        data={"csrf_token": csrf_token(client, "/admin/"), "confirm": "1"},
    )
    assert refused.status_code == 409
    assert "ไม่เหลือบัญชีที่ใช้งานอยู่ซึ่งดูแลทั้งองค์กร" in refused.get_data(as_text=True)
    session.expire_all()
    assert own.withdrawn_at is None
    assert audited(session, "role.withdraw", admin.id) == 0
    assert client.get("/admin/users").status_code == 200


def test_withdrawing_ones_own_role_warns_and_keeps_the_search(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    admin = _only_admin(session)
    a_person(session, Role.ADMIN, name="ผู้ดูแลอีกคน")
    own = _role(session, admin)
    path = f"/admin/roles/{own.id}/withdraw"
    listing = client.get("/admin/users", query_string={"q": "admin"}).get_data(as_text=True)
    assert f'href="{path}?q=admin"' in listing, listing

    question = client.get(path, query_string={"q": "admin", "lang": "th"})
    text = question.get_data(as_text=True)
    assert "นี่คือบทบาทของคุณเอง" in text and f'action="{path}?q=admin"' in text

    done = client.post(
        path,
        query_string={"q": "admin"},
        data={"csrf_token": csrf_token(client, "/admin/"), "confirm": "1"},
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/admin/users?q=admin")
    session.expire_all()
    assert own.withdrawn_at is not None


def test_the_api_refuses_to_withdraw_the_last_admin_role(client, session: Session) -> None:  # type: ignore[no-untyped-def]
    admin = _only_admin(session)
    _row, token = new_token(session, admin, "script")
    session.commit()
    own = _role(session, admin)
    answer = client.post(
        f"/api/v1/users/{admin.id}/roles/{own.id}/withdraw",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "th"},
    )
    assert answer.status_code == 409, answer.get_json()
    session.expire_all()
    assert own.withdrawn_at is None


def test_a_change_another_admin_committed_meanwhile_counts(app, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Two admins of the whole tree take each other away at once. What the second finds once
    the first committed (the lock makes it wait on PostgreSQL) is the first's work: the
    operation reads the admins from the database, not from what its own session held."""
    admin = _only_admin(session)
    other = a_person(session, Role.ADMIN, name="ผู้ดูแลอีกคน")
    theirs = _role(session, other)
    with app.test_request_context():
        # `other` deactivated `admin` meanwhile; this session still holds `admin` as active
        session.execute(User.__table__.update().where(User.id == admin.id).values(active=False))
        with pytest.raises(Refused) as refused:
            admin_ops.withdraw_role(session, admin, theirs)
        assert refused.value.status == 409
        with pytest.raises(Refused) as refused:
            admin_ops.deactivate_user(session, admin, other)
        assert refused.value.status == 409
    session.rollback()


def test_an_admin_deactivates_another_while_one_remains(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    _only_admin(session)
    other = a_person(session, Role.ADMIN, name="ผู้ดูแลอีกคน")
    done = client.post(
        f"/admin/users/{other.id}/deactivate",
        data={"csrf_token": csrf_token(client, "/admin/"), "confirm": "1"},
    )
    assert done.status_code == 302
    session.expire_all()
    assert not other.active

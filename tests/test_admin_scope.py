"""Admin rights reach the subtree of the unit where admin is granted: a division's admin manages
that division's units and roles, and nothing above or beside it (by page or by API), with
nothing written when refused; the things of the whole tree belong to the root's admins."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.audit.models import AuditEntry
from service.auth.models import ApiToken
from service.core.permissions import administers, manages_user, may_grant
from service.fiscal.models import FiscalYear
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, User
from service.org.scope import sees_everything
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.project_data import make_district, make_user, unit
from tests.work_data import in_app_context, user  # noqa: F401

OTHER_LIMIT = Decimal("70000.00")


@dataclass
class Tree:
    root: OrgUnit
    district: OrgUnit  # the demo district, above the division
    division: OrgUnit  # where the division admin is admin
    network: OrgUnit  # below the division
    other: OrgUnit  # another district
    division_admin: User
    password: str


@pytest.fixture
def tree(session: Session) -> Tree:
    other, _division, _school = make_district(session, "50990000")
    other.approval_limit = OTHER_LIMIT
    division = unit(session, "50230700")
    admin, password = make_user(session, Role.ADMIN, division, "division-admin@test.local")
    session.commit()
    return Tree(
        root=unit(session, "10000000"),
        district=unit(session, "50230000"),
        division=division,
        network=unit(session, "50230771"),
        other=other,
        division_admin=admin,
        password=password,
    )


def _written(session: Session) -> tuple[int, int, int, int, int]:
    """Counts of what an admin change writes: audit rows, role assignments, delegations,
    fiscal years, API tokens."""
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (AuditEntry, RoleAssignment, Delegation, FiscalYear, ApiToken)
    )


def _assignment(session: Session, role: str) -> int:
    """The id of the demo `role` user's own role assignment."""
    found = session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.user_id == user(session, role).id, RoleAssignment.role == Role(role)
        )
    )
    assert found is not None
    return found


def _signed_in(app: Flask, email: str, password: str) -> FlaskClient:
    client = app.test_client()
    login(client, email, password)
    return client


def _bearer(session: Session, who: User) -> dict[str, str]:
    _row, token = new_token(session, who, "admin scope test")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_the_rule(session: Session, tree: Tree) -> None:
    admin = tree.division_admin
    assert administers(session, admin, tree.division)
    assert administers(session, admin, tree.network)
    assert not administers(session, admin, tree.district)
    assert not administers(session, admin, tree.root)
    assert not administers(session, admin, tree.other)
    assert not administers(session, admin, None)
    assert not sees_everything(session, admin)
    assert not may_grant(session, admin, Role.ADMIN, tree.root)
    assert not may_grant(session, admin, Role.EVALUATOR, tree.division)
    assert may_grant(session, admin, Role.OFFICER, tree.network)
    assert not manages_user(session, admin, user(session, "approver"))
    assert manages_user(session, admin, user(session, "officer"))  # its one role: the division
    root_admin = user(session, "admin")
    assert administers(session, root_admin, None) and administers(session, root_admin, tree.other)
    assert sees_everything(session, root_admin)


def test_a_division_admin_is_refused_above_and_beside_its_division_by_page(
    app: Flask, session: Session, tree: Tree
) -> None:
    client = _signed_in(app, tree.division_admin.email, tree.password)
    token = csrf_token(client, "/admin/users")
    before = _written(session)
    me = tree.division_admin.id

    refused = {
        "admin at the root": client.post(
            f"/admin/users/{me}/roles",
            data={"csrf_token": token, "role": "admin", "unit_code": tree.root.code},
        ),
        "admin at the root, by id": client.post(
            f"/admin/users/{me}/roles",
            data={"csrf_token": token, "role": "admin", "unit_id": str(tree.root.id)},
        ),
        "officer in another district": client.post(
            f"/admin/users/{me}/roles",
            data={"csrf_token": token, "role": "officer", "unit_code": tree.other.code},
        ),
        "evaluator (tree-wide) in its own division": client.post(
            f"/admin/users/{me}/roles",
            data={"csrf_token": token, "role": "evaluator", "unit_code": tree.division.code},
        ),
        "another district's limit": client.post(
            f"/admin/units/{tree.other.id}/limit",
            data={"csrf_token": token, "approval_limit": "1", "approvals_required": "1"},
        ),
        "its own district's limit": client.post(
            f"/admin/units/{tree.district.id}/limit",
            data={"csrf_token": token, "approval_limit": "1"},
        ),
        "a unit under another district": client.post(
            "/admin/units",
            data={
                "csrf_token": token,
                "code": "50990799",
                "name_th": "หน่วยแอบเพิ่ม",
                "kind": "division",
                "parent_code": tree.other.code,
            },
        ),
        "a root unit": client.post(
            "/admin/units",
            data={"csrf_token": token, "code": "90000000", "name_th": "ราก", "kind": "division"},
        ),
        "a delegation of the district approver": client.post(
            "/admin/delegations",
            data={
                "csrf_token": token,
                "principal_id": str(user(session, "approver").id),
                "delegate_id": str(me),
                "starts_on": "2026-01-01",
                "ends_on": "2026-01-31",
            },
        ),
        "a fiscal year": client.post("/admin/years", data={"csrf_token": token, "be_year": "2600"}),
        "an API token for the root admin": client.post(
            "/admin/tokens",
            data={"csrf_token": token, "user_id": str(user(session, "admin").id), "name": "x"},
        ),
        "the root admin's role withdrawn": client.post(
            f"/admin/roles/{_assignment(session, 'admin')}/withdraw", data={"csrf_token": token}
        ),
        "the district approver's role withdrawn": client.post(
            f"/admin/roles/{_assignment(session, 'approver')}/withdraw",
            data={"csrf_token": token},
        ),
    }
    for name, response in refused.items():
        assert response.status_code in (403, 404, 422), (name, response.status_code)
    session.expire_all()
    assert _written(session) == before
    assert tree.other.approval_limit == OTHER_LIMIT
    assert tree.district.approval_limit == Decimal("50000.00")
    for path in ("/admin/years", "/admin/strategy", "/admin/reminders", "/admin/tokens"):
        assert client.get(path).status_code == 403, path
    assert client.get("/admin/notifications/failed").status_code == 403
    users_page = client.get("/admin/users").get_data(as_text=True)
    assert "officer@demo.tidtam.local" in users_page  # its one role is in the division
    assert "approver@demo.tidtam.local" not in users_page
    assert "admin@demo.tidtam.local" not in users_page
    units_page = client.get("/admin/units").get_data(as_text=True)
    assert f'data-unit="{tree.network.id}"' in units_page
    assert f'data-unit="{tree.other.id}"' not in units_page
    assert f'data-unit="{tree.root.id}"' not in units_page

    # Within its subtree it manages.
    allowed = client.post(
        f"/admin/units/{tree.network.id}/limit",
        data={"csrf_token": token, "approval_limit": "12345", "approvals_required": "2"},
    )
    assert allowed.status_code == 302
    school = user(session, "school")
    granted = client.post(
        f"/admin/users/{school.id}/roles",
        data={"csrf_token": token, "role": "officer", "unit_code": tree.network.code},
    )
    assert granted.status_code == 302
    session.expire_all()
    assert tree.network.approval_limit == Decimal("12345.00")
    assert session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == school.id,
            RoleAssignment.role == Role.OFFICER,
            RoleAssignment.unit_id == tree.network.id,
        )
    )


def test_a_division_admin_is_refused_above_and_beside_its_division_by_api(
    app: Flask, session: Session, tree: Tree
) -> None:
    api = app.test_client()
    headers = _bearer(session, tree.division_admin)
    before = _written(session)
    me = tree.division_admin.id
    approver = user(session, "approver")

    refused = {
        "admin at the root": api.post(
            f"/api/v1/users/{me}/roles",
            json={"role": "admin", "unit_id": tree.root.id},
            headers=headers,
        ),
        "approver in another district": api.post(
            f"/api/v1/users/{me}/roles",
            json={"role": "approver", "unit_id": tree.other.id},
            headers=headers,
        ),
        "evaluator in its own division": api.post(
            f"/api/v1/users/{me}/roles",
            json={"role": "evaluator", "unit_id": tree.division.id},
            headers=headers,
        ),
        "another district's limit": api.patch(
            f"/api/v1/units/{tree.other.id}", json={"approval_limit": "1.00"}, headers=headers
        ),
        "its own district's limit": api.patch(
            f"/api/v1/units/{tree.district.id}", json={"approval_limit": "1.00"}, headers=headers
        ),
        "a unit under the root": api.post(
            "/api/v1/units",
            json={
                "code": "90000001",
                "name_th": "แอบ",
                "kind": "division",
                "parent_id": tree.root.id,
            },
            headers=headers,
        ),
        "a fiscal year": api.post("/api/v1/fiscal-years", json={"be_year": 2601}, headers=headers),
        "the district approver's account": api.post(
            f"/api/v1/users/{approver.id}/deactivate", headers=headers
        ),
        "the district approver's role withdrawn": api.post(
            f"/api/v1/users/{approver.id}/roles/{_assignment(session, 'approver')}/withdraw",
            headers=headers,
        ),
        "the district approver's delegation": api.post(
            "/api/v1/delegations",
            json={
                "principal_id": approver.id,
                "delegate_id": me,
                "starts_on": "2026-01-01",
                "ends_on": "2026-01-31",
                "reason": "x",
            },
            headers=headers,
        ),
    }
    for name, response in refused.items():
        assert response.status_code in (403, 404, 422), (name, response.status_code)
    assert api.get(f"/api/v1/users/{approver.id}", headers=headers).status_code == 403
    session.expire_all()
    assert _written(session) == before
    assert tree.other.approval_limit == OTHER_LIMIT
    assert approver.active
    assert api.get(f"/api/v1/units/{tree.other.id}", headers=headers).status_code == 404

    allowed = api.patch(
        f"/api/v1/units/{tree.network.id}", json={"approval_limit": "2500.00"}, headers=headers
    )
    assert allowed.status_code == 200, allowed.get_json()
    session.expire_all()
    assert tree.network.approval_limit == Decimal("2500.00")


def test_the_root_admin_acts_tree_wide_by_page_and_api(
    app: Flask, session: Session, tree: Tree
) -> None:
    root_admin = user(session, "admin")
    client = _signed_in(app, root_admin.email, DEMO_PASSWORDS[root_admin.email])
    token = csrf_token(client, "/admin/users")
    response = client.post(
        f"/admin/users/{tree.division_admin.id}/roles",
        data={"csrf_token": token, "role": "admin", "unit_code": tree.other.code},
    )
    assert response.status_code == 302
    response = client.post(
        f"/admin/units/{tree.other.id}/limit",
        data={"csrf_token": token, "approval_limit": "80000", "approvals_required": "2"},
    )
    assert response.status_code == 302
    assert client.get("/admin/years").status_code == 200

    headers = _bearer(session, root_admin)
    api = app.test_client()
    patched = api.patch(
        f"/api/v1/units/{tree.other.id}", json={"approval_limit": "90000.00"}, headers=headers
    )
    assert patched.status_code == 200
    granted = api.post(
        f"/api/v1/users/{tree.division_admin.id}/roles",
        json={"role": "evaluator", "unit_id": tree.division.id},
        headers=headers,
    )
    assert granted.status_code == 201
    assert (
        api.post("/api/v1/fiscal-years", json={"be_year": 2602}, headers=headers).status_code == 201
    )
    session.expire_all()
    assert tree.other.approval_limit == Decimal("90000.00")
    assert administers(session, tree.division_admin, tree.other)

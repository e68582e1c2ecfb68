"""One door for every administration change: the /admin page, the API and the command line
call the same operation, so the same change on the same starting data leaves the same audit
row whichever door it came through (action, object type, object, before and after, actor).

Each change is one row of CHANGES: what it needs to start from (`setup`, run afresh for each
door in a transaction rolled back afterwards) and how each of its doors is asked. Ids that
must differ between runs (a row made by the setup or by the change itself; a token's random
prefix) are compared by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.api.auth import new_token
from service.audit.models import AuditEntry
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, User
from service.org.operations import grant_role
from service.strategy.models import StrategyNode
from tests.api_support import rolled_back
from tests.conftest import DEMO_PASSWORDS, csrf_token, login

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin@demo.tidtam.local"
OFFICER = "officer@demo.tidtam.local"
APPROVER = "approver@demo.tidtam.local"
SCHOOL = "school@demo.tidtam.local"

#: Keys of `changes` whose values are random by design.
RANDOM = frozenset({"prefix"})


@dataclass
class Run:
    """One door's run of one change: its session, the starting data's objects, what the
    door answered and the names of ids that differ between runs."""

    session: Session
    client: FlaskClient
    app: Flask
    ctx: dict[str, Any] = field(default_factory=dict)
    names: dict[tuple[str, int], str] = field(default_factory=dict)

    def by_email(self, email: str) -> User:
        found = self.session.scalar(select(User).where(User.email == email))
        assert found is not None
        return found

    def unit(self, code: str) -> OrgUnit:
        found = self.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        assert found is not None
        return found

    def year(self, be_year: int) -> FiscalYear:
        found = self.session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
        assert found is not None
        return found

    def named(self, name: str, obj: Any) -> Any:
        """Keep `obj` (made by the setup) as ctx[name]; its id is compared by name."""
        self.session.flush()
        self.ctx[name] = obj
        self.names[(obj.__tablename__, obj.id)] = name
        return obj

    # ---- the doors ----

    def page(self, path: str, **form: str) -> int:
        login(self.client, ADMIN, DEMO_PASSWORDS[ADMIN])
        token = csrf_token(self.client, "/admin/?lang=en")
        response = self.client.post(path, data={"csrf_token": token, **form})
        assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
        return response.status_code

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> int:
        _row, token = new_token(self.session, self.by_email(ADMIN), "one door")
        self.session.commit()
        response = self.client.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code < 300, response.get_data(as_text=True)[:500]
        return response.status_code

    def cli(self, *args: str, input: str | None = None) -> int:
        result = self.app.test_cli_runner().invoke(
            args=["admin", *args, "--as", ADMIN], input=input
        )
        assert result.exit_code == 0, (result.output, result.exception)
        return result.exit_code


Door = Callable[[Run], Any]


@dataclass
class Change:
    """One administration change: the audit it leaves, its starting data, its doors."""

    name: str
    action: str
    object_type: str
    doors: dict[str, Door]
    setup: Callable[[Run], None] = lambda run: None


def _school_deactivated(run: Run) -> None:
    run.by_email(SCHOOL).active = False
    run.session.commit()


def _school_role_for_officer(run: Run) -> None:
    assignment = grant_role(run.session, run.by_email(OFFICER), Role.SCHOOL, run.unit("5023077103"))
    run.named("assignment", assignment)
    run.session.commit()


def _closed_year(run: Run) -> None:
    run.year(2567).is_open = False
    run.session.commit()


def _delegation(run: Run) -> None:
    from datetime import date

    delegation = Delegation(
        principal=run.by_email(APPROVER),
        delegate=run.by_email(OFFICER),
        starts_on=date(2024, 3, 1),
        ends_on=date(2024, 3, 31),
        reason="ลากิจ",
    )
    run.session.add(delegation)
    run.named("delegation", delegation)
    run.session.commit()


def _admin_token(run: Run) -> None:
    row, _token = new_token(run.session, run.by_email(ADMIN), "สคริปต์เก่า")
    run.named("token", row)
    run.session.commit()


def _rule(run: Run) -> None:
    rule = ReminderRule(
        kind=ReminderKind.STEP_DUE, name="เตือน", offset_days=-2, repeat_days=None, active=True
    )
    run.session.add(rule)
    run.named("rule", rule)
    run.session.commit()


def _paused_rule(run: Run) -> None:
    _rule(run)
    run.ctx["rule"].active = False
    run.session.commit()


NEW_UNIT = {"code": "5023077104", "name_th": "โรงเรียนใหม่", "name_en": "New School"}
NEW_USER = {"email": "new-teacher@demo.tidtam.local", "name": "ครูใหม่", "language": "en"}
PASSWORD = "long-enough-secret"
NODE = {"code": "7.2.2.9", "name": "ยุทธศาสตร์ย่อยใหม่"}
# Next January: a delegation that has already ended is refused at every door.
_NEXT_YEAR = local_today().year + 1
DELEGATION = {
    "starts_on": f"{_NEXT_YEAR}-01-01",
    "ends_on": f"{_NEXT_YEAR}-01-31",
    "reason": "ลาพักร้อน",
}

CHANGES = [
    Change(
        "unit: create",
        "unit.create",
        "org_unit",
        {
            "page": lambda r: r.page(
                "/admin/units", **NEW_UNIT, kind="school", parent_code="50230771"
            ),
            "api": lambda r: r.api(
                "POST",
                "/api/v1/units",
                {**NEW_UNIT, "kind": "school", "parent_id": r.unit("50230771").id},
            ),
        },
    ),
    Change(
        "unit: approval rules",
        "unit.update",
        "org_unit",
        {
            "page": lambda r: r.page(
                f"/admin/units/{r.unit('50230700').id}/limit",
                approval_limit="80,000.5",
                approvals_required="3",
            ),
            "api": lambda r: r.api(
                "PATCH",
                f"/api/v1/units/{r.unit('50230700').id}",
                {"approval_limit": "80000.50", "approvals_required": 3},
            ),
        },
    ),
    Change(
        "unit: rename",
        "unit.update",
        "org_unit",
        {
            "api": lambda r: r.api(
                "PATCH", f"/api/v1/units/{r.unit('50230771').id}", {"name_th": "เครือข่ายที่ 71"}
            ),
        },
    ),
    Change(
        "user: create",
        "user.create",
        "user",
        {
            "page": lambda r: r.page("/admin/users", **NEW_USER, password=PASSWORD),
            "api": lambda r: r.api("POST", "/api/v1/users", {**NEW_USER, "password": PASSWORD}),
            "cli": lambda r: r.cli(
                "create-user",
                "--email",
                NEW_USER["email"],
                "--name",
                NEW_USER["name"],
                "--language",
                NEW_USER["language"],
                input=f"{PASSWORD}\n{PASSWORD}\n",
            ),
        },
    ),
    Change(
        "user: update",
        "user.update",
        "user",
        {
            "api": lambda r: r.api(
                "PATCH",
                f"/api/v1/users/{r.by_email(SCHOOL).id}",
                {"name": "ครูสมศรี ใจดี", "language": "en", "phone": "02-123-4567"},
            ),
        },
    ),
    Change(
        "user: deactivate",
        "user.deactivate",
        "user",
        {
            "page": lambda r: r.page(
                f"/admin/users/{r.by_email(SCHOOL).id}/deactivate", confirm="1"
            ),
            "api": lambda r: r.api("POST", f"/api/v1/users/{r.by_email(SCHOOL).id}/deactivate"),
            "cli": lambda r: r.cli("deactivate-user", SCHOOL),
        },
    ),
    Change(
        "user: reactivate",
        "user.reactivate",
        "user",
        {
            "page": lambda r: r.page(f"/admin/users/{r.by_email(SCHOOL).id}/reactivate"),
            "api": lambda r: r.api("POST", f"/api/v1/users/{r.by_email(SCHOOL).id}/reactivate"),
            "cli": lambda r: r.cli("reactivate-user", SCHOOL),
        },
        setup=_school_deactivated,
    ),
    Change(
        "user: temporary password",
        "user.password_set",
        "user",
        {
            "page": lambda r: r.page(
                f"/admin/users/{r.by_email(SCHOOL).id}/temporary-password",
                password="temporary-river-4412",
            ),
            "api": lambda r: r.api(
                "POST",
                f"/api/v1/users/{r.by_email(SCHOOL).id}/temporary-password",
                {"password": "temporary-river-4412"},
            ),
            "cli": lambda r: r.cli(
                "set-temporary-password", SCHOOL, "--password", "temporary-river-4412"
            ),
        },
    ),
    Change(
        "user: link single sign-on",
        "user.sso_link",
        "user",
        {
            "page": lambda r: r.page(
                f"/admin/users/{r.by_email(SCHOOL).id}/sso-identity", sso_identity="1100500123456"
            ),
            "api": lambda r: r.api(
                "POST",
                f"/api/v1/users/{r.by_email(SCHOOL).id}/sso-identity",
                {"identity": "1100500123456"},
            ),
            "cli": lambda r: r.cli("link-sso", SCHOOL, "1100500123456"),
        },
    ),
    Change(
        "role: grant",
        "role.grant",
        "user",
        {
            "page": lambda r: r.page(
                f"/admin/users/{r.by_email(OFFICER).id}/roles",
                role="school",
                unit_code="5023077102",
            ),
            "api": lambda r: r.api(
                "POST",
                f"/api/v1/users/{r.by_email(OFFICER).id}/roles",
                {"role": "school", "unit_id": r.unit("5023077102").id},
            ),
            "cli": lambda r: r.cli("grant-role", OFFICER, "school", "5023077102"),
        },
    ),
    Change(
        "role: withdraw",
        "role.withdraw",
        "user",
        {
            "page": lambda r: r.page(
                f"/admin/roles/{r.ctx['assignment'].id}/withdraw", confirm="1"
            ),
            "api": lambda r: r.api(
                "POST",
                f"/api/v1/users/{r.by_email(OFFICER).id}/roles/{r.ctx['assignment'].id}/withdraw",
            ),
            "cli": lambda r: r.cli("withdraw-role", OFFICER, "school", "5023077103"),
        },
        setup=_school_role_for_officer,
    ),
    Change(
        "fiscal year: create",
        "fiscal_year.create",
        "fiscal_year",
        {
            "page": lambda r: r.page("/admin/years", be_year="2580"),
            "api": lambda r: r.api("POST", "/api/v1/fiscal-years", {"be_year": 2580}),
            "cli": lambda r: r.cli("add-fiscal-year", "2580"),
        },
    ),
    Change(
        "fiscal year: close",
        "fiscal_year.close",
        "fiscal_year",
        {
            "page": lambda r: r.page(f"/admin/years/{r.year(2567).id}/open", open="0"),
            "api": lambda r: r.api(
                "PATCH", f"/api/v1/fiscal-years/{r.year(2567).id}", {"is_open": False}
            ),
            "cli": lambda r: r.cli("set-fiscal-year", "2567", "--closed"),
        },
    ),
    Change(
        "fiscal year: open",
        "fiscal_year.open",
        "fiscal_year",
        {
            "page": lambda r: r.page(f"/admin/years/{r.year(2567).id}/open", open="1"),
            "api": lambda r: r.api(
                "PATCH", f"/api/v1/fiscal-years/{r.year(2567).id}", {"is_open": True}
            ),
            "cli": lambda r: r.cli("set-fiscal-year", "2567", "--open"),
        },
        setup=_closed_year,
    ),
    Change(
        "strategy node: create",
        "strategy.create",
        "strategy_node",
        {
            "page": lambda r: r.page(
                "/admin/strategy", **NODE, parent_id=str(_node(r.session, "7.2.2").id)
            ),
            "api": lambda r: r.api(
                "POST",
                "/api/v1/strategy-nodes",
                {**NODE, "parent_id": _node(r.session, "7.2.2").id},
            ),
        },
    ),
    Change(
        "strategy node: update",
        "strategy.update",
        "strategy_node",
        {
            "api": lambda r: r.api(
                "PATCH",
                f"/api/v1/strategy-nodes/{_node(r.session, '7.2.2').id}",
                {"name": "ชื่อใหม่ของยุทธศาสตร์"},
            ),
        },
    ),
    Change(
        "delegation: create",
        "delegation.create",
        "delegation",
        {
            "page": lambda r: r.page(
                "/admin/delegations",
                principal_id=str(r.by_email(APPROVER).id),
                delegate_id=str(r.by_email(OFFICER).id),
                **DELEGATION,
            ),
            "api": lambda r: r.api(
                "POST",
                "/api/v1/delegations",
                {
                    "principal_id": r.by_email(APPROVER).id,
                    "delegate_id": r.by_email(OFFICER).id,
                    **DELEGATION,
                },
            ),
        },
    ),
    Change(
        "delegation: withdraw",
        "delegation.withdraw",
        "delegation",
        {
            "page": lambda r: r.page(f"/admin/delegations/{r.ctx['delegation'].id}/withdraw"),
            "api": lambda r: r.api(
                "POST", f"/api/v1/delegations/{r.ctx['delegation'].id}/withdraw"
            ),
        },
        setup=_delegation,
    ),
    Change(
        "API token: create",
        "api_token.create",
        "api_token",
        {
            "page": lambda r: r.page(
                "/admin/tokens", user_id=str(r.by_email(ADMIN).id), name="รายงานประจำวัน"
            ),
            "api": lambda r: r.api("POST", "/api/v1/tokens", {"name": "รายงานประจำวัน"}),
        },
    ),
    Change(
        "API token: revoke",
        "api_token.revoke",
        "api_token",
        {
            "page": lambda r: r.page(f"/admin/tokens/{r.ctx['token'].id}/revoke"),
            "api": lambda r: r.api("DELETE", f"/api/v1/tokens/{r.ctx['token'].id}"),
        },
        setup=_admin_token,
    ),
    Change(
        "reminder rule: create",
        "reminder_rule.create",
        "reminder_rule",
        {
            "page": lambda r: r.page(
                "/admin/reminders",
                kind="review_waiting",
                name="ผลรอตรวจ 2 วัน",
                offset_days="2",
                repeat_days="2",
                escalate_after_days="",
            ),
        },
    ),
    Change(
        "reminder rule: update",
        "reminder_rule.update",
        "reminder_rule",
        {
            "page": lambda r: r.page(
                f"/admin/reminders/{r.ctx['rule'].id}",
                name="เตือนล่วงหน้า 5 วัน",
                offset_days="-5",
                repeat_days="2",
                escalate_after_days="",
            ),
        },
        setup=_rule,
    ),
    Change(
        "reminder rule: pause",
        "reminder_rule.deactivate",
        "reminder_rule",
        {"page": lambda r: r.page(f"/admin/reminders/{r.ctx['rule'].id}/active", active="0")},
        setup=_rule,
    ),
    Change(
        "reminder rule: resume",
        "reminder_rule.activate",
        "reminder_rule",
        {"page": lambda r: r.page(f"/admin/reminders/{r.ctx['rule'].id}/active", active="1")},
        setup=_paused_rule,
    ),
]


def _node(session: Session, code: str) -> StrategyNode:
    found = session.scalar(select(StrategyNode).where(StrategyNode.code == code))
    assert found is not None
    return found


def _shape(run: Run, entry: AuditEntry) -> dict[str, Any]:
    """What the audit row says, with the ids that differ between runs given by name: the
    setup's objects by theirs, and objects the change made as "new"."""

    object_id: Any = run.names.get((entry.object_type, entry.object_id), entry.object_id)
    if entry.action.endswith(".create"):
        object_id = "<new>"
    return {
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": object_id,
        "changes": {
            key: "<random>" if key in RANDOM else value
            for key, value in (entry.changes or {}).items()
        },
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "reason": entry.reason,
        "actor": entry.actor.email if entry.actor else None,
        "acting_for": entry.acting_for_id,
    }


def _through(app: Flask, change: Change, door: str) -> list[dict[str, Any]]:
    """The audit rows `change` leaves when asked through `door`, on fresh starting data."""
    with rolled_back(app) as (session, client):
        run = Run(session, client, app)
        change.setup(run)
        session.commit()
        last = session.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
        change.doors[door](run)
        session.expire_all()
        # The page door signs the admin in, which the sign-in history records too.
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > last, AuditEntry.action != "user.sign_in")
            .order_by(AuditEntry.id)
        ).all()
        return [_shape(run, entry) for entry in entries]


@pytest.mark.parametrize("change", CHANGES, ids=[c.name for c in CHANGES])
def test_every_door_leaves_the_same_audit_row(app: Flask, change: Change) -> None:
    rows = {door: _through(app, change, door) for door in change.doors}
    for door, audit in rows.items():
        assert len(audit) == 1, (door, audit)
        (row,) = audit
        assert (row["action"], row["object_type"]) == (change.action, change.object_type), door
        assert row["actor"] == ADMIN, door
        assert row["changes"], (door, "a change records what it changed")
    first, *others = rows
    for door in others:
        assert rows[door] == rows[first], (first, door)


def test_a_refusal_writes_nothing_and_keeps_the_form(app: Flask) -> None:
    """A refused page POST (a taken unit code) answers the form again with the input and the
    reason, through the one error path; no audit row and no unit is written."""
    with rolled_back(app) as (session, client):
        login(client, ADMIN, DEMO_PASSWORDS[ADMIN])
        before = (
            session.scalar(select(func.count(AuditEntry.id))),
            session.scalar(select(func.count(OrgUnit.id))),
        )
        token = csrf_token(client, "/admin/?lang=en")
        response = client.post(
            "/admin/units",
            data={
                "csrf_token": token,
                "code": "5023077101",
                "name_th": "ชื่อที่พิมพ์ไว้",
                "kind": "school",
                "parent_code": "50230771",
            },
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert "ชื่อที่พิมพ์ไว้" in page and "5023077101 is taken" in page
        after = (
            session.scalar(select(func.count(AuditEntry.id))),
            session.scalar(select(func.count(OrgUnit.id))),
        )
        assert after == before


def test_a_refused_rule_edit_comes_back_in_its_own_form(app: Flask) -> None:
    with rolled_back(app) as (session, client):
        run = Run(session, client, app)
        _rule(run)
        rule = run.ctx["rule"]
        login(client, ADMIN, DEMO_PASSWORDS[ADMIN])
        token = csrf_token(client, "/admin/?lang=en")
        response = client.post(
            f"/admin/reminders/{rule.id}",
            data={
                "csrf_token": token,
                "name": "ชื่อที่พิมพ์ไว้",
                "offset_days": "1",
                "repeat_days": "0",
            },
        )
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        edit_form = page[page.index(f'action="/admin/reminders/{rule.id}"') :]
        assert 'value="ชื่อที่พิมพ์ไว้"' in edit_form.split("</form>")[0]
        session.expire_all()
        assert (rule.name, rule.repeat_days) == ("เตือน", None)


def test_a_refusal_from_the_command_line_changes_nothing(app: Flask) -> None:
    with rolled_back(app) as (session, _client):
        before = session.scalar(select(func.count(AuditEntry.id)))
        result = app.test_cli_runner().invoke(
            args=[
                *("admin", "--lang", "en", "grant-role"),
                *(OFFICER, "admin", "10000000", "--as", OFFICER),
            ]
        )
        assert result.exit_code == 1
        assert "only an admin may grant roles" in result.output
        assert session.scalar(select(func.count(AuditEntry.id))) == before
        assert (
            session.scalar(
                select(func.count(RoleAssignment.id)).where(RoleAssignment.role == Role.ADMIN)
            )
            == 1
        )


def test_every_admin_page_has_the_role_gate(app: Flask) -> None:
    endpoints = [e for e in app.view_functions if e.startswith("admin.")]
    assert len(endpoints) > 20
    ungated = [e for e in endpoints if not hasattr(app.view_functions[e], "gate")]
    assert ungated == []


@pytest.mark.parametrize(
    "module",
    [
        "service/admin/views.py",
        "service/org/api.py",
        "service/auth/api.py",
        "service/budget/views.py",
        "service/evaluations/views.py",
        "service/school/views.py",
        "service/projects/work_views.py",
    ],
)
def test_no_handler_commits_a_change_of_its_own(module: str) -> None:
    """The pages commit through service.workflow.screens.run_change, the API through
    service.api.blueprint.commits: once per request, after the operation."""
    assert ".commit()" not in (ROOT / module).read_text()

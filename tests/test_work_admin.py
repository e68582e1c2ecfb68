"""Administration screens: admins only; each change goes through an operation and is kept."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.auth.models import ApiToken
from service.core.fiscal import local_today
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, UnitKind, User
from service.strategy.models import StrategyNode
from tests.conftest import csrf_token
from tests.html_text import unlabelled_fields
from tests.work_data import (
    audited,
    in_app_context,  # noqa: F401
    unit,
    user,
)

PAGES = [
    "/admin/",
    "/admin/units",
    "/admin/users",
    "/admin/delegations",
    "/admin/years",
    "/admin/strategy",
    "/admin/reminders",
    "/admin/tokens",
]


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_are_for_admins(login_as, client: FlaskClient, path: str) -> None:  # type: ignore[no-untyped-def]
    login_as("officer")
    assert client.get(path).status_code == 403
    token = csrf_token(client, "/review")
    client.post("/logout", data={"csrf_token": token})
    login_as("admin")
    page = client.get(path).get_data(as_text=True)
    assert "/admin/notifications/failed" in page
    assert unlabelled_fields(page) == []


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/?lang=en"), **data})


def test_units_users_roles_and_delegations(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    network = unit(session, "50230771")
    assert (
        _post(
            client,
            "/admin/units",
            code="5023077104",
            name_th="โรงเรียนใหม่",
            kind="school",
            parent_id=str(network.id),
        ).status_code
        == 302
    )
    school = session.scalars(select(OrgUnit).where(OrgUnit.code == "5023077104")).one()
    assert school.path.startswith(network.path)
    taken = _post(client, "/admin/units", code="5023077104", name_th="ซ้ำ", kind="school")
    assert taken.status_code == 422 and "ซ้ำ" in taken.get_data(as_text=True)
    district = unit(session, "50230000")
    _post(
        client, f"/admin/units/{district.id}/limit", approval_limit="80,000", approvals_required="3"
    )
    session.expire_all()
    assert (district.approval_limit, district.approvals_required) == (Decimal("80000.00"), 3)

    assert (
        _post(
            client,
            "/admin/users",
            email="New@Demo.Tidtam.Local",
            name="ครูใหม่",
            password="long-enough-pw",
            language="th",
        ).status_code
        == 302
    )
    new = session.scalars(select(User).where(User.email == "new@demo.tidtam.local")).one()
    short = _post(client, "/admin/users", email="x@demo.tidtam.local", name="x", password="short")
    assert short.status_code == 422
    _post(client, f"/admin/users/{new.id}/roles", role="school", unit_id=str(school.id))
    assignment = session.scalars(
        select(RoleAssignment).where(RoleAssignment.user_id == new.id)
    ).one()
    assert (assignment.role, assignment.unit_id) == (Role.SCHOOL, school.id)
    _post(client, f"/admin/roles/{assignment.id}/withdraw", confirm="1")
    session.expire_all()
    assert assignment.withdrawn_at is not None
    # the page's form names the unit from one list of all units ("code — name")
    page = client.get("/admin/users?q=new@demo").get_data(as_text=True)
    assert 'list="unit-codes"' in page and f'value="{school.code} — โรงเรียนใหม่"' in page
    assert f'data-user="{new.id}"' in page and 'data-user="1"' not in page
    _post(client, f"/admin/users/{new.id}/roles", role="school", unit_code=school.code)
    assert (
        _post(
            client, f"/admin/users/{new.id}/roles", role="school", unit_code="00000000"
        ).status_code
        == 422
    )
    granted = session.scalars(
        select(RoleAssignment).where(
            RoleAssignment.user_id == new.id, RoleAssignment.withdrawn_at.is_(None)
        )
    ).one()
    assert granted.unit_id == school.id

    approver, officer = user(session, "approver"), user(session, "officer")
    next_year = local_today().year + 1  # a delegation must not have ended already
    assert (
        _post(
            client,
            "/admin/delegations",
            principal_id=str(approver.id),
            delegate_id=str(officer.id),
            starts_on=f"{next_year}-01-01",
            ends_on=f"{next_year}-01-31",
            reason="ลาพักร้อน",
        ).status_code
        == 302
    )
    delegation = session.scalars(select(Delegation).where(Delegation.reason == "ลาพักร้อน")).one()
    reversed_ = _post(
        client,
        "/admin/delegations",
        principal_id=str(approver.id),
        delegate_id=str(officer.id),
        starts_on=f"{next_year}-02-01",
        ends_on=f"{next_year}-01-01",
    )
    assert reversed_.status_code == 422
    _post(client, f"/admin/delegations/{delegation.id}/withdraw")
    session.expire_all()
    assert delegation.withdrawn_at is not None


def test_years_strategy_and_reminder_rules(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    assert _post(client, "/admin/years", be_year="2568").status_code == 302
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2568)).one()
    assert (year.starts_on.isoformat(), year.ends_on.isoformat()) == ("2024-10-01", "2025-09-30")
    assert _post(client, "/admin/years", be_year="2568").status_code == 409
    _post(client, f"/admin/years/{year.id}/open", open="0")
    session.expire_all()
    assert year.is_open is False

    parent = session.scalars(select(StrategyNode).where(StrategyNode.code == "7.2.2")).one()
    assert (
        _post(
            client,
            "/admin/strategy",
            code="๗.๒.๒.๓",
            name="ยุทธศาสตร์ย่อยใหม่",
            parent_id=str(parent.id),
        ).status_code
        == 302
    )
    node = session.scalars(select(StrategyNode).where(StrategyNode.code == "7.2.2.3")).one()
    assert node.level == parent.level + 1

    assert (
        _post(
            client,
            "/admin/reminders",
            kind="step_due",
            name="เตือนก่อนครบกำหนด 3 วัน",
            offset_days="-3",
            repeat_days="1",
            escalate_after_days="2",
        ).status_code
        == 302
    )
    rule = session.scalars(select(ReminderRule).where(ReminderRule.offset_days == -3)).one()
    assert (rule.repeat_days, rule.escalate_after_days, rule.active) == (1, 2, True)
    assert (
        _post(
            client, "/admin/reminders", kind="step_due", name="x", offset_days="0", repeat_days="0"
        ).status_code
        == 422
    )
    # every problem of the form at once, each beside its field
    page = _post(
        client, "/admin/reminders", kind="?", name=" ", offset_days="x", repeat_days="0"
    ).get_data(as_text=True)
    for field in ("kind", "name", "offset_days", "repeat_days"):
        assert f'id="{field}-error"' in page, field
    _post(client, f"/admin/reminders/{rule.id}/active", active="0")
    session.expire_all()
    assert rule.active is False


def test_api_token_is_shown_once_stored_hashed_and_revocable(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    admin = user(session, "admin")
    # a user_id sent by an old page is not obeyed: the token is the admin's own
    officer = user(session, "officer")
    response = _post(client, "/admin/tokens", user_id=str(officer.id), name="สคริปต์รายงาน")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = page.split('data-testid="new-token">')[1].split("<")[0]
    assert secret.startswith("tdt_")
    row = session.scalars(select(ApiToken).where(ApiToken.name == "สคริปต์รายงาน")).one()
    assert row.user_id == admin.id
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert secret not in listing and row.prefix in listing
    _post(client, f"/admin/tokens/{row.id}/revoke")
    session.expire_all()
    assert row.revoked_at is not None
    revoked_at = row.revoked_at
    # Again from the page left open in another tab: said to be revoked already, not "revoked".
    assert "The token is revoked." in client.get("/admin/tokens").get_data(as_text=True)
    again = _post(client, f"/admin/tokens/{row.id}/revoke")
    assert again.status_code == 409
    page = again.get_data(as_text=True)
    assert "was already revoked" in page and "สคริปต์รายงาน" in page
    assert "The token is revoked." not in page
    session.expire_all()
    assert row.revoked_at == revoked_at
    assert audited(session, "api_token.revoke", row.id) == 1


def test_the_units_page_is_paged_searchable_and_names_the_parent_by_its_code(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    found = client.get("/admin/units?q=50230771").get_data(as_text=True)
    assert f'data-unit="{unit(session, "50230771").id}"' in found
    assert f'data-unit="{unit(session, "50230000").id}"' not in found
    assert found.count('<option value="') >= session.scalar(select(func.count(OrgUnit.id)))

    network = unit(session, "50230771")
    made = _post(
        client,
        "/admin/units",
        code="5023077105",
        name_th="โรงเรียนตามรหัสแม่",
        kind="school",
        parent_code=network.code,
    )
    assert made.status_code == 302
    school = session.scalars(select(OrgUnit).where(OrgUnit.code == "5023077105")).one()
    assert school.parent_id == network.id

    unknown = _post(
        client,
        "/admin/units",
        code="5023077106",
        name_th="แม่ไม่มีจริง",
        kind="school",
        parent_code="99999999",
    )
    page = unknown.get_data(as_text=True)
    assert unknown.status_code == 422 and "แม่ไม่มีจริง" in page and "99999999" in page
    assert session.scalar(select(OrgUnit).where(OrgUnit.code == "5023077106")) is None


def _new_user(client: FlaskClient, session: Session, email: str) -> User:
    _post(client, "/admin/users", email=email, name="ครูทดสอบ", password="long-enough-pw")
    return session.scalars(select(User).where(User.email == email)).one()


def _active_roles(session: Session, person: User) -> list[tuple[Role, str]]:
    session.expire_all()
    return sorted(
        (a.role, a.unit.code)
        for a in session.scalars(
            select(RoleAssignment).where(
                RoleAssignment.user_id == person.id, RoleAssignment.withdrawn_at.is_(None)
            )
        )
    )


def test_the_grant_form_picks_the_unit_by_code_or_name(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    network = unit(session, "50230771")
    for code in ("5023077191", "5023077192"):
        _post(
            client,
            "/admin/units",
            code=code,
            name_th="โรงเรียนชื่อซ้ำ",
            name_en="Twin School",
            kind="school",
            parent_code=network.code,
        )
    _post(
        client,
        "/admin/units",
        code="5023077193",
        name_th="โรงเรียนบ้านเดี่ยว",
        name_en="Lone House School",
        kind="school",
        parent_code=f"{network.code} — {network.name_th}",  # as the list offers it
    )
    assert unit(session, "5023077193").parent_id == network.id
    person = _new_user(client, session, "picker@demo.tidtam.local")
    roles = f"/admin/users/{person.id}/roles"

    # the list offers every unit as "code — name", so typing part of a name finds it
    page = client.get("/admin/users?q=picker&lang=th").get_data(as_text=True)
    assert '<option value="5023077193 — โรงเรียนบ้านเดี่ยว">' in page
    assert 'name="unit_code" list="unit-codes"' in page and 'inputmode="numeric"' not in page

    assert (
        _post(client, roles, role="school", unit_code="5023077193 — โรงเรียนบ้านเดี่ยว").status_code
        == 302
    )
    # found by its Thai or English name (then refused: no officer's or approver's role at a
    # school; an unknown unit would say "no unit")
    for role, typed in (("officer", "  โรงเรียนบ้านเดี่ยว "), ("approver", "lone house school")):
        found = _post(client, roles + "?lang=en", role=role, unit_code=typed)
        assert found.status_code == 422 and "held above the schools" in found.get_data(True)
    assert _post(client, roles, role="school", unit_code="5023077191").status_code == 302
    assert _active_roles(session, person) == [
        (Role.SCHOOL, "5023077191"),
        (Role.SCHOOL, "5023077193"),
    ]

    thai = {"csrf_token": csrf_token(client, "/admin/?lang=th"), "role": "officer"}
    twins = client.post(roles, data={**thai, "unit_code": "โรงเรียนชื่อซ้ำ"})
    assert twins.status_code == 422
    assert "มีหลายหน่วยงานชื่อ โรงเรียนชื่อซ้ำ" in twins.get_data(as_text=True)
    unknown = client.post(roles, data={**thai, "unit_code": "โรงเรียนที่ไม่มี"})
    assert unknown.status_code == 422
    assert "ไม่พบหน่วยงานที่มีรหัสหรือชื่อ โรงเรียนที่ไม่มี" in unknown.get_data(as_text=True)
    assert (Role.OFFICER, "5023077191") not in _active_roles(session, person)


def test_withdrawing_a_role_asks_first(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    person = _new_user(client, session, "withdrawn@demo.tidtam.local")
    school = unit(session, "5023077102")
    _post(client, f"/admin/users/{person.id}/roles", role="school", unit_code=school.code)
    assignment = session.scalars(
        select(RoleAssignment).where(RoleAssignment.user_id == person.id)
    ).one()
    confirm_path = f"/admin/roles/{assignment.id}/withdraw"

    # the list's button is a link to the question, not a form that withdraws at once
    listing = client.get("/admin/users?q=withdrawn@demo").get_data(as_text=True)
    assert f'href="{confirm_path}?q=withdrawn@demo"' in listing
    assert f'action="{confirm_path}' not in listing

    question = client.get(confirm_path + "?lang=th")
    text = question.get_data(as_text=True)
    assert question.status_code == 200
    assert f"ถอนบทบาท โรงเรียน ของ ครูทดสอบ ที่ {school.code} {school.name_th}?" in text, text
    assert 'name="confirm" value="1"' in text and f'action="{confirm_path}"' in text
    english = client.get(confirm_path + "?lang=en").get_data(as_text=True)
    assert "Withdraw the" in english and "role of ครูทดสอบ at" in english
    assert _active_roles(session, person) == [(Role.SCHOOL, school.code)]

    # a POST without the confirmation (an old page's button) only asks
    unconfirmed = _post(client, confirm_path)
    assert unconfirmed.status_code == 200 and 'name="confirm" value="1"' in unconfirmed.get_data(
        as_text=True
    )
    assert _active_roles(session, person) == [(Role.SCHOOL, school.code)]

    assert _post(client, confirm_path, confirm="1").status_code == 302
    assert _active_roles(session, person) == []


def test_the_withdraw_question_is_for_admins_who_may_withdraw(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    officer = user(session, "officer")
    assignment = session.scalars(
        select(RoleAssignment).where(RoleAssignment.user_id == officer.id)
    ).first()
    assert assignment is not None
    client = login_as("officer")
    assert client.get(f"/admin/roles/{assignment.id}/withdraw").status_code == 403
    assert client.get("/admin/roles/999999/withdraw").status_code in (403, 404)


def test_thai_digits_and_a_bad_email_on_the_users_page(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """An administrator typing with the Thai keyboard: a unit code in Thai digits names the
    same unit; an email that is not one is shown beside the email field, not only on top."""
    client = login_as("admin")
    person = _new_user(client, session, "thai-digits@demo.tidtam.local")
    thai = {"csrf_token": csrf_token(client, "/admin/?lang=th")}
    granted = client.post(
        f"/admin/users/{person.id}/roles",
        data={**thai, "role": "school", "unit_code": "๕๐๒๓๐๗๗๑"},
    )
    assert granted.status_code == 302, granted.get_data(as_text=True)[:2000]
    assert (Role.SCHOOL, "50230771") in _active_roles(session, person)
    refused = client.post(
        "/admin/users",
        data={**thai, "email": "ไม่ใช่อีเมล", "name": "ครูทดสอบ", "password": "long-enough-pw-2569"},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="email-error"' in page and "ไม่ใช่ที่อยู่อีเมล" in page
    assert 'value="ไม่ใช่อีเมล"' in page
    # every problem of the form at once, each beside its field: not one per try
    everything = client.post(
        "/admin/users", data={**thai, "email": "a@b", "name": " ", "password": "short"}
    )
    assert everything.status_code == 422
    page = everything.get_data(as_text=True)
    for field in ("name", "email", "password"):
        assert f'id="{field}-error"' in page, field


def test_a_refused_approval_limit_comes_back_as_typed_at_its_unit(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A limit typed wrong (three decimals) is answered with that unit's form: the typed
    value kept, the problem beside the limit field and named, in Thai."""
    client = login_as("admin")
    district = unit(session, "50230000")
    before = district.approval_limit
    refused = client.post(
        f"/admin/units/{district.id}/limit",
        data={
            "csrf_token": csrf_token(client, "/admin/?lang=th"),
            "approval_limit": "50,000.555",
            "approvals_required": "2",
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'value="50,000.555"' in page and 'id="approval_limit-error"' in page
    assert "ทศนิยมไม่เกิน 2 ตำแหน่ง" in page and "วงเงินอนุมัติ" in page
    assert district.name_th in page
    session.expire_all()
    assert unit(session, "50230000").approval_limit == before


def test_a_reminder_rule_saved_from_a_stale_page_does_not_undo_another_save(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """Two administrators have the reminder rules open. One moves a rule to 3 days before;
    the other, from the older page, changes its repeat only: that save would put the old
    offset back unseen. It is refused (409) in Thai with the typed values kept; saving
    again from the answer replaces it knowingly."""
    client = login_as("admin")
    made = _post(
        client,
        "/admin/reminders",
        kind=next(iter(ReminderKind)).value,
        name="เตือนก่อนครบกำหนด",
        offset_days="-5",
        repeat_days="2",
        escalate_after_days="",
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    rule = session.scalars(select(ReminderRule).order_by(ReminderRule.id.desc())).first()
    assert rule is not None
    page = client.get("/admin/reminders?lang=th").get_data(as_text=True)
    form = page.split(f'action="/admin/reminders/{rule.id}"')[1].split("</form>")[0]
    read = re.search(r'name="read" value="([0-9a-f]+)"', form)
    assert read is not None
    token = csrf_token(client, "/admin/?lang=th")
    values = {
        "csrf_token": token,
        "name": rule.name,
        "offset_days": str(rule.offset_days),
        "repeat_days": "" if rule.repeat_days is None else str(rule.repeat_days),
        "escalate_after_days": ""
        if rule.escalate_after_days is None
        else str(rule.escalate_after_days),
    }
    first = client.post(
        f"/admin/reminders/{rule.id}", data={**values, "read": read.group(1), "offset_days": "-3"}
    )
    assert first.status_code == 302
    stale = client.post(
        f"/admin/reminders/{rule.id}", data={**values, "read": read.group(1), "repeat_days": "9"}
    )
    assert stale.status_code == 409
    answer = stale.get_data(as_text=True)
    assert "มีผู้แก้ไขกฎนี้ระหว่างที่หน้านี้เปิดอยู่" in answer and 'value="9"' in answer
    session.expire_all()
    assert (rule.offset_days, rule.repeat_days != 9) == (-3, True)
    fresh = re.search(
        r'name="read" value="([0-9a-f]+)"',
        answer.split(f'action="/admin/reminders/{rule.id}"')[1].split("</form>")[0],
    )
    assert fresh is not None
    again = client.post(
        f"/admin/reminders/{rule.id}", data={**values, "read": fresh.group(1), "repeat_days": "9"}
    )
    assert again.status_code == 302
    session.expire_all()
    assert rule.repeat_days == 9


def test_granting_a_role_held_already_says_so(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """It answered "The role is granted." again, as if something new had been given."""
    client = login_as("admin")
    person = _new_user(client, session, "twice@demo.tidtam.local")
    roles = f"/admin/users/{person.id}/roles"
    first = _post(client, roles, role="school", unit_code="5023077101")
    assert first.status_code == 302
    again = _post(client, roles + "?lang=en", role="school", unit_code="5023077101")
    assert again.status_code == 409
    assert "already holds this role" in again.get_data(as_text=True)
    assert len(_active_roles(session, person)) == 1


def test_an_email_needs_a_domain_with_a_dot(session: Session) -> None:
    """ "a@b" was taken as an email (mail to it goes nowhere); a Thai domain is fine."""
    from service.org.operations import OrgError, create_user

    for bad in ("a@b", "a@b.", "a@.b", "@x.org", "a b@x.org", "a@x..org"):
        with pytest.raises(OrgError):
            create_user(session, email=bad, name="ก", password="long-enough-1")
    made = create_user(session, email="ครู@โรงเรียน.ไทย", name="ครู", password="long-enough-1")
    assert made.email == "ครู@โรงเรียน.ไทย"


def test_a_unit_code_typed_in_thai_or_full_width_digits_is_kept_in_arabic_digits(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A code typed with the Thai keyboard (๕๐๒๓๐๗๗๔) was kept as typed: listed so, and a child
    naming its parent 50230774 was refused "no unit". Every box a unit code is typed into reads
    Thai and full-width (５０２３…) digits as the same code."""
    client = login_as("admin")
    district = unit(session, "50230700")
    thai = {"csrf_token": csrf_token(client, "/admin/?lang=th")}
    made = client.post(
        "/admin/units",
        data={
            **thai,
            "code": "๕๐๒๓๐๗๗๔",
            "name_th": "เครือข่าย 74",
            "kind": "school_network",
            "parent_code": "５０２３０７００",
        },
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:2000]
    network = unit(session, "50230774")
    assert network.parent_id == district.id
    listed = client.get("/admin/units?q=เครือข่าย 74").get_data(as_text=True)
    assert "50230774" in listed and "๕๐๒๓๐๗๗๔" not in listed
    child = client.post(
        "/admin/units",
        data={
            **thai,
            "code": "５０２３０７７４０１",
            "name_th": "โรงเรียนใหม่ ๗๔",
            "kind": "school",
            "parent_code": "50230774",
        },
    )
    assert child.status_code == 302, child.get_data(as_text=True)[:2000]
    assert unit(session, "5023077401").parent_id == network.id
    # the same code in other digits is the same code: taken
    twice = client.post(
        "/admin/units",
        data={
            **thai,
            "code": "50230774",
            "name_th": "ซ้ำ",
            "kind": "school_network",
            "parent_code": "๕๐๒๓๐๗๐๐",
        },
    )
    assert twice.status_code == 422

    person = _new_user(client, session, "full-width@demo.tidtam.local")
    granted = client.post(
        f"/admin/users/{person.id}/roles",
        data={**thai, "role": "school", "unit_code": "５０２３０７７４０１"},
    )
    assert granted.status_code == 302, granted.get_data(as_text=True)[:2000]
    assert (Role.SCHOOL, "5023077401") in _active_roles(session, person)


def test_a_code_is_read_one_way() -> None:
    from service.core.thai import read_code

    assert read_code(" ๕๐๒๓๐๗๗๔ ") == "50230774"
    assert read_code("５０２３０７７４") == "50230774"
    assert read_code("５０２３－６５２５") == "5023-6525"
    assert read_code("\u3000๔๘๒\u00a0７１３") == "482 713"
    assert read_code("โรงเรียนวัดสิงห์") == "โรงเรียนวัดสิงห์"


def test_deactivating_asks_first_and_reactivating_starts_afresh(
    app, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """ "Deactivate" acted on one click, and a deactivated account could not be given back.
    Now the list's button asks first (as withdrawing a role does), and "Reactivate" lets the
    person sign in again while their old sessions and tokens stay dead; the list's search is
    kept after either."""
    from service.api.auth import new_token
    from tests.signin_support import PASSWORD, a_person, browser, post_login

    person = a_person(session, Role.SCHOOL, name="ครูระงับ ทดสอบ")
    theirs = browser(app)
    post_login(theirs, person.email, PASSWORD)
    assert theirs.get("/account").status_code == 200
    _row, token = new_token(session, person, "script")
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=bearer).status_code == 200

    client = login_as("admin")
    q = person.email
    confirm_path = f"/admin/users/{person.id}/deactivate"
    listing = client.get("/admin/users", query_string={"q": q}).get_data(as_text=True)
    assert f'href="{confirm_path}?q=' in listing and f'action="{confirm_path}' not in listing
    question = client.get(confirm_path, query_string={"q": q, "lang": "th"})
    text = question.get_data(as_text=True)
    assert question.status_code == 200 and f"ระงับบัญชีของ ครูระงับ ทดสอบ ({q})" in text, text
    assert 'name="confirm" value="1"' in text
    unconfirmed = _post(client, confirm_path)  # an old page's button only asks
    assert unconfirmed.status_code == 200 and 'name="confirm" value="1"' in unconfirmed.get_data(
        as_text=True
    )
    session.expire_all()
    assert person.active

    done = client.post(
        confirm_path,
        query_string={"q": q},
        data={"csrf_token": csrf_token(client, "/admin/"), "confirm": "1"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/users?q=" + q)
    session.expire_all()
    assert not person.active
    assert theirs.get("/account").status_code == 302

    reactivate = f"/admin/users/{person.id}/reactivate"
    listing = client.get("/admin/users", query_string={"q": q}).get_data(as_text=True)
    assert f'action="{reactivate}?q=' in listing
    again = client.post(
        reactivate, query_string={"q": q}, data={"csrf_token": csrf_token(client, "/admin/")}
    )
    assert again.status_code == 302 and "q=" in again.headers["Location"]
    session.expire_all()
    assert person.active
    assert audited(session, "user.reactivate", person.id) == 1
    # what was open before stays dead; a new sign-in works
    assert theirs.get("/account").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=bearer).status_code == 401
    fresh = browser(app)
    post_login(fresh, person.email, PASSWORD)
    assert fresh.get("/account").status_code == 200

    twice = client.post(reactivate + "?lang=en", data={"csrf_token": csrf_token(client, "/admin/")})
    assert twice.status_code == 409 and "is active already" in twice.get_data(as_text=True)
    assert audited(session, "user.reactivate", person.id) == 1


def test_a_refused_grant_or_limit_sent_again_applies_nothing_twice(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A refused form comes back (422/409, input kept) at the address it was posted to, so
    reloading it sends it again: that is the app's pattern (service.workflow.screens.
    run_change), kept because sending either form again cannot apply anything twice."""
    client = login_as("admin")
    district = unit(session, "50230000")
    limit = f"/admin/units/{district.id}/limit"
    for _reload in range(2):
        refused = _post(client, limit, approval_limit="50,000.555", approvals_required="2")
        assert refused.status_code == 422
    before = audited(session, "unit.update", district.id)
    for _reload in range(2):
        _post(client, limit, approval_limit="80,000", approvals_required="3")
    assert audited(session, "unit.update", district.id) == before + 1

    person = _new_user(client, session, "resent@demo.tidtam.local")
    roles = f"/admin/users/{person.id}/roles"
    for _reload in range(2):
        assert _post(client, roles, role="school", unit_code="00000000").status_code == 422
    assert _active_roles(session, person) == []
    assert _post(client, roles, role="school", unit_code="5023077101").status_code == 302
    assert _post(client, roles, role="school", unit_code="5023077101").status_code == 409
    assert _active_roles(session, person) == [(Role.SCHOOL, "5023077101")]
    assert audited(session, "role.grant", person.id) == 1


def test_project_and_kpi_codes_typed_in_thai_or_full_width_digits_are_kept_in_arabic(
    session: Session,
) -> None:
    """A project's code and unit codes and a KPI's code hold unit codes: they are kept with
    Arabic digits, however typed, as a unit's own code is."""
    from service.kpis.operations import create_kpi, update_kpi
    from service.projects.operations import create_project, update_project

    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    officer = user(session, "officer")
    project = create_project(
        session,
        officer,
        code="๕๐๒๓๐๐๐๐-๙๓๐๑",
        name="โครงการรหัสเลขไทย",
        fiscal_year=year,
        owner_unit=unit(session, "50230000"),
        responsible_unit=unit(session, "50230700"),
        unit_codes="๕๐๒๓๐๗๐๐/５０２３０７００",
    )
    assert (project.code, project.unit_codes) == ("50230000-9301", "50230700/50230700")
    update_project(session, officer, project, {"unit_codes": "５０２３０７７１"})
    assert project.unit_codes == "50230771"
    kpi = create_kpi(
        session,
        officer,
        code="๕๐๒๓－๙๓๐๑",
        name="ตัวชี้วัดรหัสเลขไทย",
        fiscal_year=year,
        owner_unit=unit(session, "50230700"),
        target=Decimal(100),
    )
    assert kpi.code == "5023-9301"
    update_kpi(session, officer, kpi, {"code": "๕๐๒๓-๙๓๐๒"})
    assert kpi.code == "5023-9302"


def test_a_role_and_a_unit_fit_the_tree(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A school's role at the district office reached every school's results, and a school
    could be made the parent of another: both are refused, nothing granted or made."""
    client = login_as("admin")
    person = _new_user(client, session, "tree-fit@demo.tidtam.local")
    district, school = unit(session, "50230000"), unit(session, "5023077101")
    wrong = _post(client, f"/admin/users/{person.id}/roles", role="school", unit_code="50230000")
    assert wrong.status_code == 422
    # the refusal stands at that person's grant form, with what was typed, not in "add a user"
    page = wrong.get_data(as_text=True)
    row = page.split(f'action="/admin/users/{person.id}/roles')[1].split("</form>")[0]
    assert 'id="grant-error-summary"' in row and 'href="#unit-' in row
    assert 'value="50230000"' in row and 'id="grant-unit_id-error"' in row
    assert page.count("data-error-summary") == 1
    wrong = _post(client, f"/admin/users/{person.id}/roles", role="officer", unit_code=school.code)
    assert wrong.status_code == 422
    assert _active_roles(session, person) == []
    under_school = _post(
        client,
        "/admin/units",
        code="5023077199",
        name_th="ใต้โรงเรียน",
        kind="school",
        parent_id=str(school.id),
    )
    assert under_school.status_code == 422
    assert session.scalars(select(OrgUnit).where(OrgUnit.code == "5023077199")).first() is None
    fine = _post(client, f"/admin/users/{person.id}/roles", role="officer", unit_code=district.code)
    assert fine.status_code == 302


def test_a_reminder_rule_out_of_bounds_is_refused_naming_every_field(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """-99999 days before the due day, a repeat and an escalation of 100,000 days, an
    escalation before the first reminder: each was saved as "the reminder rule is saved".
    Now each is named beside its field, all at once, in Thai, with what was typed kept."""
    client = login_as("admin")
    made = _post(
        client,
        "/admin/reminders",
        kind="step_overdue",
        name="เลยกำหนด",
        offset_days="1",
        repeat_days="7",
        escalate_after_days="14",
    )
    assert made.status_code == 302, made.get_data(as_text=True)[:500]
    rule = session.scalars(select(ReminderRule).where(ReminderRule.name == "เลยกำหนด")).one()
    before = (1, 7, 14)
    token = csrf_token(client, "/admin/?lang=th")
    path = f"/admin/reminders/{rule.id}"
    nonsense = client.post(
        path,
        data={
            "csrf_token": token,
            "name": rule.name,
            "offset_days": "-99999",
            "repeat_days": "100000",
            "escalate_after_days": "100000",
        },
    )
    assert nonsense.status_code == 422
    page = nonsense.get_data(as_text=True)
    for field in ("offset_days", "repeat_days", "escalate_after_days"):
        assert f'id="{field}-error"' in page, field
    for typed in ("-99999", "100000"):
        assert f'value="{typed}"' in page
    assert "ตั้งแต่ -366 ถึง 366 วัน" in page and "ตั้งแต่ 1 ถึง 366 วัน หรือเว้นว่าง" in page
    assert "บันทึกกฎการแจ้งเตือนแล้ว" not in page

    early = client.post(
        path,
        data={
            "csrf_token": token,
            "name": rule.name,
            "offset_days": "5",
            "repeat_days": "7",
            "escalate_after_days": "2",
        },
    )
    assert early.status_code == 422
    assert "ไม่ก่อนการแจ้งเตือนครั้งแรก (วันที่ 5)" in early.get_data(as_text=True)
    session.expire_all()
    assert (rule.offset_days, rule.repeat_days, rule.escalate_after_days) == before

    added = _post(
        client,
        "/admin/reminders",
        kind="step_due",
        name="ไกลเกิน",
        offset_days="100000",
        repeat_days="0",
        escalate_after_days="-1",
    )
    assert added.status_code == 422
    page = added.get_data(as_text=True)
    for field in ("offset_days", "repeat_days", "escalate_after_days"):
        assert f'id="{field}-error"' in page, field
    assert session.scalar(select(ReminderRule.id).where(ReminderRule.name == "ไกลเกิน")) is None

    # a year either way is still a rule
    edge = client.post(
        path,
        data={
            "csrf_token": token,
            "name": rule.name,
            "offset_days": "366",
            "repeat_days": "366",
            "escalate_after_days": "366",
        },
    )
    assert edge.status_code == 302
    session.expire_all()
    assert (rule.offset_days, rule.repeat_days, rule.escalate_after_days) == (366, 366, 366)


@pytest.mark.parametrize(
    ("offset", "repeat", "escalate", "refused"),
    [
        (-3, None, None, set()),
        (-3, None, 0, set()),  # the head is told on the due day, the last day it fires
        (-3, None, 2, {"escalate_after_days"}),  # it stops on the due day: never reached
        (-3, 1, 2, set()),
        (1, 7, 14, set()),
        (5, 5, 5, set()),
        (5, 5, 4, {"escalate_after_days"}),
        (-367, 367, 367, {"offset_days", "repeat_days", "escalate_after_days"}),
        (0, 0, -1, {"repeat_days", "escalate_after_days"}),
    ],
)
def test_reminder_rule_bounds(
    offset: int, repeat: int | None, escalate: int | None, refused: set[str]
) -> None:
    from service.admin.operations import check_rule
    from service.workflow.engine import Refused

    try:
        check_rule("กฎ", offset, repeat, escalate)
    except Refused as problem:
        assert set(problem.fields) == refused
    else:
        assert refused == set()


def test_empty_fields_on_the_users_page_say_they_are_required(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """An empty email was answered "'' ไม่ใช่ที่อยู่อีเมล"; an empty unit on the grant form
    was left to the browser, which said "Please fill out this field." in English."""
    client = login_as("admin")
    thai = {"csrf_token": csrf_token(client, "/admin/?lang=th")}
    empty = client.post(
        "/admin/users",
        data={**thai, "email": " ", "name": "ครูทดสอบ", "password": "long-enough-pw-2569"},
    )
    assert empty.status_code == 422
    page = empty.get_data(as_text=True)
    error = page.split('id="email-error">')[1].split("</p>")[0]
    assert error == "ต้องกรอก", error
    assert "ไม่ใช่ที่อยู่อีเมล" not in page

    person = _new_user(client, session, "no-unit@demo.tidtam.local")
    thai = {"csrf_token": csrf_token(client, "/admin/?lang=th")}  # _new_user spoke English
    listing = client.get("/admin/users", query_string={"q": "no-unit@demo"}).get_data(as_text=True)
    grant_form = listing.split(f'action="/admin/users/{person.id}/roles')[1].split(">")[0]
    assert "novalidate" in grant_form
    refused = client.post(
        f"/admin/users/{person.id}/roles",
        query_string={"q": "no-unit@demo"},
        data={**thai, "role": "school", "unit_code": ""},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    error = page.split('id="grant-unit_id-error">')[1].split("</p>")[0]
    assert error == "ต้องกรอก", error
    assert _active_roles(session, person) == []


def test_the_menu_names_the_administration_pages_not_the_city(login_as) -> None:  # type: ignore[no-untyped-def]
    """ "Administration" is also the top unit's kind, translated กรุงเทพมหานคร: the admin's
    menu item read as the city's name."""
    page = login_as("admin").get("/admin", follow_redirects=True).get_data(as_text=True)
    menu = page.split('class="menu"')[1].split("</nav>")[0]
    assert ">การดูแลระบบ</a>" in menu and "กรุงเทพมหานคร" not in menu


def test_a_strategy_code_follows_its_parent(  # type: ignore[no-untyped-def]
    login_as, client: FlaskClient, session: Session
) -> None:
    from tests.api_support import headers_for

    def node(code: str) -> StrategyNode:
        return session.scalars(select(StrategyNode).where(StrategyNode.code == code)).one()

    level_4 = node("7.2.2.2")
    headers = {**headers_for(session, "admin"), "Accept-Language": "th"}
    session.commit()
    login_as("admin")
    csrf_token(client, "/admin/?lang=th")  # the Thai pages, as the person used them

    def post(**data: str):  # type: ignore[no-untyped-def]
        token = csrf_token(client, "/admin/strategy")
        return client.post("/admin/strategy", data={"csrf_token": token, "name": "ก", **data})

    wrong = [
        ("8.1", node("7.2"), "ต้องเป็น 7.2 ต่อด้วยจุดและตัวเลขอีกหนึ่งชุด"),
        ("7.2.2.9.9", level_4, "ต้องเป็น 7.2.2.2 ต่อด้วยจุดและตัวเลขอีกหนึ่งชุด"),
        ("7.2.2.2.x", level_4, "ต้องเป็น 7.2.2.2 ต่อด้วยจุดและตัวเลขอีกหนึ่งชุด"),
        ("abc", None, "รหัสระดับบนสุดต้องเป็นตัวเลข"),
    ]
    for code, parent, problem in wrong:
        parent_id = str(parent.id) if parent else ""
        page = post(code=code, parent_id=parent_id)
        assert page.status_code == 422 and problem in page.get_data(as_text=True), code
        api = client.post(
            "/api/v1/strategy-nodes",
            json={"code": code, "name": "ก", "parent_id": parent.id if parent else None},
            headers=headers,
        )
        assert api.status_code == 422 and problem in api.get_data(as_text=True), code
    long = post(code="๙", name="ก" * 501, parent_id="")
    assert long.status_code == 422 and "ไม่เกิน 500 ตัวอักษร" in long.get_data(as_text=True)
    renamed = client.patch(
        f"/api/v1/strategy-nodes/{level_4.id}", json={"name": "ก" * 501}, headers=headers
    )
    assert renamed.status_code == 422
    assert not session.scalars(
        select(StrategyNode).where(StrategyNode.code.in_(["8.1", "7.2.2.9.9", "abc", "9"]))
    ).all()
    # Thai digits are the same code; the right next number is taken under any parent.
    assert post(code="๙", name="ก" * 500).status_code == 302
    under = post(code="๗.๒.๒.๒.๑", parent_id=str(level_4.id))
    assert under.status_code == 302 and node("7.2.2.2.1").level == 5


def test_every_demo_unit_stands_where_its_kind_may() -> None:
    from service.admin.operations import CHILD_KINDS
    from service.demo import district, load

    units = [*load.UNITS, *district.UNITS]
    kinds = {code: kind for code, _th, _en, kind, _parent in units}
    for code, _th, _en, kind, parent in units:
        assert code.isascii() and code.isdigit(), code
        if parent is None:
            assert kind is UnitKind.ADMINISTRATION, code
        else:
            assert kind in CHILD_KINDS[kinds[parent]], code


def test_a_unit_stands_where_its_kind_may(  # type: ignore[no-untyped-def]
    login_as, client: FlaskClient, session: Session
) -> None:
    from tests.api_support import headers_for

    network = unit(session, "50230771")
    headers = {**headers_for(session, "admin"), "Accept-Language": "th"}
    session.commit()
    login_as("admin")
    csrf_token(client, "/admin/?lang=th")  # the Thai pages, as the person used them

    def post(**data: str):  # type: ignore[no-untyped-def]
        token = csrf_token(client, "/admin/units")
        return client.post("/admin/units", data={"csrf_token": token, "name_th": "ก", **data})

    wrong = [
        ("50239999", "district_office", network, "ภายใต้เครือข่ายโรงเรียน ต้องเป็นโรงเรียน"),
        ("10000001", "administration", None, "มีหน่วยงานสูงสุดอยู่แล้ว"),
        ("<b>x</b>", "school", network, "ตัวเลขเท่านั้น"),
    ]
    for code, kind, parent, problem in wrong:
        parent_code = parent.code if parent else ""
        page = post(code=code, kind=kind, parent_code=parent_code)
        assert page.status_code == 422 and problem in page.get_data(as_text=True), code
        api = client.post(
            "/api/v1/units",
            json={"code": code, "name_th": "ก", "kind": kind, "parent_id": parent and parent.id},
            headers=headers,
        )
        assert api.status_code == 422, code
        # The API takes no root at all: it asks for the parent.
        assert problem in api.get_data(as_text=True) or parent is None, code
    assert not session.scalars(
        select(OrgUnit).where(OrgUnit.code.in_(["50239999", "10000001", "<b>x</b>"]))
    ).all()
    # The kinds the tree allows, each under the one above it; Thai digits are digits.
    line = [("11100000", "department", "10000000"), ("๑๑๑๐๐๗๐๐", "division", "11100000")]
    line += [("11100771", "school_network", "11100700"), ("1110077101", "school", "11100771")]
    for code, kind, parent_code in line:
        assert post(code=code, kind=kind, parent_code=parent_code).status_code == 302, code
    assert unit(session, "1110077101").parent.code == "11100771"  # type: ignore[union-attr]


def test_an_admin_corrects_a_units_names_on_its_page(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A renamed office, a typo in the Thai name: the unit's page saves both names, recorded;
    an empty Thai name is refused at its field with what was typed kept."""
    from service.audit.models import AuditEntry

    client = login_as("admin")
    school = unit(session, "5023077101")
    listing = client.get("/admin/units?q=5023077101").get_data(as_text=True)
    assert f"/admin/units/{school.id}" in listing
    page = client.get(f"/admin/units/{school.id}").get_data(as_text=True)
    assert f'value="{school.name_th}"' in page
    token = csrf_token(client, f"/admin/units/{school.id}")
    refused = client.post(
        f"/admin/units/{school.id}/names",
        data={"csrf_token": token, "name_th": "  ", "name_en": "Wat Phrom School"},
    )
    assert refused.status_code == 422
    shown = refused.get_data(as_text=True)
    assert 'id="name_th-error"' in shown and 'value="Wat Phrom School"' in shown
    saved = client.post(
        f"/admin/units/{school.id}/names",
        data={"csrf_token": token, "name_th": "โรงเรียนวัดพรหมรังษี (ใหม่)", "name_en": "Wat Phrom"},
    )
    assert saved.status_code == 302
    session.expire_all()
    school = unit(session, "5023077101")
    assert (school.name_th, school.name_en) == ("โรงเรียนวัดพรหมรังษี (ใหม่)", "Wat Phrom")
    assert session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "unit.update", AuditEntry.object_id == school.id)
    )
    assert client.get("/admin/units/999999").status_code == 404


def test_an_admin_renames_a_strategy_node_on_its_page(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    node = session.scalars(select(StrategyNode).order_by(StrategyNode.code)).first()
    assert node is not None
    code = node.code
    assert f"/admin/strategy/{node.id}" in client.get("/admin/strategy").get_data(as_text=True)
    token = csrf_token(client, f"/admin/strategy/{node.id}")
    refused = client.post(f"/admin/strategy/{node.id}/name", data={"csrf_token": token, "name": ""})
    assert refused.status_code == 422 and 'id="name-error"' in refused.get_data(as_text=True)
    saved = client.post(
        f"/admin/strategy/{node.id}/name",
        data={"csrf_token": token, "name": "มิติที่ ๑ ปลอดภัย (ปรับชื่อ)"},
    )
    assert saved.status_code == 302
    session.expire_all()
    renamed = session.get(StrategyNode, node.id)
    assert renamed is not None and renamed.code == code and "ปรับชื่อ" in renamed.name
    assert client.get("/admin/strategy/999999").status_code == 404

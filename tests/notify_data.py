"""Org data around the demo for the notification tests: a second district with its own
officer, approver and school, an officer high above the demo division, and a second school
user in the demo district. Each is a role-holder who must not hear of the demo's events."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.operations import create_unit, grant_role


@dataclass
class Outsiders:
    officer_b: User  # officer of another district's division
    approver_b: User  # approver of another district
    school_b: User  # school user in another district
    officer_top: User  # officer at the administration, above the demo division
    school_c: User  # school user at another school of the demo district


def _unit(session: Session, code: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.code == code)).one()


def _user(session: Session, email: str, role: Role, unit: OrgUnit, *, head: bool = False) -> User:
    # No password hash: these users never sign in, and scrypt would cost a second each.
    user = User(email=email, name=email.split("@")[0], password_hash="!", language="th")
    session.add(user)
    session.flush()
    grant_role(session, user, role, unit, is_head=head)
    return user


def add_outsiders(session: Session) -> Outsiders:
    """Add the outsiders (flushes)."""
    bma = _unit(session, "10000000")
    district = create_unit(
        session,
        code="50240000",
        name_th="สำนักงานเขตบางบอน",
        kind=UnitKind.DISTRICT_OFFICE,
        parent=bma,
    )
    division = create_unit(
        session,
        code="50240700",
        name_th="ฝ่ายการศึกษา บางบอน",
        kind=UnitKind.DIVISION,
        parent=district,
    )
    school = create_unit(
        session, code="5024077101", name_th="โรงเรียนบางบอน", kind=UnitKind.SCHOOL, parent=division
    )
    return Outsiders(
        officer_b=_user(session, "officer-b@test.local", Role.OFFICER, division, head=True),
        approver_b=_user(session, "approver-b@test.local", Role.APPROVER, district, head=True),
        school_b=_user(session, "school-b@test.local", Role.SCHOOL, school),
        officer_top=_user(session, "officer-top@test.local", Role.OFFICER, bma),
        school_c=_user(session, "school-c@test.local", Role.SCHOOL, _unit(session, "5023077102")),
    )

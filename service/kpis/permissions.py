"""Who may see and change KPIs.

A KPI belongs to its owning unit (a district office, usually). Its officers and approvers
manage it: those holding the role on the unit, above it, or on a unit below it (the district's
division officers work the district's KPIs, as they register the district's projects). They,
and a school for a KPI its own unit owns, report the quarterly results of KPIs that are not
computed. Everyone whose scope holds the owning unit, and evaluators, see the KPI; the
evaluators score it through the quarter's evaluation (service.evaluations).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, or_, true
from sqlalchemy.orm import Session, aliased

from service.core.permissions import ALLOW, Answer, deny, holds_any, holds_within
from service.core.translate import gettext as _
from service.kpis.models import Kpi
from service.org.models import OrgUnit, Role, RoleAssignment, UnitKind, User
from service.org.scope import in_scope, sees_everything, unit_filter

DISTRICT = (Role.OFFICER, Role.APPROVER)
REPORTERS = (Role.OFFICER, Role.APPROVER, Role.SCHOOL)


def works_for(session: Session, user: User, roles: tuple[Role, ...], unit: OrgUnit) -> bool:
    """`user` holds one of `roles` on `unit` or above it, or (for a unit below the
    administration: a district office, its divisions) on a unit below it."""
    if holds_any(session, user, roles, unit):
        return True
    return unit.kind is not UnitKind.ADMINISTRATION and holds_within(session, user, roles, unit)


def can_see_kpi(session: Session, user: User, kpi: Kpi) -> bool:
    """The owning unit lies in the user's scope (evaluators see every unit), or the user works
    for it as an officer or approver."""
    return in_scope(session, user, kpi.owner_unit) or works_for(
        session, user, DISTRICT, kpi.owner_unit
    )


def visible_kpis(session: Session, user: User) -> ColumnElement[bool]:
    """`can_see_kpi` as a condition on `Kpi`."""
    if sees_everything(session, user):
        return true()
    owner = aliased(OrgUnit)
    held = aliased(OrgUnit)
    in_reach = exists().where(owner.id == Kpi.owner_unit_id, unit_filter(session, user, owner))
    below = exists().where(
        owner.id == Kpi.owner_unit_id,
        owner.kind != UnitKind.ADMINISTRATION,
        RoleAssignment.user_id == user.id,
        RoleAssignment.withdrawn_at.is_(None),
        RoleAssignment.role.in_(DISTRICT),
        held.id == RoleAssignment.unit_id,
        held.path.startswith(owner.path),
    )
    return or_(in_reach, below)


def may_manage_kpis(session: Session, user: User, unit: OrgUnit) -> Answer:
    """Create KPIs owned by `unit`, change them and link them to projects."""
    if works_for(session, user, DISTRICT, unit):
        return ALLOW
    return deny(_("only an officer or approver of %(unit)s may manage its KPIs", unit=unit.name_th))


def may_manage_kpi(session: Session, user: User, kpi: Kpi) -> Answer:
    return may_manage_kpis(session, user, kpi.owner_unit)


def may_report_kpi(session: Session, user: User, kpi: Kpi) -> Answer:
    """Report a quarter's result by hand: the owning unit's officers and approvers, or a
    school for a KPI its own unit owns; never for a KPI the rollup computes."""
    if kpi.computation:
        return deny(_("this KPI is computed from the projects each quarter"))
    if works_for(session, user, DISTRICT, kpi.owner_unit) or holds_any(
        session, user, (Role.SCHOOL,), kpi.owner_unit
    ):
        return ALLOW
    return deny(
        _(
            "only an officer, approver or school of %(unit)s may report this KPI",
            unit=kpi.owner_unit.name_th,
        )
    )

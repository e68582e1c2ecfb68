"""Who may export a unit's audit trail."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.permissions import Answer, administers, holds_any, needs_role
from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.scope import unit_filter

#: Those who answer for a unit's records: its district people, its evaluators and admins.
TRAIL_READERS = (Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.ADMIN)


def may_export_trail(session: Session, user: User, unit: OrgUnit) -> Answer:
    return needs_role(session, user, TRAIL_READERS, unit, _("export the audit trail"))


#: The units a trail is exported for: where the district's records are kept.
TRAIL_UNITS = (UnitKind.ADMINISTRATION, UnitKind.DISTRICT_OFFICE, UnitKind.DIVISION)


def trail_units(session: Session, user: User) -> list[OrgUnit]:
    """The units whose trail `user` may export (`TRAIL_UNITS` of their scope they are a
    `TRAIL_READERS` of), in tree order. Empty for a school, and for an evaluator whose role
    is on a unit that keeps no trail (a department): /audit/export is then not theirs."""
    candidates = session.scalars(
        select(OrgUnit)
        .where(unit_filter(session, user), OrgUnit.kind.in_(TRAIL_UNITS))
        .order_by(OrgUnit.path)
    )
    return [u for u in candidates if holds_any(session, user, TRAIL_READERS, u)]


def exports_whole_service(session: Session, user: User, unit: OrgUnit) -> bool:
    """Whether `user`'s export of `unit` is every entry of the service (accounts, tokens,
    delegations, fiscal years, things since gone…): the tree's one root unit, exported by an
    admin of it. Where several roots share a database, each root's export stays its own."""
    if unit.parent_id is not None or not administers(session, user, unit):
        return False
    roots = select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id.is_(None))
    return session.scalar(roots) == 1

"""Who may export a unit's audit trail."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.permissions import Answer, administers, needs_role
from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, User

#: Those who answer for a unit's records: its district people, its evaluators and admins.
TRAIL_READERS = (Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.ADMIN)


def may_export_trail(session: Session, user: User, unit: OrgUnit) -> Answer:
    return needs_role(session, user, TRAIL_READERS, unit, _("export the audit trail"))


def exports_whole_service(session: Session, user: User, unit: OrgUnit) -> bool:
    """Whether `user`'s export of `unit` is every entry of the service (accounts, tokens,
    delegations, fiscal years, things since gone…): the tree's one root unit, exported by an
    admin of it. Where several roots share a database, each root's export stays its own."""
    if unit.parent_id is not None or not administers(session, user, unit):
        return False
    roots = select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id.is_(None))
    return session.scalar(roots) == 1

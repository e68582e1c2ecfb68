"""Who may export a unit's audit trail."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.core.permissions import Answer, needs_role
from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, User

#: Those who answer for a unit's records: its district people, its evaluators and admins.
TRAIL_READERS = (Role.OFFICER, Role.APPROVER, Role.EVALUATOR, Role.ADMIN)


def may_export_trail(session: Session, user: User, unit: OrgUnit) -> Answer:
    return needs_role(session, user, TRAIL_READERS, unit, _("export the audit trail"))

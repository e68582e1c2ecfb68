"""Small predicates that answer yes or no with a reason, used by the engine, the API, the views
and the templates alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import OrgUnit, Role, RoleAssignment, User


@dataclass(frozen=True)
class Answer:
    """Yes, or no with a reason a person can act on."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


ALLOW = Answer(True)


def deny(reason: str) -> Answer:
    return Answer(False, reason)


def roles_over(session: Session, user: User, unit: OrgUnit) -> set[Role]:
    """The roles `user` holds on `unit` or on one of its ancestors (authority flows down),
    from the user's active roles (read once per session: a page asks for each of its
    results' units)."""
    from service.org.scope import active_roles

    line = set(unit.ancestor_ids or [unit.id])
    return {a.role for a in active_roles(session, user) if a.unit_id in line}


def holds_any(session: Session, user: User, roles: Iterable[Role], unit: OrgUnit) -> bool:
    return bool(roles_over(session, user, unit) & set(roles))


def holds_within(session: Session, user: User, roles: Iterable[Role], unit: OrgUnit) -> bool:
    """True when `user` holds one of `roles` on `unit` or on a unit below it (a school of the
    network an allocation goes to)."""
    stmt = (
        select(RoleAssignment.id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.withdrawn_at.is_(None),
            RoleAssignment.role.in_(tuple(roles)),
            OrgUnit.path.startswith(unit.path),
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None


def holds_anywhere(session: Session, user: User, role: Role) -> bool:
    return (
        session.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.user_id == user.id,
                RoleAssignment.role == role,
                RoleAssignment.withdrawn_at.is_(None),
            )
        )
        is not None
    )


def needs_role(
    session: Session, user: User, roles: Iterable[Role], unit: OrgUnit, what: str
) -> Answer:
    """ALLOW when `user` holds one of `roles` over `unit`; otherwise a reason naming both."""
    roles = tuple(roles)
    if holds_any(session, user, roles, unit):
        return ALLOW
    names = " or ".join(role.value for role in roles)
    return deny(f"only a {names} of {unit.name_th} may {what}")


def inherited_limit(unit: OrgUnit) -> tuple[object, int]:
    """The approval limit and number of approvals in force for `unit`: its own, or the
    nearest ancestor's (walks up the loaded parents)."""
    node: OrgUnit | None = unit
    while node is not None:
        if node.approval_limit is not None:
            return node.approval_limit, node.approvals_required or 2
        node = node.parent
    return None, 1

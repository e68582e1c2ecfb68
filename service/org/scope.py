"""What a user may see: the subtrees of the units they hold roles in."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, User

# Roles whose holders see the whole tree: evaluators evaluate every unit, admins manage it.
TREE_WIDE = frozenset({Role.EVALUATOR, Role.ADMIN})


def active_roles(session: Session, user: User) -> list[RoleAssignment]:
    """The user's role assignments that are not withdrawn, with their units loaded."""
    stmt = (
        select(RoleAssignment)
        .where(RoleAssignment.user_id == user.id, RoleAssignment.withdrawn_at.is_(None))
        .order_by(RoleAssignment.id)
    )
    return list(session.scalars(stmt))


def role_names(session: Session, user: User) -> set[Role]:
    return {assignment.role for assignment in active_roles(session, user)}


def sees_everything(session: Session, user: User) -> bool:
    return bool(role_names(session, user) & TREE_WIDE)


def unit_filter(session: Session, user: User, unit: Any = OrgUnit) -> ColumnElement[bool]:
    """A SQL condition, true for rows of `unit` (OrgUnit or an alias of it) in the user's
    scope: the subtrees of their role units, or everything for tree-wide roles."""
    assignments = active_roles(session, user)
    if any(a.role in TREE_WIDE for a in assignments):
        return true()
    prefixes = sorted({a.unit.path for a in assignments})
    if not prefixes:
        return false()
    return or_(*(unit.path.startswith(prefix) for prefix in prefixes))


def units_in_scope(session: Session, user: User) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(unit_filter(session, user)).order_by(OrgUnit.path)
    return list(session.scalars(stmt))


def in_scope(session: Session, user: User, unit: OrgUnit) -> bool:
    """True when `unit` lies in the subtree of one of the user's role units."""
    for assignment in active_roles(session, user):
        if assignment.role in TREE_WIDE or unit.path.startswith(assignment.unit.path):
            return True
    return False


def principals_on(session: Session, delegate: User, day: date) -> list[User]:
    """Users `delegate` may act for on `day`."""
    stmt = (
        select(User)
        .join(Delegation, Delegation.principal_id == User.id)
        .where(
            Delegation.delegate_id == delegate.id,
            Delegation.withdrawn_at.is_(None),
            Delegation.starts_on <= day,
            Delegation.ends_on >= day,
        )
    )
    return list(session.scalars(stmt))

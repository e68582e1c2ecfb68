"""Set-based questions about the org tree: each unit's ancestors, and who holds a role on the
nearest unit at or above a given one. Both are subqueries to join, never loops in Python."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import CTE, Subquery, and_, func, literal, select
from sqlalchemy.orm import aliased

from service.org.models import OrgUnit, Role, RoleAssignment, UnitKind, User


def unit_ancestors(name: str = "unit_ancestor") -> CTE:
    """(unit_id, ancestor_id, distance) for every unit and each unit at or above it, the unit
    itself at distance 0. Walks parent_id (units × depth rows), which stays cheap on trees of
    thousands of units where a `path LIKE ancestor.path || '%'` join would compare every pair."""
    base = select(
        OrgUnit.id.label("unit_id"),
        OrgUnit.id.label("ancestor_id"),
        literal(0).label("distance"),
    ).cte(name, recursive=True)
    parent = aliased(OrgUnit)
    step = (
        select(base.c.unit_id, parent.parent_id, base.c.distance + 1)
        .join(parent, parent.id == base.c.ancestor_id)
        .where(parent.parent_id.is_not(None))
    )
    return base.union_all(step)


def nearest_role_holders(
    roles: Collection[Role],
    *,
    heads_only: bool = False,
    ancestor_kind: UnitKind | None = None,
    name: str = "holder",
) -> Subquery:
    """(unit_id, user_id): for every unit, the active users holding one of `roles` on the
    nearest unit at or above it that has such holders (optionally only heads of unit, or only
    on units of `ancestor_kind`). A unit with no such unit above it has no rows, so nobody
    outside the unit's own chain is ever chosen."""
    ancestors = unit_ancestors(f"{name}_ancestor")
    holders = (
        select(ancestors.c.unit_id, RoleAssignment.user_id, ancestors.c.distance)
        .select_from(ancestors)
        .join(RoleAssignment, RoleAssignment.unit_id == ancestors.c.ancestor_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.role.in_(list(roles)),
            RoleAssignment.withdrawn_at.is_(None),
            User.active.is_(True),
        )
    )
    if heads_only:
        holders = holders.where(RoleAssignment.is_head.is_(True))
    if ancestor_kind is not None:
        ancestor = aliased(OrgUnit)
        holders = holders.join(ancestor, ancestor.id == ancestors.c.ancestor_id).where(
            ancestor.kind == ancestor_kind
        )
    holders_cte = holders.cte(f"{name}_all")
    nearest = (
        select(holders_cte.c.unit_id, func.min(holders_cte.c.distance).label("distance"))
        .group_by(holders_cte.c.unit_id)
        .cte(f"{name}_nearest")
    )
    return (
        select(holders_cte.c.unit_id, holders_cte.c.user_id)
        .join(
            nearest,
            and_(
                nearest.c.unit_id == holders_cte.c.unit_id,
                nearest.c.distance == holders_cte.c.distance,
            ),
        )
        .distinct()
        .subquery(name)
    )

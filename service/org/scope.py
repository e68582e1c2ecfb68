"""What a user may see: the subtrees of the units they hold roles in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session, contains_eager, joinedload, object_session
from sqlalchemy.sql.elements import True_

from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, User

# Roles whose holders see the whole tree wherever they are granted: evaluators evaluate every
# unit. An admin sees the whole tree only when granted at a root unit (see `tree_wide`); an
# admin granted lower down sees and manages that unit's subtree.
TREE_WIDE = frozenset({Role.EVALUATOR})


_ROLES_KEY = "tidtam.active_roles"
_UNIT_IDS_KEY = "tidtam.unit_ids_in_scope"


def active_roles(session: Session, user: User) -> list[RoleAssignment]:
    """The user's role assignments that are not withdrawn, with their units loaded.

    Read once per session and user (a page asks five to ten times: the menu, the scope, each
    permission); forgotten when the session writes a role assignment, commits or rolls back."""
    known: dict[int, list[RoleAssignment]] = session.info.setdefault(_ROLES_KEY, {})
    found = known.get(user.id)
    if found is None:
        stmt = (
            select(RoleAssignment)
            .where(RoleAssignment.user_id == user.id, RoleAssignment.withdrawn_at.is_(None))
            .options(joinedload(RoleAssignment.unit))
            .order_by(RoleAssignment.id)
        )
        found = known[user.id] = list(session.scalars(stmt))
    return list(found)


def with_active_roles(stmt: Any) -> Any:
    """`stmt` (a select of `User` and whatever else, one row per user) with the user's active
    role assignments and their units joined on: one row per assignment, the assignment (or
    None) last. Hand the rows to `remember_roles`."""
    return (
        stmt.add_columns(RoleAssignment)
        .outerjoin(
            RoleAssignment,
            and_(RoleAssignment.user_id == User.id, RoleAssignment.withdrawn_at.is_(None)),
        )
        .outerjoin(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .options(contains_eager(RoleAssignment.unit))
        .order_by(RoleAssignment.id)
    )


def remember_roles(session: Session, user: User, assignments: Iterable[Any]) -> None:
    """Keep `assignments` (read by `with_active_roles`; None for a user without roles) as
    `active_roles` keeps what it reads."""
    known: dict[int, list[RoleAssignment]] = session.info.setdefault(_ROLES_KEY, {})
    known[user.id] = [assignment for assignment in assignments if assignment is not None]


def user_with_roles(session: Session, user_id: int) -> User | None:
    """The user and their active role assignments (with units) in one statement; the roles
    are kept as `active_roles` keeps them. The signed-in reader of every page is read so."""
    rows = session.execute(with_active_roles(select(User).where(User.id == user_id))).all()
    if not rows:
        return None
    user: User = rows[0][0]
    remember_roles(session, user, (row[-1] for row in rows))
    return user


def forget_cached_roles(session: Session, *_args: Any) -> None:
    """Session `after_commit` / `after_soft_rollback`: forget the roles and scope read."""
    session.info.pop(_ROLES_KEY, None)
    session.info.pop(_UNIT_IDS_KEY, None)


#: The models whose writes change a user's roles or scope.
ROLE_SOURCES = (RoleAssignment, OrgUnit, Delegation)


def forget_cached_roles_of_writer(_mapper: Any, _connection: Any, target: Any) -> None:
    """Mapper `after_insert` / `after_update` / `after_delete` of `ROLE_SOURCES`."""
    # Mapper events, not a scan of session.dirty after each flush: that walks the whole
    # identity map, which an importer's long session fills with tens of thousands of rows.
    session = object_session(target)
    if session is not None:
        forget_cached_roles(session)


def tree_wide(assignment: RoleAssignment) -> bool:
    """Whether `assignment` reaches the whole tree: an evaluator's anywhere, an admin's at a
    root unit (one without a parent)."""
    if assignment.role in TREE_WIDE:
        return True
    return assignment.role is Role.ADMIN and assignment.unit.parent_id is None


def role_names(session: Session, user: User) -> set[Role]:
    return {assignment.role for assignment in active_roles(session, user)}


def sees_everything(session: Session, user: User) -> bool:
    return any(tree_wide(a) for a in active_roles(session, user))


def unit_filter(session: Session, user: User, unit: Any = OrgUnit) -> ColumnElement[bool]:
    """A SQL condition, true for rows of `unit` (OrgUnit or an alias of it) in the user's
    scope: the subtrees of their role units, or everything for tree-wide roles."""
    assignments = active_roles(session, user)
    if any(tree_wide(a) for a in assignments):
        return true()
    prefixes = sorted({a.unit.path for a in assignments})
    if not prefixes:
        return false()
    return or_(*(unit.path.startswith(prefix) for prefix in prefixes))


def scope_roots(session: Session, user: User) -> list[int] | None:
    """The ids of the units at the top of the user's scope (their role units), None for
    tree-wide roles (the whole tree: its roots)."""
    assignments = active_roles(session, user)
    if any(tree_wide(a) for a in assignments):
        return None
    return sorted({a.unit_id for a in assignments})


def unit_ids_in_scope(session: Session, user: User) -> list[int] | None:
    """The ids of the units in the user's scope, None for tree-wide roles (everything).

    Lists filter with `IN (ids)` rather than a path-matching join: PostgreSQL then probes its
    unit indexes for tens of ids instead of testing every row. Read once per session and user,
    forgotten with the roles (above)."""
    known: dict[int, list[int] | None] = session.info.setdefault(_UNIT_IDS_KEY, {})
    if user.id not in known:
        scope = unit_filter(session, user)
        known[user.id] = (
            None
            if isinstance(scope, True_)
            else list(session.scalars(select(OrgUnit.id).where(scope)))
        )
    return known[user.id]


def in_scope(session: Session, user: User, unit: OrgUnit) -> bool:
    """True when `unit` lies in the subtree of one of the user's role units."""
    for assignment in active_roles(session, user):
        if tree_wide(assignment) or unit.path.startswith(assignment.unit.path):
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

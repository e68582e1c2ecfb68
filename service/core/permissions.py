"""Small predicates that answer yes or no with a reason, used by the engine, the API, the views
and the templates alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.translate import gettext as _
from service.org.models import OrgUnit, Role, RoleAssignment, User


@dataclass(frozen=True)
class Answer:
    """Yes, or no with a reason a person can act on. `lacks_role`: no only because the person
    holds none of the roles the action needs (nothing they could do about it), as opposed to
    no for now (a missing field, waiting for someone)."""

    ok: bool
    reason: str = ""
    lacks_role: bool = False

    def __bool__(self) -> bool:
        return self.ok


ALLOW = Answer(True)


def deny(reason: str) -> Answer:
    return Answer(False, reason)


def deny_role(reason: str) -> Answer:
    """No, because the person holds none of the roles the action needs: a page may leave such
    an action out rather than list, to a school, what only the district ever does."""
    return Answer(False, reason, lacks_role=True)


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
    """Whether `user` holds `role` on some unit, from the roles read once per session (a
    queue asked the database again for each of its 50 rows)."""
    from service.org.scope import role_names

    return role in role_names(session, user)


def needs_role(
    session: Session, user: User, roles: Iterable[Role], unit: OrgUnit, what: str
) -> Answer:
    """ALLOW when `user` holds one of `roles` over `unit`; otherwise a reason naming both.
    `what` is the action in the current language (``_("edit this plan")``)."""
    roles = tuple(roles)
    if holds_any(session, user, roles, unit):
        return ALLOW
    from service.core.labels import label

    names = _(" or ").join(label(role) for role in roles)
    return deny_role(
        _(
            "only a %(roles)s of %(unit)s may %(action)s",
            roles=names,
            unit=unit.name_th,
            action=what,
        )
    )


def inherited_limit(unit: OrgUnit) -> tuple[object, int]:
    """The approval limit and number of approvals in force for `unit`: its own, or the
    nearest ancestor's (walks up the loaded parents)."""
    node: OrgUnit | None = unit
    while node is not None:
        if node.approval_limit is not None:
            return node.approval_limit, node.approvals_required or 2
        node = node.parent
    return None, 1


# ---- administration ----------------------------------------------------------------------------
#
# Admin rights flow down from the unit where admin is granted, like every role's: an admin of a
# district manages that district's subtree (its units, their limits, the roles granted in
# them), never a unit beside or above it. The things of the whole tree (fiscal years, the
# strategy tree, reminder rules, failed notifications, rollups, API tokens, roles that reach
# the whole tree) belong to the admins of a root unit. Pages, the API and the operations all
# ask `administers`.


def administers(session: Session, user: User, unit: OrgUnit | None) -> bool:
    """Whether `user` holds admin on `unit` or on one of its ancestors; for `unit` None (the
    things of the whole tree), whether `user` holds admin on a root unit."""
    from service.org.scope import active_roles

    admin = [a for a in active_roles(session, user) if a.role is Role.ADMIN]
    if unit is None:
        return any(a.unit.parent_id is None for a in admin)
    line = set(unit.ancestor_ids or [unit.id])
    return any(a.unit_id in line for a in admin)


def is_admin_anywhere(session: Session, user: User) -> bool:
    """Admin somewhere: may open the administration, which shows what they administer."""
    from service.org.scope import role_names

    return Role.ADMIN in role_names(session, user)


def may_administer(session: Session, user: User, unit: OrgUnit | None, what: str) -> Answer:
    """`administers`, with a reason that names no unit (a unit out of reach is not named).
    `what` is the action in the current language (``_("change this unit")``)."""
    if administers(session, user, unit):
        return ALLOW
    if unit is None:
        return deny(_("only an admin of the whole organisation may %(action)s", action=what))
    return deny(_("only an admin of this unit or one above it may %(action)s", action=what))


def manages_user(session: Session, admin: User, user: User) -> bool:
    """Whether `admin` may manage `user`'s account (deactivate it, see its e-mail, set up its
    delegations): an admin of the whole tree always; another admin when every role `user`
    holds lies in a unit they administer (so nobody above or beside them, and nobody without
    a role: such an account may yet be anyone's)."""
    if administers(session, admin, None):
        return True
    held = [a for a in user.roles if a.withdrawn_at is None]
    return bool(held) and all(administers(session, admin, a.unit) for a in held)


def may_grant(session: Session, admin: User, role: Role, unit: OrgUnit) -> Answer:
    """Whether `admin` may grant (or withdraw) `role` at `unit`: an admin of `unit`, and for a
    role that reaches the whole tree (an evaluator's, an admin's at a root) an admin of the
    whole tree."""
    from service.core.labels import label
    from service.org.scope import TREE_WIDE

    reaches_everything = role in TREE_WIDE or (role is Role.ADMIN and unit.parent_id is None)
    return may_administer(
        session,
        admin,
        None if reaches_everything else unit,
        _("grant the %(role)s role there", role=label(role)),
    )

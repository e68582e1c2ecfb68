"""Every administration change, one operation each, whichever door it comes through (the
/admin pages, the API, the command line): org units and their approval rules, accounts,
roles, fiscal years, the strategy tree, reminder rules and API tokens. Delegations have
theirs in service.org.operations.

Each operation checks the actor may (service.core.permissions: `administers`, `may_grant`,
`manages_user`), validates, mutates, flushes and records one audit row whose `changes` hold
`[before, after]` for each field it changed (`None` before a creation), so the row is the same
from every door. It never commits: the request (or command) commits once. Refusals are
Refused(403/404/409/422) with the fields named.

service.org.operations keeps the bare building steps (create_unit, create_user, grant_role)
the demo loader and the data generator use without an actor."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.auth.models import ApiToken
from service.core.db import utcnow
from service.core.fiscal import fiscal_year_bounds
from service.core.labels import field_label, label, object_type_label
from service.core.permissions import (
    Answer,
    administers,
    is_admin_anywhere,
    manages_user,
    may_administer,
    may_grant,
)
from service.core.thai import normalize_thai, read_code
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org import operations as org_ops
from service.org.models import OrgUnit, Role, RoleAssignment, UnitKind, User
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused

#: The largest approval limit NUMERIC(14, 2) holds.
LIMIT_MAX = Decimal("999999999999.99")
SATANG = Decimal("0.01")


def require(answer: Answer) -> None:
    """Raises Refused(403) with the answer's reason unless it allows."""
    if not answer:
        raise Refused(403, answer.reason)


def require_admin(session: Session, actor: User, unit: OrgUnit | None = None) -> None:
    """Raises Refused(403) unless `actor` administers `unit` (None: the whole tree)."""
    require(may_administer(session, actor, unit, _("do this")))


def changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for each field of `after` whose value differs from `before`
    (a field missing from `before` was None): the audit shape every operation here writes."""
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if before.get(field) != value
    }


def _update(
    session: Session, actor: User, target: Any, after: dict[str, Any], *, action: str, kind: str
) -> None:
    """Set on `target` each field of `after` that differs, flush, and record one audit row
    `action` on object type `kind` with `[before, after]` per changed field; nothing changed
    records nothing. The one shape of every admin update."""
    diff = changed({field: getattr(target, field) for field in after}, after)
    if not diff:
        return
    for field, (_old, new) in diff.items():
        setattr(target, field, new)
    session.flush()
    record(
        session,
        action=action,
        object_type=kind,
        object_id=target.id,
        actor=actor,
        changes=diff,
    )


def _text(value: str, field: str, longest: int, *, required: bool = True) -> str:
    """`value` normalised, or Refused(422) naming `field` when missing or too long."""
    value = normalize_thai(value or "")
    if required and not value:
        raise Refused(
            422,
            _("%(field)s is required", field=field_label(field)),
            fields={field: _("is required")},
        )
    if len(value) > longest:
        raise Refused(
            422,
            _("%(field)s is longer than %(count)s", field=field_label(field), count=longest),
            fields={field: _("at most %(count)s characters", count=longest)},
        )
    return value


def _named_unit(session: Session, actor: User, unit: OrgUnit, field: str) -> None:
    """Raises Refused(422) naming `field` unless `actor` administers `unit`, named in the
    input, and it is not withdrawn: a unit out of their reach is answered as one that does
    not exist (its existence is not told)."""
    if unit.withdrawn_at is not None or not administers(session, actor, unit):
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("org_unit"), id=unit.id),
            fields={field: _("no such unit")},
        )


def _admins_only(session: Session, actor: User, what: str) -> None:
    """Raises Refused(403) unless `actor` is an admin of some unit (asked before anything
    named in the input is looked at, so a non-admin learns nothing of it)."""
    if not is_admin_anywhere(session, actor):
        raise Refused(403, _("only an admin may %(action)s", action=what))


# ---- org units ---------------------------------------------------------------------------------


#: The kinds of unit that stand directly under each kind: the administration over its district
#: offices and departments (the evaluators' สำนักยุทธศาสตร์และประเมินผล is one), a division
#: under either, then school networks and their schools. Scopes, budgets and dashboards read
#: a unit's place from its kind; a district office under a network would be counted twice.
CHILD_KINDS: dict[UnitKind, tuple[UnitKind, ...]] = {
    UnitKind.ADMINISTRATION: (UnitKind.DISTRICT_OFFICE, UnitKind.DEPARTMENT),
    UnitKind.DISTRICT_OFFICE: (UnitKind.DIVISION,),
    UnitKind.DEPARTMENT: (UnitKind.DIVISION,),
    UnitKind.DIVISION: (UnitKind.SCHOOL_NETWORK,),
    UnitKind.SCHOOL_NETWORK: (UnitKind.SCHOOL,),
    UnitKind.SCHOOL: (),
}

#: A unit's code: ASCII digits, as read_code writes Thai and full-width ones.
_DIGITS = re.compile(r"[0-9]+")


def create_unit(
    session: Session,
    actor: User,
    *,
    code: str,
    name_th: str,
    kind: UnitKind,
    parent: OrgUnit | None,
    name_en: str = "",
) -> OrgUnit:
    """A unit under `parent` (None: the root, for admins of the whole tree while it has
    none). Raises Refused(403) unless `actor` is an admin, Refused(422) for a parent they do
    not administer, a missing parent, a kind that does not stand under the parent's (see
    `CHILD_KINDS`), a second root, or a missing, too long, not all-digit or taken code or
    name."""
    _admins_only(session, actor, _("change the org tree"))
    # what was typed first, then where the unit would stand
    code = _text(code, "code", 32)
    if _DIGITS.fullmatch(read_code(code)) is None:
        raise Refused(
            422,
            _("a unit's code is digits only, e.g. 50230000"),
            fields={"code": _("digits only")},
        )
    name_th = _text(name_th, "name_th", 255)
    name_en = _text(name_en, "name_en", 255, required=False)
    if parent is not None:
        _named_unit(session, actor, parent, "parent_id")
        if parent.kind is UnitKind.SCHOOL:
            # the tree ends at the schools: a unit under one would sit in no district's work
            raise Refused(
                422,
                _("a school has no units under it: choose its network or division"),
                fields={"parent_id": _("a school has no units under it")},
            )
        if kind not in CHILD_KINDS[parent.kind]:
            kinds = _(" or ").join(label(k) for k in CHILD_KINDS[parent.kind])
            raise Refused(
                422,
                _("a unit under %(parent)s is a %(kinds)s", parent=parent.name_th, kinds=kinds),
                fields={
                    "kind": _(
                        "under a %(parent)s: %(kinds)s", parent=label(parent.kind), kinds=kinds
                    )
                },
            )
    elif not administers(session, actor, None):
        raise Refused(422, _("give the parent unit"), fields={"parent_id": _("is required")})
    elif session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1)) is not None:
        raise Refused(
            422,
            _("the org tree has its top unit already: give the parent unit"),
            fields={"parent_id": _("is required")},
        )
    elif kind is not UnitKind.ADMINISTRATION:
        raise Refused(
            422,
            _("the top of the org tree is the administration"),
            fields={"kind": _("choose %(kind)s", kind=label(UnitKind.ADMINISTRATION))},
        )
    try:
        unit = org_ops.create_unit(
            session, code=code, name_th=name_th, name_en=name_en, kind=kind, parent=parent
        )
    except org_ops.OrgError as problem:
        raise Refused(422, str(problem), fields={"code": _("taken")}) from None
    record(
        session,
        action="unit.create",
        object_type="org_unit",
        object_id=unit.id,
        actor=actor,
        changes=changed(
            {},
            {
                "code": unit.code,
                "name_th": unit.name_th,
                "name_en": unit.name_en,
                "kind": kind.value,
                "parent_id": parent.id if parent else None,
            },
        ),
    )
    return unit


#: What update_unit changes.
UNIT_FIELDS = ("name_th", "name_en", "approval_limit", "approvals_required")


def approval_limit(value: Decimal | str | None) -> Decimal | None:
    """`value` as baht to the satang (None: the parent's limit applies). Raises Refused(422)
    for what is not a number, is negative, or does not fit the column."""
    if value is None or value == "":
        return None
    try:
        limit = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise Refused(
            422, _("the limit must be a number"), fields={"approval_limit": _("must be a number")}
        ) from None
    if not limit.is_finite() or limit < 0 or limit > LIMIT_MAX:
        raise Refused(
            422,
            _("the limit must be a number from 0 to 999,999,999,999.99"),
            fields={"approval_limit": _("must lie in 0 to 999,999,999,999.99")},
        )
    return limit.quantize(SATANG)


def update_unit(session: Session, actor: User, unit: OrgUnit, **changes: Any) -> OrgUnit:
    """Rename `unit` and/or set its approval rules: `approval_limit` (the officer's limit; None:
    the parent's applies) and `approvals_required` above it (1 to 5; None: the parent's).
    Only the fields given change; nothing changed records nothing. Raises Refused(403)
    unless `actor` administers `unit`, Refused(422) for a bad value."""
    require(may_administer(session, actor, unit, _("change this unit")))
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise TypeError(f"update_unit does not change {sorted(unknown)}")
    after: dict[str, Any] = {}
    if "name_th" in changes:
        after["name_th"] = _text(changes["name_th"], "name_th", 255)
    if "name_en" in changes:
        after["name_en"] = _text(changes["name_en"], "name_en", 255, required=False)
    if "approval_limit" in changes:
        after["approval_limit"] = approval_limit(changes["approval_limit"])
    if "approvals_required" in changes:
        required = changes["approvals_required"]
        if required is not None and not 1 <= required <= 5:
            raise Refused(
                422,
                _("approvals must be 1 to 5"),
                fields={"approvals_required": _("must be 1 to 5")},
            )
        after["approvals_required"] = required
    _update(session, actor, unit, after, action="unit.update", kind="org_unit")
    return unit


# ---- accounts ----------------------------------------------------------------------------------


def create_user(
    session: Session, actor: User, *, email: str, name: str, password: str, language: str = "th"
) -> User:
    """An account holding no role yet. Raises Refused(403) unless `actor` is an admin,
    Refused(422) for a malformed or taken email, a password the policy refuses
    (service.auth.passwords) or an unknown language."""
    if not is_admin_anywhere(session, actor):
        raise Refused(403, _("only an admin may %(action)s", action=_("create accounts")))
    from service.auth.passwords import problems

    # Every field's problem at once: a form that names one at a time costs a round per field.
    reasons: list[str] = []
    fields: dict[str, str] = {}

    def refuse(field: str, reason: str, detail: str) -> None:
        reasons.append(reason)
        fields[field] = detail

    try:
        name = _text(name, "name", 255)
    except Refused as refused:
        refuse("name", refused.reason, refused.fields["name"])
    if not (email or "").strip():
        # not "'' is not an email address": nothing was typed
        refuse(
            "email",
            _("%(field)s is required", field=field_label("email")),
            _("is required"),
        )
    elif len(email or "") > 255:
        refuse(
            "email",
            _("%(field)s is longer than %(count)s", field=field_label("email"), count=255),
            _("at most %(count)s characters", count=255),
        )
    elif wrong := org_ops.email_problem(session, (email or "").strip().lower()):
        refuse("email", wrong, wrong)
    if len(password or "") > 200:
        refuse(
            "password",
            _("%(field)s is longer than %(count)s", field=field_label("password"), count=200),
            _("at most %(count)s characters", count=200),
        )
    elif weak := problems(password or "", name=name, email=email or ""):
        refuse("password", weak[0], " ".join(weak))
    if reasons:
        raise Refused(422, "; ".join(reasons), fields=fields)
    try:
        user = org_ops.create_user(
            session, email=email, name=name, password=password, language=language
        )
    except org_ops.OrgError as problem:
        # The form shows the problem beside the field it is about (the email, mostly).
        fields = {problem.field: str(problem)} if problem.field else {}
        raise Refused(422, str(problem), fields=fields) from None
    record(
        session,
        action="user.create",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes=changed({}, {"email": user.email, "name": user.name, "language": user.language}),
    )
    return user


def deactivate_user(session: Session, actor: User, user: User) -> User:
    """Deactivate `user`: their sessions and tokens stop working at once. Raises
    Refused(403) unless `actor` manages the account, Refused(409) for one's own, for an
    account already deactivated (a second press, a page left open: nothing is changed or
    recorded, and no door reports it done again) and for the last active account holding an
    admin role at a root (`LAST_ADMIN`)."""
    if not manages_user(session, actor, user):
        _admins_only(session, actor, _("deactivate accounts"))
        raise Refused(403, _("only an admin who manages the account may deactivate it"))
    if user.id == actor.id:
        raise Refused(409, _("you cannot deactivate your own account"))
    if administers(session, user, None):
        _lock_the_whole_tree_admins(session)
        session.refresh(user)  # another admin may have deactivated them while we waited
    if not user.active:
        raise Refused(
            409,
            _(
                "the account of %(name)s (%(email)s) was already deactivated: nothing changed",
                name=user.name,
                email=user.email,
            ),
            state="inactive",
        )
    if administers(session, user, None) and not _whole_tree_admins_remain(
        session, apart_from_user=user
    ):
        raise Refused(409, str(LAST_ADMIN))
    user.active = False
    user.session_version += 1
    session.flush()
    from service.auth import operations as auth_ops

    # The generation moving on already shuts every session out; the rows are stamped ended
    # too, or the person's sign-in page listed them as open, with a button to end them.
    ended = auth_ops.end_sessions(session, user)
    record(
        session,
        action="user.deactivate",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"active": [True, False], "sessions_ended": ended},
    )
    return user


def reactivate_user(session: Session, actor: User, user: User) -> User:
    """Let a deactivated account sign in again, with a fresh start: whatever was open before
    stays dead (its sessions are ended and the session generation moves on, its API tokens
    are revoked), so a cookie or a token kept from before opens nothing. Raises Refused(403)
    unless `actor` manages the account, Refused(409) for an account that is active (a second
    press, a page left open: nothing is changed or recorded)."""
    from service.auth import operations as auth_ops

    if not manages_user(session, actor, user):
        _admins_only(session, actor, _("reactivate accounts"))
        raise Refused(403, _("only an admin who manages the account may reactivate it"))
    if user.active:
        raise Refused(
            409,
            _(
                "the account of %(name)s (%(email)s) is active already: nothing changed",
                name=user.name,
                email=user.email,
            ),
            state="active",
        )
    user.active = True
    user.session_version += 1
    session.flush()
    ended = auth_ops.end_sessions(session, user)
    revoked: Any = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        action="user.reactivate",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={
            "active": [False, True],
            "sessions_ended": ended,
            "tokens_revoked": int(revoked.rowcount or 0),
        },
    )
    return user


#: What update_user changes.
USER_FIELDS = ("name", "language", "phone")


def update_user(session: Session, actor: User, user: User, **changes: Any) -> User:
    """Change `user`'s name, language or phone (only the fields given; nothing changed
    records nothing). Raises Refused(403) unless `actor` manages the account, Refused(422)
    for a missing or too long name, an unknown language or a too long phone."""
    _admins_only(session, actor, _("change accounts"))
    if not manages_user(session, actor, user):
        raise Refused(403, _("only an admin who manages the account may change it"))
    unknown = set(changes) - set(USER_FIELDS)
    if unknown:
        raise TypeError(f"update_user does not change {sorted(unknown)}")
    after: dict[str, Any] = {}
    if "name" in changes:
        after["name"] = _text(changes["name"], "name", 255)
    if "language" in changes:
        if changes["language"] not in ("th", "en"):
            raise Refused(422, _("choose th or en"), fields={"language": _("choose th or en")})
        after["language"] = changes["language"]
    if "phone" in changes:
        after["phone"] = _text(changes["phone"], "phone", 64, required=False)
    _update(session, actor, user, after, action="user.update", kind="user")
    return user


def _managed(session: Session, actor: User, user: User, what: str) -> None:
    _admins_only(session, actor, what)
    if not manages_user(session, actor, user):
        raise Refused(403, _("only an admin who manages the account may change it"))


def set_temporary_password(session: Session, actor: User, user: User, password: str) -> User:
    """Give `user` a temporary password they must change at their next sign-in; every
    session of theirs ends. Raises Refused(403) unless `actor` manages the account,
    Refused(422) naming `password` when it fails the policy (service.auth.passwords)."""
    from service.auth import operations as auth_ops
    from service.auth.passwords import problems

    _managed(session, actor, user, _("set passwords"))
    found = problems(password or "", name=user.name, email=user.email)
    if found:
        raise Refused(422, found[0], fields={"password": " ".join(found)})
    ended = auth_ops.set_password(session, user, password, must_change=True, keep=None)
    record(
        session,
        action="user.password_set",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"password_must_change": [False, True], "sessions_ended": ended},
    )
    return user


def end_all_sessions(session: Session, actor: User, user: User) -> int:
    """End every session of `user` (a lost laptop, someone leaving); how many ended.
    Raises Refused(403) unless `actor` is `user` or manages the account."""
    from service.auth import operations as auth_ops

    if actor.id != user.id:
        _managed(session, actor, user, _("end sessions"))
    ended = auth_ops.end_sessions(session, user)
    record(
        session,
        action="user.sessions_end",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"sessions_ended": ended},
    )
    return ended


def reset_second_factor(session: Session, actor: User, user: User) -> User:
    """Forget `user`'s TOTP secret and recovery codes (a lost phone): they enrol again at
    their next sign-in if their role requires it. Raises Refused(403) unless `actor`
    manages the account, Refused(409) for one's own (that is the account page's to do)."""
    from service.auth import operations as auth_ops

    _managed(session, actor, user, _("reset second factors"))
    if user.id == actor.id:
        raise Refused(409, _("another admin must reset your own second factor"))
    had = user.totp_secret is not None
    auth_ops.clear_second_factor(session, user)
    auth_ops.end_sessions(session, user)
    record(
        session,
        action="user.totp_reset",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"second_factor": [had, False]},
    )
    return user


def link_sso_identity(session: Session, actor: User, user: User, identity: str) -> User:
    """Link `user` to the identity provider's name for them (the OIDC_IDENTITY_CLAIM value,
    such as a citizen id); empty unlinks. Raises Refused(403) unless `actor` manages the
    account, Refused(409) when another account holds that identity."""
    _managed(session, actor, user, _("link single sign-on"))
    linked = _text(identity or "", "sso_identity", 255, required=False) or None
    if linked is not None:
        holder = session.scalar(select(User).where(User.sso_identity == linked))
        if holder is not None and holder.id != user.id:
            raise Refused(
                409,
                _("another account is linked to this identity"),
                fields={"sso_identity": _("another account is linked to this identity")},
            )
    _update(session, actor, user, {"sso_identity": linked}, action="user.sso_link", kind="user")
    return user


# ---- roles -------------------------------------------------------------------------------------

#: pg_advisory_xact_lock key serialising the changes that take an admin of the whole tree away
#: (withdrawing an admin role at a root unit, deactivating an account holding one).
WHOLE_TREE_ADMINS_LOCK = 2566_0004

#: Why the last admin of the whole tree keeps their role and their account (409).
LAST_ADMIN = _l(
    "this would leave no active account that administers the whole organisation, and nobody "
    "could grant roles, reactivate accounts or open the administration any more: first grant "
    "the admin role at the top unit to another active account"
)


def _lock_the_whole_tree_admins(session: Session) -> None:
    """Wait for any other transaction taking an admin of the whole tree away, until it
    commits or rolls back (PostgreSQL; SQLite serialises its writers as they begin). Without
    it two admins withdrawing each other's roles at once each saw the other's still standing,
    and both went. Transaction-scoped, so it works through PgBouncer."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(WHOLE_TREE_ADMINS_LOCK)))


def _administers_the_whole_tree(assignment: RoleAssignment) -> bool:
    """An admin role at a root unit, standing, held by an active account: one of those that
    keep the system administered (service.core.permissions.administers with unit None)."""
    return (
        assignment.role is Role.ADMIN
        and assignment.unit.parent_id is None
        and assignment.withdrawn_at is None
        and assignment.user.active
    )


def _whole_tree_admins_remain(
    session: Session,
    *,
    apart_from_user: User | None = None,
    apart_from: RoleAssignment | None = None,
) -> bool:
    """Whether an active account holds a standing admin role at a root unit, leaving out
    `apart_from_user`'s roles and the role `apart_from`. Read from the database, not from
    what this session holds: after `_lock_the_whole_tree_admins` it sees what the others
    committed. An admin role granted lower down does not count: it reaches no fiscal year,
    reminder rule or account above its subtree."""
    stmt = (
        select(RoleAssignment.id)
        .join(User, User.id == RoleAssignment.user_id)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .where(
            RoleAssignment.role == Role.ADMIN,
            RoleAssignment.withdrawn_at.is_(None),
            OrgUnit.parent_id.is_(None),
            User.active.is_(True),
        )
    )
    if apart_from_user is not None:
        stmt = stmt.where(RoleAssignment.user_id != apart_from_user.id)
    if apart_from is not None:
        stmt = stmt.where(RoleAssignment.id != apart_from.id)
    return session.scalar(stmt.limit(1)) is not None


def leaves_no_whole_tree_admin(session: Session, assignment: RoleAssignment) -> bool:
    """Whether withdrawing `assignment` would leave no active account administering the
    whole tree (the confirmation page says so before the button is pressed)."""
    return _administers_the_whole_tree(assignment) and not _whole_tree_admins_remain(
        session, apart_from=assignment
    )


def grant_role(
    session: Session, actor: User, user: User, role: Role, unit: OrgUnit, *, is_head: bool = False
) -> RoleAssignment:
    """Give `user` `role` in `unit` (a withdrawn one is given back); granting a role held
    already changes and records nothing. Recorded on the user. Raises Refused(403) unless
    `actor` may grant it there (service.core.permissions.may_grant), Refused(422) for a unit
    they do not administer."""
    _admins_only(session, actor, _("grant roles"))
    _named_unit(session, actor, unit, "unit_id")
    require(may_grant(session, actor, role, unit))
    _fits_the_unit(role, unit)
    held = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.unit_id == unit.id,
        )
    )
    if held is not None and held.withdrawn_at is None:
        return held
    assignment = org_ops.grant_role(session, user, role, unit, is_head=is_head)
    record(
        session,
        action="role.grant",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"role": role.value, "unit_id": unit.id, "active": [False, True]},
    )
    return assignment


def _fits_the_unit(role: Role, unit: OrgUnit) -> None:
    """Refused(422) for a role the unit's kind cannot hold: a school's role is held at a
    school or its network (at a district office it reached every school's results), and an
    officer's or approver's above the schools."""
    if role is Role.SCHOOL and unit.kind not in (UnitKind.SCHOOL, UnitKind.SCHOOL_NETWORK):
        problem = _("a school's role is held at a school or its network")
    elif role in (Role.OFFICER, Role.APPROVER) and unit.kind is UnitKind.SCHOOL:
        problem = _("an officer's or approver's role is held above the schools")
    else:
        return
    raise Refused(422, problem, fields={"unit_id": problem})


def withdraw_role(session: Session, actor: User, assignment: RoleAssignment) -> RoleAssignment:
    """End a role assignment (kept, stamped withdrawn); withdrawing twice changes nothing.
    Recorded on the user. Raises Refused(403) unless `actor` may grant that role there,
    Refused(409) when it is the last admin role at a root held by an active account
    (`leaves_no_whole_tree_admin`)."""
    _admins_only(session, actor, _("withdraw roles"))
    require(may_grant(session, actor, assignment.role, assignment.unit))
    if assignment.withdrawn_at is not None:
        return assignment
    if _administers_the_whole_tree(assignment):
        _lock_the_whole_tree_admins(session)
        session.refresh(assignment)  # another admin may have withdrawn it while we waited
        if assignment.withdrawn_at is not None:
            return assignment
        if leaves_no_whole_tree_admin(session, assignment):
            raise Refused(409, str(LAST_ADMIN))
    assignment.withdrawn_at = utcnow()
    session.flush()  # the flush also forgets the roles read so far (service.org.scope)
    record(
        session,
        action="role.withdraw",
        object_type="user",
        object_id=assignment.user_id,
        actor=actor,
        changes={
            "role": assignment.role.value,
            "unit_id": assignment.unit_id,
            "active": [True, False],
        },
    )
    return assignment


# ---- fiscal years ------------------------------------------------------------------------------


def create_fiscal_year(session: Session, actor: User, be_year: int) -> FiscalYear:
    """Fiscal year `be_year` (1 October to 30 September), open. Raises Refused(403) unless
    `actor` administers the whole tree, Refused(409) when it exists, Refused(422) for a year
    outside 2400..2700."""
    require(may_administer(session, actor, None, _("add fiscal years")))
    if not 2400 <= be_year <= 2700:
        raise Refused(
            422,
            _("a Buddhist Era year such as 2568"),
            fields={"be_year": _("must lie in 2400–2700")},
        )
    if session.scalar(select(FiscalYear.id).where(FiscalYear.be_year == be_year)) is not None:
        raise Refused(
            409, _("fiscal year %(year)s exists", year=be_year), fields={"be_year": _("exists")}
        )
    starts_on, ends_on = fiscal_year_bounds(be_year)
    year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
    session.add(year)
    session.flush()
    record(
        session,
        action="fiscal_year.create",
        object_type="fiscal_year",
        object_id=year.id,
        actor=actor,
        changes=changed({}, {"be_year": be_year, "is_open": True}),
    )
    return year


def set_year_open(session: Session, actor: User, year: FiscalYear, is_open: bool) -> FiscalYear:
    """Open or close `year`; asking for what it is already changes nothing. Raises
    Refused(403) unless `actor` administers the whole tree."""
    require(may_administer(session, actor, None, _("open or close fiscal years")))
    if year.is_open == is_open:
        return year
    year.is_open = is_open
    session.flush()
    record(
        session,
        action="fiscal_year.open" if is_open else "fiscal_year.close",
        object_type="fiscal_year",
        object_id=year.id,
        actor=actor,
        changes={"is_open": [not is_open, is_open]},
    )
    return year


# ---- strategy tree -----------------------------------------------------------------------------


#: The longest name of a strategy node: a heading of the plan, not a text.
STRATEGY_NAME_MAX = 500

#: A strategy code's part: ASCII digits (Thai digits are read as these first).
_NUMBER = re.compile(r"[0-9]+")


def _numbered_below(code: str, parent_code: str) -> bool:
    """Whether `code` is `parent_code` and one more dot-separated number ("7.2" under "7"),
    as the plan numbers its strategies: a code says where its node stands in the tree."""
    head, dot, last = code.rpartition(".")
    return bool(dot) and head == parent_code and _NUMBER.fullmatch(last) is not None


def _strategy_name_problems(name: str) -> dict[str, str]:
    if not name:
        return {"name": _("is required")}
    if len(name) > STRATEGY_NAME_MAX:
        return {"name": _("at most %(count)s characters", count=STRATEGY_NAME_MAX)}
    return {}


def create_strategy_node(
    session: Session, actor: User, code: str, name: str, parent: StrategyNode | None
) -> StrategyNode:
    """A node of the strategy tree, its code written with Arabic digits ("7.2.2.2").
    Raises Refused(403) unless `actor` administers the whole tree, Refused(422) for a
    missing code or name, a code that is not its parent's and one more number (a top-level
    code is a number), a name too long or a ninth level, Refused(409) for a taken code."""
    require(may_administer(session, actor, None, _("change the strategy tree")))
    from service.core.thai import to_arabic_digits

    code = to_arabic_digits(normalize_thai(code or ""))
    name = normalize_thai(name or "")
    problems = {}
    if not code:
        problems["code"] = _("is required")
    elif len(code) > 32:
        problems["code"] = _("at most %(count)s characters", count=32)
    elif parent is None and _NUMBER.fullmatch(code) is None:
        problems["code"] = _("a top-level code is a number, e.g. 7")
    elif parent is not None and not _numbered_below(code, parent.code):
        problems["code"] = _(
            "must be %(parent)s and one more number, e.g. %(example)s",
            parent=parent.code,
            example=f"{parent.code}.1",
        )
    problems.update(_strategy_name_problems(name))
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    level = parent.level + 1 if parent else 1
    if level > 8:
        raise Refused(
            422,
            _("the strategy tree is at most 8 levels deep"),
            fields={"parent_id": _("too deep")},
        )
    if session.scalar(select(StrategyNode.id).where(StrategyNode.code == code)) is not None:
        raise Refused(
            409, _("strategy code %(code)s is taken", code=code), fields={"code": _("taken")}
        )
    node = StrategyNode(code=code, name=name, level=level, parent=parent)
    session.add(node)
    session.flush()
    record(
        session,
        action="strategy.create",
        object_type="strategy_node",
        object_id=node.id,
        actor=actor,
        changes=changed(
            {}, {"code": code, "name": name, "parent_id": parent.id if parent else None}
        ),
    )
    return node


def update_strategy_node(
    session: Session, actor: User, node: StrategyNode, *, name: str
) -> StrategyNode:
    """Rename a node of the strategy tree (its code, which projects are filed under, stays).
    Renaming to the same name records nothing. Raises Refused(403) unless `actor`
    administers the whole tree, Refused(422) for a missing name or one too long."""
    require(may_administer(session, actor, None, _("change the strategy tree")))
    name = normalize_thai(name or "")
    problems = _strategy_name_problems(name)
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    _update(session, actor, node, {"name": name}, action="strategy.update", kind="strategy_node")
    return node


# ---- reminder rules ----------------------------------------------------------------------------


def create_reminder_rule(
    session: Session,
    actor: User,
    *,
    kind: ReminderKind,
    name: str,
    offset_days: int,
    repeat_days: int | None,
    escalate_after_days: int | None,
) -> ReminderRule:
    """A reminder rule, active. Raises Refused(403) unless `actor` administers the whole
    tree, Refused(422) for a missing name or days out of bounds (`check_rule`)."""
    require(may_administer(session, actor, None, _("change reminder rules")))
    check_rule(name, offset_days, repeat_days, escalate_after_days)
    _refuse_duplicate_rule(session, kind, offset_days)
    rule = ReminderRule(
        kind=kind,
        name=_text(name, "name", 255),
        offset_days=offset_days,
        repeat_days=repeat_days,
        escalate_after_days=escalate_after_days,
        active=True,
    )
    session.add(rule)
    session.flush()
    record(
        session,
        action="reminder_rule.create",
        object_type="reminder_rule",
        object_id=rule.id,
        actor=actor,
        changes=changed(
            {},
            {
                "kind": kind.value,
                "name": rule.name,
                "offset_days": offset_days,
                "repeat_days": repeat_days,
                "escalate_after_days": escalate_after_days,
                "active": True,
            },
        ),
    )
    return rule


#: The furthest a reminder rule counts from its anchor, in days, either way: a year (a leap
#: one). Every anchor is a due day, a submission or the end of a month or quarter; a reminder
#: a year before or after it, or repeating less often than yearly, is a typing slip (-99999
#: was saved, and fired for nothing ever).
RULE_DAYS_MAX = 366


def check_rule(
    name: str, offset_days: int | None, repeat_days: int | None, escalate_after_days: int | None
) -> None:
    """Raises Refused(422) naming every field of a reminder rule that makes no sense, at
    once (None: not given, or not read). What the deadline engine (service.deadlines.engine)
    does with them sets the bounds: the rule first fires `offset_days` from the anchor
    (-366..366), then every `repeat_days` (1..366, or never); the head is told from
    `escalate_after_days` after the anchor (0..366, or never), but only about what is
    already being reminded of (an escalation day before the first reminder would in fact be
    the first reminder's), and a rule firing once before the anchor stops on the anchor day,
    so it never escalates after it."""
    problems = {}
    if not normalize_thai(name or ""):
        problems["name"] = _("is required")
    if offset_days is not None and not -RULE_DAYS_MAX <= offset_days <= RULE_DAYS_MAX:
        problems["offset_days"] = _(
            "from %(low)s to %(high)s days", low=-RULE_DAYS_MAX, high=RULE_DAYS_MAX
        )
    if repeat_days is not None and not 1 <= repeat_days <= RULE_DAYS_MAX:
        problems["repeat_days"] = _(
            "from %(low)s to %(high)s days, or empty", low=1, high=RULE_DAYS_MAX
        )
    if escalate_after_days is not None:
        if not 0 <= escalate_after_days <= RULE_DAYS_MAX:
            problems["escalate_after_days"] = _(
                "from %(low)s to %(high)s days, or empty", low=0, high=RULE_DAYS_MAX
            )
        elif offset_days is not None and "offset_days" not in problems:
            if escalate_after_days < offset_days:
                problems["escalate_after_days"] = _(
                    "not before the first reminder (day %(day)s)", day=offset_days
                )
            elif repeat_days is None and offset_days < 0 < escalate_after_days:
                problems["escalate_after_days"] = _(
                    "never reached: a reminder before the due day without a repeat stops on "
                    "the due day (give a repeat, or 0)"
                )
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)


def _refuse_duplicate_rule(
    session: Session, kind: ReminderKind, offset_days: int, *, other_than: int | None = None
) -> None:
    """Refused(422) when an active rule of `kind` fires `offset_days` after the anchor
    already: it would send every alert twice (the database refuses it too)."""
    same = select(ReminderRule.id).where(
        ReminderRule.kind == kind,
        ReminderRule.offset_days == offset_days,
        ReminderRule.active.is_(True),
    )
    if other_than is not None:
        same = same.where(ReminderRule.id != other_than)
    if session.scalar(same.limit(1)) is not None:
        reason = _(
            "an active reminder rule of this kind already fires %(days)s days from the due "
            "day: it would send every alert twice",
            days=offset_days,
        )
        raise Refused(422, reason, fields={"offset_days": reason})


def update_reminder_rule(
    session: Session,
    actor: User,
    rule: ReminderRule,
    *,
    name: str,
    offset_days: int,
    repeat_days: int | None,
    escalate_after_days: int | None,
) -> ReminderRule:
    """Change a reminder rule's name and days (its kind stays; pausing is set_rule_active).
    Nothing changed records nothing. Raises as create_reminder_rule does."""
    require(may_administer(session, actor, None, _("change reminder rules")))
    check_rule(name, offset_days, repeat_days, escalate_after_days)
    if rule.active:
        _refuse_duplicate_rule(session, rule.kind, offset_days, other_than=rule.id)
    after = {
        "name": _text(name, "name", 255),
        "offset_days": offset_days,
        "repeat_days": repeat_days,
        "escalate_after_days": escalate_after_days,
    }
    _update(session, actor, rule, after, action="reminder_rule.update", kind="reminder_rule")
    return rule


def set_rule_active(
    session: Session, actor: User, rule: ReminderRule, active: bool
) -> ReminderRule:
    """Resume (`active`) or pause a reminder rule; asking for what it is changes nothing.
    Raises Refused(403) unless `actor` administers the whole tree."""
    require(may_administer(session, actor, None, _("change reminder rules")))
    if rule.active == active:
        return rule
    if active:
        _refuse_duplicate_rule(session, rule.kind, rule.offset_days, other_than=rule.id)
    rule.active = active
    session.flush()
    record(
        session,
        action="reminder_rule.activate" if active else "reminder_rule.deactivate",
        object_type="reminder_rule",
        object_id=rule.id,
        actor=actor,
        changes={"active": [not active, active]},
    )
    return rule


# ---- API tokens --------------------------------------------------------------------------------


def _may_revoke_tokens_of(session: Session, actor: User, owner: User) -> bool:
    """A person revokes their own tokens; an admin of the whole tree anyone's."""
    return actor.id == owner.id or administers(session, actor, None)


def create_token(
    session: Session,
    actor: User,
    owner: User,
    name: str,
    *,
    proved_second_factor: bool = False,
) -> tuple[ApiToken, str]:
    """A personal API token of `owner`: the row (its hash only) and the token itself, to be
    shown once and never stored. A token outlives the session that made it, so an actor who
    signs in with a second factor makes tokens only from a session that gave it
    (`proved_second_factor`). A token acts as its holder, and what it does is recorded as
    theirs: only the holder makes one (an admin who could make the approver's token could
    approve money as the approver, past the approver's second factor). Raises Refused(403)
    unless `actor` is `owner`, or when the second factor is missing; Refused(422) for a
    missing name or a deactivated owner."""
    from service.api.auth import new_token
    from service.auth.second_factor import asked_of

    if actor.id != owner.id:
        raise Refused(
            403,
            _("a token acts as the person who holds it: only they may make it"),
            fields={"user_id": _("only for yourself")},
        )
    if not proved_second_factor and asked_of(session, actor):
        raise Refused(403, _("sign in with your second factor before making API tokens"))
    if not owner.active:
        raise Refused(
            422,
            _("the account is deactivated"),
            fields={"user_id": _("the account is deactivated")},
        )
    name = _text(name, "name", 100)
    row, secret = new_token(session, owner, name)
    record(
        session,
        action="api_token.create",
        object_type="api_token",
        object_id=row.id,
        actor=actor,
        changes=changed({}, {"user_id": owner.id, "name": name, "prefix": row.prefix}),
    )
    return row, secret


def revoke_token(session: Session, actor: User, token: ApiToken) -> ApiToken:
    """Stamp the token revoked (it stops working at once). Raises Refused(404) unless
    `actor` owns it or administers the whole tree (another's token is not told apart from
    none), Refused(409) for one revoked already (a second press, a page left open: nothing is
    changed or recorded, and no door reports it done again)."""
    if not _may_revoke_tokens_of(session, actor, token.user):
        raise Refused(
            404,
            _(
                "%(object)s %(id)s does not exist",
                object=object_type_label("api_token"),
                id=token.id,
            ),
        )
    # The row is locked first (PostgreSQL): two presses at once revoke it once.
    session.refresh(token, with_for_update=True)
    if token.revoked_at is not None:
        raise Refused(409, _("the token was already revoked: nothing changed"), state="revoked")
    token.revoked_at = utcnow()
    session.flush()
    record(
        session,
        action="api_token.revoke",
        object_type="api_token",
        object_id=token.id,
        actor=actor,
        changes={"user_id": token.user_id, "prefix": token.prefix, "revoked": [False, True]},
    )
    return token

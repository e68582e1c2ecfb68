"""Changes to the org tree and users. Operations flush; the caller commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from service.core import translate
from service.core.fiscal import local_today
from service.core.thai import format_date, normalize_thai, read_code
from service.core.translate import gettext as _
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, UnitKind, User

MAX_DELEGATION_DAYS = 366  # at most a year: a longer stand-in is a role of its own
# The delegation's reason column holds 500 characters (the API's schema says so too).
REASON_LENGTH = 500


class OrgError(ValueError):
    """Bad input for an org change; the message says what to fix, `field` which input it is
    about (None when it is about no one input)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_unit(
    session: Session,
    *,
    code: str,
    name_th: str,
    kind: UnitKind,
    parent: OrgUnit | None = None,
    name_en: str = "",
) -> OrgUnit:
    """Add a unit under `parent` and set its materialised path.

    The code is kept as read_code writes it (a code typed with Thai or full-width digits is
    the same code). Raises OrgError for an empty or duplicate code.
    """
    code = read_code(code)
    if not code:
        raise OrgError(_("a unit needs a code"))
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise OrgError(_("unit code %(code)s is taken", code=code))
    unit = OrgUnit(
        code=code,
        name_th=normalize_thai(name_th),
        name_en=name_en.strip(),
        kind=kind,
        parent=parent,
    )
    session.add(unit)
    session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit


def email_problem(session: Session, email: str) -> str | None:
    """Why `email` (stripped, lower case) cannot be a new account's, or None."""
    local, _at, domain = email.rpartition("@")
    # A domain with a dot ("a@b" was taken, and mail to it goes nowhere); Thai domains too.
    if (
        not local
        or "." not in domain.strip(".")
        or ".." in domain
        or any(c.isspace() for c in email)
    ):
        return _("%(email)s is not an email address", email=repr(email))
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        return _("%(email)s already has an account", email=email)
    return None


def create_user(
    session: Session, *, email: str, name: str, password: str, language: str = "th"
) -> User:
    """Add a user with a scrypt password hash.

    Raises OrgError for a malformed or taken email, a short password or an unknown language.
    """
    email = email.strip().lower()
    problem = email_problem(session, email)
    if problem:
        raise OrgError(problem, "email")
    if len(password) < 10:
        raise OrgError(_("a password needs at least 10 characters"))
    if language not in ("th", "en"):
        raise OrgError(_("unknown language %(language)s", language=repr(language)))
    user = User(
        email=email,
        name=normalize_thai(name),
        password_hash=generate_password_hash(password, method="scrypt"),
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def grant_role(
    session: Session, user: User, role: Role, unit: OrgUnit, *, is_head: bool = False
) -> RoleAssignment:
    """Give `user` `role` in `unit`; granting an existing role again returns it unchanged, and
    granting a withdrawn one gives it back (it was a silent no-op)."""
    existing = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == role,
            RoleAssignment.unit_id == unit.id,
        )
    )
    if existing is not None:
        if existing.withdrawn_at is not None:
            existing.withdrawn_at = None
            session.flush()
        return existing
    assignment = RoleAssignment(user=user, role=role, unit=unit, is_head=is_head)
    session.add(assignment)
    session.flush()
    return assignment


def create_delegation(
    session: Session,
    actor: User,
    principal: User,
    delegate: User,
    starts_on: date,
    ends_on: date,
    reason: str = "",
) -> Delegation:
    """Let `delegate` act for `principal` from `starts_on` to `ends_on` (Bangkok days).
    The principal delegates their own authority, or an admin who manages the principal's
    account sets it up (service.core.permissions.manages_user).

    Raises Refused(403) when the actor may not, Refused(422) for a deactivated principal or
    deputy, a reversed period, a period whose last day is before today (Bangkok; a start in
    the past is fine: the deputy acts from now on only) or a delegation to oneself,
    Refused(409) when the principal already delegated to the same deputy for days that
    overlap (a delegation neither withdrawn nor ended): one is enough, and a second would
    have to be withdrawn twice. One operation for every door (the page, the API).
    """
    from service.core.permissions import manages_user
    from service.workflow.engine import Refused

    if actor.id != principal.id and not manages_user(session, actor, principal):
        raise Refused(403, _("only the person themselves or an admin may delegate"))
    _refuse_deactivated(principal, delegate)
    if principal.id == delegate.id:
        raise Refused(
            422,
            _("a delegation goes to someone else"),
            fields={"delegate_id": _("must be someone else")},
        )
    if starts_on > ends_on:
        raise Refused(
            422,
            _("the delegation ends before it starts"),
            fields={"ends_on": _("must not be before the start")},
        )
    if ends_on < local_today():
        raise Refused(
            422,
            _("the delegation would already have ended: its last day must be today or later"),
            fields={"ends_on": _("must be today or later")},
        )
    if (ends_on - starts_on).days >= MAX_DELEGATION_DAYS:
        raise Refused(
            422,
            _("a delegation lasts at most %(days)s days", days=MAX_DELEGATION_DAYS),
            fields={"ends_on": _("too far after the start")},
        )
    reason = reason.strip()
    if len(reason) > REASON_LENGTH:
        raise Refused(
            422,
            _("the reason is too long"),
            fields={"reason": _("at most %(count)s characters", count=REASON_LENGTH)},
        )
    _refuse_outsider(session, principal, delegate)
    _refuse_overlap(session, principal, delegate, starts_on, ends_on)
    delegation = Delegation(
        principal=principal,
        delegate=delegate,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
    )
    session.add(delegation)
    session.flush()
    _announce_delegation(session, actor, delegation, "create")
    return delegation


def _refuse_deactivated(principal: User, delegate: User) -> None:
    """Refused(422) naming each of `principal` and `delegate` whose account is deactivated:
    told as such, not as holding no role there (what the role checks would say)."""
    from service.workflow.engine import Refused

    inactive = [
        (field, person)
        for field, person in (("principal_id", principal), ("delegate_id", delegate))
        if not person.active
    ]
    if inactive:
        raise Refused(
            422,
            "; ".join(
                _("the account of %(name)s is deactivated", name=person.name)
                for _field, person in inactive
            ),
            fields={field: _("the account is deactivated") for field, _person in inactive},
        )


def works_where(session: Session, principal: User, delegate: User) -> bool:
    """`delegate` works where `principal` does: a role in the office (the district, or the
    administration's office) of one of the principal's units, and a district role (not only a
    school's) when the principal holds one. A school's clerk made deputy of the district's
    director could approve money for their own school."""
    from service.org.scope import active_roles

    theirs_all = active_roles(session, delegate)
    for mine in active_roles(session, principal):
        # The office: the unit's first two ancestors (the root and the district of
        # "/1/3/4/5/"); the root's is the root, whose people stand in anywhere in the tree.
        office = mine.unit.ancestor_ids[:2]
        for theirs in theirs_all:
            inside = theirs.unit.ancestor_ids[: len(office)] == office
            if inside and (theirs.role is not Role.SCHOOL or mine.role is Role.SCHOOL):
                return True
    return False


def possible_deputies(session: Session, principal: User) -> list[User]:
    """The active people `principal` may hand their authority to (`works_where`), by name,
    in one statement: a role of theirs lies in the office of one of the principal's roles'
    units (by its path), and is not only a school's unless that role of the principal's is."""
    from service.org.scope import active_roles

    fits = [
        and_(
            OrgUnit.path.startswith("/" + "".join(f"{i}/" for i in mine.unit.ancestor_ids[:2])),
            true() if mine.role is Role.SCHOOL else RoleAssignment.role != Role.SCHOOL,
        )
        for mine in active_roles(session, principal)
    ]
    if not fits:
        return []
    return list(
        session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.id != principal.id,
                select(RoleAssignment.id)
                .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
                .where(
                    RoleAssignment.user_id == User.id,
                    RoleAssignment.withdrawn_at.is_(None),
                    or_(*fits),
                )
                .exists(),
            )
            .order_by(User.name, User.id)
        )
    )


def _refuse_outsider(session: Session, principal: User, delegate: User) -> None:
    """Refused(422) unless `delegate` works where `principal` does (`works_where`)."""
    from service.org.scope import active_roles
    from service.workflow.engine import Refused

    if not active_roles(session, principal):
        raise Refused(
            422,
            _("%(name)s holds no role to hand over", name=principal.name),
            fields={"principal_id": _("holds no role")},
        )
    if works_where(session, principal, delegate):
        return
    raise Refused(
        422,
        _(
            "a deputy works where the person does: %(name)s holds no role there"
            " (a school's staff cannot act for a district office)",
            name=delegate.name,
        ),
        fields={"delegate_id": _("must hold a role in the same office")},
    )


def _refuse_overlap(
    session: Session, principal: User, delegate: User, starts_on: date, ends_on: date
) -> None:
    """Refused(409) naming the dates of a delegation from `principal` to `delegate` that is
    neither withdrawn nor ended and shares a day with `starts_on`..`ends_on`."""
    from service.workflow.engine import Refused

    # The principal's row is locked first (PostgreSQL), so two requests making the same
    # delegation at once are checked one after the other.
    session.execute(select(User.id).where(User.id == principal.id).with_for_update())
    existing = session.scalar(
        select(Delegation)
        .where(
            Delegation.principal_id == principal.id,
            Delegation.delegate_id == delegate.id,
            Delegation.withdrawn_at.is_(None),
            Delegation.ends_on >= local_today(),
            Delegation.starts_on <= ends_on,
            Delegation.ends_on >= starts_on,
        )
        .order_by(Delegation.starts_on, Delegation.id)
        .limit(1)
    )
    if existing is None:
        return
    language = translate.current()
    starts = format_date(existing.starts_on, language)
    ends = format_date(existing.ends_on, language)
    overlaps = _("overlaps the delegation of %(starts)s – %(ends)s", starts=starts, ends=ends)
    raise Refused(
        409,
        _(
            "%(principal)s has already delegated to %(delegate)s from %(starts)s to %(ends)s;"
            " withdraw that delegation first, or choose days outside it",
            principal=principal.name,
            delegate=delegate.name,
            starts=starts,
            ends=ends,
        ),
        fields={"starts_on": overlaps, "ends_on": overlaps},
    )


def withdraw_delegation(session: Session, actor: User, delegation: Delegation) -> Delegation:
    """End a delegation now (it is kept, stamped withdrawn). Raises Refused(403) unless the
    actor is the principal or manages them, Refused(409) for one withdrawn already (a second
    press, a page left open: nothing is changed or recorded, and no door reports it done
    again)."""
    from service.core.db import utcnow
    from service.core.permissions import manages_user
    from service.workflow.engine import Refused

    if actor.id != delegation.principal_id and not manages_user(
        session, actor, delegation.principal
    ):
        raise Refused(403, _("only the person themselves or an admin may withdraw it"))
    # The row is locked first (PostgreSQL): two presses at once withdraw it once.
    session.refresh(delegation, with_for_update=True)
    if delegation.withdrawn_at is not None:
        raise Refused(
            409,
            _(
                "the delegation from %(principal)s to %(delegate)s was already withdrawn:"
                " nothing changed",
                principal=delegation.principal.name,
                delegate=delegation.delegate.name,
            ),
            state="withdrawn",
        )
    delegation.withdrawn_at = utcnow()
    session.flush()
    _announce_delegation(session, actor, delegation, "withdraw")
    return delegation


def _announce_delegation(session: Session, actor: User, delegation: Delegation, what: str) -> None:
    from service.audit.operations import emit, record

    payload = {
        "principal_id": delegation.principal_id,
        "delegate_id": delegation.delegate_id,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
    }
    record(
        session,
        action=f"delegation.{what}",
        object_type="delegation",
        object_id=delegation.id,
        actor=actor,
        changes=payload,
        reason=delegation.reason,
    )
    emit(
        session,
        kind=f"delegation.{what}",
        object_type="delegation",
        object_id=delegation.id,
        actor=actor,
        payload={**payload, "unit_id": None, "project_id": None},
    )

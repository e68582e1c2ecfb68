"""Administration changes the org, fiscal and strategy modules have no operation for: approval
limits, granting and withdrawing roles, fiscal years, strategy nodes, reminder rules and API
token revocation. Each checks the actor administers what it changes (the unit's subtree, or
the whole tree for what belongs to all: service.core.permissions.administers), flushes and
records; the caller commits."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.auth.models import ApiToken
from service.core.db import utcnow
from service.core.fiscal import fiscal_year_bounds
from service.core.permissions import Answer, may_administer, may_grant
from service.core.thai import normalize_thai
from service.core.translate import gettext as _
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org import operations as org_ops
from service.org.models import OrgUnit, Role, RoleAssignment, User
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused


def require(answer: Answer) -> None:
    """Raises Refused(403) with the answer's reason unless it allows."""
    if not answer:
        raise Refused(403, answer.reason)


def require_admin(session: Session, actor: User, unit: OrgUnit | None = None) -> None:
    """Raises Refused(403) unless `actor` administers `unit` (None: the whole tree)."""
    require(may_administer(session, actor, unit, _("do this")))


def set_approval_limit(
    session: Session,
    actor: User,
    unit: OrgUnit,
    limit: Decimal | None,
    approvals_required: int | None,
) -> None:
    """The officer's approval limit of `unit` and the approvals needed above it (None: the
    parent's apply). Raises Refused(403) unless `actor` administers `unit`, Refused(422) for
    a negative limit or a count outside 1..5."""
    require_admin(session, actor, unit)
    if limit is not None and limit < 0:
        raise Refused(
            422, _("the limit must not be negative"), fields={"limit": _("must not be negative")}
        )
    if approvals_required is not None and not 1 <= approvals_required <= 5:
        raise Refused(
            422, _("approvals must be 1 to 5"), fields={"approvals_required": _("must be 1 to 5")}
        )
    before = [str(unit.approval_limit), unit.approvals_required]
    unit.approval_limit = limit
    unit.approvals_required = approvals_required
    session.flush()
    record(
        session,
        action="unit.limit",
        object_type="org_unit",
        object_id=unit.id,
        actor=actor,
        changes={"limit": [before[0], str(limit)], "required": [before[1], approvals_required]},
    )


def grant_role(
    session: Session, actor: User, user: User, role: Role, unit: OrgUnit, *, is_head: bool = False
) -> RoleAssignment:
    """Give `user` `role` in `unit` and record it. Raises Refused(403) unless `actor` may
    grant it there (service.core.permissions.may_grant)."""
    require(may_grant(session, actor, role, unit))
    assignment = org_ops.grant_role(session, user, role, unit, is_head=is_head)
    record(
        session,
        action="role.grant",
        object_type="user",
        object_id=user.id,
        actor=actor,
        changes={"role": role.value, "unit_id": unit.id},
    )
    return assignment


def withdraw_role(session: Session, actor: User, assignment: RoleAssignment) -> None:
    """End a role assignment (kept, stamped withdrawn). Raises Refused(403) unless `actor`
    may grant that role in that unit."""
    require(may_grant(session, actor, assignment.role, assignment.unit))
    if assignment.withdrawn_at is not None:
        return
    assignment.withdrawn_at = utcnow()
    session.flush()  # the flush also forgets the roles read so far (service.org.scope)
    record(
        session,
        action="role.withdraw",
        object_type="role_assignment",
        object_id=assignment.id,
        actor=actor,
        changes={"user_id": assignment.user_id, "role": assignment.role.value},
    )


def create_fiscal_year(session: Session, actor: User, be_year: int) -> FiscalYear:
    """Fiscal year `be_year` (1 October to 30 September). Raises Refused(409) when it exists,
    Refused(422) for a year outside 2400..2700."""
    require_admin(session, actor)
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
        changes={"be_year": be_year},
    )
    return year


def set_year_open(session: Session, actor: User, year: FiscalYear, is_open: bool) -> None:
    require_admin(session, actor)
    if year.is_open == is_open:
        return
    year.is_open = is_open
    session.flush()
    record(
        session,
        action="fiscal_year.open" if is_open else "fiscal_year.close",
        object_type="fiscal_year",
        object_id=year.id,
        actor=actor,
    )


def create_strategy_node(
    session: Session, actor: User, code: str, name: str, parent: StrategyNode | None
) -> StrategyNode:
    """A node of the strategy tree, its code written with Arabic digits ("7.2.2.2").
    Raises Refused(422) for a missing code or name, Refused(409) for a taken code."""
    require_admin(session, actor)
    from service.core.thai import to_arabic_digits

    code = to_arabic_digits(normalize_thai(code))
    name = normalize_thai(name)
    problems = {}
    if not code:
        problems["code"] = _("is required")
    if not name:
        problems["name"] = _("is required")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    if session.scalar(select(StrategyNode.id).where(StrategyNode.code == code)) is not None:
        raise Refused(
            409, _("strategy code %(code)s is taken", code=code), fields={"code": _("taken")}
        )
    level = parent.level + 1 if parent else 1
    if level > 8:
        raise Refused(422, _("the strategy tree is at most 8 levels deep"))
    node = StrategyNode(code=code, name=name, level=level, parent=parent)
    session.add(node)
    session.flush()
    record(
        session,
        action="strategy.create",
        object_type="strategy_node",
        object_id=node.id,
        actor=actor,
        changes={"code": code},
    )
    return node


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
    """A reminder rule, active. Raises Refused(422) for a missing name, a repeat below 1 or
    a negative escalation."""
    require_admin(session, actor)
    problems = {}
    if not normalize_thai(name):
        problems["name"] = _("is required")
    if repeat_days is not None and repeat_days < 1:
        problems["repeat_days"] = _("at least 1")
    if escalate_after_days is not None and escalate_after_days < 0:
        problems["escalate_after_days"] = _("must not be negative")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    rule = ReminderRule(
        kind=kind,
        name=normalize_thai(name),
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
        changes={"kind": kind.value, "offset_days": offset_days},
    )
    return rule


def set_rule_active(session: Session, actor: User, rule: ReminderRule, active: bool) -> None:
    require_admin(session, actor)
    if rule.active == active:
        return
    rule.active = active
    session.flush()
    record(
        session,
        action="reminder_rule.activate" if active else "reminder_rule.deactivate",
        object_type="reminder_rule",
        object_id=rule.id,
        actor=actor,
    )


def revoke_token(session: Session, actor: User, token: ApiToken) -> None:
    """Stamp the token revoked (it stops working at once); revoking twice changes nothing."""
    require_admin(session, actor)
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    session.flush()
    record(
        session,
        action="api_token.revoke",
        object_type="api_token",
        object_id=token.id,
        actor=actor,
        changes={"user_id": token.user_id, "prefix": token.prefix},
    )

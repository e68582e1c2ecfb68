"""/api/v1 org units, users and their roles, fiscal years, the strategy tree, delegations.

Admins manage these (and only these: they approve nothing, the workflows' predicates see to
that): an admin granted at a unit manages that unit's subtree (its units, the roles granted
in them, the accounts of the people holding roles only there); fiscal years, the strategy
tree and roles that reach the whole tree belong to the admins of a root unit
(service.core.permissions.administers). Everyone signed in reads fiscal years and the
strategy tree, and the units and people of their own scope; emails and phones are shown to
the admins who manage the person and to the person themself only.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from service.admin import operations as admin_operations
from service.api.auth import actor, require, require_admin
from service.api.blueprint import Blueprint
from service.api.paging import paginate
from service.api.schemas import (
    DelegationCreate,
    DelegationOut,
    FiscalYearCreate,
    FiscalYearOut,
    FiscalYearUpdate,
    MeOut,
    PageArgs,
    PersonOut,
    Presented,
    RoleGrant,
    RoleOut,
    StrategyNodeCreate,
    StrategyNodeOut,
    UnitCreate,
    UnitFilter,
    UnitOut,
    UnitUpdate,
    UserAdminOut,
    UserCreate,
    page_of,
)
from service.api.transitions import ID
from service.audit.operations import record
from service.core.db import utcnow
from service.core.fiscal import fiscal_year_bounds
from service.core.labels import object_type_label
from service.core.permissions import administers, manages_user, may_administer, may_grant
from service.core.translate import gettext as _
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.org import operations
from service.org.models import Delegation, OrgUnit, RoleAssignment, User
from service.org.scope import unit_filter
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused

# What only admins (and the person themself) see of a user.
PRIVATE = tuple(set(UserAdminOut().fields) - set(PersonOut().fields))

blp = Blueprint(
    "api_org", __name__, url_prefix="/api/v1", description="Org, users, years, strategy"
)


# ---- me --------------------------------------------------------------------------------------


@blp.route("/me")
@blp.response(200, MeOut)
@blp.doc(summary="Who the caller is, with their roles")
def me() -> Any:
    user = actor()
    return Presented(user, auth=g.get("api_auth", "session"))


# ---- units -----------------------------------------------------------------------------------


@blp.route("/units")
@blp.arguments(UnitFilter, location="query")
@blp.response(200, page_of(UnitOut, "UnitPage"))
@blp.doc(summary="Org units in the caller's scope, in tree order")
def list_units(args: dict[str, Any]) -> Any:
    session = db.session()
    stmt = select(OrgUnit).where(unit_filter(session, actor())).order_by(OrgUnit.path)
    if "parent" in args:
        stmt = stmt.where(OrgUnit.parent_id == args["parent"])
    if "kind" in args:
        stmt = stmt.where(OrgUnit.kind == args["kind"])
    return paginate(session, stmt, args)


def _visible_unit(ident: int) -> OrgUnit:
    session = db.session()
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == ident, unit_filter(session, actor())))
    if unit is None:
        raise Refused(
            404,
            _("%(object)s %(id)s does not exist", object=object_type_label("org_unit"), id=ident),
        )
    return unit


@blp.route(f"/units/<{ID}:ident>")
@blp.response(200, UnitOut)
@blp.doc(summary="One org unit")
def get_unit_view(ident: int) -> Any:
    return _visible_unit(ident)


@blp.route("/units", methods=["POST"])
@blp.arguments(UnitCreate)
@blp.response(201, UnitOut)
@blp.doc(summary="Add a unit under a parent (admins)")
def create_unit(data: dict[str, Any]) -> Any:
    session = db.session()
    require_admin(session, actor(), _("change the org tree"))
    parent = _administered_unit(data.pop("parent_id"), "parent_id")
    unit = operations.create_unit(session, parent=parent, **data)
    session.commit()
    return unit


@blp.route(f"/units/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(UnitUpdate)
@blp.response(200, UnitOut)
@blp.doc(summary="Rename a unit or set its approval limit (admins)")
def update_unit(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    unit = _visible_unit(ident)
    require_admin(session, user, _("change the org tree"))
    require(may_administer(session, user, unit, _("change this unit")))
    for key, value in data.items():
        setattr(unit, key, value)
    session.commit()
    return unit


# ---- users -----------------------------------------------------------------------------------


@blp.route("/users")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(UserAdminOut, "UserPage"))
@blp.doc(summary="People: all with emails for admins; those of the caller's units for others")
def list_users(args: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    stmt = select(User).options(selectinload(User.roles)).order_by(User.id)
    admin = administers(session, user, None)
    if not admin:
        unit = OrgUnit
        stmt = stmt.where(
            exists().where(
                RoleAssignment.user_id == User.id,
                RoleAssignment.withdrawn_at.is_(None),
                unit.id == RoleAssignment.unit_id,
                unit_filter(session, user),
            )
        )
    page = paginate(session, stmt, args)
    if not admin:
        page["items"] = [
            u if u.id == user.id or manages_user(session, user, u) else Presented(u, hide=PRIVATE)
            for u in page["items"]
        ]
    return page


def _administered_unit(ident: int, field: str) -> OrgUnit:
    """A unit named in the input that the caller administers, or Refused(422) naming the
    field: a unit out of their reach is answered as one that does not exist."""
    session = db.session()
    unit = session.get(OrgUnit, ident)
    if unit is None or unit.withdrawn_at is not None or not administers(session, actor(), unit):
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("org_unit"), id=ident),
            fields={field: _("no such unit")},
        )
    return unit


def _user(ident: int) -> User:
    user = db.session.get(User, ident)
    if user is None:
        raise Refused(
            404, _("%(object)s %(id)s does not exist", object=object_type_label("user"), id=ident)
        )
    return user


@blp.route(f"/users/<{ID}:ident>")
@blp.response(200, UserAdminOut)
@blp.doc(summary="One user (admins, or the user themself)")
def get_user(ident: int) -> Any:
    session = db.session()
    caller = actor()
    if caller.id == ident:
        return caller
    require_admin(session, caller, _("see other users' accounts"))
    user = _user(ident)
    if not manages_user(session, caller, user):
        raise Refused(403, _("only an admin who manages the account may see it"))
    return user


@blp.route("/users", methods=["POST"])
@blp.arguments(UserCreate)
@blp.response(201, UserAdminOut)
@blp.doc(summary="Create an account (admins)")
def create_user(data: dict[str, Any]) -> Any:
    session = db.session()
    require_admin(session, actor(), _("create accounts"))
    user = operations.create_user(session, **data)
    session.commit()
    return user


@blp.route(f"/users/<{ID}:ident>/deactivate", methods=["POST"])
@blp.response(200, UserAdminOut)
@blp.doc(summary="Deactivate an account: its sessions and tokens stop working (admins)")
def deactivate_user(ident: int) -> Any:
    session = db.session()
    caller = actor()
    require_admin(session, caller, _("deactivate accounts"))
    user = _user(ident)
    if not manages_user(session, caller, user):
        raise Refused(403, _("only an admin who manages the account may deactivate it"))
    if user.id == caller.id:
        raise Refused(409, _("you cannot deactivate your own account"))
    if user.active:
        user.active = False
        user.session_version += 1
        session.flush()
        record(
            session, action="user.deactivate", object_type="user", object_id=user.id, actor=caller
        )
    session.commit()
    return user


@blp.route(f"/users/<{ID}:ident>/roles", methods=["POST"])
@blp.arguments(RoleGrant)
@blp.response(201, RoleOut)
@blp.doc(summary="Grant a role in a unit (admins; granting it again changes nothing)")
def grant_role(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    caller = actor()
    require_admin(session, caller, _("grant roles"))
    user = _user(ident)
    unit = _administered_unit(data["unit_id"], "unit_id")
    assignment = admin_operations.grant_role(
        session, caller, user, data["role"], unit, is_head=data["is_head"]
    )
    session.commit()
    return assignment


@blp.route(f"/users/<{ID}:ident>/roles/<{ID}:assignment>/withdraw", methods=["POST"])
@blp.response(200, RoleOut)
@blp.doc(summary="Withdraw a role (kept, stamped withdrawn) (admins)")
def withdraw_role(ident: int, assignment: int) -> Any:
    session = db.session()
    caller = actor()
    require_admin(session, caller, _("withdraw roles"))
    row = session.get(RoleAssignment, assignment)
    if row is None or row.user_id != ident:
        raise Refused(404, _("user %(user)s holds no role %(role)s", user=ident, role=assignment))
    require(may_grant(session, caller, row.role, row.unit))
    if row.withdrawn_at is None:
        row.withdrawn_at = utcnow()
        record(
            session,
            action="role.withdraw",
            object_type="user",
            object_id=ident,
            actor=caller,
            changes={"role": row.role.value, "unit_id": row.unit_id},
        )
    session.commit()
    return row


# ---- fiscal years and strategy ---------------------------------------------------------------


@blp.route("/fiscal-years")
@blp.response(200, FiscalYearOut(many=True))
@blp.doc(summary="Fiscal years, newest first")
def list_years() -> Any:
    actor()
    return db.session.scalars(select(FiscalYear).order_by(FiscalYear.be_year.desc())).all()


@blp.route("/fiscal-years", methods=["POST"])
@blp.arguments(FiscalYearCreate)
@blp.response(201, FiscalYearOut)
@blp.doc(summary="Add a fiscal year by its Buddhist Era year (admins)")
def create_year(data: dict[str, Any]) -> Any:
    session = db.session()
    require(may_administer(session, actor(), None, _("add fiscal years")))
    be_year = data["be_year"]
    if session.scalar(select(FiscalYear.id).where(FiscalYear.be_year == be_year)):
        raise Refused(409, _("fiscal year %(year)s exists", year=be_year))
    starts_on, ends_on = fiscal_year_bounds(be_year)
    year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
    session.add(year)
    session.commit()
    return year


@blp.route(f"/fiscal-years/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(FiscalYearUpdate)
@blp.response(200, FiscalYearOut)
@blp.doc(summary="Open or close a fiscal year (admins)")
def update_year(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    require(may_administer(session, actor(), None, _("open or close fiscal years")))
    year = session.get(FiscalYear, ident)
    if year is None:
        raise Refused(
            404,
            _(
                "%(object)s %(id)s does not exist",
                object=object_type_label("fiscal_year"),
                id=ident,
            ),
        )
    year.is_open = data["is_open"]
    session.commit()
    return year


@blp.route("/strategy-nodes")
@blp.response(200, StrategyNodeOut(many=True))
@blp.doc(summary="The strategy tree, in code order")
def list_strategy() -> Any:
    actor()
    return db.session.scalars(select(StrategyNode).order_by(StrategyNode.code)).all()


@blp.route("/strategy-nodes", methods=["POST"])
@blp.arguments(StrategyNodeCreate)
@blp.response(201, StrategyNodeOut)
@blp.doc(summary="Add a node to the strategy tree (admins)")
def create_strategy(data: dict[str, Any]) -> Any:
    session = db.session()
    require(may_administer(session, actor(), None, _("change the strategy tree")))
    parent = None
    if data["parent_id"] is not None:
        parent = session.get(StrategyNode, data["parent_id"])
        if parent is None:
            raise Refused(422, _("no such parent"), fields={"parent_id": _("no such parent")})
    level = parent.level + 1 if parent else 1
    if level > 8:
        raise Refused(
            422, "the strategy tree is at most 8 levels deep", fields={"parent_id": "too deep"}
        )
    if session.scalar(select(StrategyNode.id).where(StrategyNode.code == data["code"])):
        raise Refused(409, _("strategy code %(code)s is taken", code=data["code"]))
    node = StrategyNode(code=data["code"], name=data["name"], level=level, parent=parent)
    session.add(node)
    session.commit()
    return node


# ---- delegations -----------------------------------------------------------------------------


@blp.route("/delegations")
@blp.response(200, DelegationOut(many=True))
@blp.doc(summary="Delegations the caller gave or holds (all of them for admins)")
def list_delegations() -> Any:
    session = db.session()
    user = actor()
    stmt = select(Delegation).order_by(Delegation.id)
    if not administers(session, user, None):
        stmt = stmt.where(
            or_(Delegation.principal_id == user.id, Delegation.delegate_id == user.id)
        )
    return session.scalars(stmt).all()


@blp.route("/delegations", methods=["POST"])
@blp.arguments(DelegationCreate)
@blp.response(201, DelegationOut)
@blp.doc(summary="Let someone act for you (or, for admins, for anyone) over a period")
def create_delegation(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    principal = _person(data.get("principal_id", user.id), "principal_id")
    delegate = _person(data["delegate_id"], "delegate_id")
    delegation = operations.create_delegation(
        session,
        user,
        principal,
        delegate,
        data["starts_on"],
        data["ends_on"],
        data["reason"],
    )
    session.commit()
    return delegation


def _person(ident: int, field: str) -> User:
    user = db.session.get(User, ident)
    if user is None or not user.active:
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("user"), id=ident),
            fields={field: _("no such user")},
        )
    return user


@blp.route(f"/delegations/<{ID}:ident>/withdraw", methods=["POST"])
@blp.response(200, DelegationOut)
@blp.doc(summary="End a delegation now (kept, stamped withdrawn)")
def withdraw_delegation(ident: int) -> Any:
    session = db.session()
    user = actor()
    delegation = session.get(Delegation, ident)
    visible = delegation is not None and (
        user.id in (delegation.principal_id, delegation.delegate_id)
        or manages_user(session, user, delegation.principal)
    )
    if not visible:
        raise Refused(
            404,
            _("%(object)s %(id)s does not exist", object=object_type_label("delegation"), id=ident),
        )
    assert delegation is not None
    operations.withdraw_delegation(session, user, delegation)
    session.commit()
    return delegation

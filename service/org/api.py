"""/api/v1 org units, users and their roles, fiscal years, the strategy tree, delegations.

Admins manage these (and only these: they approve nothing, the workflows' predicates see to
that): an admin granted at a unit manages that unit's subtree (its units, the roles granted
in them, the accounts of the people holding roles only there); fiscal years, the strategy
tree and roles that reach the whole tree belong to the admins of a root unit
(service.core.permissions.administers). Everyone signed in reads fiscal years and the
strategy tree, and the units and people of their own scope; emails and phones are shown to
the admins who manage the person and to the person themself only.

Every change calls its one operation (service.admin.operations; delegations:
service.org.operations), the same the /admin pages call, so the check, the validation and the
audit row are the same from either door; `commits` commits the request once.
"""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import selectinload

from service.admin import operations as admin_operations
from service.api.auth import actor, require_admin
from service.api.blueprint import Blueprint, commits
from service.api.paging import paginate
from service.api.schemas import PageArgs, Presented, page_of
from service.api.transitions import ID
from service.core.labels import object_type_label
from service.core.permissions import administers, manages_user
from service.core.translate import gettext as _
from service.extensions import db
from service.fiscal.models import FiscalYear
from service.fiscal.schemas import FiscalYearCreate, FiscalYearOut, FiscalYearUpdate
from service.org import operations
from service.org.models import Delegation, OrgUnit, RoleAssignment, User
from service.org.schemas import (
    DelegationCreate,
    DelegationOut,
    MeOut,
    PersonOut,
    RoleGrant,
    RoleOut,
    SessionsEnded,
    SignInState,
    SsoIdentity,
    TemporaryPassword,
    UnitCreate,
    UnitFilter,
    UnitOut,
    UnitUpdate,
    UserAdminOut,
    UserCreate,
    UserUpdate,
)
from service.org.scope import unit_filter
from service.strategy.models import StrategyNode
from service.strategy.schemas import StrategyNodeCreate, StrategyNodeOut, StrategyNodeUpdate
from service.workflow.engine import Refused, missing

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
    stmt = select(OrgUnit).where(unit_filter(session, actor())).order_by(OrgUnit.path, OrgUnit.id)
    if "parent" in args:
        stmt = stmt.where(OrgUnit.parent_id == args["parent"])
    if "kind" in args:
        stmt = stmt.where(OrgUnit.kind == args["kind"])
    return paginate(session, stmt, args)


def _visible_unit(ident: int) -> OrgUnit:
    session = db.session()
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == ident, unit_filter(session, actor())))
    if unit is None:
        raise missing("org_unit", ident)
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
@commits
def create_unit(data: dict[str, Any]) -> Any:
    parent = _unit_named(data.pop("parent_id"), "parent_id")
    return admin_operations.create_unit(db.session(), actor(), parent=parent, **data)


@blp.route(f"/units/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(UnitUpdate)
@blp.response(200, UnitOut)
@blp.doc(summary="Rename a unit or set its approval rules: limit and approvals (admins)")
@commits
def update_unit(data: dict[str, Any], ident: int) -> Any:
    return admin_operations.update_unit(db.session(), actor(), _visible_unit(ident), **data)


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


def _unit_named(ident: int, field: str) -> OrgUnit:
    """A unit named in the input, or Refused(422) naming the field (the operation answers
    a unit out of the caller's reach the same way)."""
    unit = db.session.get(OrgUnit, ident)
    if unit is None:
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("org_unit"), id=ident),
            fields={field: _("no such unit")},
        )
    return unit


def _user(ident: int) -> User:
    user = db.session.get(User, ident)
    if user is None:
        raise missing("user", ident)
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
@commits
def create_user(data: dict[str, Any]) -> Any:
    return admin_operations.create_user(db.session(), actor(), **data)


@blp.route(f"/users/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(UserUpdate)
@blp.response(200, UserAdminOut)
@blp.doc(summary="Change an account's name, language or phone (admins who manage it)")
@commits
def update_user(data: dict[str, Any], ident: int) -> Any:
    return admin_operations.update_user(db.session(), actor(), _user(ident), **data)


@blp.route(f"/users/<{ID}:ident>/deactivate", methods=["POST"])
@blp.response(200, UserAdminOut)
@blp.doc(summary="Deactivate an account: its sessions and tokens stop working (admins)")
@commits
def deactivate_user(ident: int) -> Any:
    return admin_operations.deactivate_user(db.session(), actor(), _user(ident))


@blp.route(f"/users/<{ID}:ident>/reactivate", methods=["POST"])
@blp.response(200, UserAdminOut)
@blp.doc(
    summary="Reactivate a deactivated account (admins): it signs in afresh; its old sessions"
    " and tokens stay dead"
)
@commits
def reactivate_user(ident: int) -> Any:
    return admin_operations.reactivate_user(db.session(), actor(), _user(ident))


@blp.route(f"/users/<{ID}:ident>/temporary-password", methods=["POST"])
@blp.arguments(TemporaryPassword)
@blp.response(200, SignInState)
@blp.doc(
    summary="Set a temporary password, to be changed at the next sign-in; every session of"
    " the person ends (admins who manage the account)"
)
@commits
def set_temporary_password(data: dict[str, Any], ident: int) -> Any:
    return admin_operations.set_temporary_password(
        db.session(), actor(), _user(ident), data["password"]
    )


@blp.route(f"/users/<{ID}:ident>/sessions/end", methods=["POST"])
@blp.response(200, SessionsEnded)
@blp.doc(summary="End every session of the person (admins who manage the account)")
@commits
def end_sessions(ident: int) -> Any:
    ended = admin_operations.end_all_sessions(db.session(), actor(), _user(ident))
    return {"sessions_ended": ended}


@blp.route(f"/users/<{ID}:ident>/second-factor/reset", methods=["POST"])
@blp.response(200, SignInState)
@blp.doc(summary="Forget the person's authenticator app and recovery codes (a lost phone)")
@commits
def reset_second_factor(ident: int) -> Any:
    return admin_operations.reset_second_factor(db.session(), actor(), _user(ident))


@blp.route(f"/users/<{ID}:ident>/sso-identity", methods=["POST"])
@blp.arguments(SsoIdentity)
@blp.response(200, SignInState)
@blp.doc(summary="Link the account to the identity provider's name for the person (empty unlinks)")
@commits
def link_sso_identity(data: dict[str, Any], ident: int) -> Any:
    return admin_operations.link_sso_identity(db.session(), actor(), _user(ident), data["identity"])


@blp.route(f"/users/<{ID}:ident>/roles", methods=["POST"])
@blp.arguments(RoleGrant)
@blp.response(201, RoleOut)
@blp.doc(summary="Grant a role in a unit (admins; granting it again changes nothing)")
@commits
def grant_role(data: dict[str, Any], ident: int) -> Any:
    user = _user(ident)
    unit = _unit_named(data["unit_id"], "unit_id")
    return admin_operations.grant_role(
        db.session(), actor(), user, data["role"], unit, is_head=data["is_head"]
    )


@blp.route(f"/users/<{ID}:ident>/roles/<{ID}:assignment>/withdraw", methods=["POST"])
@blp.response(200, RoleOut)
@blp.doc(summary="Withdraw a role (kept, stamped withdrawn) (admins)")
@commits
def withdraw_role(ident: int, assignment: int) -> Any:
    row = db.session.get(RoleAssignment, assignment)
    if row is None or row.user_id != ident:
        raise Refused(404, _("user %(user)s holds no role %(role)s", user=ident, role=assignment))
    return admin_operations.withdraw_role(db.session(), actor(), row)


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
@commits
def create_year(data: dict[str, Any]) -> Any:
    return admin_operations.create_fiscal_year(db.session(), actor(), data["be_year"])


@blp.route(f"/fiscal-years/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(FiscalYearUpdate)
@blp.response(200, FiscalYearOut)
@blp.doc(summary="Open or close a fiscal year (admins)")
@commits
def update_year(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    year = session.get(FiscalYear, ident)
    if year is None:
        raise missing("fiscal_year", ident)
    return admin_operations.set_year_open(session, user, year, data["is_open"])


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
@commits
def create_strategy(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    parent = None
    if data["parent_id"] is not None:
        parent = session.get(StrategyNode, data["parent_id"])
        if parent is None:
            raise Refused(422, _("no such parent"), fields={"parent_id": _("no such parent")})
    return admin_operations.create_strategy_node(session, user, data["code"], data["name"], parent)


@blp.route(f"/strategy-nodes/<{ID}:ident>", methods=["PATCH"])
@blp.arguments(StrategyNodeUpdate)
@blp.response(200, StrategyNodeOut)
@blp.doc(summary="Rename a node of the strategy tree (admins)")
@commits
def update_strategy(data: dict[str, Any], ident: int) -> Any:
    session = db.session()
    user = actor()
    node = session.get(StrategyNode, ident)
    if node is None:
        raise missing("strategy_node", ident)
    return admin_operations.update_strategy_node(session, user, node, name=data["name"])


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
@commits
def create_delegation(data: dict[str, Any]) -> Any:
    session = db.session()
    user = actor()
    principal = _person(data.get("principal_id", user.id), "principal_id")
    delegate = _person(data["delegate_id"], "delegate_id")
    return operations.create_delegation(
        session,
        user,
        principal,
        delegate,
        data["starts_on"],
        data["ends_on"],
        data["reason"],
    )


def _person(ident: int, field: str) -> User:
    """The account `ident` names, or Refused(422) on `field` when there is none. A
    deactivated one is handed on: create_delegation says it is deactivated, as the page
    does (here it was told as an account that does not exist)."""
    user = db.session.get(User, ident)
    if user is None:
        raise Refused(
            422,
            _("%(object)s %(id)s does not exist", object=object_type_label("user"), id=ident),
            fields={field: _("no such user")},
        )
    return user


@blp.route(f"/delegations/<{ID}:ident>/withdraw", methods=["POST"])
@blp.response(200, DelegationOut)
@blp.doc(summary="End a delegation now (kept, stamped withdrawn)")
@commits
def withdraw_delegation(ident: int) -> Any:
    session = db.session()
    user = actor()
    delegation = session.get(Delegation, ident)
    visible = delegation is not None and (
        user.id in (delegation.principal_id, delegation.delegate_id)
        or manages_user(session, user, delegation.principal)
    )
    if not visible:
        raise missing("delegation", ident)
    assert delegation is not None
    return operations.withdraw_delegation(session, user, delegation)

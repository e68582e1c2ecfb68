"""/admin: org units and approval limits, users and roles, delegations, fiscal years, the
strategy tree, reminder rules and API tokens. Admins only (403 for anyone else); an admin
granted below the root sees and manages that unit's subtree only, and the things of the whole
tree (fiscal years, the strategy tree, reminder rules, API tokens) are for admins of a root
unit (service.core.permissions.administers).

Each form posts, the operation runs, the request commits and redirects with a flash; refused
input comes back on the same page with status 409/422 and the form as typed. A new API token
is the exception to redirecting: it is shown once, in the answer to the POST, never stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request
from flask import url_for as flask_url_for
from flask_login import login_required
from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true
from sqlalchemy.orm import aliased, joinedload
from werkzeug.wrappers import Response

from service.admin import operations as admin_ops
from service.auth.models import ApiToken
from service.core.labels import field_label
from service.core.paging import page_number, paged
from service.core.permissions import administers, is_admin_anywhere, manages_user
from service.core.sql import matches_text
from service.core.translate import gettext as _
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org import operations as org_ops
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, UnitKind, User
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused
from service.workflow.screens import NO_DECISION, actor, session

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: The failed-notifications page belongs to the workers' module; we only link to it.
FAILED_NOTIFICATIONS_PATH = "/admin/notifications/failed"


#: Pages of what belongs to the whole tree: for admins of a root unit only.
WHOLE_TREE_ENDPOINTS = frozenset(
    {
        "admin.years",
        "admin.create_year",
        "admin.toggle_year",
        "admin.strategy",
        "admin.create_node",
        "admin.reminders",
        "admin.create_rule",
        "admin.toggle_rule",
        "admin.tokens",
        "admin.create_token",
        "admin.revoke_token",
    }
)


@bp.before_request
@login_required
def _admins_only() -> None:
    if not is_admin_anywhere(session(), actor()):
        abort(403)
    if request.endpoint in WHOLE_TREE_ENDPOINTS and not administers(session(), actor(), None):
        abort(403)


def _administered(column: Any = OrgUnit) -> ColumnElement[bool]:
    """SQL: rows of `column` (OrgUnit or an alias) in the subtrees the reader administers."""
    if administers(session(), actor(), None):
        return true()
    from service.org.scope import active_roles

    paths = sorted({a.unit.path for a in active_roles(session(), actor()) if a.role is Role.ADMIN})
    return or_(*(column.path.startswith(path) for path in paths)) if paths else false()


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("form", {})
    context.setdefault("errors", {})
    context.setdefault("whole_tree", administers(session(), actor(), None))
    return render_template(f"admin/{template}", **context), status


def _run(
    change: Callable[[], Any], done: str, back: str, again: Callable[..., tuple[str, int]]
) -> Response | tuple[str, int]:
    """Run `change`, commit and redirect to `back` with `done`; on refusal, `again(form=…,
    errors=…, status=…)` renders the page with the input kept."""
    try:
        change()
        session().commit()
    except (Refused, org_ops.OrgError, PermissionError) as problem:
        session().rollback()
        if isinstance(problem, Refused):
            status, reason, fields = problem.status, problem.reason, problem.fields
        else:
            status, reason, fields = 422, str(problem), {}
        if status in (403, 404):
            abort(status)
        flash(_("Not done: %(reason)s", reason=reason), "error")
        return again(form=request.form.to_dict(), errors=fields, status=status)
    flash(done, "info")
    return redirect(back)


def _int(name: str, *, required: bool = True) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw and not required:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Refused(
            422, f"{name} must be a whole number", fields={name: "a whole number"}
        ) from None


def _decision(name: str) -> bool:
    """The form's explicit yes ("1") or no ("0") for `name`. Raises Refused (400) for anything
    else or nothing: a decision is never assumed (a missing "open" once meant "close")."""
    raw = request.form.get(name)
    if raw not in ("0", "1"):
        raise Refused(400, str(NO_DECISION))
    return raw == "1"


def _get(model: type, ident: int | None) -> Any:
    found = session().get(model, ident) if ident is not None else None
    if found is None:
        raise Refused(422, _("choose one from the list"))
    return found


@bp.route("/")
def index() -> tuple[str, int]:
    return _page("index.html", failed_notifications=FAILED_NOTIFICATIONS_PATH)


# ---- org units -------------------------------------------------------------------------------


def _units_page(**kw: Any) -> tuple[str, int]:
    """A page of 50 units in tree order (matching ?q= in code or names), each with its limit
    form; the new unit's parent is named by its code from one list of all units. Every unit
    with a form, and a parent menu of every unit, was 1.8 MB for the country's 1,286 units."""
    search = _searched(
        select(OrgUnit).where(_administered()).order_by(OrgUnit.path),
        "admin.units",
        OrgUnit.code,
        OrgUnit.name_th,
        OrgUnit.name_en,
    )
    return _page(
        "units.html",
        units=search["listing"].rows,
        **search,
        all_units=_all_units(),
        kinds=list(UnitKind),
        **kw,
    )


def _searched(statement: Select[Any], endpoint: str, *columns: Any) -> dict[str, Any]:
    """Page ?page= of `statement`, narrowed to rows whose `columns` contain ?q=: the
    template's `listing`, `q` and `page_url` (which keeps the search)."""
    q = request.args.get("q", "")[:200].strip()
    if q:
        statement = statement.where(matches_text(q, *columns))
    return {
        "listing": paged(session(), statement, page_number(request.args.get("page"))),
        "q": q,
        "page_url": lambda number: flask_url_for(endpoint, q=q or None, page=number),
    }


def _all_units() -> list[OrgUnit]:
    """Every unit the reader administers, in tree order: the list unit codes are typed from
    (a datalist)."""
    return list(session().scalars(select(OrgUnit).where(_administered()).order_by(OrgUnit.path)))


def _unit_named(code_field: str, id_field: str, required: bool = True) -> OrgUnit | None:
    """The unit the form names by its code (`code_field`, what the pages send) or by its id
    (`id_field`, what scripts send); a 422 for an unknown code, and the same for a unit the
    reader does not administer (it is not told apart from one that does not exist)."""
    code = request.form.get(code_field, "").strip()
    if code:
        unit = session().scalar(select(OrgUnit).where(OrgUnit.code == code, _administered()))
        if unit is None:
            raise Refused(
                422, _("no unit %(code)s", code=code), fields={code_field: _("no such unit")}
            )
        return unit
    ident = _int(id_field, required=required)
    if not ident:
        return None
    unit = session().scalar(select(OrgUnit).where(OrgUnit.id == ident, _administered()))
    if unit is None:
        raise Refused(422, _("choose one from the list"), fields={id_field: _("no such unit")})
    return unit


def _administered_unit_or_404(unit_id: int) -> OrgUnit:
    unit = session().get(OrgUnit, unit_id)
    if unit is None or not administers(session(), actor(), unit):
        abort(404)
    return unit


@bp.route("/units")
def units() -> tuple[str, int]:
    return _units_page()


@bp.route("/units", methods=["POST"])
def create_unit() -> Response | tuple[str, int]:
    form = request.form

    def change() -> None:
        parent = _unit_named("parent_code", "parent_id", required=False)
        if parent is None and not administers(session(), actor(), None):
            raise Refused(
                422,
                _("give the parent's code"),
                fields={"parent_code": _("give the parent's code")},
            )
        kind = form.get("kind", "")
        if kind not in {k.value for k in UnitKind}:
            raise Refused(422, _("choose a kind"), fields={"kind": _("choose a kind")})
        org_ops.create_unit(
            session(),
            code=form.get("code", ""),
            name_th=form.get("name_th", ""),
            name_en=form.get("name_en", ""),
            kind=UnitKind(kind),
            parent=parent,
        )

    return _run(change, _("The unit is added."), flask_url_for("admin.units"), _units_page)


@bp.route("/units/<int:unit_id>/limit", methods=["POST"])
def set_limit(unit_id: int) -> Response | tuple[str, int]:
    unit = _administered_unit_or_404(unit_id)

    def change() -> None:
        raw = request.form.get("approval_limit", "").replace(",", "").strip()
        try:
            limit = Decimal(raw) if raw else None
        except InvalidOperation:
            raise Refused(
                422, _("the limit must be a number"), fields={"limit": _("must be a number")}
            ) from None
        admin_ops.set_approval_limit(
            session(), actor(), unit, limit, _int("approvals_required", required=False)
        )

    return _run(
        change, _("The approval limit is saved."), flask_url_for("admin.units"), _units_page
    )


# ---- users and roles -------------------------------------------------------------------------


def _users_page(**kw: Any) -> tuple[str, int]:
    """A page of 50 users (by email, matching ?q= in email or name) with their roles; the
    grant form takes a unit code from one list of all units. Every user with a form holding
    every unit was 25 s and 200 MB for the country's 1,950 users and 1,286 units."""
    search = _searched(
        select(User).where(_users_administered()).order_by(User.email),
        "admin.users",
        User.email,
        User.name,
    )
    listing = search["listing"]
    assignments = session().scalars(
        select(RoleAssignment)
        .where(RoleAssignment.user_id.in_([u.id for u in listing.rows] or [0]))
        .options(joinedload(RoleAssignment.unit))
        .order_by(RoleAssignment.user_id, RoleAssignment.id)
    )
    units = _all_units()
    by_user: dict[int, list[RoleAssignment]] = {}
    for assignment in assignments:
        by_user.setdefault(assignment.user_id, []).append(assignment)
    return _page(
        "users.html",
        users=listing.rows,
        **search,
        roles_of=by_user,
        all_units=units,
        roles=list(Role),
        **kw,
    )


def _users_administered() -> ColumnElement[bool]:
    """SQL: the users an admin lists: everyone for an admin of the whole tree; for another,
    those holding a role in a unit they administer, and accounts holding no role yet (to
    grant them one)."""
    if administers(session(), actor(), None):
        return true()
    unit = aliased(OrgUnit)
    active = (RoleAssignment.user_id == User.id) & RoleAssignment.withdrawn_at.is_(None)
    return exists().where(active, unit.id == RoleAssignment.unit_id, _administered(unit)) | ~exists(
        select(RoleAssignment.id).where(active)
    )


@bp.route("/users")
def users() -> tuple[str, int]:
    return _users_page()


@bp.route("/users", methods=["POST"])
def create_user() -> Response | tuple[str, int]:
    form = request.form

    def change() -> None:
        org_ops.create_user(
            session(),
            email=form.get("email", ""),
            name=form.get("name", ""),
            password=form.get("password", ""),
            language=form.get("language", "th"),
        )

    return _run(change, _("The user is added."), flask_url_for("admin.users"), _users_page)


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
def grant_role(user_id: int) -> Response | tuple[str, int]:
    user = session().get(User, user_id) or abort(404)

    def change() -> None:
        role = request.form.get("role", "")
        if role not in {r.value for r in Role}:
            raise Refused(422, _("choose a role"), fields={"role": _("choose a role")})
        unit = _unit_named("unit_code", "unit_id")
        assert unit is not None
        admin_ops.grant_role(session(), actor(), user, Role(role), unit)

    return _run(change, _("The role is granted."), flask_url_for("admin.users"), _users_page)


@bp.route("/roles/<int:assignment_id>/withdraw", methods=["POST"])
def withdraw_role(assignment_id: int) -> Response | tuple[str, int]:
    assignment = session().get(RoleAssignment, assignment_id) or abort(404)
    return _run(
        lambda: admin_ops.withdraw_role(session(), actor(), assignment),
        _("The role is withdrawn."),
        flask_url_for("admin.users"),
        _users_page,
    )


# ---- delegations -----------------------------------------------------------------------------


def _delegations_page(**kw: Any) -> tuple[str, int]:
    delegations = list(session().scalars(select(Delegation).order_by(Delegation.id.desc())))
    users = list(session().scalars(select(User).order_by(User.name)))
    if not administers(session(), actor(), None):
        delegations = [d for d in delegations if manages_user(session(), actor(), d.principal)]
        users = [u for u in users if manages_user(session(), actor(), u)]
    return _page("delegations.html", delegations=delegations, users=users, **kw)


@bp.route("/delegations")
def delegations() -> tuple[str, int]:
    return _delegations_page()


def _day(name: str) -> date:
    try:
        return date.fromisoformat(request.form.get(name, ""))
    except ValueError:
        raise Refused(
            422,
            _("%(field)s must be a date", field=field_label(name)),
            fields={name: _("must be a date such as 2023-01-31")},
        ) from None


@bp.route("/delegations", methods=["POST"])
def create_delegation() -> Response | tuple[str, int]:
    def change() -> None:
        org_ops.create_delegation(
            session(),
            actor(),
            _get(User, _int("principal_id")),
            _get(User, _int("delegate_id")),
            _day("starts_on"),
            _day("ends_on"),
            request.form.get("reason", ""),
        )

    return _run(
        change,
        _("The delegation is set up."),
        flask_url_for("admin.delegations"),
        _delegations_page,
    )


@bp.route("/delegations/<int:delegation_id>/withdraw", methods=["POST"])
def withdraw_delegation(delegation_id: int) -> Response | tuple[str, int]:
    delegation = session().get(Delegation, delegation_id) or abort(404)
    return _run(
        lambda: org_ops.withdraw_delegation(session(), actor(), delegation),
        _("The delegation is withdrawn."),
        flask_url_for("admin.delegations"),
        _delegations_page,
    )


# ---- fiscal years ----------------------------------------------------------------------------


def _years_page(**kw: Any) -> tuple[str, int]:
    years = list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year)))
    return _page("years.html", years=years, **kw)


@bp.route("/years")
def years() -> tuple[str, int]:
    return _years_page()


@bp.route("/years", methods=["POST"])
def create_year() -> Response | tuple[str, int]:
    return _run(
        lambda: admin_ops.create_fiscal_year(session(), actor(), _int("be_year") or 0),
        _("The fiscal year is added."),
        flask_url_for("admin.years"),
        _years_page,
    )


@bp.route("/years/<int:year_id>/open", methods=["POST"])
def toggle_year(year_id: int) -> Response | tuple[str, int]:
    year = session().get(FiscalYear, year_id) or abort(404)
    return _run(
        lambda: admin_ops.set_year_open(session(), actor(), year, _decision("open")),
        _("The fiscal year is saved."),
        flask_url_for("admin.years"),
        _years_page,
    )


# ---- strategy tree ---------------------------------------------------------------------------


def _strategy_page(**kw: Any) -> tuple[str, int]:
    nodes = list(session().scalars(select(StrategyNode).order_by(StrategyNode.code)))
    return _page("strategy.html", nodes=nodes, **kw)


@bp.route("/strategy")
def strategy() -> tuple[str, int]:
    return _strategy_page()


@bp.route("/strategy", methods=["POST"])
def create_node() -> Response | tuple[str, int]:
    def change() -> None:
        parent_id = _int("parent_id", required=False)
        parent = _get(StrategyNode, parent_id) if parent_id else None
        admin_ops.create_strategy_node(
            session(), actor(), request.form.get("code", ""), request.form.get("name", ""), parent
        )

    return _run(
        change, _("The strategy node is added."), flask_url_for("admin.strategy"), _strategy_page
    )


# ---- reminder rules --------------------------------------------------------------------------


def _reminders_page(**kw: Any) -> tuple[str, int]:
    rules = list(
        session().scalars(select(ReminderRule).order_by(ReminderRule.kind, ReminderRule.id))
    )
    return _page("reminders.html", rules=rules, kinds=list(ReminderKind), **kw)


@bp.route("/reminders")
def reminders() -> tuple[str, int]:
    return _reminders_page()


@bp.route("/reminders", methods=["POST"])
def create_rule() -> Response | tuple[str, int]:
    def change() -> None:
        kind = request.form.get("kind", "")
        if kind not in {k.value for k in ReminderKind}:
            raise Refused(422, _("choose a kind"), fields={"kind": _("choose a kind")})
        admin_ops.create_reminder_rule(
            session(),
            actor(),
            kind=ReminderKind(kind),
            name=request.form.get("name", ""),
            offset_days=_int("offset_days") or 0,
            repeat_days=_int("repeat_days", required=False),
            escalate_after_days=_int("escalate_after_days", required=False),
        )

    return _run(
        change, _("The reminder rule is added."), flask_url_for("admin.reminders"), _reminders_page
    )


@bp.route("/reminders/<int:rule_id>/active", methods=["POST"])
def toggle_rule(rule_id: int) -> Response | tuple[str, int]:
    rule = session().get(ReminderRule, rule_id) or abort(404)
    return _run(
        lambda: admin_ops.set_rule_active(session(), actor(), rule, _decision("active")),
        _("The reminder rule is saved."),
        flask_url_for("admin.reminders"),
        _reminders_page,
    )


# ---- API tokens ------------------------------------------------------------------------------


def _tokens_page(**kw: Any) -> tuple[str, int]:
    tokens = list(session().scalars(select(ApiToken).order_by(ApiToken.id.desc())))
    users = list(session().scalars(select(User).where(User.active).order_by(User.email)))
    return _page("tokens.html", tokens=tokens, users=users, **kw)


@bp.route("/tokens")
def tokens() -> tuple[str, int]:
    return _tokens_page()


@bp.route("/tokens", methods=["POST"])
def create_token() -> Response | tuple[str, int]:
    """Make a token and show it once in this answer (never stored, never redirected)."""
    from service.api.auth import new_token

    try:
        user = _get(User, _int("user_id"))
        name = request.form.get("name", "").strip()
        if not name:
            raise Refused(422, _("give the token a name"), fields={"name": _("is required")})
        row, secret = new_token(session(), user, name)
        from service.audit.operations import record

        record(
            session(),
            action="api_token.create",
            object_type="api_token",
            object_id=row.id,
            actor=actor(),
            changes={"user_id": user.id, "prefix": row.prefix},
        )
        session().commit()
    except Refused as refused:
        session().rollback()
        flash(_("Not done: %(reason)s", reason=refused.reason), "error")
        return _tokens_page(form=request.form.to_dict(), errors=refused.fields, status=422)
    page, _status = _tokens_page(new_token=secret, new_token_row=row)
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int) -> Response | tuple[str, int]:
    token = session().get(ApiToken, token_id) or abort(404)
    return _run(
        lambda: admin_ops.revoke_token(session(), actor(), token),
        _("The token is revoked."),
        flask_url_for("admin.tokens"),
        _tokens_page,
    )

"""/admin: org units and approval limits, users and roles, delegations, fiscal years, the
strategy tree, reminder rules and API tokens. Admins only (403 for anyone else); an admin
granted below the root sees and manages that unit's subtree only, and the things of the whole
tree (fiscal years, the strategy tree, reminder rules, API tokens) are for admins of a root
unit (service.core.permissions.administers).

Every page has one role gate (`admin_page`, or `whole_tree_page` for what belongs to the
whole tree). Each form posts through service.workflow.screens.run_change: the change's one
operation (service.admin.operations, delegations in service.org.operations: the same the API
calls) checks, mutates and records; the request commits once and redirects with a flash;
refused input comes back on the same page with status 409/422 and the form as typed, and
403/404 as error pages. A new API token is the exception to redirecting: it is shown once,
in the answer to the POST, never stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from flask import Blueprint, abort, make_response, render_template, request
from flask import url_for as flask_url_for
from marshmallow.fields import Integer
from marshmallow.validate import Range
from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased, joinedload
from werkzeug.wrappers import Response

from service.admin import operations as admin_ops
from service.auth.models import ApiToken
from service.auth.sessions import second_factor_given
from service.core.export import FORMATS, Column, download, rows_in_chunks
from service.core.fields import MAX_ID, BeYear, Day, Invalid, Money, value_of
from service.core.labels import field_label, label
from service.core.paging import page_number, paged
from service.core.permissions import administers, is_admin_anywhere, manages_user, may_grant
from service.core.sql import matches_text
from service.core.thai import read_code
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.fiscal.models import FiscalYear
from service.notifications.models import ReminderKind, ReminderRule
from service.org import operations as org_ops
from service.org.models import Delegation, OrgUnit, Role, RoleAssignment, UnitKind, User
from service.strategy.models import StrategyNode
from service.workflow.engine import Refused
from service.workflow.screens import NO_DECISION, actor, gate, run_change, session

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: The failed-notifications page belongs to the workers' module; we only link to it.
FAILED_NOTIFICATIONS_PATH = "/admin/notifications/failed"


#: The gate of the administration: admins of some unit (each sees what they administer).
admin_page = gate(is_admin_anywhere)
#: The gate of what belongs to the whole tree: admins of a root unit only.
whole_tree_page = gate(lambda session, user: administers(session, user, None))


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


def _read(field: Any, name: str) -> Any:
    """The form's `name` read through `field` (service.core.fields); a 422 naming it if bad."""
    try:
        return value_of(field, request.form, name)
    except Invalid as invalid:
        raise Refused(
            422, f"{field_label(name)}: {invalid.message}", fields={name: invalid.message}
        ) from None


def _int(name: str, *, required: bool = True) -> int | None:
    whole = Integer(required=required, validate=Range(-MAX_ID, MAX_ID))
    found: int | None = _read(whole, name)
    return found


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
@admin_page
def index() -> tuple[str, int]:
    return _page("index.html", failed_notifications=FAILED_NOTIFICATIONS_PATH)


# ---- org units -------------------------------------------------------------------------------


def _units_page(**kw: Any) -> tuple[str, int]:
    """A page of 50 units in tree order (matching ?q= in code or names), each with its limit
    form; the new unit's parent is named by its code from one list of all units. Every unit
    with a form, and a parent menu of every unit, was 1.8 MB for the country's 1,286 units."""
    search = _searched(
        select(OrgUnit).where(_administered()).order_by(OrgUnit.path, OrgUnit.id),
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
    template's `listing`, `q`, `page_url` (which keeps the search) and `export_url`."""
    q = request.args.get("q", "")[:200].strip()
    return {
        "listing": paged(
            session(),
            _narrowed(statement, *columns),
            page_number(request.args.get("page")),
            after=request.args.get("after"),
        ),
        "q": q,
        "page_url": lambda number: flask_url_for(endpoint, q=q or None, page=number),
        "export_url": lambda fmt: flask_url_for(endpoint, q=q or None, format=fmt),
    }


def _narrowed(statement: Select[Any], *columns: Any) -> Select[Any]:
    """`statement` narrowed to rows whose `columns` contain ?q=."""
    q = request.args.get("q", "")[:200].strip()
    return statement.where(matches_text(q, *columns)) if q else statement


def _export_format() -> str | None:
    fmt = request.args.get("format")
    if fmt is not None and fmt not in FORMATS:
        abort(404)
    return fmt


def _unit_rows(db_session: Any, ids: Sequence[int], lang: str) -> list[tuple[Any, ...]]:
    """The exported values of the units `ids`, in that order (read in `db_session`)."""
    found = {
        u.id: u
        for u in db_session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_(ids)).options(joinedload(OrgUnit.parent))
        )
    }
    return [
        (
            u.code,
            u.name(lang),
            label(u.kind),
            u.parent.code if u.parent else "",
            u.approval_limit,
            u.approvals_required,
        )
        for u in (found[i] for i in ids if i in found)
    ]


UNIT_COLUMNS = (
    Column(_l("Code"), lambda r: r[0], width=14),
    Column(_l("Name"), lambda r: r[1], width=50),
    Column(_l("Kind"), lambda r: r[2], width=24),
    Column(_l("Parent's code"), lambda r: r[3], width=14),
    Column(_l("Approval limit"), lambda r: r[4], "money", 18),
    Column(_l("Approvals required"), lambda r: r[5], "number"),
)


def _user_rows(db_session: Any, ids: Sequence[int], lang: str) -> list[tuple[Any, ...]]:
    """The exported values of the users `ids`, in that order, with their standing roles."""
    found = {u.id: u for u in db_session.scalars(select(User).where(User.id.in_(ids)))}
    roles: dict[int, list[str]] = {}
    for assignment in db_session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.user_id.in_(ids), RoleAssignment.withdrawn_at.is_(None))
        .options(joinedload(RoleAssignment.unit))
        .order_by(RoleAssignment.user_id, RoleAssignment.id)
    ):
        roles.setdefault(assignment.user_id, []).append(
            f"{label(assignment.role)} ({assignment.unit.code})"
        )
    return [
        (
            u.email,
            u.name,
            _("Yes") if u.active else _("No"),
            "; ".join(roles.get(u.id, [])),
        )
        for u in (found[i] for i in ids if i in found)
    ]


USER_COLUMNS = (
    Column(_l("Email"), lambda r: r[0], width=32),
    Column(_l("Name"), lambda r: r[1], width=32),
    Column(_l("Active"), lambda r: r[2], width=10),
    Column(_l("Roles"), lambda r: r[3], width=60),
)


def _all_units() -> list[OrgUnit]:
    """Every unit the reader administers, in tree order: the list unit codes are typed from
    (a datalist)."""
    return list(session().scalars(select(OrgUnit).where(_administered()).order_by(OrgUnit.path)))


#: Between a unit's code and its name in the list the unit pickers offer ("code — name").
UNIT_PICK_SEPARATOR = " — "


def _unit_named(code_field: str, id_field: str, required: bool = True) -> OrgUnit | None:
    """The unit the form names in `code_field` (what the pages send: a code, "code — name" as
    the picker's list offers it, or the exact Thai or English name) or by its id (`id_field`,
    what scripts send); a 422 for an unknown unit, and the same for a unit the reader does
    not administer (it is not told apart from one that does not exist)."""
    typed = request.form.get(code_field, "").strip()
    if typed:
        return _unit_typed(typed, code_field)
    ident = _int(id_field, required=required)
    if not ident:
        return None
    unit = session().scalar(select(OrgUnit).where(OrgUnit.id == ident, _administered()))
    if unit is None:
        raise Refused(422, _("choose one from the list"), fields={id_field: _("no such unit")})
    return unit


def _unit_typed(typed: str, field: str) -> OrgUnit:
    """The administered unit `typed` names: its code (alone or before the picker's " — "),
    else its exact Thai name or English name (spaces and English case aside). A name several
    administered units share is refused (422) asking for the code, as is an unknown one."""
    # A code typed with Thai (๕๐๒๓๐๐๐๐) or full-width (５０２３００００) digits is the same code.
    code = read_code(typed.split(UNIT_PICK_SEPARATOR, 1)[0])
    unit = session().scalar(select(OrgUnit).where(OrgUnit.code == code, _administered()))
    if unit is not None:
        return unit
    name = " ".join(typed.split())
    named = list(
        session().scalars(
            select(OrgUnit)
            .where(
                or_(OrgUnit.name_th == name, func.lower(OrgUnit.name_en) == name.lower()),
                _administered(),
            )
            .order_by(OrgUnit.code)
            .limit(2)
        )
    )
    if len(named) == 1:
        return named[0]
    if named:
        raise Refused(
            422,
            _(
                "several units are named %(name)s: choose one from the list or type its code",
                name=name,
            ),
            fields={field: _("several units have this name")},
        )
    raise Refused(
        422,
        _("no unit has the code or name %(unit)s", unit=typed),
        fields={field: _("no such unit")},
    )


def _administered_unit_or_404(unit_id: int) -> OrgUnit:
    unit = session().get(OrgUnit, unit_id)
    if unit is None or not administers(session(), actor(), unit):
        abort(404)
    return unit


@bp.route("/units")
@admin_page
def units() -> Any:
    fmt = _export_format()
    if fmt is not None:
        statement = select(OrgUnit.id).where(_administered()).order_by(OrgUnit.path)
        ids = list(
            session().scalars(_narrowed(statement, OrgUnit.code, OrgUnit.name_th, OrgUnit.name_en))
        )
        lang = current_language()
        rows = rows_in_chunks(ids, lambda s, chunk: _unit_rows(s, chunk, lang))
        return download(fmt, "units", UNIT_COLUMNS, rows, _("Org units"))
    return _units_page()


@bp.route("/units", methods=["POST"])
@admin_page
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
        try:
            admin_ops.create_unit(
                session(),
                actor(),
                code=form.get("code", ""),
                name_th=form.get("name_th", ""),
                name_en=form.get("name_en", ""),
                kind=UnitKind(kind),
                parent=parent,
            )
        except Refused as refused:
            # the operation names the parent as the API sends it; this form, by its code
            if refused.fields and "parent_id" in refused.fields:
                refused.fields["parent_code"] = refused.fields.pop("parent_id")
            raise

    return run_change(
        change, done=_("The unit is added."), back=flask_url_for("admin.units"), again=_units_page
    )


def _unit_page(
    unit: OrgUnit,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[str, int]:
    """One unit: its names (to correct a typo or a renamed office) and its approval rules;
    after a refusal, the names as typed with each field's problem."""
    typed = form if form is not None else {"name_th": unit.name_th, "name_en": unit.name_en}
    return _page("unit.html", status, unit=unit, form=typed, errors=errors or {})


@bp.route("/units/<int:unit_id>")
@admin_page
def unit_page(unit_id: int) -> tuple[str, int]:
    return _unit_page(_administered_unit_or_404(unit_id))


@bp.route("/units/<int:unit_id>/names", methods=["POST"])
@admin_page
def rename_unit(unit_id: int) -> Response | tuple[str, int]:
    unit = _administered_unit_or_404(unit_id)
    return run_change(
        lambda: admin_ops.update_unit(
            session(),
            actor(),
            unit,
            name_th=request.form.get("name_th", ""),
            name_en=request.form.get("name_en", ""),
        ),
        done=_("The unit's names are saved."),
        back=flask_url_for("admin.unit_page", unit_id=unit.id),
        again=lambda form, errors, status: _unit_page(unit, status, form, errors),
    )


@bp.route("/units/<int:unit_id>/limit", methods=["POST"])
@admin_page
def set_limit(unit_id: int) -> Response | tuple[str, int]:
    unit = _administered_unit_or_404(unit_id)

    def change() -> None:
        admin_ops.update_unit(
            session(),
            actor(),
            unit,
            approval_limit=_read(Money(commas=True), "approval_limit"),
            approvals_required=_int("approvals_required", required=False),
        )

    def again(form: dict[str, Any], errors: dict[str, str], status: int) -> tuple[str, int]:
        # The unit's own form as typed, each field with its problem: on the list, the
        # problem showed under the new-unit form, unnamed, and the typed limit was gone.
        return _page("limit_refused.html", status, unit=unit, form=form, errors=errors)

    return run_change(
        change,
        done=_("The approval limit is saved."),
        back=flask_url_for("admin.units"),
        again=again,
    )


# ---- users and roles -------------------------------------------------------------------------


def _users_page(**kw: Any) -> tuple[str, int]:
    """A page of 50 users (by email, matching ?q= in email or name) with their roles; the
    grant form's unit picker offers one list of all units (code — name). Every user with a
    form holding every unit was 25 s and 200 MB for the country's 1,950 users and 1,286
    units."""
    search = _searched(
        select(User).where(_users_administered()).order_by(User.email, User.id),
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
@admin_page
def users() -> Any:
    fmt = _export_format()
    if fmt is not None:
        statement = select(User.id).where(_users_administered()).order_by(User.email)
        ids = list(session().scalars(_narrowed(statement, User.email, User.name)))
        lang = current_language()
        rows = rows_in_chunks(ids, lambda s, chunk: _user_rows(s, chunk, lang))
        return download(fmt, "users", USER_COLUMNS, rows, _("Users and roles"))
    return _users_page()


@bp.route("/users", methods=["POST"])
@admin_page
def create_user() -> Response | tuple[str, int]:
    form = request.form

    def change() -> None:
        admin_ops.create_user(
            session(),
            actor(),
            email=form.get("email", ""),
            name=form.get("name", ""),
            password=form.get("password", ""),
            language=form.get("language", "th"),
        )

    return run_change(
        change, done=_("The user is added."), back=flask_url_for("admin.users"), again=_users_page
    )


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@admin_page
def grant_role(user_id: int) -> Response | tuple[str, int]:
    user = session().get(User, user_id) or abort(404)

    def change() -> None:
        role = request.form.get("role", "")
        if role not in {r.value for r in Role}:
            raise Refused(422, _("choose a role"), fields={"role": _("choose a role")})
        unit = _unit_named("unit_code", "unit_id")
        assert unit is not None
        from service.org.scope import active_roles

        if any(
            a.role is Role(role) and a.unit_id == unit.id for a in active_roles(session(), user)
        ):
            # It said "The role is granted." again, as if something new had been given.
            raise Refused(
                409,
                _(
                    "%(name)s already holds this role in %(unit)s: nothing changed",
                    name=user.name,
                    unit=unit.name_th,
                ),
            )
        admin_ops.grant_role(session(), actor(), user, Role(role), unit)

    return run_change(
        change,
        done=_("The role is granted."),
        back=_users_listed(),
        # the refusal beside that person's grant form, with what was typed
        again=lambda **kw: _users_page(grant_for=user.id, **kw),
    )


def _users_listed() -> str:
    """The users page as the admin left it: its search (?q=) kept, so the person acted on is
    still in sight after the change."""
    return flask_url_for("admin.users", q=request.args.get("q") or None)


@bp.route("/users/<int:user_id>/deactivate")
@admin_page
def confirm_deactivate_user(user_id: int) -> tuple[str, int]:
    """The deactivate button's first step: "deactivate X's account?" with the button that
    does it (no JavaScript needed), as withdrawing a role asks."""
    return _page(
        "deactivate_user.html", user=_managed_user_or_404(user_id), q=request.args.get("q", "")
    )


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@admin_page
def deactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Deactivates with confirm=1 (the confirmation page's button); without it (an old
    page's button), asks first: one click on the list acted at once."""
    user = session().get(User, user_id) or abort(404)
    if request.form.get("confirm") != "1":
        return _page("deactivate_user.html", user=user, q=request.args.get("q", ""))
    return run_change(
        lambda: admin_ops.deactivate_user(session(), actor(), user),
        done=_("The account is deactivated."),
        back=_users_listed(),
        again=_users_page,
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@admin_page
def reactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Lets a deactivated account sign in again (its old sessions and tokens stay dead)."""
    user = session().get(User, user_id) or abort(404)
    return run_change(
        lambda: admin_ops.reactivate_user(session(), actor(), user),
        done=_("The account is active again. Sessions and API tokens from before stay ended."),
        back=_users_listed(),
        again=_users_page,
    )


# ---- someone's sign-in -------------------------------------------------------------------------


def _managed_user_or_404(user_id: int) -> User:
    user = session().get(User, user_id) or abort(404)
    if not manages_user(session(), actor(), user):
        abort(404)
    return user


def _sign_in_page(user: User, **kw: Any) -> tuple[str, int]:
    from service.auth.account import sign_in_history
    from service.auth.sessions import describe_device, open_sessions

    return _page(
        "sign_in.html",
        user=user,
        sessions=open_sessions(session(), user),
        history=sign_in_history(user),
        describe_device=describe_device,
        **kw,
    )


@bp.route("/users/<int:user_id>/sign-in")
@admin_page
def user_sign_in(user_id: int) -> tuple[str, int]:
    """A person's sign-in as their admin sees it: open sessions, history, and the changes
    an admin makes to it (temporary password, end sessions, second factor, single sign-on)."""
    return _sign_in_page(_managed_user_or_404(user_id))


def _sign_in_change(user_id: int, change: Any, done: str) -> Response | tuple[str, int]:
    user = _managed_user_or_404(user_id)
    return run_change(
        lambda: change(user),
        done=done,
        back=flask_url_for("admin.user_sign_in", user_id=user.id),
        again=lambda **kw: _sign_in_page(user, **kw),
    )


@bp.route("/users/<int:user_id>/temporary-password", methods=["POST"])
@admin_page
def set_temporary_password(user_id: int) -> Response | tuple[str, int]:
    return _sign_in_change(
        user_id,
        lambda user: admin_ops.set_temporary_password(
            session(), actor(), user, request.form.get("password", "")
        ),
        _(
            "The temporary password is set. Give it to the person; they choose their own at"
            " their next sign-in."
        ),
    )


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
@admin_page
def end_sessions(user_id: int) -> Response | tuple[str, int]:
    return _sign_in_change(
        user_id,
        lambda user: admin_ops.end_all_sessions(session(), actor(), user),
        _("Every session of the person is ended."),
    )


@bp.route("/users/<int:user_id>/second-factor/reset", methods=["POST"])
@admin_page
def reset_second_factor(user_id: int) -> Response | tuple[str, int]:
    return _sign_in_change(
        user_id,
        lambda user: admin_ops.reset_second_factor(session(), actor(), user),
        _("The second factor is reset."),
    )


@bp.route("/users/<int:user_id>/sso-identity", methods=["POST"])
@admin_page
def link_sso_identity(user_id: int) -> Response | tuple[str, int]:
    return _sign_in_change(
        user_id,
        lambda user: admin_ops.link_sso_identity(
            session(), actor(), user, request.form.get("sso_identity", "")
        ),
        _("The single sign-on link is saved."),
    )


def _withdrawable(assignment_id: int) -> RoleAssignment:
    """The role assignment, when the reader may withdraw it (403 otherwise, 404 if none)."""
    assignment = session().get(RoleAssignment, assignment_id) or abort(404)
    if not may_grant(session(), actor(), assignment.role, assignment.unit):
        abort(403)
    return assignment


def _withdraw_question(assignment: RoleAssignment, **kw: Any) -> tuple[str, int]:
    """ "Withdraw X's role at Y?", warning an admin about to withdraw their own role (they
    lose what it lets them do at once) and saying beforehand when it is the last admin role
    over the whole tree (the withdrawal would be refused); the list's search (?q=) rides
    along, to be kept after the change."""
    return _page(
        "withdraw_role.html",
        assignment=assignment,
        own=assignment.user_id == actor().id,
        last_admin=admin_ops.leaves_no_whole_tree_admin(session(), assignment),
        last_admin_reason=str(admin_ops.LAST_ADMIN),
        q=request.args.get("q", ""),
        **kw,
    )


@bp.route("/roles/<int:assignment_id>/withdraw")
@admin_page
def confirm_withdraw_role(assignment_id: int) -> tuple[str, int]:
    """The withdraw button's first step: "withdraw X's role at Y?" with the button that
    does it (no JavaScript needed)."""
    return _withdraw_question(_withdrawable(assignment_id))


@bp.route("/roles/<int:assignment_id>/withdraw", methods=["POST"])
@admin_page
def withdraw_role(assignment_id: int) -> Response | tuple[str, int]:
    """Withdraws with confirm=1 (the confirmation page's button); without it (an old page's
    button), asks first."""
    assignment = _withdrawable(assignment_id)
    if request.form.get("confirm") != "1":
        return _withdraw_question(assignment)
    return run_change(
        lambda: admin_ops.withdraw_role(session(), actor(), assignment),
        done=_("The role is withdrawn."),
        back=_users_listed(),
        again=_users_page,
    )


# ---- delegations -----------------------------------------------------------------------------


def _delegations_page(**kw: Any) -> tuple[str, int]:
    """The delegations and the form setting one up. Its principal and deputy lists hold the
    people who can be either, active accounts holding a role (a deactivated account, or one
    without a role, was offered and then refused), each named with their email (two people
    may share a name)."""
    delegations = list(session().scalars(select(Delegation).order_by(Delegation.id.desc())))
    holds_a_role = exists().where(
        RoleAssignment.user_id == User.id, RoleAssignment.withdrawn_at.is_(None)
    )
    users = list(
        session().scalars(
            select(User).where(User.active.is_(True), holds_a_role).order_by(User.name, User.email)
        )
    )
    if not administers(session(), actor(), None):
        delegations = [d for d in delegations if manages_user(session(), actor(), d.principal)]
        users = [u for u in users if manages_user(session(), actor(), u)]
    return _page("delegations.html", delegations=delegations, users=users, **kw)


@bp.route("/delegations")
@admin_page
def delegations() -> tuple[str, int]:
    return _delegations_page()


def _day(name: str) -> date:
    found: date = _read(Day(typed=True, required=True), name)
    return found


@bp.route("/delegations", methods=["POST"])
@admin_page
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

    return run_change(
        change,
        done=_("The delegation is set up."),
        back=flask_url_for("admin.delegations"),
        again=_delegations_page,
    )


@bp.route("/delegations/<int:delegation_id>/withdraw", methods=["POST"])
@admin_page
def withdraw_delegation(delegation_id: int) -> Response | tuple[str, int]:
    delegation = session().get(Delegation, delegation_id) or abort(404)
    return run_change(
        lambda: org_ops.withdraw_delegation(session(), actor(), delegation),
        done=_("The delegation is withdrawn."),
        back=flask_url_for("admin.delegations"),
        again=_delegations_page,
    )


# ---- fiscal years ----------------------------------------------------------------------------


def _years_page(**kw: Any) -> tuple[str, int]:
    years = list(session().scalars(select(FiscalYear).order_by(FiscalYear.be_year)))
    return _page("years.html", years=years, **kw)


@bp.route("/years")
@whole_tree_page
def years() -> tuple[str, int]:
    return _years_page()


@bp.route("/years", methods=["POST"])
@whole_tree_page
def create_year() -> Response | tuple[str, int]:
    return run_change(
        lambda: admin_ops.create_fiscal_year(
            session(), actor(), _read(BeYear(required=True), "be_year")
        ),
        done=_("The fiscal year is added."),
        back=flask_url_for("admin.years"),
        again=_years_page,
    )


@bp.route("/years/<int:year_id>/open", methods=["POST"])
@whole_tree_page
def toggle_year(year_id: int) -> Response | tuple[str, int]:
    year = session().get(FiscalYear, year_id) or abort(404)
    return run_change(
        lambda: admin_ops.set_year_open(session(), actor(), year, _decision("open")),
        done=_("The fiscal year is saved."),
        back=flask_url_for("admin.years"),
        again=_years_page,
    )


# ---- strategy tree ---------------------------------------------------------------------------


def _strategy_page(**kw: Any) -> tuple[str, int]:
    nodes = list(session().scalars(select(StrategyNode).order_by(StrategyNode.code)))
    return _page("strategy.html", nodes=nodes, **kw)


@bp.route("/strategy")
@whole_tree_page
def strategy() -> tuple[str, int]:
    return _strategy_page()


@bp.route("/strategy", methods=["POST"])
@whole_tree_page
def create_node() -> Response | tuple[str, int]:
    def change() -> None:
        parent_id = _int("parent_id", required=False)
        parent = _get(StrategyNode, parent_id) if parent_id else None
        admin_ops.create_strategy_node(
            session(), actor(), request.form.get("code", ""), request.form.get("name", ""), parent
        )

    return run_change(
        change,
        done=_("The strategy node is added."),
        back=flask_url_for("admin.strategy"),
        again=_strategy_page,
    )


def _node_page(
    node: StrategyNode,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[str, int]:
    typed = form if form is not None else {"name": node.name}
    return _page("strategy_node.html", status, node=node, form=typed, errors=errors or {})


@bp.route("/strategy/<int:node_id>")
@whole_tree_page
def strategy_node(node_id: int) -> tuple[str, int]:
    """One node of the strategy tree, to rename (its code, and what is filed under it, stay)."""
    return _node_page(session().get(StrategyNode, node_id) or abort(404))


@bp.route("/strategy/<int:node_id>/name", methods=["POST"])
@whole_tree_page
def rename_node(node_id: int) -> Response | tuple[str, int]:
    node = session().get(StrategyNode, node_id) or abort(404)
    return run_change(
        lambda: admin_ops.update_strategy_node(
            session(), actor(), node, name=request.form.get("name", "")
        ),
        done=_("The strategy node is renamed."),
        back=flask_url_for("admin.strategy"),
        again=lambda form, errors, status: _node_page(node, status, form, errors),
    )


# ---- reminder rules --------------------------------------------------------------------------


def _reminders_page(**kw: Any) -> tuple[str, int]:
    rules = list(
        session().scalars(select(ReminderRule).order_by(ReminderRule.kind, ReminderRule.id))
    )
    kw.setdefault("editing", None)
    read = {r.id: _rule_as_read(r) for r in rules}
    return _page("reminders.html", rules=rules, kinds=list(ReminderKind), read=read, **kw)


def _rule_as_read(rule: ReminderRule) -> str:
    """A short digest of what a rule's edit form shows: sent back with the form, it tells a
    save from a page drawn before someone else's save (the table has no version column)."""
    shown = (rule.name, rule.offset_days, rule.repeat_days, rule.escalate_after_days)
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


#: Why a rule's save from a page drawn before another save is refused (409).
RULE_CHANGED = _l(
    "someone changed this rule while your page was open: it now reads as shown; "
    "save again to replace it with what you typed"
)


def _rule_days(*, kind: bool) -> tuple[int, int | None, int | None]:
    """A reminder rule form's days (and, with `kind`, its kind checked), every problem of
    the form named at once (a missing name too): not one field per try."""
    problems: dict[str, str] = {}
    if kind and request.form.get("kind", "") not in {k.value for k in ReminderKind}:
        problems["kind"] = _("choose a kind")
    days: dict[str, int | None] = {}
    for name, required in (
        ("offset_days", True),
        ("repeat_days", False),
        ("escalate_after_days", False),
    ):
        try:
            days[name] = _int(name, required=required)
        except Refused as refused:
            problems.update(refused.fields)
    if problems:
        # the rule's own checks too, on what could be read
        try:
            admin_ops.check_rule(
                request.form.get("name", ""),
                days.get("offset_days"),
                days.get("repeat_days"),
                days.get("escalate_after_days"),
            )
        except Refused as refused:
            problems = {**refused.fields, **problems}
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    return days["offset_days"] or 0, days["repeat_days"], days["escalate_after_days"]


@bp.route("/reminders")
@whole_tree_page
def reminders() -> tuple[str, int]:
    return _reminders_page()


@bp.route("/reminders", methods=["POST"])
@whole_tree_page
def create_rule() -> Response | tuple[str, int]:
    def change() -> None:
        offset, repeat, escalate = _rule_days(kind=True)
        admin_ops.create_reminder_rule(
            session(),
            actor(),
            kind=ReminderKind(request.form["kind"]),
            name=request.form.get("name", ""),
            offset_days=offset,
            repeat_days=repeat,
            escalate_after_days=escalate,
        )

    return run_change(
        change,
        done=_("The reminder rule is added."),
        back=flask_url_for("admin.reminders"),
        again=_reminders_page,
    )


@bp.route("/reminders/<int:rule_id>", methods=["POST"])
@whole_tree_page
def update_rule(rule_id: int) -> Response | tuple[str, int]:
    rule = session().get(ReminderRule, rule_id) or abort(404)

    def change() -> None:
        read = request.form.get("read")
        if read is not None and read != _rule_as_read(rule):
            raise Refused(409, str(RULE_CHANGED), fields={"name": str(RULE_CHANGED)})
        offset, repeat, escalate = _rule_days(kind=False)
        admin_ops.update_reminder_rule(
            session(),
            actor(),
            rule,
            name=request.form.get("name", ""),
            offset_days=offset,
            repeat_days=repeat,
            escalate_after_days=escalate,
        )

    return run_change(
        change,
        done=_("The reminder rule is saved."),
        back=flask_url_for("admin.reminders"),
        again=lambda **kw: _reminders_page(editing=rule.id, **kw),
    )


@bp.route("/reminders/<int:rule_id>/active", methods=["POST"])
@whole_tree_page
def toggle_rule(rule_id: int) -> Response | tuple[str, int]:
    rule = session().get(ReminderRule, rule_id) or abort(404)
    return run_change(
        lambda: admin_ops.set_rule_active(session(), actor(), rule, _decision("active")),
        done=_("The reminder rule is saved."),
        back=flask_url_for("admin.reminders"),
        again=_reminders_page,
    )


# ---- API tokens ------------------------------------------------------------------------------


def _tokens_page(**kw: Any) -> tuple[str, int]:
    tokens = list(session().scalars(select(ApiToken).order_by(ApiToken.id.desc())))
    return _page("tokens.html", tokens=tokens, **kw)


@bp.route("/tokens")
@whole_tree_page
def tokens() -> tuple[str, int]:
    return _tokens_page()


@bp.route("/tokens", methods=["POST"])
@whole_tree_page
def create_token() -> Response | tuple[str, int]:
    """Make a token and show it once in this answer (never stored, never redirected)."""

    def change() -> tuple[ApiToken, str]:
        # the admin's own token: a token acts as its holder (admin_ops.create_token)
        return admin_ops.create_token(
            session(),
            actor(),
            actor(),
            request.form.get("name", ""),
            proved_second_factor=second_factor_given(),
        )

    def shown(made: tuple[ApiToken, str]) -> Response:
        row, secret = made
        page, _status = _tokens_page(new_token=secret, new_token_row=row)
        response = make_response(page)
        response.headers["Cache-Control"] = "no-store"
        return response

    return run_change(
        change,
        done="",
        back=flask_url_for("admin.tokens"),
        again=_tokens_page,
        answer=shown,
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@whole_tree_page
def revoke_token(token_id: int) -> Response | tuple[str, int]:
    token = session().get(ApiToken, token_id) or abort(404)
    return run_change(
        lambda: admin_ops.revoke_token(session(), actor(), token),
        done=_("The token is revoked."),
        back=flask_url_for("admin.tokens"),
        again=_tokens_page,
    )

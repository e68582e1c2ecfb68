"""Acting for someone, in the browser (/acting): whom the signed-in person may act for
today, and the buttons that start and end it. What acting means is service.org.acting."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from service.core.fields import Day, FormId, Invalid, value_of
from service.core.fiscal import local_today
from service.core.labels import field_label
from service.core.translate import gettext as _
from service.core.web import safe_next
from service.extensions import db
from service.org import acting
from service.org import operations as org_ops
from service.org.models import Delegation, User
from service.workflow.engine import Refused
from service.workflow.screens import run_change

bp = Blueprint("acting", __name__)


@bp.app_context_processor
def _acting_banner() -> dict[str, object]:
    """`current_acting_principal()` for the header's "for <name>" strip: a statement only
    while the browser session names someone to act for."""

    def current_acting_principal() -> User | None:
        if acting.signed_in() is None:
            return None
        return acting.acting_for(db.session())

    return {"current_acting_principal": current_acting_principal}


def _signed_in() -> User:
    user = acting.signed_in()
    if user is None:  # pragma: no cover - behind login_required
        abort(401)
    return user


#: POSTs that go through when the delegation acted under has ended: choosing or ending
#: acting, and signing out.
_NOT_FOR_THE_PRINCIPAL = frozenset({"acting.start", "acting.end", "auth.logout"})


@bp.before_app_request
def _refuse_change_under_ended_delegation() -> Response | None:
    """A page's POST sent while acting for someone whose delegation has since ended (withdrawn
    by an administrator, or its last day passed while the page stood open) is refused and
    changes nothing: the person pressed the button in the principal's name, and it must not
    be done in their own name instead. The choice is forgotten (service.org.acting says so)
    and the person lands on their home page; their next change is their own."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.endpoint in _NOT_FOR_THE_PRINCIPAL:
        return None
    from service.api.errors import in_api

    if in_api():  # the API acts by its token, never for someone
        return None
    if flask_session.get(acting.SESSION_KEY) is None or acting.signed_in() is None:
        return None
    if acting.acting_for(db.session()) is not None:
        return None
    flash(
        _("Nothing was changed: you pressed it acting for someone, and that delegation has ended."),
        "error",
    )
    return redirect(url_for("auth.home"), 303)


@bp.route("/acting")
@login_required
def choose() -> str:
    """The delegations the signed-in person holds today, each with its button."""
    return _choices()


def _choices() -> str:
    session = db.session()
    user = _signed_in()
    today = local_today()
    delegations = list(
        session.scalars(
            select(Delegation)
            .options(joinedload(Delegation.principal))
            .where(
                Delegation.delegate_id == user.id,
                Delegation.withdrawn_at.is_(None),
                Delegation.starts_on <= today,
                Delegation.ends_on >= today,
            )
            .order_by(Delegation.ends_on, Delegation.id)
        )
    )
    return render_template(
        "org/acting.html", delegations=delegations, current=acting.acting_for(session)
    )


@bp.route("/acting", methods=["POST"])
@login_required
def start() -> Response | tuple[str, int]:
    """Act for the chosen principal from the next page on; refused (403) without a
    delegation in force today."""
    session = db.session()
    user = _signed_in()
    try:
        principal_id = value_of(FormId(), request.form, "principal_id")
    except Invalid as problem:
        flash(f"{problem.message}", "error")
        return redirect(url_for("acting.choose"))
    delegation = acting.start_acting(session, user, principal_id)
    if delegation is None:
        # Withdrawn or ended while the page stood open: say so over the list as it is now.
        flash(_("That delegation is no longer in force: you act as yourself."), "error")
        return _choices(), 403
    flash(_("You now act for %(name)s.", name=delegation.principal.name), "info")
    return redirect(safe_next(request.form.get("next")) or url_for("auth.home"))


@bp.route("/acting/end", methods=["POST"])
@login_required
def end() -> Response:
    """Act as oneself again."""
    acting.stop_acting()
    flash(_("You act as yourself again."), "info")
    return redirect(safe_next(request.form.get("next")) or url_for("auth.home"))


# ---- one's own deputies ----------------------------------------------------------------------


def _deputies_page(
    status: int = 200, form: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> tuple[str, int]:
    """The signed-in person's delegations (whom they have let act for them, latest first),
    the people they may choose as deputy, and the form; after a refusal, what was typed and
    the refused fields."""
    session = db.session()
    user = _signed_in()
    delegations = list(
        session.scalars(
            select(Delegation)
            .options(joinedload(Delegation.delegate))
            .where(Delegation.principal_id == user.id)
            .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
            .limit(DEPUTY_ROWS)
        )
    )
    page = render_template(
        "org/deputies.html",
        delegations=delegations,
        deputies=org_ops.possible_deputies(session, user),
        today=local_today(),
        form=form or {},
        errors=errors or {},
    )
    return page, status


#: The delegations the page lists (latest first): years of leave, not a history to scroll.
DEPUTY_ROWS = 50


@bp.route("/deputies")
@login_required
def deputies() -> tuple[str, int]:
    """Whom the signed-in person lets act for them, and for when (their own delegations:
    an approver going on leave hands over here, without asking an administrator)."""
    return _deputies_page()


@bp.route("/deputies", methods=["POST"])
@login_required
def add_deputy() -> Response | tuple[str, int]:
    user = _signed_in()
    session = db.session()

    def change() -> None:
        fields: dict[str, str] = {}
        values: dict[str, object] = {}
        for name, field in (
            ("delegate_id", FormId(required=True)),
            ("starts_on", Day(typed=True, required=True)),
            ("ends_on", Day(typed=True, required=True)),
        ):
            try:
                values[name] = value_of(field, request.form, name)
            except Invalid as problem:
                fields[name] = problem.message
        if fields:
            # As the page names them (the deputy, where other pages say "delegate").
            labels = {"delegate_id": _("Deputy")}
            names = ", ".join(labels.get(name) or field_label(name) for name in fields)
            raise Refused(
                422, _("some input is missing or wrong: %(fields)s", fields=names), fields=fields
            )
        delegate = session.get(User, values["delegate_id"])
        if delegate is None:
            choose = _("choose one from the list")
            raise Refused(422, choose, fields={"delegate_id": choose})
        org_ops.create_delegation(
            session,
            user,
            user,
            delegate,
            values["starts_on"],  # type: ignore[arg-type]
            values["ends_on"],  # type: ignore[arg-type]
            request.form.get("reason", ""),
        )

    return run_change(
        change,
        done=_("Your deputy is set up."),
        back=url_for("acting.deputies"),
        again=lambda form, errors, status: _deputies_page(status, form, errors),
    )


@bp.route("/deputies/<int:delegation_id>/withdraw", methods=["POST"])
@login_required
def withdraw_deputy(delegation_id: int) -> Response | tuple[str, int]:
    """Withdraw one of one's own delegations (another's is not found here: 404)."""
    user = _signed_in()
    delegation = db.session().get(Delegation, delegation_id)
    if delegation is None or delegation.principal_id != user.id:
        abort(404)
    return run_change(
        lambda: org_ops.withdraw_delegation(db.session(), user, delegation),
        done=_("The delegation is withdrawn."),
        back=url_for("acting.deputies"),
        again=lambda form, errors, status: _deputies_page(status),
    )

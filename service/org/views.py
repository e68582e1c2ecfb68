"""Acting for someone, in the browser (/acting): whom the signed-in person may act for
today, and the buttons that start and end it. What acting means is service.org.acting."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from service.core.fields import FormId, Invalid, value_of
from service.core.fiscal import local_today
from service.core.translate import gettext as _
from service.core.web import safe_next
from service.extensions import db
from service.org import acting
from service.org.models import Delegation, User

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

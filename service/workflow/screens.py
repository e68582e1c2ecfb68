"""The work screens' common ground: who acts, taking a transition from a form, and one generic
endpoint for transitions that need nothing but a button (and perhaps a reason or a date).

Every screen renders its actions from `engine.options`: an allowed option becomes a form that
posts here (or to the screen's own form when it needs more input), a refused one shows its
reason. After a POST the browser is redirected (PRG) with a flash; a transition refused with
409 or 422 re-renders the form with the user's input and the status, so nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from service.auth.views import safe_next
from service.core.labels import field_label
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language
from service.extensions import db
from service.org.models import User
from service.workflow import engine
from service.workflow.engine import Option, Refused

bp = Blueprint("actions", __name__)

#: Inputs the generic endpoint accepts; transitions needing others have their own forms.
SIMPLE_INPUTS = ("reason", "paid_on")

#: What each state is called on the work screens.
STATE_NAMES = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "locked": _l("Plan locked"),
    "revision_requested": _l("Revision requested"),
    "closed": _l("Closed"),
    "withdrawn": _l("Withdrawn"),
    "not_started": _l("Not started"),
    "in_progress": _l("In progress"),
    "accepted": _l("Accepted"),
    "returned": _l("Returned"),
    "approved": _l("Approved"),
    "disbursing": _l("Disbursing"),
    "completed": _l("Completed"),
    "rejected": _l("Rejected"),
    "requested": _l("Requested"),
    "paid": _l("Paid"),
    "open": _l("Open"),
    "self_assessed": _l("Self-assessed"),
    "scored": _l("Scored"),
    "published": _l("Published"),
}


def state_name(state: Any) -> str:
    """The state's name in the current language (its value when unnamed)."""
    value = str(getattr(state, "value", state))
    return str(STATE_NAMES.get(value, value))


def plain(value: Any) -> str:
    """A Decimal without trailing zeros or exponent (0.0000 → 0, 100.0000 → 100)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def actor() -> User:
    """The signed-in user as a model instance bound to this request's session."""
    user: User = current_user._get_current_object()
    return user


def session() -> Session:
    return db.session()


def options_for(obj: Any) -> list[Option]:
    """The transitions out of `obj`'s state for the current user, allowed or with reasons."""
    return engine.options(session(), actor(), obj)


def option_label(option: Option) -> str:
    return option.label(current_language())


def is_simple(option: Option) -> bool:
    """True when the generic endpoint can take this option (no input, a reason or a date)."""
    return all(name in SIMPLE_INPUTS for name in option.requires)


#: Why a form sent without a decision (Enter in a field, a bare POST) is refused with 400 and
#: changes nothing: a decision is never assumed.
NO_DECISION = _l("no decision was chosen: press the button of the decision you mean")


def flash_refused(refused: Refused) -> None:
    flash(_("Not done: %(reason)s", reason=refused.reason), "error")
    for field, problem in refused.fields.items():
        flash(f"{field_label(field)}: {problem}", "error")


def _action_label(workflow: str, name: str) -> str:
    th, en = engine.load_workflows()[workflow].transition(name).label
    return en if current_language() == "en" else th


@bp.route("/actions/<workflow>/<int:ident>/<name>", methods=["POST"])
@login_required
def transition(workflow: str, ident: int, name: str) -> Response | tuple[str, int]:
    """Take `name` on the object, then go back to `next` (a path on this site). 403/404
    refusals answer with that status; 409/422 show the form again with the input kept."""
    if workflow not in engine.load_workflows():
        abort(404)
    data = {key: request.form.get(key, "") for key in SIMPLE_INPUTS if key in request.form}
    back = safe_next(request.form.get("next")) or url_for("auth.home")
    try:
        engine.take(session(), actor(), workflow, ident, name, data)
        session().commit()
    except Refused as refused:
        session().rollback()
        if refused.status in (403, 404):
            abort(refused.status)
        flash_refused(refused)
        page = render_template(
            "work/refused.html",
            workflow=workflow,
            ident=ident,
            name=name,
            label=_action_label(workflow, name),
            refused=refused,
            data=data,
            back=back,
        )
        return page, refused.status
    flash(_("Done: %(action)s.", action=_action_label(workflow, name)), "info")
    return redirect(back)


def init_app(app: Flask) -> None:
    """Register the endpoint and the template helpers the work screens share."""
    app.register_blueprint(bp)
    app.add_template_global(option_label, "option_label")
    app.add_template_global(is_simple, "option_is_simple")
    app.add_template_global(state_name, "state_name")
    app.add_template_filter(plain, "plain")

"""The work screens' common ground: who acts, taking a transition from a form, and one generic
endpoint for transitions that need nothing but a button (and perhaps a reason or a date).

Every screen renders its actions from `engine.options`: an allowed option becomes a form that
posts here (or to the screen's own form when it needs more input), a refused one shows its
reason. After a POST the browser is redirected (PRG) with a flash; a transition refused with
409 or 422 re-renders the form with the user's input and the status, so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from service.core.fields import drawn_version
from service.core.labels import field_label, label
from service.core.presentation import plain_number
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import current_language, safe_next
from service.extensions import db
from service.org import acting
from service.org.models import User
from service.workflow import engine, registry
from service.workflow.engine import Option, Refused

bp = Blueprint("actions", __name__)

#: Inputs the generic endpoint offers a field for; transitions needing others have their own
#: forms.
SIMPLE_INPUTS = ("reason", "paid_on")
#: Inputs the generic endpoint passes on: besides those, a payment's document number (the
#: budget page's payment form asks for it; paying through this endpoint needs it as well).
ENDPOINT_INPUTS = (*SIMPLE_INPUTS, "document_ref")


def state_name(state: Any) -> str:
    """The name of a state enum member in the current language (service.core.labels): the
    enum says whose state it is, as a "submitted" project and result are named apart."""
    return label(state)


def plain(value: Any) -> str:
    """A Decimal without trailing zeros or exponent (0.0000 → 0, 100.0000 → 100)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def actor() -> User:
    """Whose authority the page uses: the signed-in user, or the person they act for under
    a delegation (service.org.acting). Pages gate, list and decide with it; what they record
    names both people."""
    user = acting.authority(session())
    if user is None:  # pragma: no cover - every work page is behind login_required
        abort(401)
    return user


def signed_in() -> User:
    """The signed-in user as a model instance bound to this request's session."""
    user: User = current_user._get_current_object()
    return user


def session() -> Session:
    return db.session()


def options_for(obj: Any) -> list[Option]:
    """The transitions out of `obj`'s state for the current user, allowed or with reasons."""
    return engine.options(session(), signed_in(), obj, acting_for=acting.acting_for(session()))


def take(
    workflow: str,
    ident: int,
    name: str,
    data: dict[str, Any] | None = None,
    *,
    expected_version: int | None = None,
) -> Any:
    """`engine.take` by the signed-in user, for whoever they act for: the engine checks the
    delegation and records both people. `expected_version`: the version the page was drawn
    at (Refused 409 when the object has changed since)."""
    return engine.take(
        session(),
        signed_in(),
        workflow,
        ident,
        name,
        data,
        acting_for=acting.acting_for(session()),
        expected_version=expected_version,
    )


def take_each(
    workflow: str,
    ids: list[int],
    name: str,
    data: dict[str, Any],
    expected_versions: dict[int, int] | None = None,
) -> list[engine.Outcome]:
    """`engine.take_each` by the signed-in user, for whoever they act for; an item whose
    version is not the one its page showed (`expected_versions`) is refused as changed while
    the page was open."""
    outcomes = engine.take_each(
        session(),
        signed_in(),
        workflow,
        ids,
        name,
        data,
        acting_for=acting.acting_for(session()),
        expected_versions=expected_versions,
    )
    drawn = expected_versions or {}

    def told(outcome: engine.Outcome) -> engine.Outcome:
        refused = outcome.refused
        if refused is None or refused.status != 409 or outcome.ident not in drawn:
            return outcome
        changed = _changed_while_open(workflow, outcome.ident, name, drawn[outcome.ident])
        return replace(outcome, refused=changed or refused)

    return [told(outcome) for outcome in outcomes]


def option_label(option: Option) -> str:
    return option.label(current_language())


def is_listed(option: Option | None) -> bool:
    """True when a page lists `option` (template test `listed`): allowed, or refused for a
    reason the reader can act on or wait for (the state, a missing field, four eyes). An
    option refused only because the reader holds none of the roles that take it
    (`Option.lacks_role`) is left out: a school is not told on every result that only the
    district reviews, nor an evaluator in the queue that only the district endorses. The API
    lists every option."""
    return option is not None and not option.lacks_role


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


View = TypeVar("View", bound=Callable[..., Any])
Result = TypeVar("Result")


def gate(
    allowed: Callable[[Session, User], bool], *, whose: Callable[[], User] | None = None
) -> Callable[[View], View]:
    """The role gate of a page: signed-in first (to the login page otherwise), then 403 for
    anyone `allowed(session, user)` says no to. The user is whose authority the page uses
    (`actor`), or `whose()` for a page acting for someone does not open (`signed_in`). The
    gated view carries `allowed` as its `gate`, so a test can see that every page of a
    screen has one."""

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        def gated(*args: Any, **kwargs: Any) -> Any:
            if not allowed(session(), (whose or actor)()):
                abort(403)
            return view(*args, **kwargs)

        gated.gate = allowed  # type: ignore[attr-defined]
        return gated  # type: ignore[return-value]

    return decorate


def committed(change: Callable[[], Result]) -> Result:
    """The one commit of a page request: run `change` (operations: they flush, record and
    emit, and never commit), commit once and give back what it returned. Anything raised
    rolls back and commits nothing. `run_change` and the transition endpoint go through
    here; so do the pages whose answer is not a form shown again: signing in and out (the
    session's row and the failed attempts it records) and the LINE webhook."""
    try:
        result = change()
        session().commit()
    except BaseException:
        session().rollback()
        raise
    return result


def run_change(
    change: Callable[[], Any],
    *,
    done: str,
    back: str,
    again: Callable[..., Response | tuple[str, int]],
    answer: Callable[[Any], Response | tuple[Any, int]] | None = None,
    undo: Callable[[], None] | None = None,
    error_pages: tuple[int, ...] = (403, 404),
    name_fields: bool = False,
) -> Response | tuple[Any, int]:
    """A page POST's one path: run `change` (an operation: it flushes, records and emits),
    commit once (`committed`), flash `done` and redirect to `back` (or, with `answer`, show
    what `answer(result)` gives: a token shown once). On Refused, roll back: 403 and 404
    answer as error pages; any other refusal re-renders the form through `again(form=…,
    errors=…, status=…)` with the input as typed and the reason flashed (`name_fields`: each
    field's problem flashed too, for pages that show no field errors of their own). `undo`
    takes back what the change did outside the database (files it wrote) whenever it is not
    committed; `error_pages` are the refusals answered as error pages rather than with the
    form."""
    try:
        result = committed(change)
    except Refused as refused:
        if undo is not None:
            undo()
        if refused.status in error_pages:
            abort(refused.status)
        if name_fields:
            flash_refused(refused)
        else:
            flash(_("Not done: %(reason)s", reason=refused.reason), "error")
        return again(form=request.form.to_dict(), errors=refused.fields, status=refused.status)
    except BaseException:
        if undo is not None:
            undo()
        raise
    if answer is not None:
        return answer(result)
    if done:
        flash(done, "info")
    return redirect(back)


def _action_label(workflow: str, name: str) -> str:
    return registry.transition_label(workflow, name, current_language())


def _about(workflow: str, ident: int) -> str:
    """What a refused action was about, in the reader's words (its project, step, unit and
    amount; an evaluation's score), so that a refusal read later, or in a second tab, names
    its object. Read after the refusal: as it stands now, a score saved meanwhile too."""
    from service.notifications.messages import describe

    words = describe(db.session(), workflow, ident, {}, current_language())
    keys = ("project", "step", "subject", "unit", "amount")
    parts = [words[key] for key in keys if words.get(key) and words[key] != "—"]
    if words.get("score"):
        parts.append(_("score %(score)s", score=plain_number(Decimal(words["score"]))))
    return " · ".join(parts)


def _changed_while_open(workflow: str, ident: int, name: str, drawn: int) -> Refused | None:
    """The refusal of `name` pressed on a page drawn at version `drawn` of an object that has
    moved on since (another tab, another person): it says so and where the object stands
    now, for the page that leads to it. None when the object is still at `drawn` (the 409 was
    for something else). Read after the rollback: the object as it stands now."""
    obj = session().get(engine.load_workflows()[workflow].model, ident)
    if obj is None or obj.version == drawn:
        return None
    reason = _(
        "%(object)s %(id)s changed while your page was open (it is now %(state)s):"
        " “%(action)s” was not done. See where it stands now before you decide again",
        object=registry.kind_label(workflow),
        id=ident,
        state=label(obj.state),
        action=_action_label(workflow, name),
    )
    return Refused(409, reason, state=obj.state.value)


@bp.route("/actions/<workflow>/<int:ident>/<name>", methods=["POST"])
@login_required
def transition(workflow: str, ident: int, name: str) -> Response | tuple[str, int]:
    """Take `name` on the object, then go back to `next` (a path on this site). 403/404
    refusals answer with that status; 409/422 show the form again with the input kept.
    A form drawn at another version of the object (`version`, see the `actions` macro) is
    refused with 409 and nothing done: what the person saw is not what they would act on.
    A form without one (a script, a page drawn before forms carried it) is not checked."""
    if workflow not in engine.load_workflows():
        abort(404)
    data = {key: request.form.get(key, "") for key in ENDPOINT_INPUTS if key in request.form}
    back = safe_next(request.form.get("next")) or url_for("auth.home")
    drawn = drawn_version(request.form)
    try:
        committed(lambda: take(workflow, ident, name, data, expected_version=drawn))
    except Refused as refused:
        if refused.status == 404:
            abort(404)
        if refused.status == 409 and drawn is not None:
            refused = _changed_while_open(workflow, ident, name, drawn) or refused
        if refused.status != 403:
            flash_refused(refused)
        # A 403 too gets the page that keeps what was typed: a page drawn while acting for
        # someone, pressed after acting ended, lost the reason to a bare "not allowed".
        page = render_template(
            "work/refused.html",
            workflow=workflow,
            ident=ident,
            name=name,
            label=_action_label(workflow, name),
            about=_about(workflow, ident),
            refused=refused,
            data=data,
            back=back,
            version=drawn,
        )
        return page, refused.status
    flash(_("Done: %(action)s.", action=_action_label(workflow, name)), "info")
    return redirect(back)


def init_app(app: Flask) -> None:
    """Register the endpoint and the template helpers the work screens share."""
    app.register_blueprint(bp)
    app.add_template_global(option_label, "option_label")
    app.add_template_global(is_simple, "option_is_simple")
    app.add_template_test(is_listed, "listed")
    app.add_template_global(state_name, "state_name")
    app.add_template_filter(plain, "plain")

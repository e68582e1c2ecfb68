"""/account: a person's own sign-in: their password, their second factor, the sessions
open in their name (device, address, last seen; each can be ended) and their sign-in
history (the audit trail's sign-ins and failures on their account)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from service.audit.models import AuditEntry
from service.auth import operations as auth_ops
from service.auth import second_factor
from service.auth.models import UserSession
from service.auth.sessions import current_session, describe_device, open_sessions
from service.auth.views import CODE_LIMIT, wrong_code_given
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.extensions import db, limiter
from service.org.models import User
from service.workflow.engine import Refused
from service.workflow.screens import run_change

bp = Blueprint("account", __name__, url_prefix="/account")

_ENROL_SECRET = "tidtam.enrol_secret"
#: The audit actions that make up a person's sign-in history.
SIGN_IN_ACTIONS = (
    "user.sign_in",
    "user.sign_in_failed",
    "user.sign_out",
    "user.session_end",
    "user.sessions_end",
    "user.password_change",
    "user.password_reset",
    "user.password_reset_request",
    "user.password_set",
    "user.totp_enrol",
    "user.totp_remove",
    "user.totp_reset",
    "user.recovery_code_use",
    "user.sso_link",
)
HISTORY_ROWS = 30


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class CodeOnlyForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def sign_in_history(user: User) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "user",
                AuditEntry.object_id == user.id,
                AuditEntry.action.in_(SIGN_IN_ACTIONS),
            )
            .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
            .limit(HISTORY_ROWS)
        )
    )


@bp.route("")
@login_required
def overview() -> str:
    user = _me()
    this = current_session()
    return render_template(
        "auth/account.html",
        user=user,
        sessions=open_sessions(db.session(), user),
        this_session_id=this.id if this else None,
        describe_device=describe_device,
        history=sign_in_history(user),
        second_factor_required=second_factor.required_by_role(db.session(), user),
        remember_days=second_factor.remember_days(),
        form=CodeOnlyForm(),
    )


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    user = _me()
    form = ChangePasswordForm()
    errors: dict[str, str] = {}

    def page(errors: dict[str, str]) -> tuple[str, int]:
        shown = render_template("auth/password.html", form=form, errors=errors, user=user)
        return shown, 422 if errors else 200

    def change() -> None:
        auth_ops.change_password(
            db.session(),
            user,
            current=form.current_password.data or "",
            new=form.new_password.data or "",
            keep=current_session(),
        )
        # The generation moved on: this browser's cookie is written again with it.
        login_user(user)

    if form.validate_on_submit():
        if form.new_password.data != form.confirm.data:
            errors["confirm"] = _("the two passwords differ")
        else:
            return run_change(
                change,
                done=_("Your password is changed. Your other sessions have ended."),
                back=url_for("account.overview"),
                again=lambda errors, **_refused: page(errors),
                error_pages=(),
            )
    elif request.method == "POST":
        errors.update({name: " ".join(found) for name, found in form.errors.items()})
    return page(errors)


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int) -> Response | tuple[Any, int]:
    row = db.session.get(UserSession, session_id)
    if row is None:
        abort(404)
    return run_change(
        lambda: auth_ops.end_session(db.session(), _me(), row),
        done=_("The session is ended."),
        back=url_for("account.overview"),
        again=lambda **_refused: redirect(url_for("account.overview")),
    )


def _enrol_key() -> str:
    return f"enrol-code:{current_user.get_id() or '-'}"


@bp.route("/second-factor", methods=["GET", "POST"])
# As many wrong codes as the sign-in's code page allows (it answered any number of guesses).
@limiter.limit(CODE_LIMIT, key_func=_enrol_key, methods=["POST"], deduct_when=wrong_code_given)
@login_required
def enrol() -> str | Response | tuple[str, int]:
    """Enrol an authenticator app while signed in (the QR code, then its code). A wrong code
    or none is answered 422 with the problem at the code box; more than CODE_LIMIT wrong
    ones 429, as the sign-in's code page does."""
    user = _me()
    if user.totp_secret is not None:
        return redirect(url_for("account.overview"))
    secret = session.get(_ENROL_SECRET) or second_factor.new_secret()
    session[_ENROL_SECRET] = secret
    form = CodeOnlyForm()

    def page(status: int = 200, errors: dict[str, str] | None = None) -> tuple[str, int]:
        uri = second_factor.provisioning_uri(user, secret)
        context: dict[str, Any] = {
            "form": form,
            "errors": errors or {},
            "enrolling": True,
            # Chosen from the account page: the page says so, not that a role asks for it.
            "optional": not second_factor.required_by_role(db.session(), user),
            "secret": secret,
            "qr": second_factor.qr_svg(uri),
            "remember_days": 0,
        }
        return render_template("auth/second_factor.html", **context), status

    def change() -> list[str]:
        codes = auth_ops.enrol_totp(db.session(), user, secret=secret, code=form.code.data or "")
        row = current_session()
        if row is not None:
            row.second_factor = True  # this session has just shown the app's code
        return codes

    def show_codes(codes: list[str]) -> Response:
        session.pop(_ENROL_SECRET, None)
        from service.auth.views import _recovery_codes_page

        return _recovery_codes_page(codes, url_for("account.overview"))

    if form.validate_on_submit():
        return run_change(
            change,
            done="",
            back="",
            again=lambda errors, **_refused: page(422, errors),
            answer=show_codes,
            error_pages=(),
        )
    if form.is_submitted():
        # Sent empty or with spaces only: it reloaded the page without a word.
        return page(422, {"code": str(second_factor.CODE_MISSING)})
    return page()


def _turn_off_key() -> str:
    return f"turn-off-code:{current_user.get_id() or '-'}"


def _refused_code(_response: Response) -> bool:
    """Whether this answer refused the code (its redirect back says so only in `g`)."""
    return bool(g.get("tidtam_code_refused"))


@bp.route("/second-factor/off", methods=["POST"])
# As many wrong codes as the other code pages allow (it answered any number of guesses).
@limiter.limit(CODE_LIMIT, key_func=_turn_off_key, deduct_when=_refused_code)
@login_required
def turn_off() -> Response | tuple[Any, int]:
    form = CodeOnlyForm()

    def refused(**_refused: Any) -> Response:
        g.tidtam_code_refused = True
        return redirect(url_for("account.overview"))

    def change() -> None:
        if not form.validate_on_submit():
            raise Refused(422, _("the code does not match"))
        auth_ops.turn_off_totp(db.session(), _me(), code=form.code.data or "")

    return run_change(
        change,
        done=_("The second factor is turned off."),
        back=url_for("account.overview"),
        again=refused,
        error_pages=(),
    )

"""Signing in and out: password, single sign-on, the second factor, forgotten passwords,
and each role's landing page.

Signing in has two steps for whoever must give a second factor (service.auth.second_factor):
the password (or the identity provider) names the person, who is kept *pending* in the
session cookie for ten minutes, and the TOTP or recovery code opens the session. Nobody is
signed in before the last step. Each session is a `user_session` row (service.auth.sessions).
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from service.auth import operations as auth_ops
from service.auth import reset, second_factor, sso
from service.auth.passwords import password_matches
from service.auth.sessions import current_session, signed_in
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.core.web import safe_next
from service.extensions import csrf, db, limiter, login_manager
from service.org import acting
from service.org.models import OrgUnit, Role, User
from service.org.scope import active_roles, unit_filter
from service.projects.models import Project
from service.projects.queries import visible_projects
from service.workflow.screens import committed, run_change

bp = Blueprint("auth", __name__)

# A hash to compare against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = "scrypt:32768:8:1$6S1ES4aGk3qaxzDo$" + "0" * 128
#: How long a person who gave their password has to give their second factor.
PENDING_SECONDS = 600
_PENDING = "tidtam.pending_sign_in"
_ENROL_SECRET = "tidtam.enrol_secret"
_SSO_ID_TOKEN = "tidtam.sso_id_token"


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    remember = BooleanField(_l("Remember this device"))


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The cookie's "id:generation:key" names a live session row, or nobody."""
    return signed_in(db.session(), user_id)


#: Failed sign-ins allowed per account (from anywhere) and per client address (to any
#: account: guessing across many accounts is guessing too). A school or an office behind one
#: address shares its limit, so it is higher than one person's.
ACCOUNT_LIMIT = "10 per minute"
ADDRESS_LIMIT = "30 per minute"
#: Wrong second-factor codes per pending sign-in's account.
CODE_LIMIT = "5 per minute"
#: Forgotten-password mails asked for per address and per e-mail (every request counts).
FORGOT_ADDRESS_LIMIT = "10 per hour"
FORGOT_ACCOUNT_LIMIT = "3 per hour"


def _failed(response: Response) -> bool:
    """Only failed attempts count: a person signing in many times is not guessing."""
    return response.status_code != 302


def wrong_code_given(response: Response) -> bool:
    """A wrong code (or none) answers 422; a right one signs in (302) or shows recovery codes
    (200). The code pages' limits count only the wrong ones."""
    return response.status_code >= 400


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"login-account:{email}"


def _address_key() -> str:
    # The peer address, or what the configured trusted proxies say it is (PROXY_FIX_X_FOR).
    return f"login-address:{request.remote_addr}"


def _pending_key() -> str:
    pending = session.get(_PENDING) or {}
    return f"login-code:{pending.get('u', '-')}"


def _forgot_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"forgot-account:{email}"


def _forgot_address_key() -> str:
    return f"forgot-address:{request.remote_addr}"


def _address() -> str:
    return (request.remote_addr or "")[:64]


# ---- signing in ------------------------------------------------------------------------------


def _after_first_factor(
    user: User, method: str, target: str | None, *, id_token: str = ""
) -> Response:
    """The person is known: ask for the second factor when they owe one, else sign in.
    `id_token`: the provider's, after a single sign-on, for signing out there too. Whatever
    naming the person wrote (a single sign-on's link) is committed with the session's row,
    or, when a code is owed, here."""
    db_session = db.session()
    if second_factor.asked_of(db_session, user):
        if user.totp_secret is not None and second_factor.is_remembered(user, request.cookies):
            return _sign_in(user, method, second=True, target=target, id_token=id_token)
        _clear_keeping_language()
        session[_PENDING] = {
            "u": user.id,
            "v": user.session_version,
            "m": method,
            "n": target or "",
            "t": int(time.time()),
            "h": id_token,
        }
        committed(lambda: None)  # a single sign-on's link, kept while the code is owed
        return redirect(url_for("auth.second_factor_step"))
    return _sign_in(user, method, second=False, target=target, id_token=id_token)


def _clear_keeping_language() -> None:
    """A new sign-in starts from an empty session (nothing an attacker planted survives),
    but in the language the person chose."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _sign_in(
    user: User,
    method: str,
    *,
    second: bool,
    target: str | None,
    remember_device: bool = False,
    id_token: str = "",
) -> Response:
    """Open the session (its row, the cookie), commit, and go where the person was going
    (first to the password page when an admin gave them a temporary one)."""
    committed(lambda: _open_session(user, method, second=second, id_token=id_token))
    return _onward(user, target, remember_device=remember_device)


def _open_session(user: User, method: str, *, second: bool, id_token: str = "") -> None:
    """The session's row and the cookie, in the transaction the caller commits."""
    _clear_keeping_language()
    if id_token:
        session[_SSO_ID_TOKEN] = id_token  # the hint the provider asks for at sign-out
    _row, key = auth_ops.start_session(
        db.session(),
        user,
        method=method,
        second_factor=second,
        user_agent=request.headers.get("User-Agent", ""),
        address=_address(),
    )
    user.session_key = key
    login_user(user)


def _onward(user: User, target: str | None, *, remember_device: bool = False) -> Response:
    """Where a person who has just signed in goes next."""
    if user.password_must_change:
        flash(_("Choose a new password of your own before you go on."), "info")
        response = redirect(url_for("account.password"))
    else:
        response = redirect(safe_next(target) or url_for("auth.home"))
    if remember_device and second_factor.remember_days() > 0:
        response.set_cookie(
            second_factor.remember_cookie_name(user),
            second_factor.remembered_token(user),
            max_age=second_factor.remember_days() * 86400,
            httponly=True,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            samesite="Lax",
        )
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ACCOUNT_LIMIT, key_func=_account_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(ADDRESS_LIMIT, key_func=_address_key, methods=["POST"], deduct_when=_failed)
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    passwords_allowed = sso.local_passwords_allowed()
    if request.method == "POST" and not passwords_allowed:
        flash(_("Sign in through the identity provider."), "error")
        return _login_page(form), 403
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        password = form.password.data or ""
        if user is None:
            password_matches(_DUMMY_HASH, password)  # the same work as for a known address
            auth_ops.sign_in_failed(
                db.session(), None, why="password", address=_address(), email=email
            )
        elif user.active and password_matches(user.password_hash, password):
            return _after_first_factor(user, auth_ops.PASSWORD, request.args.get("next"))
        else:
            why = "password" if user.active else "deactivated"
            committed(
                lambda: auth_ops.sign_in_failed(db.session(), user, why=why, address=_address())
            )
        flash(_("Wrong email or password."), "error")
    return _login_page(form)


def _login_page(form: LoginForm) -> str:
    return render_template(
        "auth/login.html",
        form=form,
        sso_enabled=sso.enabled(),
        sso_name=current_app.config.get("OIDC_PROVIDER_NAME") or "",
        passwords_allowed=sso.local_passwords_allowed(),
    )


def _pending_user() -> tuple[User, dict[str, Any]] | None:
    """The person who gave their first factor in this browser, still in time."""
    pending = session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    if int(time.time()) - int(pending.get("t", 0)) > PENDING_SECONDS:
        session.pop(_PENDING, None)
        return None
    user = db.session.get(User, pending.get("u"))
    if user is None or not user.active or user.session_version != pending.get("v"):
        return None
    return user, pending


@bp.route("/login/second-factor", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, key_func=_pending_key, methods=["POST"], deduct_when=wrong_code_given)
def second_factor_step() -> str | Response | tuple[str, int]:
    """The code from the authenticator app (or a recovery code); or, for a person who must
    enrol first, the QR code to scan and the code it shows."""
    found = _pending_user()
    if found is None:
        flash(_("Sign in again: the time to give the code ran out."), "info")
        return redirect(url_for("auth.login"))
    user, pending = found
    form = CodeForm()
    enrolling = user.totp_secret is None
    if enrolling:
        secret = session.get(_ENROL_SECRET) or second_factor.new_secret()
        session[_ENROL_SECRET] = secret
    if form.validate_on_submit():
        code = form.code.data or ""
        if enrolling:

            def enrol() -> list[str]:
                # The secret kept and the session opened commit together, or neither does.
                codes = auth_ops.enrol_totp(db.session(), user, secret=secret, code=code)
                _open_session(user, pending["m"], second=True, id_token=pending.get("h", ""))
                return codes

            def show_codes(codes: list[str]) -> Response:
                onward = _onward(user, pending["n"]).headers["Location"]
                return _recovery_codes_page(codes, onward)

            return run_change(
                enrol,
                done="",
                back="",
                again=lambda errors, **_refused: (_code_page(user, form, secret, errors), 422),
                answer=show_codes,
                error_pages=(),
            )
        if auth_ops.check_second_factor(db.session(), user, code):
            return _sign_in(
                user,
                pending["m"],
                second=True,
                target=pending["n"],
                remember_device=bool(form.remember.data),
                id_token=pending.get("h", ""),
            )
        committed(
            lambda: auth_ops.sign_in_failed(
                db.session(), user, why="second_factor", address=_address()
            )
        )
        if second_factor.spent_step(user, code):
            flash(
                _("This code was used already: wait for the next code in your app and enter it."),
                "error",
            )
        else:
            flash(_("The code is not right."), "error")
        return _code_page(user, form, secret if enrolling else None), 422
    if form.is_submitted():
        # Sent empty or with spaces only: it reloaded the page without a word.
        missing = {"code": str(second_factor.CODE_MISSING)}
        return _code_page(user, form, secret if enrolling else None, missing), 422
    return _code_page(user, form, secret if enrolling else None)


def _code_page(
    user: User, form: CodeForm, secret: str | None, errors: dict[str, str] | None = None
) -> str:
    """The code page; `errors`: the code box's problem, shown beside it."""
    context: dict[str, Any] = {
        "form": form,
        "enrolling": secret is not None,
        "errors": errors or {},
    }
    if secret is not None:
        uri = second_factor.provisioning_uri(user, secret)
        context.update(secret=secret, qr=second_factor.qr_svg(uri))
    context["remember_days"] = second_factor.remember_days()
    return render_template("auth/second_factor.html", **context)


def _recovery_codes_page(codes: list[str], onward: str) -> Response:
    response = make_response(
        render_template("auth/recovery_codes.html", codes=codes, onward=onward)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- single sign-on ------------------------------------------------------------------------


@bp.route("/login/sso")
def sso_start() -> Response:
    if not sso.enabled():
        return redirect(url_for("auth.login"))
    session["tidtam.sso_next"] = safe_next(request.args.get("next")) or ""
    try:
        response: Response = sso.start()
    except sso.ProviderUnreachable:
        return _sso_unavailable()
    return response


def _sso_unavailable() -> Response:
    flash(_("The identity provider cannot be reached now. Try again in a moment."), "error")
    response = redirect(url_for("auth.login"))
    response.status_code = 303
    return response


@bp.route("/login/sso/callback")
def sso_callback() -> Response:
    if not sso.enabled():
        return redirect(url_for("auth.login"))
    target = session.pop("tidtam.sso_next", "") or None
    db_session = db.session()
    try:
        identity = sso.finish()
        user = sso.account_for(db_session, identity)
    except sso.ProviderUnreachable:
        return _sso_unavailable()
    except sso.SignInRefused as refused:
        db_session.rollback()
        who, why = refused.user, f"sso_{refused.why}"
        committed(lambda: auth_ops.sign_in_failed(db_session, who, why=why, address=_address()))
        if refused.why == "unknown":
            flash(
                _(
                    "The identity provider signed you in, but no Tidtam account is linked to"
                    " you yet. Ask your admin to link your account."
                ),
                "error",
            )
        else:
            flash(_("Single sign-on did not succeed. Start again."), "error")
        return redirect(url_for("auth.login"))
    return _after_first_factor(user, auth_ops.SSO, target, id_token=identity.id_token)


# ---- forgotten passwords ---------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(FORGOT_ACCOUNT_LIMIT, key_func=_forgot_key, methods=["POST"])
@limiter.limit(FORGOT_ADDRESS_LIMIT, key_func=_forgot_address_key, methods=["POST"])
def forgot_password() -> str | Response | tuple[Any, int]:
    """Asks for the e-mail and always answers the same, whether an account has it or not."""
    form = ForgotForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        return run_change(
            lambda: auth_ops.ask_password_reset(db.session(), email, address=_address()),
            done=_(
                "If an account has this e-mail, a link to choose a new password is on its"
                " way. It works once, within %(minutes)s minutes.",
                minutes=reset.max_age_seconds() // 60,
            ),
            back=url_for("auth.login"),
            again=lambda status, **_refused: (
                render_template("auth/forgot.html", form=form),
                status,
            ),
        )
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(ADDRESS_LIMIT, key_func=_address_key, methods=["POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    db_session = db.session()
    user = reset.user_of_token(db_session, token)
    if user is None:
        return render_template("auth/reset_used.html"), 410
    form = NewPasswordForm()
    errors: dict[str, str] = {}

    def page(errors: dict[str, str]) -> tuple[str, int]:
        response = render_template("auth/reset.html", form=form, errors=errors, user=user)
        return response, 422 if errors else 200

    def changed(_user: User) -> Response:
        if current_user.is_authenticated:
            logout_user()
        flash(_("Your password is changed. Sign in with it."), "info")
        return redirect(url_for("auth.login"))

    if form.validate_on_submit():
        if form.new_password.data != form.confirm.data:
            errors["confirm"] = _("the two passwords differ")
        else:
            new = form.new_password.data or ""
            return run_change(
                lambda: auth_ops.reset_password(db_session, user, new),
                done="",
                back="",
                again=lambda errors, **_refused: page(errors),
                answer=changed,
                error_pages=(),
            )
    return page(errors)


# ---- signing out, landing ---------------------------------------------------------------------


@bp.route("/csrf-token")
@login_required
def csrf_token_view() -> Response:
    """This session's CSRF token, for a page's script whose form was refused because the page
    was drawn in an earlier session (signed out and in again in another tab): it sends the
    form once more with this token (static/js/upload.js). Only this site's own pages can read
    the answer (it sends no CORS headers), and it is never stored. Signed out, the answer is
    the sign-in page, as for any page."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/logout", methods=["POST"])
@csrf.exempt  # checked below: a stale page asks again instead of leaving the person signed in
def logout() -> Response | str:
    """End this session; after a single sign-on, send the browser on to the provider to end
    its session too (RP-initiated logout), which sends it back to the login page.

    From a page left open since an earlier sign-in (its CSRF token is the old session's),
    the button answered 400 and the person stayed signed in, on a shared computer too. Such
    a press gets a page with a fresh Sign out button instead: one more press signs out, and
    another site still cannot sign anyone out.

    Pressed on a page left open after signing out in another tab, it says so on the login
    page (it sent the person to sign in, then back to /logout by GET: a 405)."""
    if not current_user.is_authenticated:
        flash(_("You have signed out."), "info")
        return redirect(url_for("auth.login"))
    try:
        csrf.protect()
    except CSRFError:
        return render_template("auth/logout.html")
    row = current_session()
    user = db.session.get(User, current_user.id)
    through_provider = row is not None and row.method == auth_ops.SSO
    id_token = session.get(_SSO_ID_TOKEN, "")
    if row is not None and user is not None:
        committed(lambda: auth_ops.end_session(db.session(), user, row, signing_out=True))
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    if through_provider and sso.enabled():
        provider_logout = sso.end_session_url(id_token)
        if provider_logout is not None:
            return redirect(provider_logout)
    return redirect(url_for("auth.login"))


@bp.before_app_request
def _password_first() -> Response | None:
    """A person holding an admin's temporary password goes nowhere but the password page."""
    if request.endpoint in (None, "static") or request.path.startswith("/api/"):
        return None
    if request.endpoint in ("account.password", "auth.logout", "auth.login"):
        return None
    if "_user_id" not in session:
        return None
    if current_user.is_authenticated and current_user.password_must_change:
        return redirect(url_for("account.password"))
    return None


@bp.route("/")
def index() -> Response:
    return redirect(url_for("auth.home" if current_user.is_authenticated else "auth.login"))


@bp.route("/home")
@login_required
def home() -> str | Response:
    """Who the user is, their roles and units, and what their scope holds."""
    user: User = current_user._get_current_object()
    session_ = db.session()
    # While acting for someone, the roles and reach are theirs, as on every other page.
    principal = acting.acting_for(session_)
    whose = principal or user
    assignments = active_roles(session_, whose)
    if assignments and all(a.role is Role.SCHOOL for a in assignments):
        query = request.query_string.decode()  # keeps ?lang=
        return redirect(url_for("school.home") + (f"?{query}" if query else ""))
    scope = unit_filter(session_, whose)
    unit_count = session_.scalar(select(func.count()).select_from(OrgUnit).where(scope))
    visible = visible_projects(session_, whose)
    projects = session_.scalars(
        select(Project).where(visible).order_by(Project.code).limit(50)
    ).all()
    project_count = session_.scalar(select(func.count()).select_from(Project).where(visible))
    return render_template(
        "auth/home.html",
        user=user,
        principal=principal,
        assignments=assignments,
        unit_count=unit_count,
        projects=projects,
        project_count=project_count,
    )

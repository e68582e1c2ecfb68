"""Login, logout and each role's landing page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from service.core.translate import gettext as _
from service.extensions import db, limiter, login_manager
from service.org.models import OrgUnit, Role, User
from service.org.scope import active_roles, unit_filter, user_with_roles
from service.projects.models import Project
from service.projects.queries import visible_projects

bp = Blueprint("auth", __name__)

# A hash to compare against when the email is unknown, so both paths take the same time.
_DUMMY_HASH = "scrypt:32768:8:1$6S1ES4aGk3qaxzDo$" + "0" * 128


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Cookies carry "id:session_version"; a bumped version ends every old session."""
    ident, _sep, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = user_with_roles(db.session(), int(ident))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


#: Failed sign-ins allowed per account (from anywhere) and per client address (to any
#: account: guessing across many accounts is guessing too). A school or an office behind one
#: address shares its limit, so it is higher than one person's.
ACCOUNT_LIMIT = "10 per minute"
ADDRESS_LIMIT = "30 per minute"


def _failed(response: Response) -> bool:
    """Only failed attempts count: a person signing in many times is not guessing."""
    return response.status_code != 302


def _account_key() -> str:
    email = (request.form.get("email") or "").strip().lower()
    return f"login-account:{email}"


def _address_key() -> str:
    # The peer address, or what the configured trusted proxies say it is (PROXY_FIX_X_FOR).
    return f"login-address:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ACCOUNT_LIMIT, key_func=_account_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(ADDRESS_LIMIT, key_func=_address_key, methods=["POST"], deduct_when=_failed)
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        password = form.password.data or ""
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
        elif user.active and check_password_hash(user.password_hash, password):
            session.clear()
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))
        flash(_("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    user = db.session.get(User, current_user.id)
    if user is not None:
        user.session_version += 1
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def index() -> Response:
    return redirect(url_for("auth.home" if current_user.is_authenticated else "auth.login"))


@bp.route("/home")
@login_required
def home() -> str | Response:
    """Who the user is, their roles and units, and what their scope holds."""
    user: User = current_user._get_current_object()
    session_ = db.session()
    assignments = active_roles(session_, user)
    if assignments and all(a.role is Role.SCHOOL for a in assignments):
        query = request.query_string.decode()  # keeps ?lang=
        return redirect(url_for("school.home") + (f"?{query}" if query else ""))
    scope = unit_filter(session_, user)
    unit_count = session_.scalar(select(func.count()).select_from(OrgUnit).where(scope))
    visible = visible_projects(session_, user)
    projects = session_.scalars(
        select(Project).where(visible).order_by(Project.code).limit(50)
    ).all()
    project_count = session_.scalar(select(func.count()).select_from(Project).where(visible))
    return render_template(
        "auth/home.html",
        user=user,
        assignments=assignments,
        unit_count=unit_count,
        projects=projects,
        project_count=project_count,
    )

"""`flask --app service admin …`: the administration changes a script or an operator makes
from the command line, each through the same operation the /admin pages and the API call
(service.admin.operations), so it is checked and recorded the same way. Every command acts as
an admin named by `--as EMAIL` (the audit's actor); a refusal prints its reason, exits 1 and
changes nothing. What a command prints is in the language `flask admin --lang th|en` names,
else the deployment's default (BABEL_DEFAULT_LOCALE, as for pages nobody chose a language for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from service.admin import operations as admin_ops
from service.core.db import db
from service.core.labels import field_label, label
from service.core.terminal import lang_option, language
from service.core.thai import format_date, read_code
from service.core.translate import gettext as _
from service.core.translate import in_language
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, RoleAssignment, User
from service.workflow.engine import Refused


@click.group("admin", cls=AppGroup)
@lang_option
def admin_cli() -> None:
    """Administration changes, made as an admin (--as EMAIL)."""


acting_option = click.option(
    "--as", "acting", required=True, metavar="EMAIL", help="the admin making the change"
)


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise Refused(404, _("no user %(email)s", email=email))
    return user


def _unit(code: str) -> OrgUnit:
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == read_code(code)))
    if unit is None:
        raise Refused(422, _("no unit %(code)s", code=code), fields={"unit": _("no such unit")})
    return unit


def _year(be_year: int) -> FiscalYear:
    year = db.session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None:
        raise Refused(404, _("no fiscal year %(year)s", year=be_year))
    return year


def _run(change: Callable[[], Any], done: Callable[[Any], str]) -> None:
    """Run `change` (an operation), commit once and print `done(result)`; on a refusal roll
    back, print the reason and exit 1."""
    session = db.session()
    with in_language(language()):
        try:
            result = change()
            session.commit()
        except Refused as refused:
            session.rollback()
            fields = "".join(
                f"\n  {field_label(field)}: {problem}" for field, problem in refused.fields.items()
            )
            not_done = _(
                "Not done (%(status)s): %(reason)s", status=refused.status, reason=refused.reason
            )
            click.echo(not_done + fields, err=True)
            raise SystemExit(1) from None
        click.echo(done(result))


@admin_cli.command("create-user")
@acting_option
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--language", type=click.Choice(["th", "en"]), default="th", show_default=True)
@click.password_option(help="at least 10 characters (asked for when not given)")
def create_user_command(acting: str, email: str, name: str, language: str, password: str) -> None:
    """Create an account holding no role yet."""
    _run(
        lambda: admin_ops.create_user(
            db.session(),
            _user(acting),
            email=email,
            name=name,
            password=password,
            language=language,
        ),
        lambda user: _("user %(id)s %(email)s created", id=user.id, email=user.email),
    )


@admin_cli.command("deactivate-user")
@acting_option
@click.argument("email")
def deactivate_user_command(acting: str, email: str) -> None:
    """Deactivate an account: its sessions and tokens stop working."""
    _run(
        lambda: admin_ops.deactivate_user(db.session(), _user(acting), _user(email)),
        lambda user: _("user %(email)s deactivated", email=user.email),
    )


@admin_cli.command("reactivate-user")
@acting_option
@click.argument("email")
def reactivate_user_command(acting: str, email: str) -> None:
    """Reactivate a deactivated account: it signs in afresh; its old sessions and tokens
    stay dead."""
    _run(
        lambda: admin_ops.reactivate_user(db.session(), _user(acting), _user(email)),
        lambda user: _("user %(email)s reactivated", email=user.email),
    )


@admin_cli.command("set-temporary-password")
@acting_option
@click.argument("email")
@click.password_option(help="the temporary password (asked for when not given)")
def set_temporary_password_command(acting: str, email: str, password: str) -> None:
    """Give a temporary password, to be changed at the next sign-in; every session ends."""
    _run(
        lambda: admin_ops.set_temporary_password(
            db.session(), _user(acting), _user(email), password
        ),
        lambda user: f"user {user.email} has a temporary password",
    )


@admin_cli.command("end-sessions")
@acting_option
@click.argument("email")
def end_sessions_command(acting: str, email: str) -> None:
    """End every session of a person."""
    _run(
        lambda: admin_ops.end_all_sessions(db.session(), _user(acting), _user(email)),
        lambda ended: f"{ended} sessions of {email} ended",
    )


@admin_cli.command("reset-second-factor")
@acting_option
@click.argument("email")
def reset_second_factor_command(acting: str, email: str) -> None:
    """Forget a person's authenticator app and recovery codes (a lost phone)."""
    _run(
        lambda: admin_ops.reset_second_factor(db.session(), _user(acting), _user(email)),
        lambda user: f"second factor of {user.email} reset",
    )


@admin_cli.command("link-sso")
@acting_option
@click.argument("email")
@click.argument("identity")
def link_sso_command(acting: str, email: str, identity: str) -> None:
    """Link an account to the identity provider's name for the person ("" unlinks)."""
    _run(
        lambda: admin_ops.link_sso_identity(db.session(), _user(acting), _user(email), identity),
        lambda user: f"user {user.email} linked to {user.sso_identity or 'nobody'}",
    )


@admin_cli.command("grant-role")
@acting_option
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.argument("unit_code")
def grant_role_command(acting: str, email: str, role: str, unit_code: str) -> None:
    """Give the user with EMAIL the ROLE in the unit with UNIT_CODE."""
    _run(
        lambda: admin_ops.grant_role(
            db.session(), _user(acting), _user(email), Role(role), _unit(unit_code)
        ),
        lambda assignment: _(
            "%(email)s holds %(role)s in %(unit)s",
            email=email,
            role=label(Role(role)),
            unit=unit_code,
        ),
    )


@admin_cli.command("withdraw-role")
@acting_option
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.argument("unit_code")
def withdraw_role_command(acting: str, email: str, role: str, unit_code: str) -> None:
    """Withdraw the ROLE the user with EMAIL holds in the unit with UNIT_CODE."""

    def change() -> RoleAssignment:
        admin = _user(acting)
        assignment = db.session.scalar(
            select(RoleAssignment).where(
                RoleAssignment.user_id == _user(email).id,
                RoleAssignment.role == Role(role),
                RoleAssignment.unit_id == _unit(unit_code).id,
            )
        )
        if assignment is None:
            raise Refused(
                404,
                _(
                    "%(email)s holds no %(role)s role in %(unit)s",
                    email=email,
                    role=label(Role(role)),
                    unit=unit_code,
                ),
            )
        return admin_ops.withdraw_role(db.session(), admin, assignment)

    _run(
        change,
        lambda assignment: _(
            "%(email)s no longer holds %(role)s in %(unit)s",
            email=email,
            role=label(Role(role)),
            unit=unit_code,
        ),
    )


@admin_cli.command("add-fiscal-year")
@acting_option
@click.argument("be_year", type=int)
def add_fiscal_year_command(acting: str, be_year: int) -> None:
    """Add fiscal year BE_YEAR (Buddhist Era, 1 October to 30 September), open."""
    _run(
        lambda: admin_ops.create_fiscal_year(db.session(), _user(acting), be_year),
        lambda year: _(
            "fiscal year %(year)s added (%(starts)s to %(ends)s)",
            year=year.be_year,
            starts=format_date(year.starts_on, language()),
            ends=format_date(year.ends_on, language()),
        ),
    )


@admin_cli.command("set-fiscal-year")
@acting_option
@click.argument("be_year", type=int)
@click.option("--open/--closed", "is_open", default=None, help="open it, or close it")
def set_fiscal_year_command(acting: str, be_year: int, is_open: bool | None) -> None:
    """Open or close fiscal year BE_YEAR (--open or --closed: never assumed)."""
    if is_open is None:
        # Not click.UsageError: its frame ("Usage: … Error: …") is English only.
        with in_language(language()):
            click.echo(_("say --open or --closed"), err=True)
        raise SystemExit(2)
    _run(
        lambda: admin_ops.set_year_open(db.session(), _user(acting), _year(be_year), is_open),
        lambda year: (
            _("fiscal year %(year)s is open", year=year.be_year)
            if year.is_open
            else _("fiscal year %(year)s is closed", year=year.be_year)
        ),
    )

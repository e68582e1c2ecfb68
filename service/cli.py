"""Commands: `flask --app service db upgrade`, `demo-data`, `stack`, `admin create-user` (and
the other administration changes of service.admin.commands)."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app

from service.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config pointing at our migrations and the app's database."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option(
        "sqlalchemy.url", (url or current_app.config["DATABASE_URL"]).replace("%", "%%")
    )
    return cfg


@click.group("db")
def db_group() -> None:
    """Migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head); at head, a reminder-rule table
    still empty (a new deployment) gets the default rules, so alerts run from the start.
    Running it again adds nothing."""
    command.upgrade(alembic_config(), revision)
    if revision == "head":
        from service.deadlines.rules import ensure_default_rules

        added = ensure_default_rules(db.session(), only_when_empty=True)
        db.session.commit()
        if added:
            click.echo(f"{len(added)} default reminder rules added")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    command.downgrade(alembic_config(), revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a new revision from the models."""
    command.revision(alembic_config(), message=message, autogenerate=True)


@db_group.command("current")
def db_current() -> None:
    """Show the current revision."""
    command.current(alembic_config())


@click.command("demo-data")
@click.option(
    "--legacy-only",
    is_flag=True,
    help="Only the legacy project and its tree, without the living district around it.",
)
def demo_data_command(legacy_only: bool) -> None:
    """Load the demo: the BMA tree, the legacy project 50230000-3598, one user per role and,
    unless --legacy-only, a living district of this fiscal year and the last (as the clock
    says). Loading twice changes nothing."""
    from service.core.fiscal import local_today
    from service.demo.district import load_district
    from service.demo.load import load_demo

    logins = load_demo(db.session())
    if not legacy_only:
        logins += load_district(db.session(), local_today())
    db.session.commit()
    click.echo("Demo data is loaded. Sign in at /login with one of these (role, email, password):")
    for role, email, password in logins:
        click.echo(f"  {role:<10} {email:<32} {password}")


@click.command("stack")
def stack_command() -> None:
    """Print the database and broker this configuration uses."""
    from service import describe_stack

    click.echo(describe_stack(current_app._get_current_object()))  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(stack_command)
    from service.admin.commands import admin_cli
    from service.audit.commands import audit_cli
    from service.demo.commands import generate_data_command
    from service.legacy.commands import import_legacy_command

    app.cli.add_command(generate_data_command)
    app.cli.add_command(import_legacy_command)
    app.cli.add_command(admin_cli)
    app.cli.add_command(audit_cli)

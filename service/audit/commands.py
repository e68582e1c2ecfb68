"""`flask --app service audit verify`: walk the audit chain and name its first broken link."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from service.audit.chain import verify
from service.core.db import db

audit_cli = AppGroup("audit", help="The audit trail's hash chain.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Recompute every entry's hash in chain order; exit 1 naming the first broken link."""
    session = db.session()
    try:
        verdict = verify(session)
    finally:
        session.rollback()
    if verdict.broken is None:
        click.echo(f"audit chain intact: {verdict.checked} entries")
        return
    click.echo(f"audit chain broken at {verdict.broken}", err=True)
    click.echo(f"{verdict.checked} entries before it are intact", err=True)
    sys.exit(1)

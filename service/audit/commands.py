"""`flask --app service audit verify`: walk the audit chain and name its first broken link.
What it prints is in the language `flask audit --lang th|en` names, else the deployment's
default (BABEL_DEFAULT_LOCALE), as the admin commands do."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from service.audit.chain import Break, verify
from service.core.db import db
from service.core.terminal import lang_option, language
from service.core.translate import gettext as _
from service.core.translate import in_language


@click.group("audit", cls=AppGroup)
@lang_option
def audit_cli() -> None:
    """The audit trail's hash chain."""


def _problem(broken: Break) -> str:
    """What is wrong with the broken link, in the current language."""
    numbers = broken.numbers
    if broken.kind == "missing":
        return _("position %(seq)s is missing (an entry was removed)", seq=numbers[0])
    if broken.kind == "previous":
        return _("its previous hash is not the hash of the entry before it")
    if broken.kind == "changed":
        return _("its content does not match its hash (changed)")
    if broken.kind == "outside":
        return _("it is outside the chain (inserted past it)")
    if broken.kind == "head":
        return _(
            "the chain head names position %(head)s but the chain ends at %(last)s"
            " (the last entries were removed)",
            head=numbers[0],
            last=numbers[1],
        )
    return broken.problem


def _where(broken: Break) -> str:
    problem = _problem(broken)
    if broken.entry_id is None:
        return _("audit chain broken at its head: %(problem)s", problem=problem)
    if broken.seq is None:
        return _(
            "audit chain broken at entry %(entry)s: %(problem)s",
            entry=broken.entry_id,
            problem=problem,
        )
    return _(
        "audit chain broken at entry %(entry)s (chain position %(seq)s): %(problem)s",
        entry=broken.entry_id,
        seq=broken.seq,
        problem=problem,
    )


@audit_cli.command("verify")
def verify_command() -> None:
    """Recompute every entry's hash in chain order; exit 1 naming the first broken link."""
    session = db.session()
    try:
        verdict = verify(session)
    finally:
        session.rollback()
    with in_language(language()):
        if verdict.broken is None:
            click.echo(_("audit chain intact: %(count)s entries", count=verdict.checked))
            return
        click.echo(_where(verdict.broken), err=True)
        click.echo(_("%(count)s entries before it are intact", count=verdict.checked), err=True)
    sys.exit(1)

"""`flask --app service generate-data`: synthetic data at national scale.

The generator is a development and benchmark tool (tools/generate.py), not part of the
runtime package: the command declares its options here and imports the generator only when
it runs, so the service never imports tools/ (the production image has none).
"""

from __future__ import annotations

import sys
from datetime import datetime
from types import ModuleType

import click
from flask import current_app
from flask.cli import with_appcontext

from service.core.db import db


def _generator() -> ModuleType:
    """tools.generate, imported now; a usage error where the checkout has no tools/."""
    try:
        import tools.generate
    except ImportError as error:
        raise click.UsageError(
            f"generate-data runs from a source checkout, with its tools/ folder ({error})"
        ) from error
    return tools.generate


def _years(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        years: tuple[int, ...] = _generator().parse_years(value)
        return years
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@click.command("generate-data")
@click.option("--projects", type=click.IntRange(min=0), default=100_000, show_default=True)
@click.option("--seed", type=int, default=2566, show_default=True, help="Same seed, same data.")
@click.option(
    "--years",
    default="2566-2568",
    show_default=True,
    callback=_years,
    help="Fiscal years (Buddhist Era): a range 2566-2568 or a list 2566,2568.",
)
@click.option("--districts", type=click.IntRange(1, 99), default=50, show_default=True)
@click.option("--departments", type=click.IntRange(1, 39), default=20, show_default=True)
@click.option("--schools-per-network", type=click.IntRange(1, 99), default=4, show_default=True)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the latest year has reached (default: the end of its second quarter).",
)
@click.option("--append", "mode", flag_value="append", help="Add to generated data already there.")
@click.option(
    "--truncate",
    "mode",
    flag_value="truncate",
    help="Empty every table first (the demo too). Refused in production.",
)
@click.option("--chunk", type=click.IntRange(min=1), default=2_000, hidden=True)
@with_appcontext
def generate_data_command(
    projects: int,
    seed: int,
    years: tuple[int, ...],
    districts: int,
    departments: int,
    schools_per_network: int,
    as_of: datetime | None,
    mode: str | None,
    chunk: int,
) -> None:
    """Generate a national-scale data set (org tree, strategy tree, projects with steps,
    results, reports, budget, KPIs, evaluations, audit) with bulk inserts, and commit it.

    A database that already holds generated data is refused unless --append or --truncate
    says what to do. Every generated user signs in with the password printed at the end.
    """
    _generator()  # a usage error, not a traceback, where there is no tools/
    from tools.generate import (
        GENERATED_PASSWORD,
        GeneratedDataExists,
        GenerateOptions,
        generate,
    )

    if mode == "truncate" and current_app.config.get("TIDTAM_ENV") == "production":
        raise click.UsageError("--truncate empties every table: refused in production")
    try:
        options = GenerateOptions(
            projects=projects,
            seed=seed,
            years=years,
            districts=districts,
            departments=departments,
            schools_per_network=schools_per_network,
            as_of=as_of.date() if as_of else None,
            mode="new" if mode is None else mode,  # type: ignore[arg-type]
            chunk=chunk,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error

    def say(line: str) -> None:
        click.echo(line, err=True)
        sys.stderr.flush()

    engine = db.engine
    try:
        with engine.begin() as connection:
            summary = generate(connection, options, say)
    except GeneratedDataExists as error:
        raise click.ClickException(str(error)) from error
    click.echo(
        f"Generated {summary.total_rows:,} rows ({projects:,} projects, seed {seed}) in "
        f"{summary.seconds:.1f}s. Generated users sign in with the password {GENERATED_PASSWORD}."
    )

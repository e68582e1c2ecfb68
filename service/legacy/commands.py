"""`flask --app service import-legacy PATH… [--dry-run] [--json]`."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext

from service.core.db import db

PROGRESS_FROM = 20  # pages; fewer get no progress bar


def _count_pages(paths: tuple[Path, ...]) -> int:
    """How many page files PATHs hold (for the progress bar; parse_path reads the same)."""
    from service.legacy.parser import PAGE_SUFFIXES

    def in_zip(path: Path) -> int:
        try:
            with zipfile.ZipFile(path) as archive:
                return sum(
                    1 for name in archive.namelist() if Path(name).suffix.lower() in PAGE_SUFFIXES
                )
        except zipfile.BadZipFile:
            return 0

    total = 0
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                suffix = child.suffix.lower()
                if child.is_file() and suffix == ".zip":
                    total += in_zip(child)
                elif child.is_file() and suffix in PAGE_SUFFIXES:
                    total += 1
        elif path.suffix.lower() == ".zip":
            total += in_zip(path)
        else:
            total += 1
    return total


@click.command("import-legacy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Import inside a transaction, then roll it back.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per page on stdout.")
@with_appcontext
def import_legacy_command(paths: tuple[Path, ...], dry_run: bool, as_json: bool) -> None:
    """Import legacy project pages: PATHs are page files (.txt, .html), folders (searched
    recursively) or .zip archives. Each page is imported whole or not at all; importing a
    page again changes nothing. Incomplete pages are reported and never imported."""
    from service.legacy.importer import LegacyImporter, PageReport
    from service.legacy.parser import ParsedPage, parse_path

    def pages() -> Iterator[ParsedPage]:
        for path in paths:
            yield from parse_path(path)

    total = _count_pages(paths)
    out = sys.stdout
    err = sys.stderr
    session = db.session()
    importer = LegacyImporter(session)
    bar = (
        click.progressbar(length=total, label="importing", file=err, show_pos=True)
        if total >= PROGRESS_FROM
        else None
    )

    def each(page: ParsedPage, report: PageReport) -> None:
        if as_json:
            data = page.to_json_dict()
            data["import"] = report.to_json_dict()
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
        if bar is not None:
            bar.update(1)

    try:
        if bar is not None:
            with bar:
                summary = importer.import_pages(pages(), each)
        else:
            summary = importer.import_pages(pages(), each)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    finally:
        db.session.remove()

    echo = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    outcomes = ("created", "updated", "unchanged", "skipped", "failed")
    echo("")
    echo(
        f"{'pages':<10} {len(summary.pages):>7}" + ("   (dry run: nothing kept)" if dry_run else "")
    )
    for outcome in outcomes:
        echo(f"{outcome:<10} {summary.count(outcome):>7}")  # type: ignore[arg-type]
    echo(f"{'pages/s':<10} {summary.pages_per_second:>7.1f}")
    for report in summary.pages:
        if report.outcome in ("skipped", "failed"):
            echo(f"  {report.outcome}: {report.source} ({'; '.join(report.reasons)})")
    if summary.count("failed"):
        sys.exit(1)

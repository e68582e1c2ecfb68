"""Legacy import speed: pages per second, parsing and importing into PostgreSQL, beside the
parser alone on the same pages.

The pages are made from the reference page (tests/data/legacy) with a project code of their
own each, so every page creates a project with its texts, steps, report, strategy path, KPI
link and score, and all of them share the district's KPI, as real pages do. They are imported
into a scratch database (migrated, empty) of the bench server, which is dropped afterwards.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.database import database_url
from bench.processes import ROOT
from service.cli import alembic_config
from service.core.db import make_engine

TEMPLATE = ROOT / "tests" / "data" / "legacy" / "project-50230000-3598.txt"
TEMPLATE_CODE = "50230000-3598"
PAGES = 500
TARGET = 50.0  # pages per second


def write_pages(folder: Path, count: int = PAGES) -> list[Path]:
    """`count` page files, the reference page with codes 50230000-10001 …"""
    template = TEMPLATE.read_text(encoding="utf-8")
    assert TEMPLATE_CODE in template
    paths = []
    for number in range(count):
        path = folder / f"project-{number:05d}.txt"
        path.write_text(template.replace(TEMPLATE_CODE, f"50230000-{10001 + number}"), "utf-8")
        paths.append(path)
    return paths


def run(server_url: str, say: Callable[[str], None], count: int = PAGES) -> dict[str, Any]:
    from service.core.listeners import register_listeners
    from service.legacy import parse_path
    from service.legacy.importer import LegacyImporter

    register_listeners()  # the importer's sessions run as the app's do, without the app

    name = f"tidtam_bench_import_{secrets.token_hex(4)}"
    admin = make_engine(database_url(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = database_url(server_url, name)
    try:
        command.upgrade(alembic_config(url), "head")
        with tempfile.TemporaryDirectory(prefix="tidtam-bench-import-") as folder:
            write_pages(Path(folder), count)
            started = time.perf_counter()
            parsed = list(parse_path(folder))
            parse_seconds = time.perf_counter() - started
            engine = make_engine(url)
            started = time.perf_counter()
            with Session(engine) as session:
                summary = LegacyImporter(session).import_pages(parse_path(folder))
                session.commit()
            seconds = time.perf_counter() - started
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    created = summary.count("created")
    rate = len(summary.pages) / seconds
    parse_rate = len(parsed) / parse_seconds
    say(
        f"  import: {rate:.0f} pages/s ({created} created of {len(summary.pages)}); "
        f"parser alone {parse_rate:.0f} pages/s"
    )
    return {
        "pages": len(summary.pages),
        "created": created,
        "failed": summary.count("failed"),
        "seconds": round(seconds, 2),
        "pages_per_second": round(rate, 1),
        "parse_pages_per_second": round(parse_rate, 1),
        "figures": [
            {
                "name": f"legacy import ({len(summary.pages)} pages, parse + import + commit)",
                "value": round(rate, 1),
                "unit": "pages/s",
                "value_text": f"{rate:,.0f} pages/s"
                + (f", {summary.count('failed')} failed" if summary.count("failed") else ""),
                "baseline": round(parse_rate, 1),
                "baseline_name": "the parser alone",
                "baseline_text": f"parser alone {parse_rate:,.0f} pages/s",
                "ratio": round(rate / parse_rate, 3) if parse_rate else None,
                "ratio_text": f"{rate / parse_rate:.2f}×" if parse_rate else "—",
                "target": f"≥ {TARGET:.0f} pages/s",
                "met": rate >= TARGET and created == count,
            }
        ],
    }

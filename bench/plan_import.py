"""The annual plan from a spreadsheet at a district's size: a workbook of a few thousand rows
(projects, five steps each, an objective and a target each) read into a preview, applied,
and read again (the re-import that changes nothing), timed apart.

    python -m bench.plan_import [DATABASE_URL] [--projects 400]
    python -m bench --only plan_import      (the row of `make bench`, on PostgreSQL)

Without a URL it runs on a scratch SQLite file (the figure in the README and the report was
measured so); with a PostgreSQL URL of a scratch database it migrates it and loads the demo
first. In `make bench` (`run`) it makes a scratch database of its own on the bench's server
and drops it after. The row follows the bench table's shape (`figures`)."""

from __future__ import annotations

import argparse
import io
import json
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

TARGET_SECONDS = 15.0
#: A district's plan: 400 projects of five steps and two texts each, 3,200 rows.
PROJECTS = 400


def workbook(projects: int, be_year: int = 2567) -> tuple[bytes, int]:
    """(the file, its data rows): `projects` projects of the demo district's division."""
    from service.projects.annual_plan import (
        PROJECT_COLUMNS,
        PROJECTS,
        STEP_COLUMNS,
        STEPS,
        TEXT_COLUMNS,
        TEXTS,
    )

    book = Workbook(write_only=True)
    sheets = {}
    for title, columns in (
        (PROJECTS, PROJECT_COLUMNS),
        (STEPS, STEP_COLUMNS),
        (TEXTS, TEXT_COLUMNS),
    ):
        sheets[title] = book.create_sheet(title)
        sheets[title].append([header for _key, header in columns])
    rows = 0
    months = [(10, be_year - 1), (12, be_year - 1), (2, be_year), (4, be_year), (6, be_year)]
    for n in range(projects):
        code = f"50230000-{6000 + n}"
        sheets[PROJECTS].append(
            [
                code,
                f"โครงการทดสอบ {n}",
                str(be_year),
                "50230000",
                "50230700",
                "งานประจำ",
                f"{10000 + n}.00",
                "หลักการ",
                "7.2",
            ]
        )
        for position, (month, year) in enumerate(months, start=1):
            sheets[STEPS].append(
                [
                    code,
                    position,
                    f"ขั้นตอน {position}",
                    "20",
                    f"1/{month}/{year}",
                    f"28/{month}/{year}",
                    "",
                ]
            )
        sheets[TEXTS].append([code, "วัตถุประสงค์", f"วัตถุประสงค์ {n}"])
        sheets[TEXTS].append([code, "เป้าหมายเชิงปริมาณ", f"เป้าหมาย {n}"])
        rows += 1 + len(months) + 2
    output = io.BytesIO()
    book.save(output)
    return output.getvalue(), rows


def measure(url: str, projects: int) -> dict[str, Any]:
    from alembic import command

    from service.cli import alembic_config
    from service.core.db import make_engine
    from service.core.listeners import register_listeners
    from service.demo.load import load_demo
    from service.org.models import User
    from service.projects.annual_plan import apply_plan, read_plan

    register_listeners()
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    with Session(engine) as session:
        load_demo(session)
        session.commit()
    data, rows = workbook(projects)
    timings = {}
    with Session(engine) as session:
        officer = session.scalars(
            select(User).where(User.email == "officer@demo.tidtam.local")
        ).one()
        started = time.perf_counter()
        preview = read_plan(session, officer, data)
        timings["preview"] = time.perf_counter() - started
        assert preview.ok, preview.problems[:3]
        started = time.perf_counter()
        apply_plan(session, officer, preview)
        session.commit()
        timings["apply"] = time.perf_counter() - started
        started = time.perf_counter()
        again = read_plan(session, officer, data)
        timings["reimport preview"] = time.perf_counter() - started
        assert again.count("unchanged") == projects
    engine.dispose()
    total = timings["preview"] + timings["apply"]
    return {
        "rows": rows,
        "projects": projects,
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "figures": [
            {
                "name": f"annual plan import ({rows:,} rows: preview + apply + commit)",
                "value": round(total, 2),
                "unit": "s",
                "value_text": f"{total:.1f} s ({rows / total:,.0f} rows/s)",
                "baseline": round(timings["preview"], 2),
                "baseline_name": "reading and checking alone (the preview)",
                "target": f"< {TARGET_SECONDS:.0f} s",
                "met": total < TARGET_SECONDS,
            }
        ],
    }


def run(server_url: str, say: Callable[[str], None], projects: int = PROJECTS) -> dict[str, Any]:
    """`make bench`'s row: `measure` on a scratch database of the PostgreSQL server (made,
    migrated, given the demo, and dropped after), as the legacy importer's row does."""
    from sqlalchemy import text

    from bench.database import database_url
    from service.core.db import make_engine

    name = f"tidtam_bench_plan_{secrets.token_hex(4)}"
    admin = make_engine(database_url(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        result = measure(database_url(server_url, name), projects)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    seconds = result["seconds"]
    say(
        f"  plan import: {result['rows']:,} rows, preview {seconds['preview']} s, apply"
        f" {seconds['apply']} s, the same file again {seconds['reimport preview']} s"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", nargs="?")
    parser.add_argument("--projects", type=int, default=PROJECTS)
    args = parser.parse_args()
    if args.url:
        print(json.dumps(measure(args.url, args.projects), indent=2, ensure_ascii=False))
    else:
        with tempfile.TemporaryDirectory(prefix="tidtam-plan-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'plan.sqlite'}"
            print(json.dumps(measure(url, args.projects), indent=2, ensure_ascii=False))

"""Quarterly rollup benchmark over the bench database (100,000 projects, 1,000,000 steps): the
whole rollup of one quarter (projects in ranges, units, strategy nodes, computed KPIs) beside
the bare SQL aggregate it rests on (actual and planned progress per project, no writes),
measured in the same run; then the rerun, which finds every row already right.

    python -m bench.rollups [DATABASE_URL]

Everything runs in one transaction rolled back at the end (the quarter's rows are deleted
first inside it, so the first run writes every row): the shared bench database is left as
it was. Peak memory: the Python heap's peak (tracemalloc) and the resident high-water mark.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from service.core.db import make_engine, utcnow
from service.core.listeners import register_listeners
from service.fiscal.models import FiscalYear
from service.rollups.compute import (
    compute_kpis,
    rollup_plan,
    rollup_projects,
    rollup_strategies,
    rollup_units,
)
from service.rollups.models import ProjectRollup, StrategyRollup, UnitRollup

QUARTER = (2567, 2)

#: What the rollup rests on: per project of the year, Σ weight × mean accepted completion and
#: Σ weight × elapsed share at the quarter's end, read and thrown away.
BARE = """
SELECT count(*), sum(actual), sum(planned) FROM (
  SELECT ps.project_id,
         sum(ps.weight * coalesce(m.mean, 0) / 100) AS actual,
         sum(CASE WHEN ps.planned_end <= :qend THEN ps.weight
                  WHEN ps.planned_start > :qend THEN 0
                  ELSE ps.weight * (:qend - ps.planned_start + 1)
                       / (ps.planned_end - ps.planned_start + 1) END) AS planned
  FROM plan_step ps
  JOIN project p ON p.id = ps.project_id AND p.fiscal_year_id = :year
  LEFT JOIN (SELECT sr.step_id, avg(coalesce(sr.accepted_completion, 0)) AS mean
             FROM step_result sr GROUP BY sr.step_id) m ON m.step_id = ps.id
  GROUP BY ps.project_id
) per_project
"""


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phases(session: Session, be_year: int, quarter: int) -> dict[str, float]:
    plan = rollup_plan(session, be_year, quarter)
    now = utcnow()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    for id_range in plan.id_ranges:
        rollup_projects(session, plan, id_range, now=now)
    seconds["projects"] = time.perf_counter() - clock
    for name, step in (
        ("units", rollup_units),
        ("strategies", rollup_strategies),
        ("kpis", compute_kpis),
    ):
        clock = time.perf_counter()
        step(session, plan, now=now)
        seconds[name] = time.perf_counter() - clock
    seconds["ranges"] = len(plan.id_ranges)
    return seconds


#: The issue's target for a full quarterly rollup at 100,000 projects.
TARGET_SECONDS = 60.0


def run(database_url: str, quarter: tuple[int, int] = QUARTER) -> dict[str, Any]:
    """The figures for `make bench` (bench/__main__.py's table)."""
    register_listeners()  # measured with the listeners the app runs with
    be_year, number = quarter
    engine = make_engine(database_url)
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        try:
            year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == be_year)).one()
            for model in (ProjectRollup, UnitRollup, StrategyRollup):
                session.execute(
                    delete(model).where(model.fiscal_year_id == year.id, model.quarter == number)
                )
            quarter_end = rollup_plan(session, be_year, number).quarter_end
            clock = time.perf_counter()
            bare_row = connection.execute(text(BARE), {"qend": quarter_end, "year": year.id}).one()
            bare = time.perf_counter() - clock
            tracemalloc.start()
            clock = time.perf_counter()
            first = _phases(session, be_year, number)
            first_s = time.perf_counter() - clock
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rows = {
                model.__tablename__: session.scalar(
                    select(func.count(model.id)).where(
                        model.fiscal_year_id == year.id, model.quarter == number
                    )
                )
                for model in (ProjectRollup, UnitRollup, StrategyRollup)
            }
            clock = time.perf_counter()
            _phases(session, be_year, number)
            rerun_s = time.perf_counter() - clock
        finally:
            session.close()
            transaction.rollback()
    engine.dispose()
    result: dict[str, Any] = {
        "quarter": f"Q{number} FY{be_year}",
        "projects_in_year": int(bare_row[0]),
        "rows": rows,
        "rollup_seconds": round(first_s, 2),
        "phases": {k: round(v, 2) for k, v in first.items()},
        "rerun_seconds": round(rerun_s, 2),
        "bare_seconds": round(bare, 2),
        "ratio": round(first_s / bare, 2) if bare else None,
        "python_heap_peak_mb": round(peak / 2**20, 1),
        "rss_peak_mb": round(_rss_mb(), 1),
    }
    result["figures"] = [
        {
            "name": (
                f"quarterly rollup {result['quarter']} ({result['projects_in_year']:,} projects)"
            ),
            "value": result["rollup_seconds"],
            "value_text": (
                f"{result['rollup_seconds']} s, heap peak {result['python_heap_peak_mb']} MB, "
                f"rerun {result['rerun_seconds']} s"
            ),
            "baseline": result["bare_seconds"],
            "baseline_text": f"{result['bare_seconds']} s bare progress aggregate",
            "ratio": result["ratio"],
            "ratio_text": f"{result['ratio']}×" if result["ratio"] else "—",
            "target": f"< {TARGET_SECONDS:g} s",
            "met": result["rollup_seconds"] < TARGET_SECONDS,
        }
    ]
    return result


if __name__ == "__main__":
    from bench import run_alone

    run_alone(run)

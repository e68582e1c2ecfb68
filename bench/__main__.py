"""`make bench`: every benchmark against PostgreSQL and Redis at national scale, one table.

    python -m bench [--projects N] [--seed S] [--clients 16] [--seconds 10] [--only web,importer]

Environment: BENCH_DATABASE_URL (a PostgreSQL server, any database on it; default
postgresql://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/0), BENCH_PROJECTS (default 100000), BENCH_SECONDS (per measurement,
default 10), BENCH_LOAD=python (no wrk), WEB_CONCURRENCY (gunicorn workers, as `make web`).

The database `tidtam_bench` is created, migrated and filled by the generator unless it already
holds exactly that size and seed. Each figure is printed beside its baseline, measured in the
same run; the results also go to bench/results/<UTC time>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ALL = (
    "web",
    "mixed",
    "scale",
    "transitions",
    "deadlines",
    "rollups",
    "importer",
    "plan_import",
    "worker",
)
#: The smaller size of the scale row (first views at this size beside the main size).
SCALE_SMALL = 10_000


def say(line: str) -> None:
    print(line, flush=True)


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"bench.{name}":
            return None
        raise


def _missing(name: str, why: str) -> dict[str, Any]:
    return {"figures": [{"name": name, "value": None, "value_text": why, "met": None}]}


def _transitions(server_url: str) -> dict[str, Any]:
    module = _module("transitions")
    if module is None or not hasattr(module, "measure_transitions"):
        return _missing("transitions/s through /api/v1", "not written yet")
    figures = module.measure_transitions(server_url)
    if figures is None:
        return _missing("transitions/s through /api/v1", "not built yet")
    ratio = figures.get("ratio")
    target = figures.get("target_ratio")
    figures["figures"] = [
        {
            "name": f"transitions/s through /api/v1 ({figures.get('clients')} clients)",
            "value": figures.get("transitions_per_second"),
            "unit": "/s",
            "value_text": f"{figures.get('transitions_per_second')}/s"
            + (f", {figures['failed']} refused" if figures.get("failed") else ""),
            "baseline": figures.get("pgbench_tps"),
            "baseline_text": f"pgbench -N {figures.get('pgbench_tps')} TPS",
            "ratio": ratio,
            "ratio_text": f"{ratio:.2f}×" if isinstance(ratio, float) else "",
            "target": f"≥ {target}× pgbench" if target is not None else "—",
            "met": figures.get("meets_target"),
        }
    ]
    return figures


def _other(name: str, database_url: str) -> dict[str, Any]:
    module = _module(name)
    if module is None or not hasattr(module, "run"):
        return _missing(name, f"not written yet (bench/{name}.py)")
    result: dict[str, Any] = module.run(database_url)
    if "figures" not in result:
        result["figures"] = [
            {"name": f"{name}: {key}", "value": value, "value_text": str(value), "met": None}
            for key, value in result.items()
            if isinstance(value, int | float | str)
        ]
    return result


def _text(row: dict[str, Any], key: str) -> str:
    if row.get(f"{key}_text"):
        return str(row[f"{key}_text"])
    value = row.get(key)
    if value is None:
        return "—"
    unit = row.get("unit", "") if key in ("value", "baseline") else ""
    return f"{value:,.2f} {unit}".strip() if isinstance(value, float) else f"{value} {unit}".strip()


def table(rows: list[dict[str, Any]]) -> str:
    """One table: figure, value, baseline, ratio, target, met."""
    header = ["figure", "value", "baseline (same run)", "ratio", "target", "met"]
    lines = [
        [
            str(row.get("name", "")),
            _text(row, "value"),
            _text(row, "baseline") if row.get("baseline_name") or row.get("baseline_text") else "—",
            _text(row, "ratio") if row.get("ratio") is not None else "—",
            str(row.get("target") or "—"),
            {True: "yes", False: "NO", None: "—"}[row.get("met")],
        ]
        for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    out += [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--projects", type=int, default=int(os.environ.get("BENCH_PROJECTS", "100000"))
    )
    parser.add_argument("--seed", type=int, default=2566)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "10"))
    )
    parser.add_argument("--only", default=",".join(ALL), help=f"some of {','.join(ALL)}")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    from bench.database import ensure_database, ensure_redis, postgres_version, sized_database

    server_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    began = time.perf_counter()
    started_at = datetime.now(UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    ensure_redis(redis_url)
    database = ensure_database(
        server_url, args.projects, args.seed, say, sized_database(args.projects)
    )
    url = database["url"]
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "web": lambda: _web(url, redis_url, args.clients, args.seconds),
        "mixed": lambda: _mixed(url, redis_url, args.clients, 2 * args.seconds),
        "scale": lambda: _scale(server_url, redis_url, args, results.get("mixed")),
        "transitions": lambda: _transitions(server_url),
        "deadlines": lambda: _other("deadlines", url),
        "rollups": lambda: _other("rollups", url),
        "importer": lambda: _importer(server_url),
        "plan_import": lambda: _plan_import(server_url),
        "worker": lambda: _worker(url, redis_url),
    }
    results: dict[str, Any] = {}
    failed = False
    for name in only:
        say(f"{name} …")
        clock = time.perf_counter()
        try:
            results[name] = runners[name]()
        except Exception as error:
            failed = True
            say(traceback.format_exc())
            results[name] = _missing(name, f"failed: {type(error).__name__}: {error}")
        results[name]["bench_seconds"] = round(time.perf_counter() - clock, 1)

    rows = [row for name in only for row in results[name].get("figures", [])]
    report = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - began, 1),
        "machine": {
            "cpus": os.cpu_count(),
            # Others may share the machine: the figures are read against its load.
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "postgres": postgres_version(url),
            "load_generator": results.get("web", {}).get("generator"),
            "web_workers": results.get("web", {}).get("web_workers"),
        },
        "projects": args.projects,
        "seed": args.seed,
        "clients": args.clients,
        "database": {k: v for k, v in database.items() if k != "url"},
        "rows": rows,
        "benchmarks": results,
    }
    say("")
    say(
        f"Tidtam benchmarks: {args.projects:,} projects (seed {args.seed}), "
        f"{args.clients} clients, "
        f"{os.cpu_count()} CPUs, PostgreSQL {report['machine']['postgres']}, "
        f"load by {report['machine']['load_generator'] or '—'}, "
        f"{report['seconds']:.0f} s in all, machine load average {load_at_start[0]:.1f} "
        f"at the start and {report['machine']['load_average_at_end'][0]:.1f} at the end"
    )
    say(table(rows))
    RESULTS.mkdir(exist_ok=True)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
    (RESULTS / f"{stamp}.json").write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    say(f"results: bench/results/{stamp}.json (and latest.json)")
    return 1 if failed else 0


def _web(url: str, redis_url: str, clients: int, seconds: float) -> dict[str, Any]:
    from bench import web

    return web.run(url, redis_url, clients, seconds, say)


def _worker(url: str, redis_url: str) -> dict[str, Any]:
    from bench import worker

    return worker.run(url, redis_url, say)


def _importer(server_url: str) -> dict[str, Any]:
    module = _module("importer")
    if module is None:
        return _missing("legacy import pages/s", "not written yet")
    result: dict[str, Any] = module.run(server_url, say)
    return result


def _plan_import(server_url: str) -> dict[str, Any]:
    from bench import plan_import

    return plan_import.run(server_url, say)


def _mixed(url: str, redis_url: str, clients: int, seconds: float) -> dict[str, Any]:
    from bench import mixed

    result = mixed.run(url, redis_url, say, clients=clients, seconds=seconds)
    result["figures"] = mixed.figure_rows(result)
    return result


def _scale(
    server_url: str, redis_url: str, args: argparse.Namespace, main_run: dict[str, Any] | None
) -> dict[str, Any]:
    """First views at SCALE_SMALL projects beside the same at the main size (from the mixed
    run, or measured here), and their ratio per page kind."""
    from bench import mixed
    from bench.database import ensure_database, sized_database

    def first_views(projects: int) -> dict[str, Any]:
        database = ensure_database(server_url, projects, args.seed, say, sized_database(projects))
        return mixed.run(database["url"], redis_url, say, clients=args.clients, mixed_phase=False)

    small = first_views(SCALE_SMALL)
    large = main_run if main_run and "first_views" in main_run else first_views(args.projects)
    result = {"small": small["first_views"], "large": large["first_views"]}
    result["figures"] = mixed.scale_rows(result, SCALE_SMALL, args.projects)
    return result


if __name__ == "__main__":
    sys.exit(main())

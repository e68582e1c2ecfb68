"""One transition through the API on one thread, on PostgreSQL: its time and its statements.

    .venv/bin/python -m bench.transition_latency [postgresql://postgres@127.0.0.1:5432/postgres] [N]

A scratch database gets the demo plus step results of the demo school (as bench.transitions
prepares them); the app is made in this process and driven by Flask's test client, one
request after another, so what is measured is the app's own path: token check, row lock,
checks, update, audit row, event, commit (no HTTP server, no other client). The school
submits a result and the officer accepts it, N times over (default 400 transitions), after a
warm-up; the time of each transition and the statements it sends are printed (median, p95,
mean). Tasks sent after commit go to the local Redis under a prefix of this run's own that no
worker listens to, removed at the end with the scratch database.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from typing import Any

from sqlalchemy import event

from bench.transitions import (
    _admin_execute,
    _flask,
    _forget_keys,
    _prepare,
    _server_url,
    redis_available,
)


def _drive(
    client: Any,
    ids: list[int],
    school: str,
    officer: str,
    n: int,
    sent: list[int],
    cpu: list[float],
) -> list[float]:
    times: list[float] = []
    as_school = {"Authorization": f"Bearer {school}"}
    as_officer = {"Authorization": f"Bearer {officer}"}
    turn = 0
    while len(times) < n:
        url = f"/api/v1/results/{ids[turn % len(ids)]}/transitions"
        turn += 1
        for path, body, headers in (
            (f"{url}/submit", {"completion": "50.00", "narrative": "bench"}, as_school),
            (f"{url}/accept", {}, as_officer),
        ):
            sent.append(0)
            cpu_started = time.process_time()
            started = time.perf_counter()
            answer = client.post(path, json=body, headers=headers)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.get_data(as_text=True)}")
    return times


def measure(database_url: str, n: int = 400) -> dict[str, Any]:
    suffix = secrets.token_hex(4)
    name = f"tidtam_bench_latency_{suffix}"
    url = _server_url(database_url, name)
    redis_url = redis_available(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    prefix = f"tidtam-bench-{name}:"
    _admin_execute(database_url, f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="tidtam-bench-") as instance:
            env = {"TIDTAM_INSTANCE": instance, "DATABASE_URL": url, "SECRET_KEY": suffix * 4}
            if redis_url:
                env.update(REDIS_URL=redis_url, CELERY_KEY_PREFIX=prefix)
            os.environ.update(env)
            _flask({**os.environ}, "db", "upgrade")
            _flask({**os.environ}, "demo-data")
            per_client, school, officer = _prepare(url)
            ids = [ident for client_ids in per_client for ident in client_ids]
            from service import create_app

            app = create_app()
            engine = app.extensions["tidtam.db"]
            sent: list[int] = []

            def count(*_args: Any) -> None:
                sent[-1] += 1

            client = app.test_client()
            _drive(client, ids, school, officer, 40, [0], [])  # warm-up
            cpu: list[float] = []
            event.listen(engine, "before_cursor_execute", count)
            times = _drive(client, ids, school, officer, n, sent, cpu)
            event.remove(engine, "before_cursor_execute", count)
            engine.dispose()
            if redis_url:
                _forget_keys(redis_url, prefix)
    finally:
        _admin_execute(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ms = sorted(t * 1000 for t in times)
    return {
        "transitions": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        # This process's CPU per transition: the rest of the time is waiting on PostgreSQL
        # (its work and the round trips) and, on a busy machine, for a core.
        "cpu_median_ms": round(statistics.median(cpu) * 1000, 2),
        "statements_per_transition": round(statistics.fmean(sent), 2),
        "per_second_one_thread": round(len(ms) / sum(times), 1),
        "broker": "redis" if redis_url else "embedded (SQLite)",
    }


def main() -> int:
    database_url = (
        sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    figures = measure(database_url, n)
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

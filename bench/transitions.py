"""Transitions per second through the real API on PostgreSQL, beside pgbench's figure.

    .venv/bin/python -m bench.transitions [postgresql://postgres@127.0.0.1:5432/postgres]

The baseline is pgbench's simple-update script (`pgbench -N -c 8`) on a scratch database of
the same server, measured in the same run. Then the web app is served as in production
(`make web`, gunicorn with a worker per core) on a second scratch database holding the demo
plus one step result per (client, slot), and 8 client threads with keep-alive sessions take
transitions through /api/v1 for the same time: the school submits a result and the officer
accepts it, again and again (an accepted result may be resubmitted). Each transition is a
full engine.take: token auth, row lock, state and permission checks, the update, one audit row
and one outbox event, one commit. Both scratch databases are dropped at the end.

`measure_transitions(database_url)` returns the figures as a dict (bench/__main__ prints them
with the other benchmarks); run alone, this module prints them itself.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
WEB_WORKERS = os.cpu_count() or 1  # as `make web`
SECONDS = 10
SLOTS_PER_CLIENT = 4
TARGET_RATIO = 0.25


def _server_url(database_url: str, database: str) -> str:
    return (
        make_url(database_url)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


def _admin_execute(database_url: str, statement: str) -> None:
    from service.core.db import make_engine

    engine = make_engine(_server_url(database_url, "postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def _pg_env(database_url: str) -> tuple[list[str], dict[str, str]]:
    url = make_url(database_url)
    args = [
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
    ]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def pgbench_tps(database_url: str, database: str, seconds: int = SECONDS) -> float:
    """pgbench -N (simple update) with CLIENTS clients on `database`, initialised first."""
    args, env = _pg_env(database_url)
    subprocess.run(
        ["pgbench", "-i", "-s", "1", "-q", *args, database],
        env=env,
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        ["pgbench", "-N", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), *args, database],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+)", run.stdout)
    if not match:
        raise RuntimeError(f"pgbench printed no tps:\n{run.stdout}\n{run.stderr}")
    return float(match.group(1))


def _prepare(url: str) -> tuple[list[list[int]], str, str]:
    """The demo plus CLIENTS × SLOTS_PER_CLIENT step results of the demo school on the
    locked demo project; returns the result ids per client and the school's and officer's
    API tokens."""
    from service.api.auth import new_token
    from service.core.db import make_engine
    from service.core.listeners import register_listeners
    from service.org.models import OrgUnit, User
    from service.projects.models import PlanStep, Project, ResultState, StepResult

    register_listeners()  # the results are made as the app makes them (due_on, figures)
    engine = make_engine(url)
    with Session(engine) as session:
        project = session.scalars(select(Project).where(Project.code == "50230000-3598")).one()
        school_unit = session.scalars(select(OrgUnit).where(OrgUnit.code == "5023077101")).one()
        school = session.scalars(select(User).where(User.email == "school@demo.tidtam.local")).one()
        officer = session.scalars(
            select(User).where(User.email == "officer@demo.tidtam.local")
        ).one()
        results: list[StepResult] = []
        for index in range(CLIENTS * SLOTS_PER_CLIENT):
            step = PlanStep(
                project=project,
                position=100 + index,
                name=f"bench step {index}",
                weight=Decimal("1.00"),
                planned_start=date(2023, 1, 1),
                planned_end=date(2023, 3, 31),
            )
            result = StepResult(step=step, unit=school_unit, state=ResultState.NOT_STARTED)
            session.add_all([step, result])
            results.append(result)
        _row, school_token = new_token(session, school, "bench")
        _row, officer_token = new_token(session, officer, "bench")
        session.commit()
        ids = [r.id for r in results]
    engine.dispose()
    per_client = [ids[i::CLIENTS] for i in range(CLIENTS)]
    return per_client, school_token, officer_token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "service", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    web = subprocess.Popen(
        ["make", "--no-print-directory", "web"],
        cwd=ROOT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(WEB_WORKERS)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return web
        except OSError:
            time.sleep(0.25)
    os.killpg(web.pid, signal.SIGTERM)
    raise RuntimeError("the web server did not come up")


def _drive(
    base: str, ids: list[int], school: str, officer: str, stop: float, counts: dict[str, int]
) -> None:
    """Submit-then-accept on each of `ids` in turn until `stop`; counts what happened."""
    http = requests.Session()  # keep-alive where the server offers it
    as_school = {"Authorization": f"Bearer {school}"}
    as_officer = {"Authorization": f"Bearer {officer}"}
    done = failed = 0
    turn = 0
    while time.monotonic() < stop:
        ident = ids[turn % len(ids)]
        turn += 1
        url = f"{base}/api/v1/results/{ident}/transitions"
        submit = http.post(
            f"{url}/submit",
            json={"completion": "50.00", "narrative": "bench"},
            headers=as_school,
            timeout=30,
        )
        if submit.status_code != 200:
            failed += 1
            continue
        done += 1
        accept = http.post(f"{url}/accept", json={}, headers=as_officer, timeout=30)
        if accept.status_code == 200:
            done += 1
        else:
            failed += 1
    with threading.Lock():
        counts["transitions"] += done
        counts["failed"] += failed


def redis_available(redis_url: str | None) -> str | None:
    """`redis_url` when a Redis answers there, else None (the embedded broker is used)."""
    if not redis_url:
        return None
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_timeout=2).ping()
    except redis.RedisError:
        return None
    return redis_url


def _forget_keys(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def api_transitions_per_second(
    database_url: str, database: str, redis_url: str | None, seconds: int = SECONDS
) -> dict[str, Any]:
    url = _server_url(database_url, database)
    prefix = f"tidtam-bench-{database}:"
    with tempfile.TemporaryDirectory(prefix="tidtam-bench-") as instance:
        env = {
            **os.environ,
            "TIDTAM_INSTANCE": instance,
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(16),
        }
        if redis_url:
            # The production shape: tasks the web app sends after a commit go to Redis, under
            # a prefix of this run's own that no worker listens to; removed afterwards.
            env.update(REDIS_URL=redis_url, CELERY_KEY_PREFIX=prefix)
        _flask(env, "db", "upgrade")
        _flask(env, "demo-data")
        per_client, school, officer = _prepare(url)
        port = _free_port()
        web = _serve(env, port)
        try:
            base = f"http://127.0.0.1:{port}"
            counts = {"transitions": 0, "failed": 0}
            # One warm-up round so each worker has imported and connected before the clock runs.
            warm_stop = time.monotonic() + 1.0
            _drive(base, per_client[0], school, officer, warm_stop, {"transitions": 0, "failed": 0})
            started = time.monotonic()
            stop = started + seconds
            threads = [
                threading.Thread(target=_drive, args=(base, ids, school, officer, stop, counts))
                for ids in per_client
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
            if redis_url:
                _forget_keys(redis_url, prefix)
    return {
        "transitions": counts["transitions"],
        "failed": counts["failed"],
        "seconds": round(elapsed, 2),
        "transitions_per_second": round(counts["transitions"] / elapsed, 1),
    }


def measure_transitions(database_url: str, redis_url: str | None = None) -> dict[str, Any]:
    """pgbench -N TPS and API transitions/s on the PostgreSQL server of `database_url`, both
    measured now with CLIENTS clients, and their ratio (the target is ≥ TARGET_RATIO).
    The web app uses Redis at `redis_url` (default: BENCH_REDIS_URL, else the local Redis)
    when one answers there, as in production; otherwise the embedded broker."""
    if redis_url is None:
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    broker = redis_available(redis_url)
    suffix = secrets.token_hex(4)
    pg_db, api_db = f"tidtam_bench_pgbench_{suffix}", f"tidtam_bench_api_{suffix}"
    for name in (pg_db, api_db):
        _admin_execute(database_url, f'CREATE DATABASE "{name}"')
    try:
        baseline = pgbench_tps(database_url, pg_db)
        api = api_transitions_per_second(database_url, api_db, broker)
    finally:
        for name in (pg_db, api_db):
            _admin_execute(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ratio = api["transitions_per_second"] / baseline if baseline else 0.0
    return {
        "name": "transitions",
        "clients": CLIENTS,
        "web_workers": WEB_WORKERS,
        "broker": "redis" if broker else "embedded (SQLite)",
        "pgbench_tps": round(baseline, 1),
        **api,
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
    }


def report(figures: dict[str, Any]) -> str:
    return (
        f"transitions through /api/v1 ({figures['clients']} clients, "
        f"{figures['web_workers']} gunicorn workers, broker {figures['broker']}): "
        f"{figures['transitions_per_second']}/s "
        f"({figures['transitions']} in {figures['seconds']} s, {figures['failed']} refused)\n"
        f"pgbench -N, {figures['clients']} clients, same server: {figures['pgbench_tps']} TPS\n"
        f"ratio: {figures['ratio']} (target ≥ {figures['target_ratio']}: "
        f"{'met' if figures['meets_target'] else 'NOT met'})"
    )


def main() -> int:
    database_url = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    figures = measure_transitions(database_url)
    print(report(figures))
    return 0 if figures["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

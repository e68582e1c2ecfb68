"""The bench database: `tidtam_bench` on the PostgreSQL server of BENCH_DATABASE_URL, migrated
and holding exactly one generated data set of the asked size and seed (generated when it
does not), and a Redis that answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.cli import alembic_config
from service.core.db import make_engine

DATABASE = "tidtam_bench"


def database_url(server_url: str, database: str = DATABASE) -> str:
    """`server_url` (any database on the server) pointed at `database`, with psycopg 3."""
    return (
        make_url(server_url)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


def ensure_redis(url: str) -> None:
    """Raises RuntimeError when Redis does not answer a PING."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise RuntimeError(f"Redis at {url} does not answer: {error}") from error


def postgres_version(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version


def sized_database(projects: int) -> str:
    """The bench database of a size: `tidtam_bench` at the default 100,000 projects, else
    `tidtam_bench_<N>` (the scale row compares two sizes side by side without regenerating)."""
    return DATABASE if projects == 100_000 else f"{DATABASE}_{projects}"


def ensure_database(
    server_url: str,
    projects: int,
    seed: int,
    say: Callable[[str], None],
    database: str = DATABASE,
) -> dict[str, Any]:
    """Create, migrate and fill the bench database unless it already holds exactly this data
    set. Returns what was done: {"url", "generated", "generate_seconds", "rows"}."""
    from tools.generate import GenerateOptions, generate, generated_runs

    server = make_engine(database_url(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    server.dispose()
    url = database_url(server_url, database)
    command.upgrade(alembic_config(url), "head")
    # The VACUUM ANALYZE below covers what the generator would analyze.
    options = GenerateOptions(projects=projects, seed=seed, mode="truncate", analyze=False)
    wanted = options.recorded()
    engine = make_engine(url)
    with engine.connect() as conn:
        runs = generated_runs(conn)
    same = len(runs) == 1 and {k: runs[0].get(k) for k in wanted} == wanted
    result: dict[str, Any] = {"url": url, "generated": not same, "rows": None}
    if same:
        say(f"bench database {database} already holds {projects:,} projects from seed {seed}")
        result["rows"] = runs[0].get("rows")
    else:
        say(f"generating {projects:,} projects (seed {seed}) into {database} …")
        started = time.perf_counter()
        with engine.begin() as conn:
            summary = generate(conn, options, lambda line: say("  " + line))
        result["generate_seconds"] = round(time.perf_counter() - started, 1)
        result["rows"] = summary.rows
    # VACUUM cannot run in a transaction; it sets the visibility map index-only scans need,
    # and clears what earlier runs left (their writes, the deadline bench's rolled-back rows)
    # on a server without autovacuum: quick when there is nothing to do.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return result

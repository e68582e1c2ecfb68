"""Pooled PostgreSQL connections (issue 13): no ping before handing out a connection used a
moment ago (pool_pre_ping cost a round trip per request), but one idle for a while is pinged,
and a dead one is replaced before the request sees it."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.core import db as core_db
from service.core.db import make_engine
from tests.conftest import on_postgres

pytestmark = pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's pool")


def _url() -> str:
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def test_a_busy_connection_is_not_pinged_an_idle_dead_one_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(_url(), pool_size=1, max_overflow=0)
    killer = make_engine(_url(), isolation_level="AUTOCOMMIT")
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        assert not engine.pool._pre_ping
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
        assert pings == []  # used a moment ago: handed out as it is

        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        monkeypatch.setattr(core_db, "IDLE_PING_SECONDS", 0.0)  # as if it sat in the pool
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert len(pings) == 1
    finally:
        engine.dispose()
        killer.dispose()


def _prepared_on_server(conn: object) -> int:
    return int(conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one())  # type: ignore[attr-defined]


def test_a_transaction_that_only_read_keeps_what_was_prepared() -> None:
    """psycopg forgets its prepared statements at a ROLLBACK; a transaction that wrote nothing
    ends by COMMIT instead (the same for it), so a page's statements are prepared once per
    connection rather than parsed and planned on every request."""
    engine = make_engine(_url(), pool_size=1, max_overflow=0)
    try:
        for _ in range(8):  # past psycopg's threshold of five executions
            with engine.connect() as conn:  # ends in a rollback, as a page's session does
                conn.execute(text("SELECT 1 + :n"), {"n": 1}).scalar_one()
        with engine.connect() as conn:
            assert _prepared_on_server(conn) >= 1
            raw = conn.connection.dbapi_connection
            assert raw is not None
            prepared = raw._prepared._names  # type: ignore[attr-defined]
            assert any(b"SELECT 1 + " in key[0] for key in prepared)
    finally:
        engine.dispose()


def test_a_transaction_that_wrote_is_rolled_back_whoever_wrote() -> None:
    """Writes the engine never saw (a raw cursor) and writes it saw are both undone: whether a
    transaction wrote is asked of the server, not guessed from the statements."""
    engine = make_engine(_url(), pool_size=1, max_overflow=0)
    table = f"tidtam_rollback_probe_{os.getpid()}"
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {table} (n integer)"))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
            raw = conn.connection.dbapi_connection
            assert raw is not None
            with raw.cursor() as cursor:  # past SQLAlchemy's events
                cursor.execute(f"INSERT INTO {table} VALUES (1)")
            conn.rollback()
        with engine.connect() as conn:
            conn.execute(text(f"INSERT INTO {table} VALUES (2)"))
            # closed without a commit: rolled back
        with engine.connect() as conn:
            with pytest.raises(DBAPIError):  # an aborted transaction ends by rollback too
                conn.execute(text("SELECT 1 / 0"))
            conn.rollback()
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()

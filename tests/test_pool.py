"""Pooled PostgreSQL connections (issue 13): no ping before handing out a connection used a
moment ago (pool_pre_ping cost a round trip per request), but one idle for a while is pinged,
and a dead one is replaced before the request sees it."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

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

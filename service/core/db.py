"""The database: one declarative base, a naming convention, column types and the session.

The session is scoped to the Flask application context and removed at its teardown, so a
request or a task sees one session and commits once (operations only flush).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Numeric,
    create_engine,
    event,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger("tidtam")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always returned timezone-aware.

    SQLite keeps no offset, so naive UTC is stored there; PostgreSQL keeps TIMESTAMPTZ.
    A naive value is refused: every instant in Tidtam knows its zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: instants must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _ExactNumeric(TypeDecorator[Decimal]):
    """NUMERIC that only ever sees Decimal: floats are refused, results are Decimal."""

    impl: Any = Numeric
    cache_ok = True
    scale = 2

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("exact decimal columns refuse float values; use Decimal")
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            # SQLite hands back int or float; its 15 significant digits cover NUMERIC(14,2).
            value = Decimal(str(value))
        return value.quantize(Decimal(1).scaleb(-self.scale))


class Money(_ExactNumeric):
    """Baht, exact to the satang: NUMERIC(14, 2)."""

    impl = Numeric(14, 2)
    cache_ok = True
    scale = 2


class Percent(_ExactNumeric):
    """A percent or a score such as 20.00 or 100.00: NUMERIC(6, 2)."""

    impl = Numeric(6, 2)
    cache_ok = True
    scale = 2


class Measure(_ExactNumeric):
    """A KPI value or target of any unit (1,407.52, 3.5100, 100.0000): NUMERIC(16, 4)."""

    impl = Numeric(16, 4)
    cache_ok = True
    scale = 4


def enum_column(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """A portable enum: VARCHAR with a named CHECK constraint listing the values."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take SQLite's write lock when the transaction starts, not at its first write: a
    # transition reads, checks and writes as one, like SELECT … FOR UPDATE on PostgreSQL.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


#: A pooled connection idle this long is pinged before it is handed out (a round trip); one
#: used a moment ago is handed out as it is (see `_ping_when_idle`).
IDLE_PING_SECONDS = 10.0
#: Connections are replaced after this long, before a firewall or PgBouncer's
#: server_lifetime drops them under the pool.
POOL_RECYCLE_SECONDS = 1800
_RETURNED_AT = "tidtam.returned_at"


def _note_return(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping costs a round trip on every checkout, a busy web worker's
    every request included. Here only a connection that sat in the pool for
    IDLE_PING_SECONDS or more is pinged (the database may have restarted meanwhile); a dead
    one is replaced before the request sees it. A connection that dies while in use fails its
    statement; SQLAlchemy then invalidates the pool, so the other connections of the old
    server are replaced rather than each failing a request."""

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the pooled connection is gone") from error

    event.listen(engine, "checkin", _note_return)
    event.listen(engine, "checkout", checkout)


def _end_read_only_transactions_by_commit(engine: Engine) -> None:
    """End a PostgreSQL transaction that wrote nothing with COMMIT rather than ROLLBACK.

    psycopg forgets every statement it has prepared on the connection at a ROLLBACK (an
    object the transaction made may be gone). Every page that only reads ends so (the
    session closes, its transaction rolls back), so no page's statements were ever prepared:
    each was parsed and planned afresh on every request (the project page's first statement,
    8 ms of planning for 2 ms of reading at 100,000 projects).

    A transaction that has written nothing has no transaction id yet (PostgreSQL assigns one
    at the first write or row lock), and ending it by COMMIT or by ROLLBACK is the same: its
    locks and settings end either way. That is asked of the server, not guessed from the
    statements sent (a raw cursor or a function may write): one round trip more, and any
    doubt (an aborted transaction, an error asking) rolls back as before."""
    from psycopg.pq import TransactionStatus

    in_transaction = TransactionStatus.INTRANS
    dialect = engine.dialect
    plain_rollback = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        # The pool hands its own wrapper of the psycopg connection.
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        if (
            getattr(raw, "prepare_threshold", None) is not None
            and raw.info.transaction_status == in_transaction
        ):
            try:
                with raw.cursor() as cursor:
                    cursor.execute(_WROTE_NOTHING, prepare=True)
                    row = cursor.fetchone()
                wrote_nothing = bool(row and row[0])
            except Exception:
                wrote_nothing = False  # any doubt: roll back as before
            if wrote_nothing:
                raw.commit()
                return
        plain_rollback(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


_WROTE_NOTHING = "SELECT pg_current_xact_id_if_assigned() IS NULL"


def make_engine(
    url: str,
    statement_timeout_ms: int = 0,
    parallel_workers: int | None = None,
    pgbouncer: bool = False,
    **kwargs: Any,
) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL, a busy timeout and transactions
    that begin with the write lock (SQLAlchemy's documented pysqlite recipe).

    `pgbouncer`: `url` is a PgBouncer in transaction pooling mode. Each transaction may run
    on another server connection, so nothing is prepared on the server (psycopg prepares a
    statement after five executions; `prepare_threshold=None` never does) and no session
    settings are sent at connection (PgBouncer refuses the `options` startup parameter: set
    them on its database entry's `connect_query`, see README)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    else:
        kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
        if url.startswith("postgresql"):
            connect_args = kwargs.setdefault("connect_args", {})
            if pgbouncer:
                connect_args.setdefault("prepare_threshold", None)
            else:
                connect_args.setdefault(
                    "options", postgres_options(statement_timeout_ms, parallel_workers)
                )
        engine = create_engine(url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _ping_when_idle(engine)
        if url.startswith("postgresql") and not pgbouncer:
            _end_read_only_transactions_by_commit(engine)
    return engine


def postgres_options(statement_timeout_ms: int = 0, parallel_workers: int | None = None) -> str:
    """Session settings for every PostgreSQL connection Tidtam opens.

    - jit=off: the web's queries read tens to thousands of rows; compiling them costs more
      (60 ms seen on a results page) than it saves. The big aggregates turn it off too.
    - random_page_cost=1.1: the data lives in RAM or on SSD, where an index probe is about
      as cheap as reading on; at the default 4 the planner chose to read every step result
      rather than probe for one district's 20,000.
    - statement_timeout (the web sets one below its worker timeout): a statement that runs
      away is cancelled with an error page instead of the worker being killed mid-request.
    - max_parallel_workers_per_gather (the web sets 0): under many concurrent requests every
      core is already busy, and a parallel plan only adds its coordination to each request.
    """
    options = "-c jit=off -c random_page_cost=1.1"
    if statement_timeout_ms > 0:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    if parallel_workers is not None:
        options += f" -c max_parallel_workers_per_gather={int(parallel_workers)}"
    return options


class Database:
    """The Flask extension: an engine and an app-context-scoped session."""

    def __init__(self) -> None:
        self.sessionmaker = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self.sessionmaker, scopefunc=_app_ctx_id)

    def init_app(self, app: Flask) -> None:
        engine = make_engine(
            app.config["DATABASE_URL"],
            statement_timeout_ms=app.config.get("DATABASE_STATEMENT_TIMEOUT_MS", 0),
            parallel_workers=app.config.get("DATABASE_PARALLEL_WORKERS"),
            pgbouncer=app.config.get("DATABASE_PGBOUNCER", False),
        )
        app.extensions["tidtam.db"] = engine
        self.sessionmaker.configure(bind=engine)
        app.teardown_appcontext(self._remove_session)

    @property
    def engine(self) -> Engine:
        engine: Engine = current_app.extensions["tidtam.db"]
        return engine

    def _remove_session(self, _exc: BaseException | None) -> None:
        """Close the request's (or task's) session. A connection that died meanwhile (the
        database restarted, the backend was killed) cannot roll back: the error is logged and
        the connection discarded, not raised, since the answer is made already (raised here,
        it would replace the app's answer with the server's bare 500)."""
        registry = self.session.registry
        if not registry.has():
            return
        session = registry()
        try:
            session.close()
        except Exception:
            log.warning("closing the session failed; its connection is discarded", exc_info=True)
            try:
                session.invalidate()
            except Exception:
                log.warning("discarding the session's connection failed", exc_info=True)
        finally:
            registry.clear()

    @contextmanager
    def new_session(self) -> Iterator[Session]:
        """A separate session, for work that must commit on its own (an outbox relay)."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.close()


def _app_ctx_id() -> int:
    from flask import globals as flask_globals

    return id(flask_globals._cv_app.get(None))


db = Database()

"""The data stamp: one row that every transaction writing data the pages show sets to a new
random value, just before it commits and inside it.

Cached page parts (service.core.page_cache) are kept under the stamp they were rendered at.
Because the stamp changes in the same transaction as the data, a reader that reads the stamp
first and the data after can only pair a stamp with data at least as new as it; a write that
rolls back takes its stamp with it; and a random value (not a counter) is never reused after
a rollback.

Writes are noticed on the connection, by the SQL sent (ORM flushes, Core inserts, text,
TRUNCATE), so no writer can forget to change the stamp: `watch(engine)` is called by
`make_engine` for every engine Tidtam opens. Tables no page shows (notifications, the outbox,
tokens' last use, Celery's own) do not change it, so the deadline engine, the outbox relay and
API clients leave cached pages alone.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Engine, ScalarSelect, String, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from service.core.db import Base

#: Tables whose writes no cached page part shows.
UNSHOWN_TABLES = frozenset(
    {
        "alembic_version",
        "api_token",
        "data_stamp",
        "notification",
        "notification_preference",
        "outbox_event",
        "reminder_rule",
        "webhook_endpoint",
        "deadline_candidate_staged",  # the deadline engine's staging table (ON COMMIT DROP)
    }
)
_UNSHOWN_PREFIXES = ("kombu_", "celery_", "pg_")

_WRITTEN = "tidtam.data_written"  # on a connection: data the pages show was written
_READY = "tidtam.data_stamp_ready"  # on a connection: the data_stamp table exists

_TARGET = re.compile(
    r'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"?(\w+)',
    re.IGNORECASE,
)


class DataStamp(Base):
    __tablename__ = "data_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(32))


def writes_shown_data(statement: str) -> bool:
    """True when `statement` writes a table some page shows."""
    head = statement.lstrip()[:8].upper()
    if not head.startswith(("INSERT", "UPDATE", "DELETE", "TRUNCATE", "WITH")):
        return False
    match = _TARGET.search(statement)
    if match is None:
        return False
    table = match.group(1).lower()
    return table not in UNSHOWN_TABLES and not table.startswith(_UNSHOWN_PREFIXES)


_VALUE = select(DataStamp.value).where(DataStamp.id == 1)


def current() -> ScalarSelect[str]:
    """The stamp as a column, for reading it in the same statement as something else."""
    return _VALUE.scalar_subquery()


def read(session: Session, already: str | None = None) -> str | None:
    """The stamp, read before anything the cached part shows (`already`: as read in an
    earlier statement of this request); None when this request's own transaction has
    written data not yet committed (what it would render is not the data the stamp names)."""
    if session.connection().info.get(_WRITTEN):
        return None
    return already or session.scalar(_VALUE)


def _noticed(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not conn.info.get(_WRITTEN) and writes_shown_data(statement):
        conn.info[_WRITTEN] = True


def _stamp_if_written(conn: Connection, *_args: Any) -> None:
    """Before a commit (or a savepoint's release): a new stamp, if data was written."""
    if not conn.info.pop(_WRITTEN, False):
        return
    dbapi = conn.connection
    cursor = dbapi.cursor()
    try:
        ready = conn.info.get(_READY)
        if ready is None:  # once per pooled connection: migrations write before the table is
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'data_stamp'"
                if conn.dialect.name == "sqlite"
                else "SELECT to_regclass('data_stamp') IS NOT NULL"
            )
            row = cursor.fetchone()
            ready = bool(row and row[0])
            if ready:
                conn.info[_READY] = True
        if ready:
            # A literal of hex digits made here: nothing from outside reaches the SQL.
            cursor.execute(f"UPDATE data_stamp SET value = '{secrets.token_hex(16)}' WHERE id = 1")
    finally:
        cursor.close()


def _forget(conn: Connection, *_args: Any) -> None:
    conn.info.pop(_WRITTEN, None)


def watch(engine: Engine) -> None:
    """Change the stamp on every commit of `engine` that wrote data some page shows."""
    event.listen(engine, "before_cursor_execute", _noticed)
    event.listen(engine, "commit", _stamp_if_written)
    event.listen(engine, "release_savepoint", _stamp_if_written)
    event.listen(engine, "rollback", _forget)

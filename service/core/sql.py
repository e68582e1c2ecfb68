"""Small per-dialect SQL pieces for set-based work that runs on PostgreSQL and SQLite alike:
the upsert insert, the Asia/Bangkok day of an instant, whole days between two dates, JSON
objects, and text concatenation.

SQLite keeps instants as naive UTC text and dates as 'YYYY-MM-DD' text; PostgreSQL has real
types. Each helper returns an expression that compares and sorts the same way on both.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    JSON,
    Date,
    Integer,
    String,
    all_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from service.core.fiscal import DEFAULT_TZ
from service.core.thai import read_code

__all__ = [
    "add_days",
    "concat_text",
    "date_literal",
    "days_between",
    "dialect_of",
    "json_array_has",
    "json_object",
    "json_with",
    "local_day",
    "upsert_insert",
]


def dialect_of(session: Session) -> str:
    """'postgresql' or 'sqlite'."""
    return session.get_bind().dialect.name


def in_ids(dialect: str, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column IN (ids)`; on PostgreSQL `column = ANY(:ids)`, one array parameter: an IN
    list is a parameter per id (tens for a district's units), and psycopg converts a
    statement of over 50 parameters afresh on every execution instead of once.

    One id is `column = :id`: PostgreSQL reads `= ANY` of an array as a set even of one, and
    an index on (column, x) then cannot give rows in x's order (a division's accepted results
    latest first walked the whole country's accepted results, 40,000 rows, for eleven)."""
    if len(ids) == 1:
        return column == ids[0]
    if dialect == "postgresql":
        return column == any_(_id_array(ids))
    return column.in_(ids)


#: Past this many ids, a scope read first (`ids_read_first`) goes to PostgreSQL as its
#: subquery instead: an array of 100,000 ids (an administration-wide scope) helps no plan.
IDS_SENT_AT_MOST = 10_000


def ids_read_first(session: Session, statement: Any) -> list[int] | Any:
    """The ids `statement` selects, read now to be sent as one array (`in_ids_or_query`):
    PostgreSQL then plans with the real list, where it misjudges a subquery's size (a
    district's projects: three times too many). `statement` itself when it selects more than
    IDS_SENT_AT_MOST."""
    ids = list(session.scalars(statement.limit(IDS_SENT_AT_MOST + 1)))
    return ids if len(ids) <= IDS_SENT_AT_MOST else statement


def in_ids_of(dialect: str, column: Any, ids: Any) -> ColumnElement[bool]:
    """`column` is one of the ids the one-column select `ids` gives, read first within the same
    statement: on PostgreSQL `= ANY(ARRAY(subquery))`, which it evaluates once before it plans
    how to reach `column`'s rows (by their index, a few hundred probes), where `IN (subquery)`
    let it join the subquery to every row of a state across the country instead. Elsewhere
    `IN (subquery)`. The select is never correlated to the statement around it (it may name
    a table the statement joins)."""
    ids = ids.correlate(None)
    if dialect == "postgresql":
        return column == any_(func.array(ids.scalar_subquery()))
    return column.in_(ids)


def in_ids_or_query(dialect: str, column: Any, ids: list[int] | Any) -> ColumnElement[bool]:
    """`column` IN what `ids_read_first` gave: `in_ids` for a list, IN a subquery else."""
    if isinstance(ids, list):
        return in_ids(dialect, column, ids)
    return column.in_(ids)


def not_in_ids(dialect: str, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column NOT IN (ids)` for a column without NULLs, likewise (`<> ALL(:ids)`)."""
    if dialect == "postgresql":
        return column != all_(_id_array(ids))
    return column.not_in(ids)


def each_id(ids: list[int], name: str) -> Any:
    """`ids` as a table of one column `id` (PostgreSQL: `unnest(:ids) AS name(id)`), to join
    LATERAL to a subquery that runs once per id: each unit's own first rows off its own
    index range, where `unit_id = ANY(:ids)` ordered by another column can only walk that
    column's index past every other unit's rows, or read and sort all of theirs."""
    return func.unnest(_id_array(ids)).table_valued("id").render_derived(name=name)


def _id_array(ids: list[int]) -> Any:
    return bindparam(None, list(ids), type_=ARRAY(Integer))


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT (both dialects spell it the same way)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


def date_literal(dialect: str, day: date) -> ColumnElement[Any]:
    """A date constant: DATE on PostgreSQL, 'YYYY-MM-DD' text on SQLite (how it stores dates)."""
    if dialect == "postgresql":
        return cast(literal(day.isoformat()), Date)
    return literal(day.isoformat(), String)


def _utc_offset_hours(tz: str) -> float:
    # SQLite has no zone database; the service's zone (Asia/Bangkok) keeps +07:00 all year.
    offset = datetime(2000, 1, 1, tzinfo=ZoneInfo(tz)).utcoffset() or timedelta(0)
    return offset.total_seconds() / 3600


def local_day(dialect: str, instant: Any, tz: str = DEFAULT_TZ) -> ColumnElement[Any]:
    """The calendar day of the UTC instant column `instant` in `tz` (default Asia/Bangkok)."""
    if dialect == "postgresql":
        return cast(func.timezone(tz, instant), Date)
    hours = _utc_offset_hours(tz)
    return func.date(instant, f"{hours:+g} hours")


def days_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from `earlier` to `later` (both dates): negative when `later` is earlier."""
    if dialect == "postgresql":
        return type_coerce(later - earlier, Integer)
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def add_days(dialect: str, day: Any, days: Any) -> ColumnElement[Any]:
    """`day` + `days` (an integer expression) as a date."""
    if dialect == "postgresql":
        return type_coerce(day + days, Date)
    return func.date(day, concat_text("+", days, " days"))


def concat_text(*parts: Any) -> ColumnElement[str]:
    """Parts joined with ||, numbers cast to text (SQLite before 3.44 has no concat())."""
    expressions: list[ColumnElement[Any]] = [
        literal(part, String) if isinstance(part, str) else cast(part, String) for part in parts
    ]
    result = expressions[0]
    for expression in expressions[1:]:
        result = result.op("||")(expression)
    return type_coerce(result, String)


def json_object(dialect: str, **fields: Any) -> ColumnElement[Any]:
    """A JSON object built in SQL from named expressions."""
    arguments: list[Any] = []
    for key, value in fields.items():
        if isinstance(value, BindParameter):
            # PostgreSQL cannot infer a parameter's type inside json_build_object(VARIADIC any).
            value = cast(value, value.type)
        arguments += [cast(literal(key, String), String), value]
    function = func.json_build_object if dialect == "postgresql" else func.json_object
    return type_coerce(function(*arguments), JSON)


def json_with(dialect: str, document: Any, key: str, value: Any) -> ColumnElement[Any]:
    """The JSON object `document` with `key` set to `value`."""
    if dialect == "postgresql":
        merged = cast(document, postgresql.JSONB).op("||")(
            func.jsonb_build_object(literal(key, String), value)
        )
        return type_coerce(cast(merged, postgresql.JSON), JSON)
    return type_coerce(func.json_set(document, f"$.{key}", value), JSON)


def json_array_has(dialect: str, document: Any, value: Any) -> ColumnElement[bool]:
    """Whether the JSON array of strings `document` holds `value`."""
    if dialect == "postgresql":
        return cast(document, postgresql.JSONB).has_key(value)
    element = func.json_each(document).table_valued("value")
    return exists(select(literal(1)).select_from(element).where(element.c.value == value))


def matches_text(text: str, *columns: Any) -> ColumnElement[bool]:
    """Any of `columns` contains `text` (case-insensitive), with LIKE's wildcards in `text`
    taken literally; or contains it as a code is written (`read_code`: Thai or full-width
    digits as ASCII), so ``๗๐๑๓`` finds project 50230000-7013 as ``7013`` does."""
    conditions = []
    for variant in dict.fromkeys((text, read_code(text))):
        escaped = variant.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions += [column.ilike(f"%{escaped}%", escape="\\") for column in columns]
    return or_(*conditions)

"""Paging by key: `?after=<cursor>` reads the rows after the last one shown, in the list's own
order, so a page costs what it shows however deep it is (an offset reads and drops every row
before it).

A cursor is the last row's values of the statement's ORDER BY columns, as URL-safe base64 of
JSON. The statement must be ordered by columns that end in a unique key (the id), none of them
NULL; each may be ascending or descending. A cursor that does not decode, or does not fit the
statement's order, raises `BadCursor` (the caller answers 400/422 or shows the first page).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import desc_op


class BadCursor(ValueError):
    """The `after` cursor does not decode or does not fit the list's order."""


def order_keys(statement: Select[Any]) -> list[tuple[ColumnElement[Any], bool]]:
    """(expression, descending) of each ORDER BY column of `statement`."""
    keys = []
    for clause in statement._order_by_clauses:
        if isinstance(clause, UnaryExpression) and clause.modifier is not None:
            keys.append((clause.element, clause.modifier is desc_op))
        else:
            keys.append((clause, False))
    if not keys:
        raise ValueError("a keyset page needs an ordered statement")
    return keys


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode(values: tuple[Any, ...] | list[Any]) -> str:
    """The cursor of a row whose order keys are `values`."""
    raw = json.dumps([_plain(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _python_type(kind: Any) -> type | None:
    for candidate in (kind, getattr(kind, "impl_instance", None)):
        if candidate is None:
            continue
        try:
            found = candidate.python_type
        except NotImplementedError:
            continue
        if found is not object:  # a TypeDecorator (Money, Percent …) says object
            return found
    return None


def _typed(value: Any, column: ColumnElement[Any]) -> Any:
    python_type = _python_type(column.type)
    if python_type is None or value is None or isinstance(value, python_type):
        return value
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is Decimal:
        return Decimal(str(value))
    return python_type(value)


def decode(cursor: str, keys: list[tuple[ColumnElement[Any], bool]]) -> list[Any]:
    """The order-key values in `cursor`, typed as the keys' columns. Raises BadCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
        if not isinstance(values, list) or len(values) != len(keys):
            raise BadCursor("the cursor does not fit this list")
        return [_typed(v, column) for v, (column, _desc) in zip(values, keys, strict=True)]
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        if isinstance(error, BadCursor):
            raise
        raise BadCursor("the cursor does not decode") from error


def after(keys: list[tuple[ColumnElement[Any], bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys`: (k1 > v1) or (k1 = v1 and k2 > v2)
    …, each comparison turned round for a descending key. Spelled out rather than as a row
    comparison so that mixed directions work; the first key's range is what an index serves."""
    params = [
        bindparam(f"after_{i}", v, type_=c.type)
        for i, (v, (c, _d)) in enumerate(zip(values, keys, strict=True))
    ]
    branches: list[ColumnElement[bool]] = []
    for i, (column, descending) in enumerate(keys):
        equal = [keys[j][0] == params[j] for j in range(i)]
        beyond = column < params[i] if descending else column > params[i]
        branches.append(and_(*equal, beyond))
    return or_(false(), *branches)


def page_after(
    session: Session, statement: Select[Any], cursor: str | None, size: int
) -> tuple[list[Any], str | None]:
    """Up to `size` rows of `statement` after `cursor` (from the first row when None), and the
    cursor of the next page (None on the last). Rows are what the statement selects; its
    order keys ride along as extra columns, dropped before the rows are returned."""
    keys = order_keys(statement)
    if cursor:
        statement = statement.where(after(keys, decode(cursor, keys)))
    width = len(keys)
    with_keys = statement.add_columns(
        *(column.label(f"_key_{i}") for i, (column, _d) in enumerate(keys))
    )
    found = session.execute(with_keys.limit(size + 1)).all()
    following = None
    if len(found) > size:
        found = found[:size]
        following = encode(list(found[-1][-width:]))
    return [tuple(row[:-width]) for row in found], following

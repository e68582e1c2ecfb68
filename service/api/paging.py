"""Pages of lists: `?page=1&per_page=20` (at most 100), or `?after=<cursor>&per_page=20`,
answered in an envelope

    {"items": [...], "page": 1, "per_page": 20, "total": 1234, "total_exact": true,
     "next": "<cursor>" | null}

`next` is the cursor of the rows after this page (null on the last one): asking with
`?after=` reads the next rows by key, in the list's order, at the cost of the page alone
however deep it is (`service.core.keyset`); the total is then counted in a statement of its
own. A page number reads by offset: one query, the total riding along as a window count, and
many-to-one relations joined into the same query by the caller's loader options.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from service.core import keyset
from service.core.paging import count_rows
from service.core.translate import gettext as _
from service.workflow.engine import Refused

#: A list counted apart (`count_apart`) counts at most this many rows: past it, `total` says
#: this many and `total_exact` false ("over 10,000"). Counting an evaluator's 1.8 million
#: results read them all to answer a page of 20 (70 ms at 100,000 projects).
COUNT_LIMIT = 10_000


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    args: dict[str, Any],
    *,
    count_apart: bool = False,
) -> dict[str, Any]:
    """One page of `stmt` (which must be ordered, ending in a unique key) with the total count
    of its rows and the cursor of the next page.

    `count_apart`: count in a statement of its own, for lists so long that a window count
    would make the page sort them all (an evaluator's million results), where an index can
    give the page in order; that count stops past COUNT_LIMIT rows. Raises Refused (422
    naming `after`) for a cursor that does not fit the list."""
    page, per_page = int(args.get("page", 1)), int(args.get("per_page", 20))
    cursor = args.get("after")

    def total_of() -> tuple[int, bool]:
        if not count_apart:
            return count_rows(session, stmt), True
        counted = count_rows(session, stmt, at_most=COUNT_LIMIT)
        return min(counted, COUNT_LIMIT), counted <= COUNT_LIMIT

    if cursor is not None:
        try:
            rows, following = keyset.page_after(session, stmt, cursor, per_page)
        except keyset.BadCursor as error:
            # A well-formed cursor of another list or an old order: the list's refusal, not
            # the input layer's (the document cannot tell which cursors a list gave out).
            reason = _("this cursor does not belong to this list: ask for its first page again")
            raise Refused(422, reason, fields={"after": reason}) from error
        total, exact = total_of()
        return _envelope([row[0] for row in rows], page, per_page, total, exact, following)
    offset = (page - 1) * per_page
    keys = keyset.order_keys(stmt)
    width = len(keys)
    with_keys = stmt.add_columns(*(column for column, _descending in keys))
    exact = True
    if count_apart:
        total, exact = total_of()
        # One row past the page: whether there are more, which a count that stopped short
        # cannot tell.
        rows = list(session.execute(with_keys.limit(per_page + 1).offset(offset)).all())
        more = len(rows) > per_page
        rows = rows[:per_page]
    else:
        counted = with_keys.add_columns(func.count().over().label("total"))
        rows = list(session.execute(counted.limit(per_page).offset(offset)).all())
        # Past the last page (or nothing at all): the window count has no row to ride on.
        total = int(rows[0][-1]) if rows else count_rows(session, stmt)
        rows = [row[:-1] for row in rows]
        more = offset + len(rows) < total
    following = keyset.encode(list(rows[-1][-width:])) if rows and more else None
    return _envelope([row[0] for row in rows], page, per_page, total, exact, following)


def _envelope(
    items: list[Any], page: int, per_page: int, total: int, exact: bool, following: str | None
) -> dict[str, Any]:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "total_exact": exact,
        "next": following,
    }

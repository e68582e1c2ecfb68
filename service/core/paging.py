"""A page of a longer list, for the work queues (the dashboard has its own, with figures)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

#: Rows per page of a work queue: a page a district officer can act on, and a phone can hold.
PAGE_ROWS = 50


@dataclass(frozen=True)
class Paged(Generic[T]):
    """`rows` of page `page` (1-based) of `pages`; `total` rows in all. The pagination macro
    of templates/macros/listing.html reads `page` and `pages`."""

    rows: list[T]
    total: int
    page: int
    pages: int
    #: The cursor this page was read after (`?after=`), None for a page read by number.
    after: str | None = None
    #: The cursor of the rows after this page (None on the last): its Next link reads by key.
    next_after: str | None = None


def page_number(raw: str | None) -> int:
    """?page= as a page number (Thai digits too); anything else is page 1."""
    from service.core.fields import Count, Invalid, value_of

    try:
        number = value_of(Count(999_999), {"page": raw}, "page")
    except Invalid:
        return 1
    return number or 1


def count_rows(session: Session, statement: Select[Any], at_most: int | None = None) -> int:
    """How many rows `statement` gives (its order dropped: counting needs none); with
    `at_most`, counting stops past that many (the answer is then `at_most` + 1)."""
    rows = statement.order_by(None)
    if at_most is not None:
        rows = rows.limit(at_most + 1)
    counted = select(func.count()).select_from(rows.subquery())
    return int(session.scalar(counted) or 0)


def paged(
    session: Session,
    statement: Select[Any],
    page: int,
    size: int = PAGE_ROWS,
    *,
    after: str | None = None,
) -> Paged[Any]:
    """Page `page` of `statement` (ordered, ending in a unique key, selecting one entity),
    clamped to the last page, with the count of all its rows and the cursor of the rows after
    it. With `after` (a cursor), the rows after it instead, read by key: the cost of the page
    alone however deep (an unusable cursor reads the first page). The count is a statement
    of its own, left out when the first page holds every row."""
    from service.core import keyset

    if not after and page <= 1:
        # The first page tells its own total when it is the only one: counted apart only
        # when there are more rows (most work queues fit on one page).
        found, following = keyset.page_after(session, statement, None, size)
        total = len(found) if following is None else count_rows(session, statement)
        return Paged(
            rows=[row[0] for row in found],
            total=total,
            page=1,
            pages=max((total + size - 1) // size, 1),
            next_after=following,
        )
    total = count_rows(session, statement)
    pages = max((total + size - 1) // size, 1)
    if after:
        try:
            found, following = keyset.page_after(session, statement, after, size)
            return Paged(
                rows=[row[0] for row in found],
                total=total,
                page=0,
                pages=pages,
                after=after,
                next_after=following,
            )
        except keyset.BadCursor:
            page = 1
    page = min(max(page, 1), pages)
    found, following = keyset.page_after(session, statement.offset((page - 1) * size), None, size)
    return Paged(
        rows=[row[0] for row in found], total=total, page=page, pages=pages, next_after=following
    )

"""Pages of lists: `?page=1&per_page=20` (at most 100), answered in an envelope

    {"items": [...], "page": 1, "per_page": 20, "total": 1234}

One query per page: the total rides along as a window count (`count(*) OVER ()`), and
many-to-one relations are joined into the same query by the caller's loader options.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from service.core.paging import count_rows


def paginate(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    args: dict[str, Any],
    *,
    count_apart: bool = False,
) -> dict[str, Any]:
    """One page of `stmt` (which must be ordered) with the total count of its rows.

    `count_apart`: count in a statement of its own, for lists so long that a window count
    would make the page sort them all (an evaluator's million results), where an index can
    give the page in order and the count can read an index alone."""
    page, per_page = int(args.get("page", 1)), int(args.get("per_page", 20))
    offset = (page - 1) * per_page
    if count_apart:
        total = count_rows(session, stmt)
        items = [row[0] for row in session.execute(stmt.limit(per_page).offset(offset))]
    else:
        counted = stmt.add_columns(func.count().over().label("total"))
        rows = session.execute(counted.limit(per_page).offset(offset)).all()
        items = [row[0] for row in rows]
        # Past the last page (or nothing at all): the window count has no row to ride on.
        total = int(rows[0][-1]) if rows else count_rows(session, stmt)
    return {"items": items, "page": page, "per_page": per_page, "total": total}

"""Pages of lists: `?page=1&per_page=20` (at most 100), answered in an envelope

    {"items": [...], "page": 1, "per_page": 20, "total": 1234}

One query per page: the total rides along as a window count (`count(*) OVER ()`), and
many-to-one relations are joined into the same query by the caller's loader options.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session


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
    if count_apart:
        total = int(
            session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        )
        rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
        return {
            "items": [row[0] for row in rows],
            "page": page,
            "per_page": per_page,
            "total": total,
        }
    counted = stmt.add_columns(func.count().over().label("total"))
    rows = session.execute(counted.limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total = int(rows[0][-1])
        items = [row[0] for row in rows]
    else:
        # Past the last page (or nothing at all): the window count has no row to ride on.
        total = int(
            session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        )
        items = []
    return {"items": items, "page": page, "per_page": per_page, "total": total}

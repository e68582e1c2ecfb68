"""Paging by key (issue 13): `?after=` walks every API list in the order the page numbers do,
row for row, whatever the order's directions; a cursor that does not fit is a 422 naming it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core import keyset
from service.projects.models import PlanStep
from tests.api_support import all_headers

LISTS = [
    "/api/v1/projects",
    "/api/v1/results",
    "/api/v1/allocations",
    "/api/v1/installments",
    "/api/v1/evaluations",
    "/api/v1/units",
    "/api/v1/users",
    "/api/v1/audit",
]


def _walk(client: FlaskClient, url: str, headers: dict[str, str]) -> tuple[list[int], list[int]]:
    by_number: list[int] = []
    page = 1
    while True:
        body = client.get(f"{url}?per_page=2&page={page}", headers=headers).get_json()
        by_number += [item["id"] for item in body["items"]]
        if page * 2 >= body["total"]:
            break
        page += 1
    by_key: list[int] = []
    cursor = None
    while True:
        query = "?per_page=2" + (f"&after={cursor}" if cursor else "")
        response = client.get(url + query, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        by_key += [item["id"] for item in body["items"]]
        assert body["total"] == len(by_number)
        cursor = body["next"]
        if cursor is None:
            break
    return by_number, by_key


@pytest.mark.parametrize("role", ["officer", "evaluator", "school_a"])
def test_after_walks_each_list_as_page_numbers_do(
    client: FlaskClient, session: Session, role: str
) -> None:
    headers = all_headers(session)[role]
    walked = 0
    for url in LISTS:
        if client.get(url, headers=headers).status_code != 200:
            continue  # a list this role may not read
        by_number, by_key = _walk(client, url, headers)
        assert by_key == by_number, url
        assert len(set(by_key)) == len(by_key), url
        walked += 1
    assert walked >= 5


def test_a_cursor_that_does_not_fit_is_refused(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)["officer"]
    for cursor in ("not-base64!", keyset.encode([1, 2, 3, 4, 5]), keyset.encode(["x"])):
        response = client.get(f"/api/v1/projects?after={cursor}", headers=headers)
        assert response.status_code == 422, cursor
        assert "after" in response.get_json()["errors"]


def test_mixed_directions_and_typed_keys(session: Session) -> None:
    """Descending dates then ascending ids: the condition turns each comparison round, and
    dates and decimals come back typed from the cursor."""
    statement = select(PlanStep.id).order_by(
        PlanStep.planned_end.desc(), PlanStep.weight, PlanStep.id
    )
    every = [row[0] for row in session.execute(statement)]
    walked: list[int] = []
    cursor = None
    while True:
        rows, cursor = keyset.page_after(session, statement, cursor, 2)
        walked += [row[0] for row in rows]
        if cursor is None:
            break
    assert walked == every
    keys = keyset.order_keys(statement)
    assert keyset.decode(keyset.encode([date(2023, 1, 2), Decimal("20.00"), 3]), keys) == [
        date(2023, 1, 2),
        Decimal("20.00"),
        3,
    ]


def test_the_dashboard_walks_by_key_as_by_number(session: Session) -> None:
    """Every sort key, both ways, with and without the behind filter: Next by cursor gives the
    rows page numbers give, and the first page's total stays."""
    from service.dashboard.queries import SORT_KEYS, Filters, project_listing
    from service.projects.figures import figures_today
    from tests.project_data import year
    from tests.test_dashboard import officer, varied_projects

    varied_projects(session)
    reader = officer(session)
    today = figures_today()
    for sort in SORT_KEYS:
        for descending in (False, True):
            for behind in (False, True):
                base = Filters(year=year(session), sort=sort, descending=descending, behind=behind)
                first = project_listing(session, reader, base, today, page_size=2)
                by_number = [r.project_id for r in first.rows]
                for number in range(2, first.pages + 1):
                    numbered = replace(base, page=number)
                    listing = project_listing(session, reader, numbered, today, page_size=2)
                    by_number += [r.project_id for r in listing.rows]
                by_key = [r.project_id for r in first.rows]
                cursor = first.next_after
                while cursor:
                    listing = project_listing(
                        session, reader, replace(base, after=cursor), today, page_size=2
                    )
                    assert listing.total == first.total
                    by_key += [r.project_id for r in listing.rows]
                    cursor = listing.next_after
                assert by_key == by_number, (sort, descending, behind)
                assert len(by_key) == first.total

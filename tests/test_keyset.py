"""Paging by key (issue 13): `?after=` walks every API list in the order the page numbers do,
row for row, whatever the order's directions; a cursor that does not fit is a 422 naming it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from service.core import keyset
from service.org.models import User
from service.projects.models import PlanStep, Project, ResultState, StepResult
from tests.api_support import all_headers

#: Results a school is still to report.
TO_REPORT = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS)

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


def _email(session: Session, role: str) -> User:
    found = session.scalar(select(User).where(User.email == f"{role}@demo.tidtam.local"))
    assert found is not None
    return found


@pytest.mark.parametrize("role", ["officer", "evaluator", "school"])
def test_the_school_home_walks_each_section_by_key(
    session: Session, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    """Each section of the school home, walked a row at a time by key, gives every result of
    the section once, in the order of the step's planned end read through plan_step (so the
    copy on the result orders as the step does); the counts stay; the other sections stay at
    their first rows."""
    from service.core.sql import dialect_of, in_ids
    from service.org.scope import unit_ids_in_scope
    from service.school import queries

    reader = _email(session, role)
    today = date(2023, 1, 15)
    units = unit_ids_in_scope(session, reader)
    # The home shows one row a section, a section walked two a page: the cursor of the one
    # row leads on to the pages of two.
    monkeypatch.setattr(queries, "FIRST_ROWS", 1)
    first = queries.my_steps(session, reader, today)
    monkeypatch.setattr(queries, "SECTION_ROWS", 2)
    walked_any = False
    for section in queries.SECTIONS:
        end = PlanStep.planned_end
        condition = {
            "returned": StepResult.state == ResultState.RETURNED,
            "waiting": StepResult.state == ResultState.SUBMITTED,
            "done": StepResult.state == ResultState.ACCEPTED,
            "overdue": StepResult.state.in_(TO_REPORT) & (end < today),
            "due_soon": StepResult.state.in_(TO_REPORT)
            & (end >= today)
            & (end <= today + queries.DUE_SOON),
            "later": StepResult.state.in_(TO_REPORT) & (end > today + queries.DUE_SOON),
        }[section]
        order = (end.desc(), StepResult.id.desc()) if section == "done" else (end, StepResult.id)
        expected = list(
            session.scalars(
                select(StepResult.id)
                .join(PlanStep, PlanStep.id == StepResult.step_id)
                .join(Project, Project.id == PlanStep.project_id)
                .where(
                    condition,
                    Project.state.in_(queries.REPORTING),
                    true()
                    if units is None
                    else in_ids(dialect_of(session), StepResult.unit_id, units),
                )
                .order_by(*order)
            )
        )
        assert first.counts[section] == len(expected), section
        walked = [r.id for r in getattr(queries.my_steps(session, reader, today), section)]
        cursor = queries.my_steps(session, reader, today).next_after.get(section)
        while cursor:
            steps = queries.my_steps(session, reader, today, section=section, after=cursor)
            assert steps.counts == first.counts
            walked += [r.id for r in getattr(steps, section)]
            for other in queries.SECTIONS:
                if other != section:  # the others from their start
                    start = [r.id for r in getattr(steps, other)]
                    assert start == [r.id for r in getattr(first, other)][: len(start)]
            cursor = steps.next_after.get(section)
            walked_any = True
        assert walked == expected, section
    assert walked_any or role == "school"


def test_the_review_queue_walks_by_key_as_by_number(app: Flask, session: Session) -> None:
    """The review queue, two results a page: Next by key gives the rows page numbers give,
    earliest due first."""
    from service.projects.figures import settle_figures
    from service.review import views

    officer = _email(session, "officer")
    for result in session.scalars(
        select(StepResult).where(StepResult.state != ResultState.ACCEPTED).limit(7)
    ):
        result.state = ResultState.SUBMITTED
        result.submitted_at = result.submitted_at or datetime(2023, 1, 1, tzinfo=UTC)
    # The queue asks only projects whose kept figures have a result waiting: they settle at
    # the commit, or (as here, in one transaction) when a reader asks for them.
    settle_figures(session)
    with app.test_request_context():
        login_user(officer)
        first = views.review_queue(1, size=2)
        by_number = [r.id for r in first.rows]
        for number in range(2, first.pages + 1):
            by_number += [r.id for r in views.review_queue(number, size=2).rows]
        by_key = [r.id for r in first.rows]
        cursor = first.next_after
        while cursor:
            listing = views.review_queue(1, cursor, size=2)
            assert listing.total == first.total
            by_key += [r.id for r in listing.rows]
            cursor = listing.next_after
    assert first.pages >= 2
    assert by_key == by_number and len(by_key) == first.total
    dues = [session.get(StepResult, i).due_on for i in by_key]  # type: ignore[union-attr]
    assert dues == sorted(dues)


def test_the_approvals_filter_in_sql_and_walk_by_key(app: Flask, session: Session) -> None:
    """The approvals page states the officer's limit in SQL (the nearest limit up the owning
    unit's path) and picks what the Python rule picks; each list walked by key, two a page,
    gives the rows page numbers give."""
    from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
    from service.budget.permissions import above_limit
    from service.budget.views import _district_project_ids, _waiting_decisions
    from service.core.paging import paged
    from service.org.models import OrgUnit

    approver = _email(session, "approver")
    projects = list(session.scalars(select(Project).order_by(Project.id)).all())[:4]
    # A lower limit on one project's owning unit: its own limit, not the district's, applies.
    owner = session.get(OrgUnit, projects[0].owner_unit_id)
    assert owner is not None
    owner.approval_limit = Decimal("20000.00")
    recipient = session.scalar(select(OrgUnit).where(OrgUnit.code == "5023077101"))
    assert recipient is not None
    for n, amount in enumerate(["10000", "30000", "60000", "45000", "90000", "50000.01"] * 2):
        project = projects[n % len(projects)]
        submitted = Allocation(
            project=project,
            recipient_unit=recipient,
            amount=Decimal(amount),
            state=AllocationState.SUBMITTED,
            submitted_at=datetime(2023, 1, 1 + n % 3, tzinfo=UTC),
        )
        approved = Allocation(
            project=project,
            recipient_unit=recipient,
            amount=Decimal("900000"),
            state=AllocationState.APPROVED,
        )
        session.add_all([submitted, approved])
        session.add(
            Installment(
                allocation=approved, amount=Decimal(amount), state=InstallmentState.REQUESTED
            )
        )
    session.flush()
    with app.test_request_context():
        login_user(approver)
        allocations, installments = _waiting_decisions()
        district = set(_district_project_ids())
        assert {p.id for p in projects} <= district
        every_allocation = session.scalars(select(Allocation)).all()
        every_installment = session.scalars(select(Installment)).all()
        for statement, in_python in (
            (
                allocations,
                {
                    a.id
                    for a in every_allocation
                    if a.project_id in district
                    and a.state is AllocationState.SUBMITTED
                    and above_limit(a)
                },
            ),
            (
                installments,
                {
                    i.id
                    for i in every_installment
                    if i.allocation.project_id in district
                    and i.state is InstallmentState.REQUESTED
                    and above_limit(i.allocation, i.amount)
                },
            ),
        ):
            every = list(session.scalars(statement).unique())
            assert {o.id for o in every} == in_python
            first = paged(session, statement, 1, 2)
            assert first.total == len(every) >= 4
            by_number = [o.id for o in first.rows]
            for number in range(2, first.pages + 1):
                by_number += [o.id for o in paged(session, statement, number, 2).rows]
            by_key = [o.id for o in first.rows]
            cursor = first.next_after
            while cursor:
                listing = paged(session, statement, 1, 2, after=cursor)
                assert listing.total == first.total
                by_key += [o.id for o in listing.rows]
                cursor = listing.next_after
            assert by_key == by_number == [o.id for o in every]


def test_a_long_list_counts_up_to_its_limit_and_still_walks(
    client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results list of a tree-wide reader counts at most COUNT_LIMIT rows: past it the
    total says the limit and `total_exact` false, and both ways of paging still reach every
    row, the last page's `next` null."""
    from service.api import paging

    headers = all_headers(session)["evaluator"]
    everything = client.get("/api/v1/results?per_page=100", headers=headers).get_json()
    assert everything["total_exact"] is True
    count = everything["total"]
    assert count > 4
    monkeypatch.setattr(paging, "COUNT_LIMIT", 3)
    first = client.get("/api/v1/results?per_page=2", headers=headers).get_json()
    assert (first["total"], first["total_exact"]) == (3, False)
    by_key, cursor = [item["id"] for item in first["items"]], first["next"]
    while cursor is not None:
        body = client.get(f"/api/v1/results?per_page=2&after={cursor}", headers=headers).get_json()
        by_key += [item["id"] for item in body["items"]]
        cursor = body["next"]
    by_number: list[int] = []
    page = 1
    while True:
        body = client.get(f"/api/v1/results?per_page=2&page={page}", headers=headers).get_json()
        by_number += [item["id"] for item in body["items"]]
        if body["next"] is None:
            break
        page += 1
    assert by_key == by_number == [item["id"] for item in everything["items"]]
    # A small list is counted exactly, as before.
    officer = all_headers(session)["officer"]
    assert client.get("/api/v1/projects", headers=officer).get_json()["total_exact"] is True

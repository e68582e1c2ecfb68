"""Bad input everywhere: every route that takes a body refuses an unknown field, a body that
is not JSON and wrong types with a problem+json answer naming the fields, and writes nothing
(every table counted before and after)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.db import Base
from service.projects.models import StepResult
from tests.api_support import all_headers, problem_of, unit
from tests.test_api_permissions import ROWS, Row, world

# JSON bodies (a multipart row's form is read apart: tests/test_threads.py refuses its
# unknown fields).
WITH_BODY = [row for row in ROWS if row.body is not None and not row.form]


def row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def caller_who_succeeds(row: Row) -> str:
    """A caller for whom the well-formed request succeeds, so a refusal is the input's doing
    (the officer where nobody does: input is checked before permissions and states)."""
    for role, status in row.expected.items():
        if status < 300:
            return role
    return "officer"


@pytest.mark.parametrize("row", WITH_BODY, ids=[row.key for row in WITH_BODY])
def test_unknown_fields_are_refused_and_nothing_is_written(
    client: FlaskClient, session: Session, row: Row
) -> None:
    ids = world(session)
    headers = all_headers(session)[caller_who_succeeds(row)]
    assert row.body is not None
    before = row_counts(session)
    body = {**row.body(ids), "colour": "red"}
    response = client.open(
        row.path(ids), method=row.method, json=body, headers={**headers, "Accept-Language": "en"}
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = problem_of(response)
    assert problem["errors"] == {"colour": "Unknown field."}
    assert "colour" in problem["detail"]
    assert row_counts(session) == before


@pytest.mark.parametrize("row", WITH_BODY, ids=[row.key for row in WITH_BODY])
def test_a_body_that_is_not_json_is_refused(
    client: FlaskClient, session: Session, row: Row
) -> None:
    ids = world(session)
    headers = all_headers(session)[caller_who_succeeds(row)]
    before = row_counts(session)
    response = client.open(
        row.path(ids),
        method=row.method,
        data=b'{"name": "unterminated',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    problem_of(response)
    assert row_counts(session) == before


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        # Money is a decimal string: a float, a word or a third decimal place is refused.
        ("/allocations", {"amount": 1000.5}, {"amount"}),
        ("/allocations", {"amount": "lots"}, {"amount"}),
        ("/allocations", {"amount": "1000.005"}, {"amount"}),
        ("/allocations", {"amount": "1e400"}, {"amount"}),
        # Texts PostgreSQL cannot store, and texts longer than their columns.
        ("/tokens", {"name": "a\x00b"}, {"name"}),
        ("/tokens", {"name": "x" * 101}, {"name"}),
        # Ids are integers in range, not strings.
        ("/allocations", {"project_id": "1"}, {"project_id"}),
        ("/allocations", {"project_id": 2**40}, {"project_id"}),
        ("/fiscal-years", {"be_year": 2023}, {"be_year"}),
        ("/evaluations", {"project_id": 1, "kpi_id": 1}, {"project_id"}),
    ],
)
def test_wrong_values_name_their_fields(
    client: FlaskClient, session: Session, path: str, body: dict[str, Any], fields: set[str]
) -> None:
    ids = world(session)
    headers = all_headers(session)["admin" if "fiscal" in path else "officer"]
    complete = {
        "/allocations": {
            "project_id": ids["project"],
            "recipient_unit_id": ids["network_71"],
            "amount": "1000.00",
        },
        "/tokens": {"name": "ok"},
        "/fiscal-years": {"be_year": 2570},
        "/evaluations": {"fiscal_year": 2566, "quarter": 1},
    }[path]
    before = row_counts(session)
    response = client.post(f"/api/v1{path}", json={**complete, **body}, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fields <= set(problem_of(response)["errors"])
    assert row_counts(session) == before


def test_a_refused_transition_leaves_no_trace(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    before = row_counts(session)
    url = f"/api/v1/results/{result.id}/transitions/submit"
    for body in (
        {"completion": "150.00", "narrative": "เกิน"},
        {"completion": "50.00", "narrative": "   "},
        {"completion": "50.00"},
    ):
        response = client.post(url, json=body, headers=headers["school_a"])
        assert response.status_code == 422, response.get_data(as_text=True)
        problem = problem_of(response)
        assert problem["state"] == "not_started" and problem["errors"]
    stale = client.post(
        url,
        json={"completion": "50.00", "narrative": "x"},
        headers={**headers["school_a"], "If-Match": "not-a-version"},
    )
    assert stale.status_code == 422 and "If-Match" in problem_of(stale)["errors"]
    assert row_counts(session) == before


def test_a_decimal_comma_is_asked_as_a_point_not_read_as_thousands(
    client: FlaskClient, session: Session
) -> None:
    """ "50,5" (a phone set to a decimal comma) was read as 505 and refused as over 100 on the
    result form; it is refused as what it is, a percentage is the example given, and nothing
    is taken. Thousands typed with commas are still thousands."""
    from service.core.fields import Invalid, Money, value_of
    from service.projects.workflow import COMPLETION

    headers = all_headers(session)["school_a"]
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    before = row_counts(session)
    url = f"/api/v1/results/{result.id}/transitions/submit"
    for typed in ("50,5", "1e2"):
        response = client.post(
            url,
            json={"completion": typed, "narrative": "x"},
            headers={**headers, "Accept-Language": "en"},
        )
        assert response.status_code == 422, response.get_data(as_text=True)
        assert "such as 75.5" in problem_of(response)["errors"]["completion"]
    assert row_counts(session) == before
    with client.application.test_request_context():
        g.lang = "en"
        for typed, said in (("50,5", "with a point, such as 75.5"), ("1e2", "such as 75.5")):
            with pytest.raises(ValueError, match=said):
                COMPLETION.parse(typed)
        with pytest.raises(ValueError, match="at most 100"):  # a thousand, over 100
            COMPLETION.parse("1,000")
        assert str(value_of(Money(commas=True), {"a": "1,234,567.50"}, "a")) == "1234567.50"
        with pytest.raises(Invalid, match="point"):
            value_of(Money(commas=True), {"a": "1,5"}, "a")


def test_bulk_input_is_checked_before_anything_is_taken(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)["officer"]
    before = row_counts(session)
    for body in ({}, {"ids": []}, {"ids": ["1"]}, {"ids": list(range(1, 102))}):
        response = client.post("/api/v1/results/transitions/start", json=body, headers=headers)
        assert response.status_code == 422, body
        assert any(name.startswith("ids") for name in problem_of(response)["errors"])
    assert row_counts(session) == before

"""The work screens refuse through the same door as the API: the same operation refuses the
same change with the same words, and a refused page POST leaves nothing written (every
table counted before and after). Budget (a new allocation), evaluations (a score) and the
school's installment request, the project editor (a progress report) and the review queue
(a bulk decision, through the same `take_each` as the API's bulk route); in Thai, as a
person of each screen reads it."""

from __future__ import annotations

import html
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.workflow import engine
from tests.api_support import demo_project, headers_for, problem_of
from tests.conftest import csrf_token
from tests.test_api_bad_input import row_counts
from tests.test_work_budget import _project
from tests.work_data import (
    in_app_context,  # noqa: F401
    school_allocation,
    school_result,
    unit,
    user,
)

TH = {"Accept-Language": "th"}


def _refused_page(
    client: FlaskClient, session: Session, path: str, form: dict[str, str], page: str
) -> str:
    """POST `form` to `path` as the signed-in person; the page must refuse it (4xx) and
    write nothing. Its text, unescaped."""
    before = row_counts(session)
    data = {
        "csrf_token": csrf_token(client, page + ("&" if "?" in page else "?") + "lang=th"),
        **form,
    }
    response = client.post(path, data=data)
    assert 400 <= response.status_code < 500, response.status_code
    assert row_counts(session) == before
    return html.unescape(response.get_data(as_text=True))


def _api(
    client: FlaskClient, session: Session, role: str, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    headers = {**headers_for(session, role), **TH}
    session.commit()
    response = client.post(path, json=body, headers=headers)
    assert response.status_code >= 400, response.get_data(as_text=True)
    return problem_of(response)


def _same_words(page: str, problem: dict[str, Any]) -> None:
    assert problem["detail"] in page, (problem["detail"], page[:2000])
    for message in (problem.get("errors") or {}).values():
        assert message in page, message


def test_budget_refuses_an_allocation_over_the_budget_as_the_api_does(
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    project = _project(session, budget="200000.00")
    recipient = unit(session, "50230771").id
    client = login_as("officer")
    form = {
        "project_id": str(project.id),
        "recipient_unit_id": str(recipient),
        "amount": "300,000.00",
        "purpose": "ค่าวัสดุ",
    }
    page = _refused_page(client, session, "/budget/allocations", form, "/budget")
    problem = _api(
        client,
        session,
        "officer",
        "/api/v1/allocations",
        {
            "project_id": project.id,
            "recipient_unit_id": recipient,
            "amount": "300000.00",
            "purpose": "ค่าวัสดุ",
        },
    )
    _same_words(page, problem)


def test_evaluations_refuse_a_score_out_of_range_as_the_api_does(
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    project = demo_project(session)
    client = login_as("evaluator")
    score = {"score": "150", "sub_score_1": "80", "sub_score_2": "100", "comment": "ดี"}
    form = {
        "subject_type": "project",
        "subject_id": str(project.id),
        "year": "2566",
        "quarter": "3",
        **score,
    }
    page = _refused_page(
        client, session, "/evaluations/score", form, "/evaluations?year=2566&quarter=3"
    )
    headers = {**headers_for(session, "evaluator"), **TH}
    session.commit()
    opened = client.post(
        "/api/v1/evaluations",
        json={"project_id": project.id, "fiscal_year": 2566, "quarter": 3},
        headers=headers,
    )
    assert opened.status_code == 201, opened.get_data(as_text=True)
    problem = _api(
        client,
        session,
        "evaluator",
        f"/api/v1/evaluations/{opened.get_json()['id']}/transitions/score",
        score,
    )
    _same_words(page, problem)


def test_a_school_is_refused_an_installment_over_its_allocation_as_by_the_api(
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    allocation = school_allocation(session)
    client = login_as("school")
    path = f"/allocations/{allocation.id}/installments"
    page = _refused_page(
        client, session, path, {"amount": "50,000", "purpose": "งวดเดียว"}, "/school"
    )
    problem = _api(
        client, session, "school_a", f"/api/v1{path}", {"amount": "50000.00", "purpose": "งวดเดียว"}
    )
    _same_words(page, problem)


def test_the_project_editor_refuses_a_report_as_the_api_does(
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    project = _project(session)
    client = login_as("officer")
    report = {"reported_on": "2024-01-15", "percent": "150", "narrative": "ก้าวหน้า"}
    path = f"/projects/{project.id}/reports"
    page = _refused_page(client, session, path, report, f"/projects/{project.id}/edit")
    problem = _api(client, session, "officer", f"/api/v1{path}", {**report, "percent": "150.00"})
    _same_words(page, problem)


def test_the_review_queue_refuses_as_the_api_bulk_route_does(
    login_as,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    result = school_result(session, "50230700", 2)  # a division step, the officer's to report
    engine.take(
        session,
        user(session, "officer"),
        "step_result",
        result.id,
        "submit",
        {"completion": "100", "narrative": "ทำแล้ว"},
    )
    session.commit()
    client = login_as("officer")
    before = row_counts(session)
    token = csrf_token(client, "/review?lang=th")
    answer = client.post("/review", data={"csrf_token": token, "single": f"accept:{result.id}"})
    assert answer.status_code == 302
    assert row_counts(session) == before
    page = html.unescape(client.get("/review").get_data(as_text=True))
    headers = {**headers_for(session, "officer"), **TH}
    session.commit()
    bulk = client.post(
        "/api/v1/results/transitions/accept", json={"ids": [result.id]}, headers=headers
    )
    (item,) = bulk.get_json()["results"]
    assert item["status"] == 403 and item["detail"] in page, (item, page[:3000])

"""An evaluation scored but not yet published: its score, sub-scores and comment are seen by
evaluators and the owning unit's scope only (the API's rule), on every page and answer;
once published, by everyone."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.evaluations.models import Evaluation, EvaluationState
from service.evaluations.operations import open_evaluation
from service.evaluations.permissions import can_see_evaluation, can_see_score
from service.fiscal.models import FiscalYear
from service.workflow import engine
from tests.api_support import headers_for
from tests.conftest import DEMO_PASSWORDS, login
from tests.work_data import demo_project, in_app_context, user  # noqa: F401

COMMENT = "DRAFT-COMMENT-QX7"  # ASCII: found again in a PDF's extracted text
SCORE = "61.37"
SUB_1, SUB_2 = "43.21", "52.19"


def _scored(session: Session) -> Evaluation:
    """Quarter 3 of the demo project, scored by the evaluator and committed, not published."""
    project = demo_project(session)
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2566)).one()
    evaluator = user(session, "evaluator")
    evaluation = open_evaluation(session, evaluator, year, 3, project=project)
    engine.take(
        session,
        evaluator,
        "evaluation",
        evaluation.id,
        "score",
        {"score": SCORE, "sub_score_1": SUB_1, "sub_score_2": SUB_2, "comment": COMMENT},
    )
    session.commit()
    assert evaluation.state is EvaluationState.SCORED
    return evaluation


def _publish(session: Session, evaluation: Evaluation) -> None:
    engine.take(session, user(session, "evaluator"), "evaluation", evaluation.id, "publish")
    session.commit()


def _signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    email = f"{role}@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    return client


def _leaks(text: str) -> list[str]:
    return [value for value in (COMMENT, SCORE, SUB_1, SUB_2) if value in text]


def _pdf_text(client: FlaskClient, project_id: int) -> str | None:
    """The PDF's text with its white space taken out (a narrow column wraps the comment at
    its hyphens), or None where it cannot be made or read here."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return None
    if not shutil.which("pdftotext"):
        return None
    response = client.get(f"/projects/{project_id}.pdf")
    assert response.status_code == 200
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=response.data,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return _flat(text)


def _flat(text: str) -> str:
    """`text` without white space and hyphens, as a PDF's wrapped lines read back."""
    return "".join(text.split()).replace("-", "")


def test_a_scored_evaluation_is_hidden_from_the_public_and_schools_until_published(
    app: Flask, session: Session
) -> None:
    evaluation = _scored(session)
    project = demo_project(session)
    school_api = headers_for(session, "school_a")
    session.commit()
    anonymous = app.test_client()
    school = _signed_in(app, "school")
    evaluator = _signed_in(app, "evaluator")
    officer = _signed_in(app, "officer")
    # Whatever the evaluator's visit leaves in the page cache is never shown to the others.
    assert COMMENT in evaluator.get(f"/projects/{project.id}").get_data(as_text=True)

    hidden = {
        "public page": anonymous.get(f"/public/projects/{project.id}"),
        "public print view": anonymous.get(f"/public/projects/{project.id}/print"),
        "public page, signed in as the evaluator": evaluator.get(f"/public/projects/{project.id}"),
        "school's project page": school.get(f"/projects/{project.id}"),
        "school's print view": school.get(f"/projects/{project.id}/print"),
        "school's history": school.get(f"/projects/{project.id}/history"),
        "public CSV export": anonymous.get("/public/projects?year=2566&format=csv"),
    }
    for name, response in hidden.items():
        assert response.status_code == 200, name
        assert not _leaks(response.get_data(as_text=True)), name
    pdf = _pdf_text(school, project.id)
    if pdf is not None:
        assert not [v for v in (COMMENT, SCORE, SUB_1, SUB_2) if _flat(v) in pdf], "school's PDF"

    api = app.test_client()
    assert api.get(f"/api/v1/evaluations/{evaluation.id}", headers=school_api).status_code == 404
    listed = api.get("/api/v1/evaluations?per_page=100", headers=school_api)
    assert listed.status_code == 200 and COMMENT not in listed.get_data(as_text=True)

    shown = {
        "evaluator's project page": evaluator.get(f"/projects/{project.id}"),
        "evaluator's print view": evaluator.get(f"/projects/{project.id}/print"),
        "officer's project page": officer.get(f"/projects/{project.id}"),
        "officer's print view": officer.get(f"/projects/{project.id}/print"),
    }
    for name, response in shown.items():
        assert response.status_code == 200, name
        assert _leaks(response.get_data(as_text=True)) == [COMMENT, SCORE, SUB_1, SUB_2], name

    _publish(session, evaluation)
    for name, response in {
        "public page": anonymous.get(f"/public/projects/{project.id}"),
        "public print view": anonymous.get(f"/public/projects/{project.id}/print"),
        "school's project page": school.get(f"/projects/{project.id}"),
        "school's print view": school.get(f"/projects/{project.id}/print"),
    }.items():
        assert response.status_code == 200, name
        assert _leaks(response.get_data(as_text=True)) == [COMMENT, SCORE, SUB_1, SUB_2], name
    pdf = _pdf_text(school, project.id)
    if pdf is not None:
        assert _flat(COMMENT) in pdf, "school's PDF after publishing"


def test_the_kpi_page_shows_a_draft_score_only_through_the_same_rule(
    app: Flask, session: Session
) -> None:
    from service.kpis.models import Kpi

    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    year = session.get(FiscalYear, kpi.fiscal_year_id)
    assert year is not None
    evaluator = user(session, "evaluator")
    evaluation = open_evaluation(session, evaluator, year, 3, kpi=kpi)
    engine.take(
        session, evaluator, "evaluation", evaluation.id, "score", {"score": SCORE, "comment": ""}
    )
    session.commit()
    page = _signed_in(app, "evaluator").get(f"/kpis/{kpi.id}").get_data(as_text=True)
    assert SCORE in page
    school = user(session, "school")
    assert not can_see_score(session, school, evaluation)
    assert not can_see_score(session, None, evaluation)
    assert can_see_score(session, evaluator, evaluation)


@pytest.mark.parametrize(
    ("role", "sees"),
    [("evaluator", True), ("officer", True), ("approver", True), ("school", False)],
)
def test_pages_and_the_api_ask_one_rule(session: Session, role: str, sees: bool) -> None:
    evaluation = _scored(session)
    reader = user(session, role)
    assert can_see_evaluation(session, reader, evaluation) is sees
    assert can_see_score(session, reader, evaluation) is sees


def test_the_api_list_gives_a_district_its_projects_and_kpis_evaluations_only(
    app: Flask, session: Session
) -> None:
    """The list's scope (read as the ids of the projects and KPIs in scope): the district's
    project and KPI evaluations, not another district's, and none to a school outside both."""
    from service.kpis.models import Kpi
    from tests.project_data import make_district, make_project

    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2566)).one()
    evaluator = user(session, "evaluator")
    _district, other_division, _school = make_district(session, "50980000")
    ours = open_evaluation(session, evaluator, year, 2, project=demo_project(session))
    kpi = session.scalars(select(Kpi).where(Kpi.code == "5023-6525")).one()
    kpi_year = session.get(FiscalYear, kpi.fiscal_year_id)
    assert kpi_year is not None
    by_kpi = open_evaluation(session, evaluator, kpi_year, 2, kpi=kpi)
    theirs = open_evaluation(
        session, evaluator, year, 2, project=make_project(session, owner=other_division)
    )
    officer_api = headers_for(session, "officer")
    approver_api = headers_for(session, "approver")
    evaluator_api = headers_for(session, "evaluator")
    session.commit()

    def listed(headers: dict[str, str]) -> set[int]:
        answer = app.test_client().get("/api/v1/evaluations?per_page=100", headers=headers)
        assert answer.status_code == 200
        return {item["id"] for item in answer.get_json()["items"]}

    made = (ours, by_kpi, theirs)
    for role, headers in (("officer", officer_api), ("approver", approver_api)):
        reader = user(session, role)
        expected = {e.id for e in made if can_see_evaluation(session, reader, e)}
        assert listed(headers) & {e.id for e in made} == expected, role
        assert ours.id in expected and theirs.id not in expected, role
    assert {e.id for e in made} <= listed(evaluator_api)


def test_a_scope_too_wide_to_send_as_ids_lists_the_same_evaluations(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.core import sql

    evaluator = user(session, "evaluator")
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2566)).one()
    open_evaluation(session, evaluator, year, 2, project=demo_project(session))
    approver_api = headers_for(session, "approver")
    session.commit()

    def listed() -> list[int]:
        answer = app.test_client().get("/api/v1/evaluations?per_page=100", headers=approver_api)
        assert answer.status_code == 200
        return [item["id"] for item in answer.get_json()["items"]]

    sent = listed()
    assert sent
    monkeypatch.setattr(sql, "IDS_SENT_AT_MOST", 0)
    assert listed() == sent

"""What a signed-in user must not learn by probing, and what must not be stored: people's names
by id through X-Acting-For, unit names by id through refusals, private answers kept by
browsers or proxies, and the workers' details to anyone but a root admin."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from service.core.db import utcnow
from service.ops.models import WorkerHeartbeat
from tests.api_support import headers_for
from tests.conftest import DEMO_PASSWORDS, login
from tests.project_data import make_district
from tests.work_data import demo_project, in_app_context, school_result, user  # noqa: F401

MISSING = 987654


def _same_answer(first: dict, second: dict, first_id: int, second_id: int) -> None:  # type: ignore[type-arg]
    """Two problem answers that differ in nothing but the id asked about."""
    assert re.sub(rf"(?<!\d){first_id}(?!\d)", "<id>", str(first)) == re.sub(
        rf"(?<!\d){second_id}(?!\d)", "<id>", str(second)
    )


def test_x_acting_for_names_nobody_and_does_not_tell_who_exists(
    app: Flask, session: Session
) -> None:
    school = headers_for(session, "school_a")
    result = school_result(session)
    approver = user(session, "approver")
    session.commit()
    api = app.test_client()
    path = f"/api/v1/results/{result.id}/transitions"
    someone = api.get(path, headers={**school, "X-Acting-For": str(approver.id)})
    nobody = api.get(path, headers={**school, "X-Acting-For": str(MISSING)})
    assert someone.status_code == nobody.status_code == 403
    assert approver.name not in someone.get_data(as_text=True)
    _same_answer(someone.get_json(), nobody.get_json(), approver.id, MISSING)


def test_a_unit_out_of_reach_is_refused_as_one_that_does_not_exist(
    app: Flask, session: Session
) -> None:
    _district, division, school = make_district(session, "50980000")
    officer = headers_for(session, "officer")
    project = demo_project(session)
    step = project.steps[2]
    session.commit()
    api = app.test_client()

    def allocate(unit_id: int) -> dict:  # type: ignore[type-arg]
        answer = api.post(
            "/api/v1/allocations",
            json={"project_id": project.id, "recipient_unit_id": unit_id, "amount": "10.00"},
            headers=officer,
        )
        assert answer.status_code == 422
        return answer.get_json()  # type: ignore[no-any-return]

    def register(unit_id: int) -> dict:  # type: ignore[type-arg]
        answer = api.post(
            "/api/v1/projects",
            json={
                "code": "50230000-9999",
                "name": "probe",
                "fiscal_year": 2566,
                "owner_unit_id": unit_id,
                "responsible_unit_id": unit_id,
            },
            headers=officer,
        )
        assert answer.status_code == 422
        return answer.get_json()  # type: ignore[no-any-return]

    def assign(unit_id: int) -> dict:  # type: ignore[type-arg]
        answer = api.post(
            f"/api/v1/steps/{step.id}/results", json={"unit_id": unit_id}, headers=officer
        )
        assert answer.status_code == 422
        return answer.get_json()  # type: ignore[no-any-return]

    for probe, unit in ((allocate, school), (register, division), (assign, school)):
        found, missing = probe(unit.id), probe(MISSING)
        assert unit.name_th not in str(found), probe.__name__
        _same_answer(found, missing, unit.id, MISSING)


def _signed_in(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    email = f"{role}@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    return client


def test_private_answers_are_stored_nowhere_and_public_ones_may_be(
    app: Flask, session: Session
) -> None:
    project = demo_project(session)
    officer = _signed_in(app, "officer")
    private = {
        "dashboard": officer.get("/dashboard"),
        "project page": officer.get(f"/projects/{project.id}"),
        "print view": officer.get(f"/projects/{project.id}/print"),
        "notifications": officer.get("/notifications"),
        "API me": officer.get("/api/v1/me"),
        "API projects": officer.get("/api/v1/projects?per_page=1"),
        "API without credentials": app.test_client().get("/api/v1/me"),
    }
    for name, response in private.items():
        assert response.status_code in (200, 401), (name, response.status_code)
        assert "no-store" in response.headers.get("Cache-Control", ""), name
    anonymous = app.test_client()
    public = {
        "public list": anonymous.get("/public/projects"),
        "public page": anonymous.get(f"/public/projects/{project.id}"),
        "public print view": anonymous.get(f"/public/projects/{project.id}/print"),
        "style sheet": anonymous.get("/static/tidtam.css"),
    }
    for name, response in public.items():
        assert response.status_code == 200, name
        assert "no-store" not in response.headers.get("Cache-Control", ""), name
        response.close()


def test_worker_health_tells_the_status_only_to_all_but_root_admins(
    app: Flask, session: Session
) -> None:
    session.execute(delete(WorkerHeartbeat))  # no worker has been seen
    session.flush()
    for client in (app.test_client(), _signed_in(app, "officer")):
        answer = client.get("/healthz/workers")
        assert answer.status_code == 200
        assert answer.get_json() == {"status": "degraded"}
        assert not re.search(r"notifications|deadlines|rollups|celery", answer.get_data(True))
    details = _signed_in(app, "admin").get("/healthz/workers").get_json()
    assert details["status"] == "degraded"
    assert set(details["broker"]["queues"]) == {"notifications", "deadlines", "rollups", "celery"}
    assert "heartbeats" in details and "outbox" in details
    session.add(WorkerHeartbeat(worker="worker-1", seen_at=utcnow()))
    session.flush()
    assert app.test_client().get("/healthz/workers").get_json() == {"status": "ok"}


def test_the_allocation_form_does_not_name_a_unit_out_of_reach(
    app: Flask, session: Session
) -> None:
    from tests.conftest import csrf_token

    _district, _division, school = make_district(session, "50970000")
    session.commit()
    project = demo_project(session)
    officer = _signed_in(app, "officer")
    answers = []
    for unit_id in (school.id, MISSING):
        answer = officer.post(
            "/budget/allocations?lang=en",
            data={
                "csrf_token": csrf_token(officer, "/budget?lang=en"),
                "project_id": str(project.id),
                "recipient_unit_id": str(unit_id),
                "amount": "10",
                "purpose": "",
            },
        )
        assert answer.status_code == 422
        answers.append(answer.get_data(as_text=True))
    assert school.name_th not in answers[0]
    assert "choose a recipient" in answers[0] and "choose a recipient" in answers[1]

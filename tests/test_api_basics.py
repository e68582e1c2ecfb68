"""The REST API end to end on the demo: auth (tokens and sessions with CSRF), lists and
scope, transitions with If-Match and delegation, bulk transitions, problem+json, the
OpenAPI document and its docs page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.auth.models import ApiToken
from service.budget.models import Allocation, AllocationState
from service.core.fiscal import local_today
from service.org.models import Delegation
from service.projects.models import PlanStep, ProjectState, StepResult
from tests.api_support import all_headers, demo_project, problem_of, unit, user
from tests.conftest import csrf_token, login

API = "/api/v1"


def _new_project(client: FlaskClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {
        "code": extra.pop("code", "50230000-9001"),
        "name": "โครงการทดสอบ API",
        "fiscal_year": 2566,
        "owner_unit_id": extra.pop("owner", None),
        "responsible_unit_id": extra.pop("responsible", None),
        "approved_budget": "100000.00",
        **extra,
    }
    response = client.post(f"{API}/projects", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    project: dict[str, Any] = response.get_json()
    return project


def test_anonymous_gets_401_problem_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get(f"{API}/projects", headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "sign in" in problem_of(response)["detail"]


def test_token_lifecycle_shown_once_stored_hashed_revocable(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    made = client.post(f"{API}/tokens", json={"name": "my script"}, headers=headers["officer"])
    assert made.status_code == 201
    token = made.get_json()["token"]
    assert token.startswith("tdt_") and made.get_json()["prefix"] == token[:12]
    row = session.get(ApiToken, made.get_json()["id"])
    assert row is not None and token not in (row.token_hash, row.prefix)
    assert len(row.token_hash) == 64
    mine = {"Authorization": f"Bearer {token}"}
    me = client.get(f"{API}/me", headers=mine)
    assert me.status_code == 200 and me.get_json()["email"] == "officer@demo.tidtam.local"
    assert me.get_json()["auth"] == "token"
    listed = client.get(f"{API}/tokens", headers=mine).get_json()
    assert all("token" not in t for t in listed)
    session.expire_all()
    assert session.get(ApiToken, row.id).last_used_at is not None  # type: ignore[union-attr]
    # Someone else's token is not there for you.
    other = client.delete(f"{API}/tokens/{row.id}", headers=headers["approver"])
    assert other.status_code == 404
    assert client.delete(f"{API}/tokens/{row.id}", headers=mine).status_code == 204
    refused = client.get(f"{API}/me", headers=mine)
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["WWW-Authenticate"]


def test_a_malformed_authorization_header_is_401(client: FlaskClient) -> None:
    for header in ("Basic Zm9vOmJhcg==", "Bearer nope", "Bearer tdt_forged"):
        response = client.get(f"{API}/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        problem_of(response)


def test_session_auth_reads_freely_but_changes_need_the_csrf_header(
    client: FlaskClient, session: Session
) -> None:
    login(client, "officer@demo.tidtam.local", "demo-officer-2566")
    assert client.get(f"{API}/me").get_json()["auth"] == "session"
    refused = client.post(f"{API}/tokens", json={"name": "from the browser"})
    assert refused.status_code == 400
    assert "X-CSRFToken" in problem_of(refused)["detail"]
    token = csrf_token(client, "/home")
    accepted = client.post(
        f"{API}/tokens", json={"name": "from the browser"}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.get_data(as_text=True)


def test_deactivated_users_tokens_stop_working(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    school = user(session, "school_a")
    response = client.post(f"{API}/users/{school.id}/deactivate", headers=headers["admin"])
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert client.get(f"{API}/me", headers=headers["school_a"]).status_code == 401


def test_lists_are_scoped_and_paged(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    page = client.get(f"{API}/units?per_page=5", headers=headers["officer"]).get_json()
    assert page["total"] == 9 and len(page["items"]) == 5 and page["per_page"] == 5
    second = client.get(f"{API}/units?per_page=5&page=2", headers=headers["officer"]).get_json()
    assert len(second["items"]) == 4
    beyond = client.get(f"{API}/units?per_page=5&page=9", headers=headers["officer"]).get_json()
    assert beyond["items"] == [] and beyond["total"] == 9
    school = client.get(f"{API}/units", headers=headers["school_a"]).get_json()
    assert [u["code"] for u in school["items"]] == ["5023077101"]
    assert client.get(f"{API}/allocations", headers=headers["school_a"]).get_json()["total"] == 0
    assert client.get(f"{API}/allocations", headers=headers["officer"]).get_json()["total"] == 2
    too_many = client.get(f"{API}/units?per_page=101", headers=headers["officer"])
    assert too_many.status_code == 422
    assert "per_page" in problem_of(too_many)["errors"]


def test_school_a_sees_its_results_and_school_b_its_own(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    school_a = unit(session, "5023077101")
    school_b = unit(session, "5023077201")
    mine = client.get(f"{API}/results", headers=headers["school_a"]).get_json()["items"]
    assert mine and {r["unit_id"] for r in mine} == {school_a.id}
    theirs = client.get(f"{API}/results", headers=headers["school_b"]).get_json()["items"]
    assert theirs and {r["unit_id"] for r in theirs} == {school_b.id}
    for result in theirs:
        response = client.get(f"{API}/results/{result['id']}", headers=headers["school_a"])
        assert response.status_code == 404
        assert (
            client.get(
                f"{API}/audit/step_result/{result['id']}", headers=headers["school_a"]
            ).status_code
            == 404
        )
    everyone = client.get(f"{API}/results?per_page=100", headers=headers["officer"]).get_json()
    assert everyone["total"] == 2 + 2 * 6 + 1


def test_filters_fiscal_year_unit_state_overdue(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)["officer"]

    def total(query: str) -> int:
        response = client.get(f"{API}/results?{query}", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return int(response.get_json()["total"])

    assert total("fiscal_year=2566") == 15 and total("fiscal_year=2567") == 0
    assert total("state=accepted") == 1
    network_71 = unit(session, "50230771")
    assert total(f"unit={network_71.id}") == 6  # three schools × steps 3 and 4
    # The demo's steps all ended in FY 2566: every unaccepted result is overdue today.
    assert total("overdue=true") == 14 and total("overdue=false") == 1
    projects = client.get(
        f"{API}/projects?fiscal_year=2566&state=locked&overdue=true", headers=headers
    )
    assert projects.get_json()["total"] == 1
    bad = client.get(f"{API}/projects?state=flying", headers=headers)
    assert bad.status_code == 422 and "state" in problem_of(bad)["errors"]
    unknown = client.get(f"{API}/projects?colour=red", headers=headers)
    assert unknown.status_code == 422 and "colour" in problem_of(unknown)["errors"]


@pytest.mark.parametrize(
    ("project", "kpi"),
    [
        ("50230000-3598", "5023-6525"),
        ("๕๐๒๓๐๐๐๐-๓๕๙๘", "๕๐๒๓-๖๕๒๕"),
        ("５０２３００００－３５９８", "５０２３－６５２５"),
        (" 50230000-3598 ", " 5023-6525"),
    ],
)
def test_a_code_filter_reads_the_code_as_typed(
    client: FlaskClient, session: Session, project: str, kpi: str
) -> None:
    """?code= compared the raw text: typed with Thai or full-width digits, as the pages take a
    code, it found nothing. It is read as the code is stored (read_code)."""
    headers = all_headers(session)["officer"]
    projects = client.get(f"{API}/projects", query_string={"code": project}, headers=headers)
    assert [p["code"] for p in projects.get_json()["items"]] == ["50230000-3598"]
    kpis = client.get(f"{API}/kpis", query_string={"code": kpi}, headers=headers)
    assert [k["code"] for k in kpis.get_json()["items"]] == ["5023-6525"]


def test_overdue_steps_are_flagged(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)["officer"]
    project = demo_project(session)
    steps = client.get(f"{API}/projects/{project.id}/steps", headers=headers).get_json()
    assert [s["overdue"] for s in steps] == [False, True, True, True, True]
    overdue = client.get(f"{API}/projects/{project.id}/steps?overdue=true", headers=headers)
    assert len(overdue.get_json()) == 4


def test_transition_options_say_why_not(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    options = client.get(f"{API}/results/{result.id}/transitions", headers=headers["school_a"])
    by_name = {o["name"]: o for o in options.get_json()}
    assert by_name["start"]["allowed"] is True
    assert by_name["submit"]["requires"] == ["completion", "narrative"]
    # the district sees why it does not report the school's result itself
    officer = client.get(f"{API}/results/{result.id}/transitions", headers=headers["officer"])
    start = {o["name"]: o for o in officer.get_json()}["start"]
    assert not start["allowed"] and start["reason"]
    admin = client.get(f"{API}/results/{result.id}/transitions", headers=headers["admin"])
    assert all(not o["allowed"] and o["reason"] for o in admin.get_json())


def test_a_step_result_from_submission_to_acceptance(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    result = session.scalar(
        select(StepResult).where(StepResult.unit_id == unit(session, "5023077101").id)
    )
    assert result is not None
    url = f"{API}/results/{result.id}/transitions"
    missing = client.post(f"{url}/submit", json={}, headers=headers["school_a"])
    assert missing.status_code == 422
    assert set(problem_of(missing)["errors"]) == {"completion", "narrative"}
    floated = client.post(
        f"{url}/submit", json={"completion": 50.5, "narrative": "x"}, headers=headers["school_a"]
    )
    assert floated.status_code == 422 and "completion" in problem_of(floated)["errors"]
    submitted = client.post(
        f"{url}/submit",
        json={"completion": "100.00", "narrative": "จัดกิจกรรมครบ"},
        headers=headers["school_a"],
    )
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    body = submitted.get_json()
    assert body["state"] == "submitted" and body["completion"] == "100.00"
    stale = client.post(
        f"{url}/accept",
        headers={**headers["officer"], "If-Match": str(body["version"] - 1)},
        json={},
    )
    assert stale.status_code == 409 and problem_of(stale)["state"] == "submitted"
    accepted = client.post(
        f"{url}/accept", headers={**headers["officer"], "If-Match": str(body["version"])}, json={}
    )
    assert accepted.status_code == 200 and accepted.get_json()["state"] == "accepted"
    again = client.post(f"{url}/accept", headers=headers["officer"], json={})
    assert again.status_code == 409 and problem_of(again)["state"] == "accepted"
    trail = client.get(f"{API}/audit/step_result/{result.id}", headers=headers["school_a"])
    actions = [e["action"] for e in trail.get_json()["items"]]
    assert actions[-2:] == ["step_result.submit", "step_result.accept"]


def test_a_project_made_planned_and_locked_through_the_api(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    district, division = unit(session, "50230000"), unit(session, "50230700")
    project = _new_project(client, headers["officer"], owner=district.id, responsible=division.id)
    assert project["state"] == "draft" and project["approved_budget"] == "100000.00"
    url = f"{API}/projects/{project['id']}"
    not_yet = client.post(f"{url}/transitions/submit", json={}, headers=headers["officer"])
    assert not_yet.status_code == 422 and "แผนยังไม่มีขั้นตอน" in problem_of(not_yet)["detail"]
    for position, (start, end) in enumerate(
        [("2022-10-01", "2022-12-31"), ("2023-01-01", "2023-09-30")], start=1
    ):
        step = client.post(
            f"{url}/steps",
            json={
                "position": position,
                "name": f"ขั้นตอน {position}",
                "weight": "50.00",
                "planned_start": start,
                "planned_end": end,
            },
            headers=headers["officer"],
        )
        assert step.status_code == 201, step.get_data(as_text=True)
    school = client.post(f"{url}/transitions/submit", json={}, headers=headers["school_a"])
    assert school.status_code == 404  # the school takes no part in it: it does not exist
    submitted = client.post(f"{url}/transitions/submit", json={}, headers=headers["officer"])
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    officer_lock = client.post(f"{url}/transitions/lock", json={}, headers=headers["officer"])
    assert officer_lock.status_code == 403
    locked = client.post(f"{url}/transitions/lock", json={}, headers=headers["approver"])
    assert locked.status_code == 200 and locked.get_json()["state"] == "locked"
    late_step = client.post(
        f"{url}/steps",
        json={
            "position": 3,
            "name": "x",
            "weight": "1.00",
            "planned_start": "2023-01-01",
            "planned_end": "2023-01-02",
        },
        headers=headers["officer"],
    )
    assert late_step.status_code == 409 and problem_of(late_step)["detail"]


def test_delegation_lets_the_officer_lock_a_plan_for_the_approver(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    approver, officer = user(session, "approver"), user(session, "officer")
    project = demo_project(session)
    project.state = ProjectState.SUBMITTED
    session.commit()
    lock = f"{API}/projects/{project.id}/transitions/lock"
    acting = {**headers["officer"], "X-Acting-For": str(approver.id)}
    without = client.post(lock, json={}, headers=acting)
    assert without.status_code == 403 and "มอบอำนาจ" in problem_of(without)["detail"]
    today = local_today()
    delegated = client.post(
        f"{API}/delegations",
        json={
            "delegate_id": officer.id,
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=3)).isoformat(),
            "reason": "ลาพักร้อน",
        },
        headers=headers["approver"],
    )
    assert delegated.status_code == 201, delegated.get_data(as_text=True)
    assert client.post(lock, json={}, headers=headers["officer"]).status_code == 403
    locked = client.post(lock, json={}, headers=acting)
    assert locked.status_code == 200, locked.get_data(as_text=True)
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == "project", AuditEntry.action == "project.lock")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None
    assert (entry.actor_id, entry.acting_for_id) == (officer.id, approver.id)
    withdrawn = client.post(
        f"{API}/delegations/{delegated.get_json()['id']}/withdraw", headers=headers["approver"]
    )
    assert withdrawn.status_code == 200 and withdrawn.get_json()["withdrawn_at"]
    assert session.scalar(select(func.count()).select_from(Delegation)) == 1


def test_bulk_transition_answers_per_item_and_keeps_the_good_ones(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    project = demo_project(session)
    project.approved_budget = Decimal("250000.00")
    drafts = []
    for amount in ("10000.00", "20000.00"):
        allocation = Allocation(
            project=project,
            recipient_unit=unit(session, "50230772"),
            amount=Decimal(amount),
            state=AllocationState.DRAFT,
        )
        session.add(allocation)
        drafts.append(allocation)
    session.commit()
    approved = session.scalar(
        select(Allocation.id).where(Allocation.state == AllocationState.APPROVED)
    )
    ids = [drafts[0].id, approved, drafts[1].id, 999999]
    response = client.post(
        f"{API}/allocations/transitions/submit", json={"ids": ids}, headers=headers["officer"]
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [(r["id"], r["ok"], r["status"]) for r in results] == [
        (drafts[0].id, True, 200),
        (approved, False, 409),
        (drafts[1].id, True, 200),
        (999999, False, 404),
    ]
    assert results[1]["state"] == "approved"
    session.expire_all()
    assert {session.get(Allocation, a.id).state for a in drafts} == {AllocationState.SUBMITTED}  # type: ignore[union-attr]


def test_bulk_transition_refuses_an_item_changed_since_it_was_read(
    client: FlaskClient, session: Session
) -> None:
    """`versions` is If-Match for each item: one changed since the caller read it is refused
    (409, nothing done to it), the others are taken."""
    headers = all_headers(session)
    project = demo_project(session)
    project.approved_budget = Decimal("250000.00")
    drafts = [
        Allocation(
            project=project,
            recipient_unit=unit(session, "50230772"),
            amount=Decimal(amount),
            state=AllocationState.DRAFT,
        )
        for amount in ("10000.00", "20000.00")
    ]
    session.add_all(drafts)
    session.commit()
    read = [{"id": a.id, "version": a.version} for a in drafts]
    drafts[0].amount = Decimal("15000.00")  # changed by someone else since it was read
    drafts[0].version += 1
    session.commit()
    response = client.post(
        f"{API}/allocations/transitions/submit",
        json={"ids": [a.id for a in drafts], "versions": read},
        headers=headers["officer"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [(r["id"], r["ok"], r["status"]) for r in results] == [
        (drafts[0].id, False, 409),
        (drafts[1].id, True, 200),
    ]
    session.expire_all()
    assert [a.state for a in drafts] == [AllocationState.DRAFT, AllocationState.SUBMITTED]
    bad = client.post(
        f"{API}/allocations/transitions/submit",
        json={"ids": [drafts[0].id], "versions": [{"id": drafts[0].id, "version": "1"}]},
        headers=headers["officer"],
    )
    assert bad.status_code == 422
    assert any(key.startswith("versions") for key in problem_of(bad)["errors"])


def test_the_openapi_document_and_its_page(client: FlaskClient) -> None:
    spec = client.get(f"{API}/openapi.json")
    assert spec.status_code == 200
    document = spec.get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/allocations/{ident}/transitions/{name}" in document["paths"]
    money = document["components"]["schemas"]["AllocationCreate"]["properties"]["amount"]
    assert money["type"] == "string" and money["format"] == "decimal"
    page = client.get(f"{API}/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/allocations/{ident}/transitions/{name}" in html
    assert "<script" not in html and "cdn" not in html.lower()
    # its wide tables scroll in their own box: the page was 944 px wide on a 360 px phone
    assert html.count('<div class="scroll">') == html.count("<table")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_unknown_routes_and_methods_answer_problem_json(client: FlaskClient) -> None:
    assert problem_of(client.get(f"{API}/nowhere"))["status"] == 404
    method = client.put(f"{API}/projects")
    assert method.status_code == 405 and problem_of(method)["status"] == 405
    # The pages keep their HTML error pages.
    assert client.get("/nowhere").mimetype == "text/html"


def test_audit_rows_of_a_transition_name_who_and_why(client: FlaskClient, session: Session) -> None:
    headers = all_headers(session)
    project = demo_project(session)
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    response = client.post(
        f"{API}/projects/{project.id}/transitions/request_revision",
        json={"reason": "เพิ่มขั้นตอน"},
        headers=headers["officer"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    # The transition, and the reason opening the project's thread for the approver to read.
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before + 2
    trail = client.get(f"{API}/audit/project/{project.id}", headers=headers["officer"]).get_json()
    last = trail["items"][-1]
    assert (last["from_state"], last["to_state"], last["reason"]) == (
        "locked",
        "revision_requested",
        "เพิ่มขั้นตอน",
    )
    assert last["actor_name"] == user(session, "officer").name
    steps = session.scalars(select(PlanStep).where(PlanStep.project_id == project.id)).all()
    assert len(steps) == 5


def test_a_page_costs_the_same_queries_however_many_items(
    app: Any, client: FlaskClient, session: Session
) -> None:
    """No query per item: the page, its total and its joined fiscal year come in one query."""
    from sqlalchemy import event

    from service.fiscal.models import FiscalYear
    from service.projects.models import Project

    headers = all_headers(session)["officer"]
    engine = app.extensions["tidtam.db"]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    def cost(path: str) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(path, headers=headers).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    paths = ["/api/v1/projects?per_page=100", "/api/v1/results?per_page=100"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # stamps last_used_at
    few = [cost(path) for path in paths]
    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == 2567))
    district, division = unit(session, "50230000"), unit(session, "50230700")
    for n in range(40):
        session.add(
            Project(
                code=f"50230000-Q{n}",
                name="x",
                fiscal_year=year,
                owner_unit=district,
                responsible_unit=division,
                kind="routine",
            )
        )
    session.commit()
    assert client.get(paths[0], headers=headers).get_json()["total"] == 41
    assert [cost(path) for path in paths] == few


def test_a_projects_name_cannot_be_emptied(client: FlaskClient, session: Session) -> None:
    """A name of spaces passed the length check and was kept empty: the project then stood
    nameless on every page, list and export."""
    headers = all_headers(session)["officer"]
    owner, responsible = unit(session, "50230000").id, unit(session, "50230700").id
    project = _new_project(client, headers, owner=owner, responsible=responsible)
    answer = client.patch(f"{API}/projects/{project['id']}", json={"name": "   "}, headers=headers)
    assert answer.status_code == 422
    assert "name" in problem_of(answer)["errors"]
    kept = client.get(f"{API}/projects/{project['id']}", headers=headers).get_json()
    assert kept["name"] == "โครงการทดสอบ API"

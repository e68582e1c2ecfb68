"""Each API list holds exactly what its lookups by id show the caller: the SQL of
service.api.scoping against each workflow's own `visible` predicate, row by row, for every
role of the demo (a division officer, whose schools report from outside his scope, and a
district approver, whose scope holds them, take different paths through that SQL)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import UnitKind
from service.org.operations import create_unit
from service.projects.operations import assign_result
from service.workflow.engine import load_workflows
from tests.api_support import all_headers, demo_project, user

LISTS = {
    "/api/v1/results": "step_result",
    "/api/v1/allocations": "allocation",
    "/api/v1/installments": "installment",
    "/api/v1/evaluations": "evaluation",
}


def _listed(client: FlaskClient, url: str, headers: dict[str, str]) -> tuple[list[int], int]:
    """Every id the list gives, page by page (by key), and the total it states."""
    ids: list[int] = []
    cursor = None
    while True:
        query = "?per_page=3" + (f"&after={cursor}" if cursor else "")
        body = client.get(url + query, headers=headers).get_json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            return ids, body["total"]


@pytest.mark.parametrize("role", ["school_a", "school_b", "officer", "approver", "evaluator"])
def test_each_list_holds_what_its_lookups_show(
    client: FlaskClient, session: Session, role: str
) -> None:
    headers = all_headers(session)[role]
    reader = user(session, role)
    workflows = load_workflows()
    seen_any = False
    for url, name in LISTS.items():
        workflow = workflows[name]
        expected = {
            obj.id
            for obj in session.scalars(select(workflow.model))
            if workflow.visible(session, reader, obj)
        }
        listed, total = _listed(client, url, headers)
        assert len(listed) == len(set(listed)), url
        assert set(listed) == expected, url
        assert total == len(expected), url
        seen_any = seen_any or bool(expected)
    assert seen_any


def test_a_result_reported_from_outside_the_readers_scope_is_listed(
    client: FlaskClient, session: Session
) -> None:
    """A school straight under the district (outside the officer's division) reports on the
    division's project: the officer's result list holds its result, as its lookup does."""
    project = demo_project(session)
    outsider = create_unit(
        session,
        code="5023099901",
        name_th="โรงเรียนนอกกลุ่ม",
        kind=UnitKind.SCHOOL,
        parent=project.owner_unit,
    )
    step = next(s for s in project.steps if s.position == 3)
    result = assign_result(session, user(session, "officer"), step, outsider)
    session.commit()
    test_each_list_holds_what_its_lookups_show(client, session, "officer")
    listed, _total = _listed(client, "/api/v1/results", all_headers(session)["officer"])
    assert result.id in listed

"""Lists of actions leave out what the reader can never do.

The result and project pages left out the actions refused only because the reader holds
none of the roles that take them (`Option.lacks_role`), but the project editor, the budget
page, the approvals and evaluation queues still listed them ("อนุมัติและล็อกแผน: only an
approver of ... may lock this plan", on every submitted plan an officer opened). Every list
now draws them through the one `actions` macro and the `listed` test; the reasons a reader can
act on or wait for (four eyes, the state, a missing field) are still listed, and the API
still lists every option.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.operations import create_allocation
from service.evaluations.models import Evaluation
from service.org.models import Role
from service.projects.models import ProjectState
from service.workflow.engine import Option, options, take
from tests.conftest import DEMO_PASSWORDS, login
from tests.project_data import make_user
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    sibling_project,
    unit,
    user,
)


def _option(name: str, *, reason: str, lacks_role: bool) -> Option:
    return Option(name, name, name, False, reason, (), lacks_role=lacks_role)


def test_the_actions_macro_lists_no_refusal_for_a_role_the_reader_lacks(app: Flask) -> None:
    listed = [
        _option("lock", reason="only an approver may lock this plan", lacks_role=True),
        _option("approve", reason="whoever prepared this cannot approve it", lacks_role=False),
    ]
    with app.test_request_context("/"):
        page = render_template_string(
            '{% from "work/_macros.html" import actions %}'
            '{{ actions(listed, "project", 1, "/") }}'
            "{% if listed[0] is listed %}shown{% endif %}",
            listed=listed,
        )
    assert 'data-refused="lock"' not in page and "only an approver" not in page
    assert 'data-refused="approve"' in page and "cannot approve it" in page
    assert "shown" not in page


def test_the_editor_does_not_list_to_an_officer_what_only_the_approver_does(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    project = demo_project(session)
    project.state = ProjectState.SUBMITTED
    session.commit()
    officer = user(session, "officer")
    lock = {o.name: o for o in options(session, officer, project)}["lock"]
    assert not lock.allowed and lock.lacks_role  # the API lists it, with its reason
    login_as("officer")
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'data-refused="lock"' not in page and 'data-refused="return"' not in page
    assert "เท่านั้นที่" not in page.split('class="refused"')[1].split("</ul>")[0]


def test_the_budget_page_lists_what_the_reader_waits_for_not_what_is_never_theirs(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """An officer of network 72 sees the allocations of a project her network owns, which
    division 71 runs: she is not listed "only an officer or approver of ... may prepare
    allocations" on each. The district officer who prepared one is still told four eyes."""
    demo = demo_project(session)
    project = sibling_project(session, demo, "50230000-7781")
    network = unit(session, "50230772")
    project.owner_unit_id = network.id
    project.responsible_unit_id = unit(session, "50230771").id
    project.approved_budget = Decimal("100000.00")
    session.flush()
    officer = user(session, "officer")
    draft = create_allocation(session, officer, project, network, Decimal("10000.00"))
    submitted = create_allocation(session, officer, project, network, Decimal("20000.00"))
    take(session, officer, "allocation", submitted.id, "submit")
    reader, password = make_user(session, Role.OFFICER, network, "network72-g2@demo.tidtam.local")
    session.commit()
    assert {o.name: o for o in options(session, reader, draft)}["submit"].lacks_role
    login(client, reader.email, password)
    page = client.get("/budget").get_data(as_text=True)
    assert f'data-allocation="{draft.id}"' in page
    assert "data-refused=" not in page

    preparer = app.test_client()
    login(preparer, officer.email, DEMO_PASSWORDS[officer.email])
    page = preparer.get("/budget").get_data(as_text=True)
    mine = page.split(f'data-allocation="{submitted.id}"')[1].split("</article>")[0]
    assert 'data-refused="approve"' in mine  # four eyes: another person approves


def test_the_evaluation_refusal_is_one_of_role(session: Session) -> None:
    """Scoring is the evaluators' (สยป.): a refusal of it to anyone else is of role, left out
    of the lists like any other."""
    evaluation = session.scalars(select(Evaluation).limit(1)).one()
    refused = [
        o
        for o in options(session, user(session, "officer"), evaluation)
        if o.name in ("score", "publish", "reopen")
    ]
    assert refused and all(not o.allowed and o.lacks_role for o in refused)

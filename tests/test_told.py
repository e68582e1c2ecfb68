"""Being told without being flooded: every event of every workflow table tells someone or is
silent for a written reason, overdue alerts name the unit and come once a day in one digest,
links lead to the thing to act on, and the bell shows the unread count on every page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.notifications.models import Channel, DeliveryState, Notification
from service.notifications.recipients import NOTIFIED_KINDS, SILENT
from service.workflow.engine import load_workflows
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.work_data import demo_project, user

#: Events emitted by operations outside the workflow tables.
OTHER_EVENTS = {
    "allocation.create",
    "installment.request",
    "delegation.create",
    "delegation.withdraw",
}

TRANSITIONS = sorted(
    f"{workflow.name}.{transition.name}"
    for workflow in load_workflows().values()
    for transition in workflow.transitions
)


@pytest.mark.parametrize("kind", TRANSITIONS)
def test_every_transition_tells_someone_or_says_why_not(kind: str) -> None:
    told = kind in NOTIFIED_KINDS
    silent = SILENT.get(kind, "").strip()
    assert told or silent, f"{kind}: no recipient rule and no reason for silence"
    assert not (told and silent), f"{kind}: both a recipient rule and a reason for silence"


def test_rules_and_reasons_name_real_events() -> None:
    known = set(TRANSITIONS) | OTHER_EVENTS
    assert known >= NOTIFIED_KINDS
    assert set(SILENT) <= known


@pytest.mark.parametrize("role", ["school", "officer", "approver", "evaluator", "admin"])
def test_the_bell_shows_the_unread_count_on_every_page(
    session: Session, client: FlaskClient, role: str
) -> None:
    person = user(session, role)
    for n in range(2):
        session.add(
            Notification(
                recipient_id=person.id,
                kind="step_result.submit",
                object_type="step_result",
                object_id=n,
                channel=Channel.IN_APP,
                payload={},
                delivery_key=f"test:{n}:user:{person.id}:in_app",
                state=DeliveryState.SENT,
            )
        )
    session.flush()
    email = f"{role}@demo.tidtam.local"
    login(client, email, DEMO_PASSWORDS[email])
    for path in ("/", "/notifications/settings", "/projects/" + str(demo_project(session).id)):
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        header = page[page.index("<header") : page.index("</header>")]
        # Outside the folding menu, so a phone shows it without opening the menu.
        bell = header[header.index("</details>") :]
        assert 'class="bell" href="/notifications"' in bell, path
        assert 'data-unread="2"' in bell and '<span class="count">2<' in bell, path
    client.post("/notifications/read", data={"csrf_token": csrf_token(client, "/notifications")})
    assert 'data-unread="0"' in client.get("/notifications").get_data(as_text=True)


def test_no_bell_for_a_visitor(client: FlaskClient) -> None:
    assert 'class="bell"' not in client.get("/login").get_data(as_text=True)

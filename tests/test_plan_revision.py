"""A revision of a locked plan, asked and answered: the officer's reason is where the
approver decides (the project page's thread, not only a notification and the history), and
the approver may decline it with a reason of their own, which leaves the plan locked and is
told to the officers (found using the pages: the approver could neither read why nor say no)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.models import OutboxEvent
from service.projects.models import ProjectState
from service.threads.models import Comment
from tests.api_support import all_headers, demo_project
from tests.conftest import DEMO_PASSWORDS, login

API = "/api/v1"


def test_the_reason_is_read_where_the_approver_decides_and_a_no_is_a_reason_too(
    client: FlaskClient, session: Session
) -> None:
    headers = all_headers(session)
    project = demo_project(session)
    asked = client.post(
        f"{API}/projects/{project.id}/transitions/request_revision",
        json={"reason": "ขอเลื่อนกำหนดการอบรมเป็นไตรมาส 3"},
        headers=headers["officer"],
    )
    assert asked.status_code == 200, asked.get_data(as_text=True)
    offered = client.get(
        f"{API}/projects/{project.id}/transitions", headers=headers["approver"]
    ).get_json()
    names = {o["name"]: o for o in offered}
    assert names["decline_revision"]["allowed"] and names["reopen"]["allowed"]
    page = FlaskClient(client.application)
    login(page, "approver@demo.tidtam.local", DEMO_PASSWORDS["approver@demo.tidtam.local"])
    shown = page.get(f"/projects/{project.id}?lang=en").get_data(as_text=True)
    assert "ขอเลื่อนกำหนดการอบรมเป็นไตรมาส 3" in shown and "Why a revision is asked" in shown

    # The approver declines without a reason: refused, nothing changes.
    bare = client.post(
        f"{API}/projects/{project.id}/transitions/decline_revision",
        json={"reason": " "},
        headers=headers["approver"],
    )
    assert bare.status_code == 422
    declined = client.post(
        f"{API}/projects/{project.id}/transitions/decline_revision",
        json={"reason": "กำหนดการเดิมยังทำได้"},
        headers=headers["approver"],
    )
    assert declined.status_code == 200, declined.get_data(as_text=True)
    session.expire_all()
    assert project.state is ProjectState.LOCKED
    opened = [
        (c.opened_by, c.body)
        for c in session.scalars(
            select(Comment)
            .where(Comment.subject_type == "project", Comment.subject_id == project.id)
            .order_by(Comment.id)
        )
    ]
    assert opened[-2:] == [
        ("project.request_revision", "ขอเลื่อนกำหนดการอบรมเป็นไตรมาส 3"),
        ("project.decline_revision", "กำหนดการเดิมยังทำได้"),
    ]
    kinds = session.scalars(
        select(OutboxEvent.kind).where(
            OutboxEvent.object_type == "project", OutboxEvent.object_id == project.id
        )
    ).all()
    assert "project.decline_revision" in kinds

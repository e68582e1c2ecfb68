"""A workflow button pressed on a page drawn before its object changed (in another tab, by
another person) is refused with 409 and nothing done: the person is told it changed while the
page was open and where it stands now. Each action form carries the version it was drawn at."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.budget.models import Allocation, AllocationState, Approval
from service.evaluations.models import Evaluation, EvaluationState
from tests.conftest import DEMO_PASSWORDS, csrf_token, login
from tests.html_text import visible_text
from tests.test_work_budget import _act, _create, _project
from tests.work_data import demo_project, in_app_context, unit  # noqa: F401

QUEUE = "/evaluations?year=2566&quarter=3&lang=th"


def _action_form(page: str, anchor: str, name: str) -> tuple[str, dict[str, str]]:
    """The `name` action form inside the element whose id is `anchor`: where it posts and its
    hidden inputs, as the browser would send them."""
    section = page.split(f'id="{anchor}"')[1]
    form = re.search(
        rf'<form method="post" action="([^"]+)"[^>]*data-action="{name}">(.*?)</form>',
        section,
        re.S,
    )
    assert form is not None, f"no {name} form in {anchor}"
    hidden = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2))
    return html.unescape(form.group(1)), {key: html.unescape(value) for key, value in hidden}


def _score(client: FlaskClient, project_id: int, score: str) -> int:
    """Save `score` from a freshly drawn queue (the other tab); the status code."""
    page = client.get(QUEUE).get_data(as_text=True)
    section = page.split(f'id="project-{project_id}"')[1].split("</section>")[0]
    version = re.search(r'name="version" value="([0-9]+)"', section)
    assert version is not None
    return client.post(
        "/evaluations/score",
        data={
            "csrf_token": csrf_token(client, QUEUE),
            "subject_type": "project",
            "subject_id": str(project_id),
            "year": "2566",
            "quarter": "3",
            "score": score,
            "version": version.group(1),
        },
    ).status_code


def _published(session: Session, evaluation_id: int) -> int:
    return session.scalar(
        select(func.count()).where(
            AuditEntry.action == "evaluation.publish", AuditEntry.object_id == evaluation_id
        )
    )


def test_publish_from_a_page_drawn_before_the_score_changed_is_refused(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """Tab A shows the quarter's score 61; tab B saves 63; tab A's publish is refused (409),
    says the evaluation changed while the page was open, shows the 63 and leads back to the
    list, and nothing is published. The freshly drawn page publishes the 63 it shows."""
    client = login_as("evaluator")
    project = demo_project(session)
    assert _score(client, project.id, "61") == 302
    drawn = client.get(QUEUE).get_data(as_text=True)
    action, form = _action_form(drawn, f"project-{project.id}", "publish")
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.project_id == project.id, Evaluation.quarter == 3)
    ).one()
    assert form["version"] == str(evaluation.version)

    assert _score(client, project.id, "63") == 302  # tab B
    session.expire_all()
    assert evaluation.version != int(form["version"])  # saving a score moves the version

    refused = client.post(action, data=form)  # tab A
    assert refused.status_code == 409
    page = visible_text(refused.get_data(as_text=True))
    assert "เปลี่ยนแปลงระหว่างที่หน้านี้เปิดอยู่" in page and "เผยแพร่ผล" in page
    assert "คะแนน 63" in page and "ดูสถานะล่าสุด" in page
    assert "ลองอีกครั้ง" not in page  # trying the same form again would be refused again
    session.expire_all()
    assert evaluation.state is EvaluationState.SCORED and evaluation.published_at is None
    assert _published(session, evaluation.id) == 0

    fresh = client.get(QUEUE).get_data(as_text=True)
    action, form = _action_form(fresh, f"project-{project.id}", "publish")
    assert client.post(action, data=form).status_code == 302
    session.expire_all()
    assert evaluation.state is EvaluationState.PUBLISHED
    assert evaluation.score == Decimal("63.00") and _published(session, evaluation.id) == 1


def test_approve_from_approvals_drawn_before_the_allocation_came_back_is_refused(
    app: Flask, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The approver's /approvals shows an allocation; meanwhile it is returned, revised and
    sent again. The approve pressed on the page drawn before is refused (409) with nothing
    approved: the allocation is not the one the approver looked at. The page drawn afresh
    approves it."""
    project = _project(session)
    officer = app.test_client()
    login(officer, "officer@demo.tidtam.local", DEMO_PASSWORDS["officer@demo.tidtam.local"])
    _create(officer, project, unit(session, "50230771").id, "60000")
    allocation = session.scalars(
        select(Allocation).where(Allocation.project_id == project.id)
    ).one()
    for name in ("submit", "endorse"):
        assert _act(officer, "allocation", allocation.id, name).status_code == 302

    approver = login_as("approver")
    drawn = approver.get("/approvals?lang=en").get_data(as_text=True)
    action, form = _action_form(drawn, f"allocation-{allocation.id}", "approve")

    # returned from the approver's other tab (its preparer withdraws, never returns it)
    other_tab = app.test_client()
    login(other_tab, "approver@demo.tidtam.local", DEMO_PASSWORDS["approver@demo.tidtam.local"])
    assert _act(other_tab, "allocation", allocation.id, "return", reason="แก้").status_code == 302
    for name in ("revise", "submit", "endorse"):
        assert _act(officer, "allocation", allocation.id, name).status_code == 302

    refused = approver.post(action, data=form)
    assert refused.status_code == 409
    page = visible_text(refused.get_data(as_text=True))
    assert "changed while your page was open" in page and "See where it stands now" in page
    session.expire_all()
    assert allocation.state is AllocationState.SUBMITTED
    in_force = select(func.count()).where(
        Approval.subject_type == "allocation",
        Approval.subject_id == allocation.id,
        Approval.cancelled_at.is_(None),
    )
    assert session.scalar(in_force) == 1  # this round's endorsement, no approval

    fresh = approver.get("/approvals?lang=en").get_data(as_text=True)
    action, form = _action_form(fresh, f"allocation-{allocation.id}", "approve")
    assert approver.post(action, data=form).status_code == 302
    session.expire_all()
    assert allocation.state is AllocationState.APPROVED
    assert session.scalar(in_force) == 2


def test_trying_again_after_bad_input_still_stands_for_the_page_drawn(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A reopen sent with a blank reason comes back (422) with a form to try again: that
    form still stands for the evaluation as the first page showed it, so sent after another
    tab reopened and published it again, it is refused (409), not a second reopening."""
    client = login_as("evaluator")
    project = demo_project(session)
    assert _score(client, project.id, "61") == 302
    page = client.get(QUEUE).get_data(as_text=True)
    action, form = _action_form(page, f"project-{project.id}", "publish")
    assert client.post(action, data=form).status_code == 302
    page = client.get(QUEUE).get_data(as_text=True)
    action, drawn = _action_form(page, f"project-{project.id}", "reopen")

    blank = client.post(action, data={**drawn, "reason": " "})
    assert blank.status_code == 422
    retry = re.search(
        r'<form method="post" action="[^"]+">(.*?)</form>', blank.get_data(as_text=True), re.S
    )
    assert retry is not None
    assert f'name="version" value="{drawn["version"]}"' in retry.group(1)

    other_tab = {**drawn, "reason": "แก้คะแนน"}
    assert client.post(action, data=other_tab).status_code == 302
    page = client.get(QUEUE).get_data(as_text=True)
    publish, form = _action_form(page, f"project-{project.id}", "publish")
    assert client.post(publish, data=form).status_code == 302

    again = client.post(action, data={**drawn, "reason": "คะแนนไตรมาสผิด"})
    assert again.status_code == 409
    session.expire_all()
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.project_id == project.id, Evaluation.quarter == 3)
    ).one()
    assert evaluation.state is EvaluationState.PUBLISHED and len(evaluation.revisions) == 1

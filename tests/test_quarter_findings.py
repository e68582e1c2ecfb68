"""Defects the quarter journey (tests/browser/test_quarter.py) found on Thai pages, each kept
fixed by a test of its own."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import csrf_token
from tests.html_text import strings
from tests.work_data import demo_project


def test_the_history_names_an_evaluations_quarter_in_thai(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """The time-in-state table called an evaluation "Q2" on a Thai page."""
    project = demo_project(session)
    login_as("officer")
    texts = strings(client.get(f"/projects/{project.id}/history").get_data(as_text=True))
    rows = [t for t in texts if "การประเมินผล" in t]
    assert any("ไตรมาสที่ 2" in t for t in rows), rows
    assert not [t for t in texts if "Q2" in t]
    english = strings(client.get(f"/projects/{project.id}/history?lang=en").get_data(as_text=True))
    assert any("quarter 2" in t.lower() for t in english)


def test_scoring_from_a_narrowed_queue_comes_back_to_the_same_list(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """After a score saved from a queue narrowed by a search, the evaluator landed on the
    first page of every subject, the search gone."""
    client = login_as("evaluator")
    project = demo_project(session)
    queue = f"/evaluations?year=2566&quarter=3&q={project.code}"
    page = client.get(queue).get_data(as_text=True)
    assert f'<input type="hidden" name="q" value="{project.code}">' in page  # in the score form
    token = csrf_token(client, queue)
    data = {
        "csrf_token": token,
        "subject_type": "project",
        "subject_id": str(project.id),
        "year": "2566",
        "quarter": "3",
        "q": project.code,
        "score": "90",
    }
    answer = client.post("/evaluations/score", data=data)
    assert answer.status_code == 302
    assert f"q={project.code}" in answer.headers["Location"]
    assert answer.headers["Location"].endswith(f"#project-{project.id}")
    # A refused score comes back on the narrowed list too.
    refused = client.post("/evaluations/score", data={**data, "score": "101"})
    assert refused.status_code == 422
    assert f'name="q" value="{project.code}"' in refused.get_data(as_text=True)


def test_a_thai_mail_subject_starts_on_the_subject_line(app: Flask) -> None:
    """Every mail's subject came back as " ติดตาม: …": the header was folded as if empty,
    so "Subject:" stood alone and a reader's mail program showed a leading space."""
    from service.notifications.mail import _compose

    subject = "ติดตาม: คำขอเงินประจำงวด 15,000.00 บาท ของเครือข่าย 71 โครงการ 50230000-9901 รออนุมัติ"
    with app.app_context():
        raw = _compose("ครูสมศรี", "school@demo.tidtam.local", "th", "<1@t>", subject, "x")
    data = raw.as_bytes()
    assert not re.search(rb"^Subject: *\r?\n", data, re.MULTILINE)
    parsed = message_from_bytes(data, policy=policy.default)
    assert str(parsed["Subject"]) == subject


def test_the_file_buttons_speak_the_pages_language(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """The browser's own file button read "Choose File / No file chosen" on the school's
    Thai result page (an English Chromium); the page's button says เลือกไฟล์ and the real
    input, still labelled and focusable, lies over it."""
    from tests.work_data import school_result

    result = school_result(session)
    client = login_as("school")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    pick = page.split('<span class="file-pick">', 1)[1].split("</span></span>", 1)[0]
    assert 'aria-hidden="true">เลือกไฟล์</span>' in pick
    assert '<input id="files" name="files" type="file"' in pick
    assert '<label for="files">' in page
    assert "js/file-pick.js" in page

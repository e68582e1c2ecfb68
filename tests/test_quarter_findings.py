"""Defects the quarter journey (tests/browser/test_quarter.py) found on Thai pages, each kept
fixed by a test of its own."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

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
    english = strings(
        client.get(f"/projects/{project.id}/history?lang=en").get_data(as_text=True)
    )
    assert any("quarter 2" in t.lower() for t in english)

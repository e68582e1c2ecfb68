"""Forms across sessions: a page's buttons carry the token of the session that shows them.

The project page was once kept, rendered, between requests, with the CSRF tokens of the first
session that rendered it: after a sign-out and a sign-in every workflow button on it answered
400 (issue 13). Every page is now rendered for its own request.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.projects.models import Project, ProjectState
from tests.conftest import DEMO_PASSWORDS, csrf_token, login

# A workflow button on the project page: its form's action and every hidden field as rendered.
_FORM = re.compile(
    r'<form method="post" action="(?P<action>/actions/[^"]+)"[^>]*'
    r'data-action="(?P<name>\w+)">(?P<fields>.*?)</form>',
    re.DOTALL,
)
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def _buttons(page: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Each workflow button of `page`: its action and the hidden fields of its form."""
    return {
        match["name"]: (match["action"], dict(_HIDDEN.findall(match["fields"])))
        for match in _FORM.finditer(page)
    }


@pytest.mark.parametrize("signs_out", [True, False], ids=["signed-out", "browser-closed"])
@pytest.mark.parametrize("role", ["officer", "approver"])
def test_a_button_rendered_after_signing_in_again_works(
    app: Flask, session: Session, role: str, signs_out: bool
) -> None:
    """The first session ends by signing out, or by its cookie going away (the browser
    closed, another device) with nothing written; either way the page of the next session
    offers that session's token, and pressing a button with it does what it says."""
    project = session.scalar(select(Project).order_by(Project.id))
    assert project is not None
    email = f"{role}@demo.tidtam.local"
    path = f"/projects/{project.id}"

    client = app.test_client()
    login(client, email, DEMO_PASSWORDS[email])
    first = _buttons(client.get(path).get_data(as_text=True))
    assert "request_revision" in first, f"the {role} is offered no button: {first}"
    if signs_out:
        signed_out = client.post("/logout", data={"csrf_token": csrf_token(client, path)})
        assert signed_out.status_code == 302
    else:
        client = app.test_client()  # a browser without the first session's cookie

    login(client, email, DEMO_PASSWORDS[email])
    page = client.get(path)
    assert page.status_code == 200
    action, fields = _buttons(page.get_data(as_text=True))["request_revision"]
    pressed = client.post(action, data={**fields, "reason": "ปรับแผนตามงบประมาณที่ได้รับ"})
    assert pressed.status_code == 302, pressed.get_data(as_text=True)[:500]
    assert pressed.headers["Location"].endswith(path)
    assert fields["csrf_token"] != first["request_revision"][1]["csrf_token"]
    session.refresh(project)
    assert project.state is not ProjectState.LOCKED

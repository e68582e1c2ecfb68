"""The public view: no login, read-only, no personal data beyond the contact person the
legacy page carries, no drafts."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.org.models import User
from service.projects.models import Project, ProjectState
from tests.html_text import visible_text
from tests.project_data import make_project, unit

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def demo(session: Session) -> Project:
    found = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def test_public_list_and_page_need_no_login(client: FlaskClient, session: Session) -> None:
    project = demo(session)
    listing = client.get("/public/projects?year=2566")
    assert listing.status_code == 200
    assert f'href="/public/projects/{project.id}"' in listing.get_data(as_text=True)
    page = client.get(f"/public/projects/{project.id}")
    assert page.status_code == 200
    text = visible_text(page.get_data(as_text=True))
    assert "ค่าใช้จ่ายในการพัฒนาคุณภาพเครือข่ายโรงเรียน : 50230000-3598" in text
    assert "สยป. ประเมินโครงการ : ไตรมาสที่ 2 100" in text
    assert client.get(f"/public/projects/{project.id}/print").status_code == 200
    history = client.get(f"/public/projects/{project.id}/history")
    assert history.status_code == 200 and "การประเมินผล · ไตรมาสที่ 2" in visible_text(
        history.get_data(as_text=True)
    )
    assert "Content-Security-Policy" in page.headers


def test_public_pages_show_no_emails_and_no_names_but_the_contact(
    client: FlaskClient, session: Session
) -> None:
    project = demo(session)
    names = {user.name for user in session.scalars(select(User))}
    contact = project.contact_name
    assert contact in names  # the demo's contact person is the officer
    for path in (
        f"/public/projects/{project.id}",
        f"/public/projects/{project.id}/print",
        f"/public/projects/{project.id}/history",
        "/public/projects?year=2566",
        "/public/projects?year=2566&format=csv",
    ):
        body = client.get(path).get_data(as_text=True)
        assert not EMAIL.search(body), (path, EMAIL.search(body))
        for name in names - {contact}:
            assert name not in body, (path, name)
    body = client.get(f"/public/projects/{project.id}").get_data(as_text=True)
    assert contact in body and project.contact_phone in body


def test_the_signed_in_page_does_show_who_acted(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    body = login_as("officer").get(f"/projects/{demo(session).id}").get_data(as_text=True)
    assert "นางวิไล ผู้อำนวยการ" in body  # the approver, in the approvals


def test_drafts_and_withdrawn_projects_are_not_public(
    client: FlaskClient, session: Session
) -> None:
    division = unit(session, "50230700")
    hidden = [
        make_project(session, owner=division, state=state, name=f"ไม่เปิดเผย {state.value}")
        for state in (ProjectState.DRAFT, ProjectState.WITHDRAWN)
    ]
    shown = make_project(session, owner=division, state=ProjectState.SUBMITTED, name="เปิดเผย")
    body = client.get("/public/projects?year=2566").get_data(as_text=True)
    assert shown.code in body
    for project in hidden:
        assert project.code not in body
        assert client.get(f"/public/projects/{project.id}").status_code == 404
    csv = client.get("/public/projects?year=2566&format=csv").get_data(as_text=True)
    assert shown.code in csv and all(p.code not in csv for p in hidden)


def test_public_filters(client: FlaskClient, session: Session) -> None:
    def listed(query: str) -> bool:
        return "50230000-3598" in client.get(f"/public/projects?{query}").get_data(as_text=True)

    assert listed("year=2566")
    assert not listed("year=2567")
    assert listed("year=2566&unit=50230000")
    assert not listed("year=2566&unit=11000000")
    assert listed("year=2566&q=พัฒนาคุณภาพ")
    assert not listed("year=2566&q=ไม่มีโครงการนี้")
    assert listed("year=2566&q=5023")
    # LIKE wildcards are searched for as characters: "50%" would match every code otherwise
    assert not listed("year=2566&q=50%25")
    assert not listed("year=2566&q=5_23")
    assert client.get("/public/projects?year=abc").status_code == 404
    assert client.get("/public/projects?unit=nope").status_code == 404


def test_public_pages_offer_no_actions(client: FlaskClient, session: Session) -> None:
    body = client.get(f"/public/projects/{demo(session).id}").get_data(as_text=True)
    assert "<form" not in body.split('<main id="main"', 1)[1]
    assert f"/projects/{demo(session).id}.pdf" not in body

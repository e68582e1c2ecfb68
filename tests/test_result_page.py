"""What the result page shows the school and the district: the reported text whole, the way
to the project, and only the actions the reader could take or wait for."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from service.org.models import User
from service.projects.models import ResultState, StepResult
from service.workflow.engine import Option, options
from tests.conftest import csrf_token
from tests.work_data import (
    in_app_context,  # noqa: F401
    school_result,
    user,
)

ROOT = Path(__file__).resolve().parents[1]

#: Longer than the review queue's 160 characters, over three lines, with markup to escape.
NARRATIVE = (
    "จัดอบรมครูเรื่องการวัดผลครบทั้ง 24 คน ระหว่างวันที่ 3-5 มิถุนายน\n"
    "นักเรียนชั้น ป.4-ป.6 ทำแบบทดสอบก่อนและหลังเรียน ผลเฉลี่ยเพิ่มขึ้นร้อยละ 18 "
    "โดยเฉพาะวิชาคณิตศาสตร์และวิทยาศาสตร์\n"
    "ยังขาดรายงานของห้อง <b>ป.5/2</b> ซึ่งจะส่งภายในสัปดาห์หน้า & แนบรูปกิจกรรมครบทุกวัน"
)


def _submitted(session: Session) -> StepResult:
    result = school_result(session, position=4)
    result.state, result.completion = ResultState.SUBMITTED, Decimal("80.00")
    result.narrative, result.submitted_at = NARRATIVE, datetime.now(UTC)
    session.commit()
    return result


def _shown_narrative(page: str) -> str:
    assert 'data-testid="narrative"' in page, "the reported text is not shown"
    return page.split('data-testid="narrative">')[1].split("</dd>")[0]


def test_what_was_done_is_shown_whole_with_its_lines_to_school_and_officer(  # type: ignore[no-untyped-def]
    login_as, client, session: Session
) -> None:
    assert len(NARRATIVE) > 160
    result = _submitted(session)
    escaped = NARRATIVE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for role in ("school", "officer"):
        login_as(role)
        page = client.get(f"/results/{result.id}").get_data(as_text=True)
        assert "สิ่งที่ดำเนินการ" in page
        # Whole, escaped, its line breaks kept in the page (and shown: see the style below).
        assert _shown_narrative(page) == escaped
        assert "<b>ป.5/2</b>" not in page
        client.post("/logout", data={"csrf_token": csrf_token(client, f"/results/{result.id}")})
    style = (ROOT / "static" / "work.css").read_text()
    assert "dl.facts dd.narrative { white-space:pre-wrap;" in style


def test_a_result_never_reported_shows_no_empty_text(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    result = school_result(session, position=4)
    assert result.submitted_at is None
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'data-testid="narrative"' not in page


def test_the_result_page_leads_to_its_project(login_as, client, session: Session) -> None:  # type: ignore[no-untyped-def]
    result = school_result(session, position=4)
    project = result.step.project
    for role in ("school", "officer"):
        login_as(role)
        page = client.get(f"/results/{result.id}").get_data(as_text=True)
        link = f'<a href="/projects/{project.id}" data-testid="project">{project.code} '
        assert link in page
        assert client.get(f"/projects/{project.id}").status_code == 200
        client.post("/logout", data={"csrf_token": csrf_token(client, f"/results/{result.id}")})


def test_the_school_home_leads_to_the_project_of_each_step(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("school")
    page = client.get("/school").get_data(as_text=True)
    rows = re.findall(r'<tr data-result="[0-9]+">(.*?)</tr>', page, re.S)
    assert rows
    opened: set[str] = set()
    for row in rows:
        found = re.search(r'<a href="(/projects/([0-9]+))" data-project="\2">', row)
        assert found, row
        opened.add(found.group(1))
    for path in opened:
        assert client.get(path).status_code == 200, path


def test_the_school_is_not_listed_what_only_the_district_does(
    login_as, client, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """On its submitted result the school saw "Accept: only an officer … may review results"
    and the same for Return: actions it can never take. A reason the reader can act on or
    wait for is still listed: the officer who sent the result is told another must review."""
    result = _submitted(session)
    login_as("school")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    assert 'data-refused="accept"' not in page and 'data-refused="return"' not in page
    assert "เท่านั้นที่ตรวจสอบผลการดำเนินงานได้" not in page
    assert "ส่งตรวจสอบแล้ว" in page  # the state still says it waits for review
    # Nor, on the project's page, what only the district does with a plan.
    project_page = client.get(f"/projects/{result.step.project_id}").get_data(as_text=True)
    assert "data-refused=" not in project_page and "เท่านั้นที่แก้ไขแผนนี้ได้" not in project_page
    client.post("/logout", data={"csrf_token": csrf_token(client, f"/results/{result.id}")})

    officer = user(session, "officer")
    result.submitted_by_id = officer.id
    session.commit()
    login_as("officer")
    page = client.get(f"/results/{result.id}").get_data(as_text=True)
    refused = page.split('data-refused="accept"')[1].split("</li>")[0]
    assert "เจ้าหน้าที่คนอื่นต้องเป็นผู้ตรวจสอบ" in refused
    project_page = client.get(f"/projects/{result.step.project_id}").get_data(as_text=True)
    assert 'data-action="request_revision"' in project_page


def test_options_tell_a_role_refusal_from_any_other(session: Session) -> None:
    result = _submitted(session)
    school = options_by_name(session, user(session, "school"), result)
    assert not school["accept"].allowed and school["accept"].lacks_role
    officer = user(session, "officer")
    result.submitted_by_id = officer.id
    session.flush()
    four_eyes = options_by_name(session, officer, result)["accept"]
    assert not four_eyes.allowed and not four_eyes.lacks_role
    result.submitted_by_id = None
    session.flush()
    assert options_by_name(session, officer, result)["accept"].allowed


def options_by_name(session: Session, reader: User, result: StepResult) -> dict[str, Option]:
    return {option.name: option for option in options(session, reader, result)}

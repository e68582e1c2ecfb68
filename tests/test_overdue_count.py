"""A late step shared by six schools stays overdue while five of them have not reported: one
school's accepted result does not settle the step. The dashboard, the project page, the API
and the school home agree on it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.dashboard.queries import Filters, project_listing
from service.org.models import OrgUnit, Role, UnitKind
from service.org.operations import create_unit
from service.projects.api import present_step
from service.projects.models import Project
from service.projects.page import build_project_page
from service.school.queries import my_steps
from tests.conftest import login
from tests.html_text import visible_text
from tests.project_data import StepSpec, make_district, make_project, make_user, year

DAY = date(2023, 1, 15)


def six_schools(session: Session) -> tuple[OrgUnit, list[OrgUnit]]:
    """A district of its own (so counts are not mixed with the demo's) with six schools."""
    district, division, first = make_district(session, "61000000")
    others = [
        create_unit(
            session,
            code=f"6100077{n:03d}",
            name_th=f"โรงเรียนทดสอบ {n}",
            name_en=f"Test School {n}",
            kind=UnitKind.SCHOOL,
            parent=division,
        )
        for n in range(102, 107)
    ]
    session.flush()
    return district, [first, *others]


def late_shared_step(session: Session, district: OrgUnit, schools: list[OrgUnit]) -> Project:
    """Step 1 ended on 31 Oct 2022, one of its six results accepted; step 2 is not due yet."""
    return make_project(
        session,
        owner=district,
        name="หกโรงเรียน",
        steps=[
            StepSpec(
                "50", "2022-10-01", "2022-10-31", ["100", None, None, None, None, None], schools
            ),
            StepSpec("50", "2023-02-01", "2023-03-31", [None] * 6, schools),
        ],
    )


def test_one_accepted_school_of_six_leaves_the_late_step_overdue(session: Session) -> None:
    district, schools = six_schools(session)
    project = late_shared_step(session, district, schools)
    officer, _ = make_user(session, Role.OFFICER, district, "six-officer@test.local")

    page = build_project_page(session, project, DAY, datetime.now(UTC))
    assert page.overdue_steps == 1
    assert [row.status for row in page.steps] == ["overdue", "planned"]

    listing = project_listing(session, officer, Filters(year=year(session)), DAY)
    (row,) = [r for r in listing.rows if r.project_id == project.id]
    assert row.overdue == 1

    assert [present_step(step, DAY).overdue for step in project.steps] == [True, False]

    home = my_steps(session, officer, DAY)
    assert home.counts["overdue"] == 5
    assert home.counts["done"] == 1
    late_school, _ = make_user(session, Role.SCHOOL, schools[1], "six-late@test.local")
    assert my_steps(session, late_school, DAY).counts["overdue"] == 1
    done_school, _ = make_user(session, Role.SCHOOL, schools[0], "six-done@test.local")
    assert my_steps(session, done_school, DAY).counts["overdue"] == 0


def test_the_step_is_settled_once_all_six_are_accepted(session: Session) -> None:
    district, schools = six_schools(session)
    project = make_project(
        session,
        owner=district,
        steps=[StepSpec("100", "2022-10-01", "2022-10-31", ["100"] * 6, schools)],
    )
    officer, _ = make_user(session, Role.OFFICER, district, "six-all@test.local")
    assert build_project_page(session, project, DAY, datetime.now(UTC)).overdue_steps == 0
    listing = project_listing(session, officer, Filters(year=year(session)), DAY)
    assert [r.overdue for r in listing.rows if r.project_id == project.id] == [0]


def test_the_project_page_shows_both_late_steps_overdue(
    session: Session, client: FlaskClient
) -> None:
    """Today (2026 or later) both steps are past their end: step 1 with five schools still
    open counts beside step 2, which nobody has reported."""
    district, schools = six_schools(session)
    project = late_shared_step(session, district, schools)
    _, password = make_user(session, Role.OFFICER, district, "six-page@test.local")
    session.commit()
    login(client, "six-page@test.local", password)
    text = " ".join(
        visible_text(client.get(f"/projects/{project.id}").get_data(as_text=True)).split()
    )
    assert "Overdue steps 2" in text or "ขั้นตอนที่เลยกำหนด 2" in text, text[:2000]

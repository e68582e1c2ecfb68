"""The district dashboard: figures that agree with the project page, filters, sorting and
pages computed in SQL, a fixed number of queries whatever the number of projects, scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.budget.models import InstallmentState
from service.dashboard.queries import Filters, project_listing
from service.org.models import Role, User
from service.projects.models import Project, ProjectParticipant, ProjectState
from service.projects.page import build_project_page
from tests.html_text import visible_text
from tests.project_data import StepSpec, make_district, make_project, make_user, unit, year
from tests.sql_count import counting

DAY = date(2023, 1, 15)


def officer(session: Session) -> User:
    found = session.scalar(select(User).where(User.email == "officer@demo.tidtam.local"))
    assert found is not None
    return found


def varied_projects(session: Session) -> list[Project]:
    division = unit(session, "50230700")
    network = unit(session, "50230771")
    schools = [unit(session, code) for code in ("5023077101", "5023077102", "5023077103")]
    return [
        make_project(
            session,
            owner=division,
            name="ก ครบตามแผน",
            steps=[
                StepSpec("40", "2022-10-01", "2022-10-31", ["100"]),
                StepSpec("60", "2022-11-01", "2023-06-30", ["80"]),
            ],
            budget="500000.00",
            allocations=[
                (
                    network,
                    "300000.00",
                    [
                        ("100000.00", InstallmentState.PAID),
                        ("50000.50", InstallmentState.APPROVED),
                        ("10000.00", InstallmentState.REQUESTED),
                    ],
                )
            ],
        ),
        make_project(
            session,
            owner=division,
            name="ข ล่าช้า",
            steps=[
                StepSpec("30", "2022-10-01", "2022-10-31", ["100", None, "50"], schools),
                StepSpec("50", "2022-11-01", "2023-02-28", [None]),
                StepSpec("20", "2023-03-01", "2023-09-30", []),
            ],
            budget="120000.25",
        ),
        make_project(session, owner=division, name="ค ไม่มีขั้นตอน", budget="1.00"),
        make_project(
            session,
            owner=division,
            name="ง ยังไม่ถึงกำหนด",
            steps=[StepSpec("100", "2023-05-01", "2023-08-31", [])],
        ),
    ]


def test_listing_figures_agree_with_the_project_page(session: Session) -> None:
    projects = varied_projects(session)
    listing = project_listing(
        session, officer(session), Filters(year=year(session), sort="name"), DAY
    )
    rows = {row.project_id: row for row in listing.rows}
    for project in projects:
        page = build_project_page(session, project, DAY, datetime.now(UTC))
        row = rows[project.id]
        assert (row.actual, row.planned, row.overdue) == (
            page.actual,
            page.planned,
            page.overdue_steps,
        ), project.name
        assert row.behind == page.behind
        assert (row.approved, row.allocated, row.granted, row.paid) == (
            page.budget.approved,
            page.budget.allocated,
            page.budget.granted,
            page.budget.paid,
        )
    first = rows[projects[0].id]
    assert (first.allocated, first.granted, first.paid) == (
        Decimal("300000.00"),
        Decimal("150000.50"),
        Decimal("100000.00"),
    )
    late = rows[projects[1].id]
    # 30 × (100 + 0 + 50) / 3 / 100 = 15 actual; plan on 15 Jan: 30 + 50 × 76/120 = 61.67
    assert (late.actual, late.planned, late.overdue, late.behind) == (
        Decimal("15.00"),
        Decimal("61.67"),
        1,  # step 1 ended on 31 Oct with the second school's result still open
        True,
    )


def test_dashboard_shows_the_demo_project_behind_schedule(login_as) -> None:  # type: ignore[no-untyped-def]
    body = login_as("officer").get("/dashboard?year=2566&lang=th").get_data(as_text=True)
    text = visible_text(body)
    assert "50230000-3598" in text
    row = "50230000-3598 ค่าใช้จ่ายในการพัฒนาคุณภาพเครือข่ายโรงเรียน ฝ่ายการศึกษา"
    assert f"{row} 20.00 100.00 80.00 ล่าช้ากว่าแผน 4 180,000.00 0.00" in text
    assert 'class="behind"' in body


def test_filters_sort_and_pages(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    projects = varied_projects(session)
    division = unit(session, "50230700")
    for number in range(50):
        make_project(session, owner=division, name=f"ซ โครงการเติม {number:02d}")
    client = login_as("officer")

    def codes(query: str) -> list[str]:
        body = client.get(f"/dashboard?year=2566&{query}").get_data(as_text=True)
        return [p.code for p in [*projects, _demo(session)] if f">{p.code}</a>" in body]

    assert codes("q=ล่าช้า") == [projects[1].code]
    assert codes("q=3598") == ["50230000-3598"]
    # typed with Thai digits, as on a Thai keyboard
    assert codes("q=๓๕๙๘") == ["50230000-3598"]
    # Today every plan has ended: all projects with steps and less than 90 % done are behind.
    behind = {projects[0].code, projects[1].code, projects[3].code, "50230000-3598"}
    assert set(codes("behind=1&sort=-gap")) == behind
    body = client.get("/dashboard?year=2566&sort=-actual").get_data(as_text=True)
    assert body.index(projects[0].code) < body.index(projects[1].code)
    body = client.get("/dashboard?year=2566&sort=actual").get_data(as_text=True)
    assert 'aria-sort="ascending"' in body
    # 55 projects: two pages of 50
    text = visible_text(client.get("/dashboard?year=2566&lang=en").get_data(as_text=True))
    assert "55 projects" in text
    page2 = client.get("/dashboard?year=2566&page=2").get_data(as_text=True)
    assert page2.count('<td data-label="') // 9 == 5
    assert 'rel="prev"' in page2
    # a unit of the officer's scope filters; a unit outside it is not theirs to name
    assert client.get("/dashboard?year=2566&unit=50230771").status_code == 200
    # typed as people type a code: Thai or full-width digits, spaces around
    assert client.get("/dashboard?year=2566&unit= ๕๐๒๓๐๗๗๑ ").status_code == 200
    assert client.get("/dashboard?year=2566&unit=５０２３０７７１").status_code == 200
    assert client.get("/dashboard?year=2566&unit=50230000").status_code == 404
    assert client.get("/dashboard?year=2499").status_code == 404
    assert client.get("/dashboard?year=2566&sort=nonsense&page=x").status_code == 200
    # a page past the end (an old link, a typed number) is the last page, not "no project"
    past = client.get("/dashboard?year=2566&page=999").get_data(as_text=True)
    assert past.count('<td data-label="') // 9 == 5
    assert '<span aria-current="page">2</span>' in past and "No project matches" not in past


def _demo(session: Session) -> Project:
    found = session.scalar(select(Project).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def test_a_unit_filter_naming_no_unit_in_reach_says_so(login_as) -> None:  # type: ignore[no-untyped-def]
    """A mistyped or foreign code is a 404 that says what was not found and leads back to
    the list without the unit; a unit outside the reader's reach reads the same as none."""
    client = login_as("officer")
    unknown = client.get("/dashboard?year=2566&unit=99999999&behind=1&lang=en")
    assert unknown.status_code == 404
    text = visible_text(unknown.get_data(as_text=True))
    assert "No unit of the code 99999999 is among the units you may see." in text
    assert "The list without the unit filter" in text
    assert 'href="/dashboard?year=2566&amp;behind=1&amp;lang=en"' in unknown.get_data(as_text=True)
    foreign = client.get("/dashboard?year=2566&unit=50230000&behind=1&lang=en")
    assert foreign.status_code == 404
    assert foreign.get_data(as_text=True).replace("50230000", "99999999") == unknown.get_data(
        as_text=True
    )
    thai = client.get("/dashboard?year=2566&unit=99999999&lang=th").get_data(as_text=True)
    assert "ไม่มีหน่วยงานรหัส 99999999" in visible_text(thai)
    # The public list reads its filter the same way, and leads back to itself.
    public = client.get("/public/projects?unit=12345678&lang=en")
    assert public.status_code == 404
    assert 'href="/public/projects?lang=en"' in public.get_data(as_text=True)


def test_a_year_filter_naming_no_fiscal_year_says_so(login_as) -> None:  # type: ignore[no-untyped-def]
    """A typed 9999 or nonsense for the year is a 404 that says so and leads back to the
    list of the current year, its other filters kept; on the public list too."""
    client = login_as("officer")
    for raw in ("9999", "abc"):
        missing = client.get(f"/dashboard?year={raw}&behind=1&lang=en")
        assert missing.status_code == 404
        assert f"There is no fiscal year {raw} here." in visible_text(
            missing.get_data(as_text=True)
        )
        assert 'href="/dashboard?behind=1&amp;lang=en"' in missing.get_data(as_text=True)
    thai = client.get("/dashboard?year=9999&lang=th").get_data(as_text=True)
    assert "ไม่มีปีงบประมาณ 9999" in visible_text(thai)
    public = client.get("/public/projects?year=9999&lang=en")
    assert public.status_code == 404
    assert 'href="/public/projects?lang=en"' in public.get_data(as_text=True)


def test_listing_pages_with_sql_sorting_on_derived_figures(session: Session) -> None:
    projects = varied_projects(session)
    filters = Filters(year=year(session), sort="actual", descending=True, page=1)
    listing = project_listing(session, officer(session), filters, DAY, page_size=2)
    assert listing.total == 5 and listing.pages == 3
    assert [r.project_id for r in listing.rows] == [projects[0].id, _demo(session).id]
    past = Filters(year=year(session), sort="actual", descending=True, page=40)
    last = project_listing(session, officer(session), past, DAY, page_size=2)
    assert last.page == 3 and len(last.rows) == 1
    behind = project_listing(
        session, officer(session), Filters(year=year(session), behind=True, sort="code"), DAY
    )
    # on 15 Jan 2023 the demo project is 60 points behind (80 planned, 20 done)
    assert {r.project_id for r in behind.rows} == {projects[1].id, _demo(session).id}


def test_the_dashboard_makes_the_same_number_of_queries_for_5_or_55_projects(
    app: Flask, login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    varied_projects(session)
    few = _count_queries(app, client, "/dashboard?year=2566&sort=-gap")
    division = unit(session, "50230700")
    for number in range(50):
        make_project(
            session,
            owner=division,
            steps=[StepSpec("100", "2022-10-01", "2023-09-30", ["10"])],
            name=f"โครงการ {number}",
        )
    many = _count_queries(app, client, "/dashboard?year=2566&sort=-gap")
    assert many == few
    assert _count_queries(app, client, "/dashboard?year=2566") == _count_queries(
        app, client, "/dashboard?year=2566&page=2"
    )


def _count_queries(app: Flask, client: FlaskClient, path: str) -> int:
    with counting(app.extensions["tidtam.db"]) as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def test_scope_an_officer_of_another_district_sees_only_its_projects(
    client: FlaskClient, session: Session
) -> None:
    from tests.conftest import login

    district, division, _school = make_district(session, "50990000")
    theirs = make_project(session, owner=district, responsible=division, name="โครงการเขตอื่น")
    _user, password = make_user(session, Role.OFFICER, division, "officer2@test.tidtam.local")
    login(client, "officer2@test.tidtam.local", password)
    body = client.get("/dashboard?year=2566").get_data(as_text=True)
    assert theirs.code in body
    assert "50230000-3598" not in body
    assert client.get(f"/projects/{_demo(session).id}").status_code == 404


def test_schools_and_anonymous_readers_have_no_dashboard(client: FlaskClient, login_as) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/dashboard").status_code == 302
    school = login_as("school")
    assert school.get("/dashboard").status_code == 403
    assert school.get("/dashboard?format=csv").status_code == 403


def test_drafts_show_on_the_dashboard_but_not_in_public(session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    draft = make_project(
        session, owner=unit(session, "50230700"), state=ProjectState.DRAFT, name="ร่างโครงการ"
    )
    withdrawn = make_project(
        session, owner=unit(session, "50230700"), state=ProjectState.WITHDRAWN, name="ถอนไปแล้ว"
    )
    client = login_as("officer")
    body = client.get("/dashboard?year=2566").get_data(as_text=True)
    assert draft.code in body
    assert draft.code not in client.get("/public/projects?year=2566").get_data(as_text=True)
    # Each row says when a project is not simply under way: a draft, one withdrawn.
    row = body.split(f">{withdrawn.code}<")[1].split("</tr>")[0]
    assert 'data-state="withdrawn">ถอนแล้ว</span>' in row, row
    row = body.split(f">{draft.code}<")[1].split("</tr>")[0]
    assert 'data-state="draft">' in row
    locked = body.split(">50230000-3598<")[1].split("</tr>")[0]
    assert "data-state=" not in locked
    # A draft has no public page: its page does not link to one (it led to a 404).
    own = client.get(f"/projects/{draft.id}").get_data(as_text=True)
    assert f'href="/public/projects/{draft.id}"' not in own
    legacy = session.scalars(select(Project).where(Project.code == "50230000-3598")).one()
    page = client.get(f"/projects/{legacy.id}").get_data(as_text=True)
    assert f'href="/public/projects/{legacy.id}"' in page


def _unit_options(body: str) -> list[str]:
    import re

    select = body[body.index('id="f-unit"') : body.index("</select>", body.index('id="f-unit"'))]
    return re.findall(r'<option value="(\d+)"', select)


def test_the_unit_filter_is_a_path_through_the_tree(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """An evaluator (the whole tree) is offered the administration and its districts, not
    every division; a chosen district opens its divisions, a chosen division its district's
    too; and the filter finds a district's projects by owner or by responsible unit."""
    other, other_division, _school = make_district(session, "50990000")
    own = make_project(session, owner=unit(session, "50230700"), name="ฝ่ายของเขต")
    theirs = make_project(session, owner=other_division, name="ของเขตอื่น")
    session.commit()
    client = login_as("evaluator")

    offered = _unit_options(client.get("/dashboard?year=2566").get_data(as_text=True))
    assert {"10000000", "50230000", "50990000"} <= set(offered)
    assert "50230700" not in offered and "50990700" not in offered

    body = client.get("/dashboard?year=2566&unit=50230000").get_data(as_text=True)
    offered = _unit_options(body)
    assert {"10000000", "50230000", "50990000", "50230700"} <= set(offered)
    assert "50990700" not in offered and "50230771" not in offered
    assert own.code in body and theirs.code not in body
    assert 'value="50230000" selected' in body

    body = client.get("/dashboard?year=2566&unit=50990700").get_data(as_text=True)
    offered = _unit_options(body)
    assert {"50990000", "50990700"} <= set(offered) and "50230700" not in offered
    assert theirs.code in body and own.code not in body
    assert other.code == "50990000"

    # A network under a division: the way down to it, with what lies beside it at each step.
    offered = _unit_options(client.get("/dashboard?year=2566&unit=50230771").get_data(as_text=True))
    assert {"10000000", "50230000", "50230700", "50230771", "50990000"} <= set(offered)


def test_a_school_chosen_lists_the_projects_it_reports_in(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """A school's code in the unit filter (a link, or typed) lists the projects the school
    reports results in, and the menu names the school: it used to say "every unit" over an
    empty list, as a school runs and owns no project."""
    school = unit(session, "5023077101")
    taking_part = set(
        session.scalars(
            select(Project.code)
            .join(ProjectParticipant, ProjectParticipant.project_id == Project.id)
            .where(
                ProjectParticipant.unit_id == school.id, Project.fiscal_year_id == year(session).id
            )
        )
    )
    assert taking_part
    client = login_as("officer")
    body = client.get("/dashboard?year=2566&unit=5023077101").get_data(as_text=True)
    assert 'value="5023077101" selected' in body
    codes = session.scalars(select(Project.code).where(Project.fiscal_year_id == year(session).id))
    assert {code for code in codes if f">{code}<" in body} == taking_part
    # not offered until chosen
    assert "5023077101" not in _unit_options(
        client.get("/dashboard?year=2566").get_data(as_text=True)
    )


def test_a_plan_not_yet_approved_is_not_behind_it(session: Session) -> None:
    """A draft with past steps: its plan is not agreed yet. It is listed, but not flagged
    behind that plan, on the dashboard or the overview; once its plan is locked it is. Its
    budget, which comes with the project, is approved money in either state."""
    from service.rollups.queries import unit_figures

    division = unit(session, "50230700")
    draft = make_project(
        session,
        owner=division,
        name="ร่าง ยังไม่อนุมัติ",
        steps=[StepSpec("100", "2022-10-01", "2022-10-31", [])],
        budget="777000.00",
        state=ProjectState.DRAFT,
    )
    filters = Filters(year=year(session), sort="code")
    rows = {r.project_id: r for r in project_listing(session, officer(session), filters, DAY).rows}
    assert rows[draft.id].planned > 0 and not rows[draft.id].behind
    behind = Filters(year=year(session), behind=True, sort="code")
    assert draft.id not in {
        r.project_id for r in project_listing(session, officer(session), behind, DAY).rows
    }
    # Its page says the same as the lists (it flagged the draft behind, the lists did not).
    assert not build_project_page(session, draft, DAY, datetime.now(UTC)).behind
    before = unit_figures(session, officer(session), year(session), [division], DAY)[division.id]
    draft.state = ProjectState.LOCKED
    session.flush()
    assert build_project_page(session, draft, DAY, datetime.now(UTC)).behind
    after = unit_figures(session, officer(session), year(session), [division], DAY)[division.id]
    assert after.approved == before.approved and before.approved >= Decimal("777000.00")
    assert after.behind == before.behind + 1 and after.projects == before.projects

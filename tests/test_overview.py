"""The overview of a unit and of the strategy tree: figures of today over the projects the
reader may see, the units or strategies below (drilling down to projects), the projects
behind plan, the quarter ends the workers computed, charts, and CSV/XLSX exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.charts import bar_chart
from service.core.fiscal import local_today
from service.org.models import Role
from service.projects.models import Project, ProjectState
from service.rollups.compute import run_rollup
from service.rollups.queries import unit_figures
from service.strategy.models import StrategyNode
from tests.conftest import csrf_token, login
from tests.project_data import make_district, make_user
from tests.test_kpis import english_on
from tests.work_data import demo_project, in_app_context, sibling_project, unit, user  # noqa: F401


def test_evaluators_see_the_whole_administration_and_drill_down(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    project = demo_project(session)
    start = client.get("/overview?year=2566")
    assert start.status_code == 302 and "/overview/units/10000000" in start.location
    root = client.get(start.location).get_data(as_text=True)
    assert "<svg" in root and 'role="img"' in root
    assert "/overview/units/50230000?year=2566" in root  # the district, to drill into
    district = client.get("/overview/units/50230000?year=2566").get_data(as_text=True)
    count = session.query(Project).filter(Project.fiscal_year_id == project.fiscal_year_id).count()
    assert f'data-testid="projects">{count}<' in district
    assert f"/projects/{project.id}" in district  # 40 points behind plan: listed as behind
    assert "/overview/units/50230700?year=2566" in district
    # The strategy tree drills down to its projects.
    tree = client.get("/overview/strategy?year=2566").get_data(as_text=True)
    node = session.scalars(select(StrategyNode).where(StrategyNode.parent_id.is_(None))).first()
    assert node is not None and f"/overview/strategy/{node.id}?year=2566" in tree
    page = client.get(f"/overview/strategy/{node.id}?year=2566").get_data(as_text=True)
    assert f'data-project="{project.code}"' in page


def test_quarter_ends_come_from_the_rollups(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    run_rollup(session, 2566, 2, now=datetime(2023, 4, 1, tzinfo=UTC))
    client = login_as("officer")
    page = client.get("/overview?year=2566", follow_redirects=True).get_data(as_text=True)
    assert 'data-quarter-end="2"' in page and 'data-quarter-end="3"' not in page
    assert "ข้อมูล ณ วันที่" in page  # a district's figures of today are live
    # Tree-wide readers read the country from the latest rollup, labelled as such.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/overview/strategy")})
    login(client, "evaluator@demo.tidtam.local", "demo-evaluator-2566")
    project = demo_project(session)
    for path in ("/overview/units/50230000?year=2566", "/overview/strategy?year=2566"):
        shown = client.get(path).get_data(as_text=True)
        assert "ข้อมูล ณ สิ้นไตรมาสที่ 2" in shown, path
    district = client.get("/overview/units/50230000?year=2566").get_data(as_text=True)
    assert f'data-project="{project.code}"' in district  # behind at the quarter's end


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_unit_and_the_strategy_tree_export(login_as, session: Session, fmt: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as("approver")
    project = demo_project(session)
    for path, first in (
        (f"/overview/units/50230000?year=2566&format={fmt}", "50230000"),
        (f"/overview/strategy?year=2566&format={fmt}", None),
    ):
        response = client.get(path)
        assert response.status_code == 200
        if fmt == "xlsx":
            sheet = load_workbook(io.BytesIO(response.data)).active
            assert sheet is not None
            rows = [[c.value for c in row] for row in sheet.iter_rows()]
        else:
            rows = [line.split(",") for line in response.get_data(as_text=True).splitlines()]
        assert len(rows) >= 2
        if first:
            assert rows[1][0] == first
            approved = rows[1][6]
            assert Decimal(str(approved)) >= project.approved_budget


def test_a_school_and_another_districts_officer_see_nothing_of_it(
    client: FlaskClient, session: Session
) -> None:
    project = demo_project(session)
    _district, division, _school = make_district(session, "50260000")
    other, password = make_user(session, Role.OFFICER, division, "officer-d@test.tidtam.local")
    session.commit()
    login(client, other.email, password)
    assert client.get("/overview/units/50230000?year=2566").status_code == 404
    assert client.get("/overview/units/50230700?year=2566&format=csv").status_code == 404
    own = client.get("/overview?year=2566", follow_redirects=True).get_data(as_text=True)
    assert 'data-testid="projects">0<' in own and project.code not in own
    tree = client.get("/overview/strategy?year=2566").get_data(as_text=True)
    assert "/overview/strategy/" not in tree  # no project of theirs is aligned anywhere
    for node in session.scalars(select(StrategyNode)):
        page = client.get(f"/overview/strategy/{node.id}?year=2566").get_data(as_text=True)
        assert project.code not in page and 'data-testid="projects">0<' in page
    assert project.code not in client.get("/overview/strategy?year=2566&format=csv").get_data(
        as_text=True
    )
    client.post("/logout", data={"csrf_token": ""})
    school = FlaskClient(client.application)
    login(school, "school@demo.tidtam.local", "demo-school-2566")
    assert school.get("/overview").status_code == 403
    assert school.get("/overview/strategy").status_code == 403


@pytest.mark.parametrize("role", ["officer", "evaluator"])
def test_overview_pages_in_thai_have_no_english(login_as, session: Session, role: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as(role)
    node = session.scalars(select(StrategyNode).order_by(StrategyNode.level.desc())).first()
    assert node is not None
    for path in (
        "/overview?year=2566",
        "/overview/strategy?year=2566",
        f"/overview/strategy/{node.id}?year=2566",
    ):
        response = client.get(path + "&lang=th", follow_redirects=True)
        assert response.status_code == 200, path
        assert not english_on(response.get_data(as_text=True)), path


def test_bars_scale_clamp_and_mark_the_plan() -> None:
    chart = bar_chart(
        [
            ("สำนักงานเขตบางขุนเทียน", Decimal(20), Decimal(60), "20.00 / 60.00"),
            ("หน่วยงานที่มีชื่อยาวมากจนต้องตัดให้สั้นลงก่อนแสดงผล", Decimal(150), None, "150"),
        ]
    )
    first, second = chart.bars
    span = chart.right - chart.left
    assert first.width == round(span * 0.2, 1) and first.marker_x == round(
        chart.left + span * 0.6, 1
    )
    assert second.width == span and second.marker_x is None  # clamped to 100
    assert second.label.endswith("…") and len(second.label) <= 28
    assert (first.y, second.y) == (0, chart.row) and chart.height == 2 * chart.row + 8
    money = bar_chart([("จ่ายแล้ว", Decimal("45000.00"), None, "45,000.00")], Decimal(90000))
    assert money.bars[0].width == round(span / 2, 1)
    assert bar_chart([("ว่าง", Decimal(5), None, "5")], Decimal(0)).bars[0].width == 0


def test_a_withdrawn_project_is_not_counted_as_the_rollups_do_not(
    login_as, session: Session
) -> None:  # type: ignore[no-untyped-def]
    """A project withdrawn from the plan is in no unit's figures of today: not its count, not
    its approved budget, as the quarter's rollups leave it out (the two once disagreed)."""
    project = demo_project(session)
    district = unit(session, "50230000")
    reader = user(session, "approver")
    year = project.fiscal_year
    before = unit_figures(session, reader, year, [district], local_today())[district.id]
    gone = sibling_project(session, project, "50230000-9901")
    gone.approved_budget = Decimal("750000.00")
    gone.state = ProjectState.WITHDRAWN
    session.commit()
    after = unit_figures(session, reader, year, [district], local_today())[district.id]
    assert (after.projects, after.approved) == (before.projects, before.approved)
    client = login_as("approver")
    page = client.get(f"/overview/units/50230000?year={year.be_year}").get_data(as_text=True)
    assert f'data-testid="projects">{before.projects}<' in page

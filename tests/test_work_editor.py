"""The project editor: every field, steps whose weights must sum to 100 (shown live and checked
by the server), who reports each step, progress reports and the plan's transitions."""

from __future__ import annotations

from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.fiscal import fiscal_year_bounds, fiscal_year_of, local_today
from service.fiscal.models import FiscalYear
from service.projects.models import (
    ProgressReport,
    Project,
    ProjectKind,
    ProjectState,
    StepResult,
    TargetKind,
)
from service.strategy.models import StrategyNode
from tests.conftest import csrf_token
from tests.work_data import (
    demo_project,
    in_app_context,  # noqa: F401
    unit,
)


def _form(session: Session, **overrides: object) -> dict[str, object]:
    year = session.scalars(select(FiscalYear).where(FiscalYear.be_year == 2567)).one()
    node = session.scalars(select(StrategyNode).order_by(StrategyNode.level.desc())).first()
    assert node is not None
    form: dict[str, object] = {
        "code": "50230000-9100",
        "fiscal_year_id": str(year.id),
        "owner_unit_id": str(unit(session, "50230000").id),
        "responsible_unit_id": str(unit(session, "50230700").id),
        "name": "โครงการส่งเสริมการอ่าน",
        "kind": "strategic",
        "approved_budget": "150,000.00",
        "in_plan": "on",
        "rationale": "หลักการและเหตุผลของโครงการ",
        "unit_codes": "50230700/50230700",
        "contact_name": "นายสมชาย รักงาน",
        "contact_phone": "02-415-0021 ต่อ 7011",
        "objective": ["เพื่อส่งเสริมการอ่าน", "เพื่อพัฒนาครู", ""],
        "target_kind": ["quantity", "quality", "quantity"],
        "target_text": ["นักเรียน 500 คน", "ร้อยละ 80 อ่านคล่อง", ""],
        "strategy": [str(node.id)],
        "step_position": ["1", "2", "3"],
        "step_name": ["ขออนุมัติโครงการ", "ดำเนินโครงการ", ""],
        "step_weight": ["40", "40", ""],
        "step_start": ["2023-10-01", "2023-11-01", ""],
        "step_end": ["2023-10-31", "2024-03-31", ""],
        "step_unit": ["", str(unit(session, "50230771").id), ""],
    }
    form.update(overrides)
    return form


def _create(client: FlaskClient, session: Session, **overrides: object):  # type: ignore[no-untyped-def]
    data = _form(session, **overrides)
    data["csrf_token"] = csrf_token(client, "/projects/new?lang=en")
    return client.post("/projects/new", data=data)


def test_create_a_project_with_every_field(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    response = _create(client, session)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    project = session.scalars(select(Project).where(Project.code == "50230000-9100")).one()
    assert project.state is ProjectState.DRAFT
    assert project.kind is ProjectKind.STRATEGIC
    assert project.approved_budget == Decimal("150000.00")
    assert project.in_plan and not project.multi_year
    assert project.contact_phone == "02-415-0021 ต่อ 7011"
    assert project.unit_codes == "50230700/50230700"
    assert [o.text for o in project.objectives] == ["เพื่อส่งเสริมการอ่าน", "เพื่อพัฒนาครู"]
    assert [(t.kind, t.text) for t in project.targets] == [
        (TargetKind.QUANTITY, "นักเรียน 500 คน"),
        (TargetKind.QUALITY, "ร้อยละ 80 อ่านคล่อง"),
    ]
    assert len(project.strategies) == 1
    assert [(s.position, s.weight) for s in project.steps] == [
        (1, Decimal("40.00")),
        (2, Decimal("40.00")),
    ]
    assert project.steps[1].responsible_unit_id == unit(session, "50230771").id

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # The plan cannot be submitted: the reason is shown, the button is not.
    assert "weights sum to 80, not 100" in page
    assert 'data-action="submit"' not in page
    assert 'data-refused="submit"' in page
    assert "js/weights.js" in page and "data-weight" in page


def test_complete_the_weights_then_submit_and_lock(
    login_as, client: FlaskClient, session: Session
) -> None:  # type: ignore[no-untyped-def]
    login_as("officer")
    _create(client, session)
    project = session.scalars(select(Project).where(Project.code == "50230000-9100")).one()
    data = _form(
        session,
        step_name=["ขออนุมัติโครงการ", "ดำเนินโครงการ", "รายงานผล"],
        step_weight=["40", "40", "20"],
        step_start=["2023-10-01", "2023-11-01", "2024-04-01"],
        step_end=["2023-10-31", "2024-03-31", "2024-04-30"],
        step_unit=["", "", ""],
    )
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    assert client.post(f"/projects/{project.id}/edit", data=data).status_code == 302
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'data-action="submit"' in page
    token = csrf_token(client, f"/projects/{project.id}/edit")
    submitted = client.post(
        f"/actions/project/{project.id}/submit",
        data={"csrf_token": token, "next": f"/projects/{project.id}/edit"},
    )
    assert submitted.status_code == 302
    session.expire_all()
    assert project.state is ProjectState.SUBMITTED
    # The officer may not lock the plan: not listed (only the approver ever does), and
    # refused if posted.
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert 'data-action="lock"' not in page and 'data-refused="lock"' not in page
    assert (
        client.post(f"/actions/project/{project.id}/lock", data={"csrf_token": token}).status_code
        == 403
    )
    client.post("/logout", data={"csrf_token": token})
    login_as("approver")
    token = csrf_token(client, f"/projects/{project.id}/edit")
    locked = client.post(f"/actions/project/{project.id}/lock", data={"csrf_token": token})
    assert locked.status_code == 302
    session.expire_all()
    assert project.state is ProjectState.LOCKED


def test_bad_input_comes_back_with_field_messages(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    response = _create(
        client, session, step_weight=["40", "forty", ""], rationale="ข้อความยาวที่ไม่อยากพิมพ์ใหม่"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ข้อความยาวที่ไม่อยากพิมพ์ใหม่" in page
    assert 'value="forty"' in page and 'id="step-2-weight-error"' in page
    assert session.scalars(select(Project).where(Project.code == "50230000-9100")).all() == []
    # A code already used in that year is a conflict, answered with the form as typed.
    assert _create(client, session).status_code == 302
    taken = _create(client, session, name="อีกโครงการหนึ่ง")
    assert taken.status_code == 409 and "อีกโครงการหนึ่ง" in taken.get_data(as_text=True)


def test_a_locked_plan_refuses_changes_and_keeps_the_input(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    page = client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert '<fieldset class="card" disabled>' in page
    data = _form(session, name="ชื่อใหม่ที่พิมพ์ไว้")
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(f"/projects/{project.id}/edit", data=data)
    assert response.status_code == 409
    assert "ชื่อใหม่ที่พิมพ์ไว้" in response.get_data(as_text=True)


def test_assign_a_reporting_unit_and_add_a_progress_report(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    step = project.steps[4]
    school = unit(session, "5023077101")
    token = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(
        f"/projects/{project.id}/steps/{step.id}/assign",
        data={"csrf_token": token, "unit_id": str(school.id)},
    )
    assert response.status_code == 302
    assert session.scalars(
        select(StepResult).where(StepResult.step_id == step.id, StepResult.unit_id == school.id)
    ).one()
    response = client.post(
        f"/projects/{project.id}/reports",
        data={
            "csrf_token": token,
            "reported_on": "2023-03-31",
            "percent": "40",
            "narrative": "ดำเนินการตามแผน",
            "problems": "งบล่าช้า",
            "obstacles": "",
        },
    )
    assert response.status_code == 302
    reports = session.scalars(
        select(ProgressReport).where(ProgressReport.project_id == project.id)
    ).all()
    assert [r.percent for r in reports][-1] == Decimal("40.00")
    refused = client.post(
        f"/projects/{project.id}/reports",
        data={"csrf_token": token, "reported_on": "2023-03-31", "percent": "140", "narrative": "x"},
    )
    assert refused.status_code == 422


def test_the_editor_is_the_districts(login_as, client: FlaskClient, session: Session) -> None:  # type: ignore[no-untyped-def]
    login_as("school")
    project = demo_project(session)
    assert client.get(f"/projects/{project.id}/edit").status_code == 403
    assert client.get("/projects/new").status_code == 403
    assert client.get("/projects/999999/edit").status_code == 404


def _year_select(page: str) -> str:
    start = page.index('<select id="fiscal_year_id"')
    return page[start : page.index("</select>", start)]


def test_a_new_project_starts_in_todays_fiscal_year(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    """Not in the first year listed, the oldest: an officer who does not look would file the
    project under it. Without today's year (not there, or closed) none is chosen."""
    client = login_as("officer")
    # The demo's years are past: nothing is chosen for the officer, and it shows.
    options = _year_select(client.get("/projects/new?lang=en").get_data(as_text=True))
    assert '<option value="" selected>Choose…</option>' in options
    assert options.count("selected") == 1
    th = _year_select(client.get("/projects/new?lang=th").get_data(as_text=True))
    assert "เลือก…" in th

    be_year = fiscal_year_of(local_today())
    starts_on, ends_on = fiscal_year_bounds(be_year)
    this_year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
    session.add(this_year)
    session.commit()
    options = _year_select(client.get("/projects/new?lang=en").get_data(as_text=True))
    assert f'<option value="{this_year.id}" selected>{be_year}</option>' in options
    assert 'value=""' not in options and options.count("selected") == 1

    this_year.is_open = False
    session.commit()
    options = _year_select(client.get("/projects/new?lang=en").get_data(as_text=True))
    assert '<option value="" selected>Choose…</option>' in options


def test_a_new_project_refused_without_a_year_shows_none_chosen(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    refused = _create(client, session, fiscal_year_id="")
    assert refused.status_code == 422
    options = _year_select(refused.get_data(as_text=True))
    assert '<option value="" selected>' in options and options.count("selected") == 1

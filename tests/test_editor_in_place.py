"""The plan editor in place: the whole plan in one save (the legacy five steps, 20% each, in
one POST), a draft's step removed with its box, and a refused save that keeps every row typed
and writes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.projects.models import PlanStep, Project, ResultState, StepResult
from tests.conftest import csrf_token
from tests.test_work_editor import _form
from tests.work_data import demo_project, in_app_context, unit  # noqa: F401

LEGACY = [
    ("ขออนุมัติโครงการ", "1/10/2566", "31/10/2566"),
    ("ประชุมชี้แจงโรงเรียน", "1/11/2566", "30/11/2566"),
    ("ดำเนินกิจกรรมในโรงเรียน", "1/12/2566", "31/3/2567"),
    ("นิเทศติดตาม", "1/4/2567", "31/7/2567"),
    ("สรุปและรายงานผล", "1/8/2567", "30/9/2567"),
]


def _five_steps(**changes: str) -> dict[str, list[str]]:
    rows = {
        "step_position": ["", "", "", "", "", "", "", ""],
        "step_name": [name for name, _s, _e in LEGACY] + ["", "", ""],
        "step_weight": ["20"] * 5 + ["", "", ""],
        "step_start": [start for _n, start, _e in LEGACY] + ["", "", ""],
        "step_end": [end for _n, _s, end in LEGACY] + ["", "", ""],
        "step_unit": [""] * 8,
    }
    for key, value in changes.items():
        column, row = key.rsplit("_", 1)
        rows[column][int(row) - 1] = value
    return rows


def _create(client: FlaskClient, session: Session, **steps: str):  # type: ignore[no-untyped-def]
    data = _form(session, **_five_steps(**steps))
    data["csrf_token"] = csrf_token(client, "/projects/new?lang=en")
    return client.post("/projects/new?lang=en", data=data)


def _steps(
    session: Session, code: str = "50230000-9100"
) -> list[tuple[int, str, Decimal, date, date]]:
    session.expire_all()
    project = session.scalars(select(Project).where(Project.code == code)).one()
    return [(s.position, s.name, s.weight, s.planned_start, s.planned_end) for s in project.steps]


def test_the_legacy_five_step_plan_in_one_save(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    page = client.get("/projects/new?lang=en").get_data(as_text=True)
    assert page.count('name="step_name"') == 3 + 1  # three blank rows, and the template's
    response = _create(client, session)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert _steps(session) == [
        (1, "ขออนุมัติโครงการ", Decimal("20"), date(2023, 10, 1), date(2023, 10, 31)),
        (2, "ประชุมชี้แจงโรงเรียน", Decimal("20"), date(2023, 11, 1), date(2023, 11, 30)),
        (3, "ดำเนินกิจกรรมในโรงเรียน", Decimal("20"), date(2023, 12, 1), date(2024, 3, 31)),
        (4, "นิเทศติดตาม", Decimal("20"), date(2024, 4, 1), date(2024, 7, 31)),
        (5, "สรุปและรายงานผล", Decimal("20"), date(2024, 8, 1), date(2024, 9, 30)),
    ]
    project = session.scalars(select(Project).where(Project.code == "50230000-9100")).one()
    page = client.get(f"/projects/{project.id}/edit?lang=en").get_data(as_text=True)
    assert page.count('name="step_remove"') == 5
    assert page.count('name="step_name"') == 5 + 3 + 1
    assert "Weights total" in page and ">100</output> / 100" in page
    # Two objectives and two targets stored, two spare entries each (and the script's template).
    assert page.count('name="objective"') == 2 + 2 + 1
    assert page.count('name="target_text"') == 2 + 2 + 1


def test_removing_a_step_of_a_draft(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = session.scalars(select(Project).where(Project.code == "50230000-9100")).one()
    # The page as saved: five stored rows (positions 1-5), then the blank ones; step 2 goes,
    # and a sixth step is typed into a blank row in the same save.
    data = _form(session, **_five_steps(step_name_6="ถอดบทเรียน", step_weight_6="20"))
    data.update(
        step_position=["1", "2", "3", "4", "5", "", "", ""],
        step_start=[s for _n, s, _e in LEGACY] + ["1/9/2567", "", ""],
        step_end=[e for _n, _s, e in LEGACY] + ["30/9/2567", "", ""],
        step_remove=["2"],
    )
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(f"/projects/{project.id}/edit?lang=en", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert [(p, n) for p, n, *_ in _steps(session)] == [
        (1, "ขออนุมัติโครงการ"),
        (2, "ดำเนินกิจกรรมในโรงเรียน"),
        (3, "นิเทศติดตาม"),
        (4, "สรุปและรายงานผล"),
        (5, "ถอดบทเรียน"),
    ]
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "step.remove")
        )
        == 1
    )


def test_a_refused_save_keeps_every_row_and_writes_nothing(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    before = session.scalar(select(func.count()).select_from(PlanStep))
    response = _create(client, session, step_start_3="32/13/2566")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name, _start, end in LEGACY:
        assert f'value="{name}"' in page and f'value="{end}"' in page
    assert 'value="32/13/2566"' in page
    assert 'id="step-3-start" ' in page and 'aria-invalid="true"' in page
    assert 'href="#step-3-start"' in page  # the error summary leads to row 3's start
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PlanStep)) == before
    assert session.scalars(select(Project).where(Project.code == "50230000-9100")).first() is None


def test_a_step_with_results_reported_is_not_removed(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    assert _create(client, session).status_code == 302
    project = session.scalars(select(Project).where(Project.code == "50230000-9100")).one()
    second = project.steps[1]
    session.add(
        StepResult(step=second, unit=unit(session, "5023077101"), state=ResultState.IN_PROGRESS)
    )
    session.commit()
    data = _form(session, **_five_steps())
    data.update(step_position=["1", "2", "3", "4", "5", "", "", ""], step_remove=["2"])
    data["csrf_token"] = csrf_token(client, f"/projects/{project.id}/edit")
    response = client.post(f"/projects/{project.id}/edit?lang=en", data=data)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "step 2 has results reported: it cannot be removed" in page
    assert 'id="step-2-remove" data-remove checked' in page  # the tick is kept
    assert [p for p, *_ in _steps(session)] == [1, 2, 3, 4, 5]


def test_a_locked_plan_has_no_remove_box(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    project = demo_project(session)
    assert project.state.value != "draft"
    page = client.get(f"/projects/{project.id}/edit?lang=en").get_data(as_text=True)
    assert 'name="step_remove"' not in page and 'id="add-step"' not in page

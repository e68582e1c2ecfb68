"""The annual plan from a spreadsheet: the template, a preview that writes nothing, every
problem named by sheet, row and column in Thai, all or nothing on confirmation, a re-import
that changes nothing, drafts updated and locked projects left alone."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.projects.annual_plan import apply_plan, read_plan
from service.projects.models import Project, ProjectState
from tests.conftest import csrf_token
from tests.plan_files import good_plan, workbook, year_kpi
from tests.work_data import in_app_context, user  # noqa: F401


def _upload(client: FlaskClient, data: bytes) -> tuple[int, str]:
    response = client.post(
        "/plan-import",
        data={
            "csrf_token": csrf_token(client, "/plan-import"),
            "file": (io.BytesIO(data), "plan.xlsx"),
        },
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def _confirm(client: FlaskClient, page: str) -> int:
    return _confirmed(client, page)[0]


def _confirmed(client: FlaskClient, page: str) -> tuple[int, str]:
    token = re.search(r'action="/plan-import/([0-9a-f]+)"', page)
    assert token, "no confirmation form"
    response = client.post(
        f"/plan-import/{token.group(1)}", data={"csrf_token": csrf_token(client, "/plan-import")}
    )
    if response.status_code == 302:  # done: the answer is a page of its own
        answer = client.get(response.location)
        return answer.status_code, answer.get_data(as_text=True)
    return response.status_code, response.get_data(as_text=True)


def _projects(session: Session) -> dict[str, Project]:
    session.expire_all()
    return {
        p.code: p for p in session.scalars(select(Project).where(Project.code.like("50230000-88%")))
    }


def test_the_template_has_thai_headers_examples_and_drop_downs(login_as) -> None:  # type: ignore[no-untyped-def]
    response = login_as("officer").get("/plan-import/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert {"โครงการ", "ขั้นตอน", "วัตถุประสงค์-เป้าหมาย-ตัวชี้วัด"} <= set(book.sheetnames)
    projects = book["โครงการ"]
    assert projects["A1"].value == "รหัสโครงการ" and projects["A2"].value  # an example row
    assert projects.data_validations.dataValidation  # units and kinds as drop-downs
    assert book["ขั้นตอน"].data_validations.dataValidation


def test_preview_confirm_reimport_update_and_locked(session: Session, login_as) -> None:  # type: ignore[no-untyped-def]
    year_kpi(session, "5023-6525", 2567)
    session.commit()
    officer = login_as("officer")
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    status, page = _upload(officer, good_plan())
    assert status == 200, page[page.find("h-problems") : page.find("h-problems") + 3000]
    assert 'data-testid="create">2<' in page
    assert _projects(session) == {}  # nothing written by the preview
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    status, done = _confirmed(officer, page)
    assert status == 200
    made = _projects(session)
    assert set(made) == {"50230000-8801", "50230000-8802"}
    # The answer leads on to what was made, on a page of its own (a reload sends nothing).
    for project in made.values():
        assert f'href="/projects/{project.id}"' in done
    nonsense = officer.get("/plan-import?created=x,,99999999999,-1&updated=&years=y")
    assert nonsense.status_code == 200 and 'data-testid="imported"' in nonsense.get_data(
        as_text=True
    )
    first = made["50230000-8801"]
    assert first.approved_budget == 90000 and first.fiscal_year.be_year == 2567
    assert [
        (s.position, s.weight, s.planned_start.isoformat(), s.planned_end.isoformat())
        for s in first.steps
    ] == [
        (1, 40, "2023-10-01", "2023-12-31"),
        (2, 60, "2024-01-01", "2024-09-30"),
    ]
    assert (
        first.steps[1].name == "ดำเนินงาน" and first.steps[1].responsible_unit.code == "5023077101"
    )
    assert [o.text for o in first.objectives] == ["เพื่อให้นักเรียนอ่านออก"]
    assert sorted(n.code for n in first.strategies) == ["7.2", "7.2.2"]

    # The same file again changes nothing.
    audits = session.scalar(select(func.count()).select_from(AuditEntry))
    status, page = _upload(officer, good_plan())
    assert 'data-testid="unchanged">2<' in page
    assert _confirm(officer, page) == 200
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audits

    # A changed name updates the draft; a locked project is never changed.
    locked = _projects(session)["50230000-8802"]
    locked.state = ProjectState.LOCKED
    session.commit()
    status, page = _upload(officer, good_plan(name="โครงการอ่านคล่อง"))
    assert 'data-testid="update">1<' in page and 'data-testid="locked">1<' in page
    assert _confirm(officer, page) == 200
    after = _projects(session)
    assert after["50230000-8801"].name == "โครงการอ่านคล่อง"
    assert after["50230000-8802"].state is ProjectState.LOCKED

    # A draft with a step the file does not list loses it, and the file then matches it.
    first = after["50230000-8801"]
    from service.projects.models import PlanStep

    session.add(
        PlanStep(
            project=first,
            position=3,
            name="เพิ่มเอง",
            weight=10,
            planned_start=first.steps[0].planned_start,
            planned_end=first.steps[0].planned_end,
            responsible_unit=first.responsible_unit,
        )
    )
    session.commit()
    status, page = _upload(officer, good_plan(name="โครงการอ่านคล่อง"))
    assert 'data-testid="update">1<' in page
    assert _confirm(officer, page) == 200
    assert [s.position for s in _projects(session)["50230000-8801"].steps] == [1, 2]
    status, page = _upload(officer, good_plan(name="โครงการอ่านคล่อง"))
    assert 'data-testid="unchanged">1<' in page


def test_every_problem_is_named_by_sheet_row_and_column(session: Session) -> None:
    projects = [
        ["50230000-8811", "ก", 2567, "50230000", "99999999", "งานประจำ", "1000", "", "9.9"],
        ["50230000-8811", "ซ้ำ", 2567, "50230000", "50230700", "งานประจำ", "1000", "", ""],
        ["50230000-8812", "ข", 2024, "50230000", "50230700", "อื่นๆ", "abc", "", ""],
    ]
    steps = [
        ["50230000-8811", 1, "หนึ่ง", 50, "1/10/2566", "1/12/2566", ""],
        ["50230000-8811", 2, "สอง", 40, "1/1/2024", "1/10/2567", ""],
    ]
    preview = read_plan(session, user(session, "officer"), workbook(projects, steps))
    found = {(p.sheet, p.row, p.column) for p in preview.problems}
    assert ("โครงการ", 2, "E") in found  # unknown unit
    assert ("โครงการ", 2, "I") in found  # unknown strategy code
    assert ("โครงการ", 3, "A") in found  # duplicate code
    assert ("โครงการ", 4, "C") in found  # a CE year
    assert ("โครงการ", 4, "F") in found and ("โครงการ", 4, "G") in found  # kind, budget
    assert ("ขั้นตอน", 2, "D") in found  # weights make 90
    assert ("ขั้นตอน", 3, "F") in found  # after the fiscal year
    assert ("ขั้นตอน", 3, "E") in found  # CE among BE dates
    messages = " ".join(p.message for p in preview.problems)
    assert "ไม่ใช่ 100" in messages or "not 100" in messages
    assert not preview.ok


def test_a_kpi_code_is_read_in_the_project_fiscal_year(session: Session) -> None:
    last_year = year_kpi(session, "5023-9101", 2566)
    projects = [["50230000-8821", "ก", 2567, "50230000", "50230700", "งานประจำ", "1000", "", ""]]
    steps = [["50230000-8821", 1, "หนึ่ง", 100, "1/10/2566", "1/12/2566", ""]]
    texts = [["50230000-8821", "ตัวชี้วัด", "5023-9101"]]
    officer = user(session, "officer")
    preview = read_plan(session, officer, workbook(projects, steps, texts))
    assert [(p.sheet, p.row, p.column) for p in preview.problems] == [
        ("วัตถุประสงค์-เป้าหมาย-ตัวชี้วัด", 2, "C")
    ]
    this_year = year_kpi(session, "5023-9101", 2567)
    preview = read_plan(session, officer, workbook(projects, steps, texts))
    assert preview.ok, preview.problems
    apply_plan(session, officer, preview)
    session.expire_all()
    assert [p.code for p in this_year.projects] == ["50230000-8821"]
    assert last_year.projects == []


def test_a_missing_column_is_named_and_nothing_else_read(session: Session) -> None:
    """A column deleted shifts the others: rather than a problem in every cell they now hold,
    the one problem is the column gone, at the header row."""
    book = load_workbook(io.BytesIO(good_plan()))
    book["ขั้นตอน"].delete_cols(4)  # น้ำหนัก (ร้อยละ)
    output = io.BytesIO()
    book.save(output)
    preview = read_plan(session, user(session, "officer"), output.getvalue())
    assert [(p.sheet, p.row, p.column, p.header) for p in preview.problems] == [
        ("ขั้นตอน", 1, "D", "น้ำหนัก (ร้อยละ)")
    ]
    assert "น้ำหนัก (ร้อยละ)" in preview.problems[0].message
    assert preview.changes == [] and not preview.ok


def test_a_workbook_without_projects_is_not_offered_for_import(login_as) -> None:  # type: ignore[no-untyped-def]
    """The template with only its headers would import nothing and report it as done."""
    status, page = _upload(login_as("officer"), workbook([], []))
    assert status == 422
    assert "ไม่มีโครงการ" in page and "plan_import.confirm" not in page
    assert not re.search(r'action="/plan-import/[0-9a-f]+"', page)

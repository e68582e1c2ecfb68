"""Every work list downloads as CSV and XLSX: Thai headers, every row the reader may see (not
only the page of 50), in the page's scope and never more; anonymous readers sign in first."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from service.org.models import Role, UnitKind
from service.org.operations import create_unit
from service.workflow import engine
from tests.conftest import login
from tests.project_data import make_district, make_project, make_user
from tests.work_data import in_app_context, school_result, user  # noqa: F401

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def exported(client: FlaskClient, path: str) -> tuple[list[list[str]], list[list[Any]]]:
    """The CSV and the XLSX rows of `path`, after checking status and content type."""
    joiner = "&" if "?" in path else "?"
    as_csv = client.get(f"{path}{joiner}format=csv")
    assert as_csv.status_code == 200, as_csv.get_data(as_text=True)[:300]
    # One charset: a doubled one ("text/csv; charset=utf-8; charset=utf-8") is a malformed
    # header some spreadsheet importers and proxies refuse.
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    as_xlsx = client.get(f"{path}{joiner}format=xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.mimetype == XLSX
    rows, sheet = csv_rows(as_csv.data), xlsx_rows(as_xlsx.data)
    assert len(rows) == len(sheet)
    assert [str(v) for v in sheet[0]] == rows[0]
    return rows, sheet


def has_thai(text: str) -> bool:
    return any("\u0e00" <= char <= "\u0e7f" for char in text)


@pytest.mark.parametrize(
    "path", ["/review", "/budget", "/approvals", "/evaluations", "/admin/users", "/admin/units"]
)
def test_anonymous_is_sent_to_sign_in(client: FlaskClient, path: str) -> None:
    for fmt in ("csv", "xlsx"):
        response = client.get(f"{path}?format={fmt}")
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def page_ids(client: FlaskClient, path: str, marker: str) -> list[str]:
    """The ids the page's rows carry in `marker` ("data-result") across every page."""
    found: list[str] = []
    page = 1
    while True:
        html = client.get(f"{path}?page={page}").get_data(as_text=True)
        ids = re.findall(rf'{marker}="(\d+)"', html)
        if not ids or (found and ids[0] in found):
            return found
        found += ids
        page += 1


def test_review_queue_exports_every_result_the_page_lists(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    for number in (3, 4):
        result = school_result(session, "5023077101", number)
        engine.take(
            session,
            user(session, "school"),
            "step_result",
            result.id,
            "submit",
            {"completion": "100", "narrative": "ทำแล้ว"},
        )
    session.commit()
    client = login_as("officer")
    rows, sheet = exported(client, "/review")
    assert rows[0][:3] == ["ผลงาน", "รหัสโครงการ", "ขั้นตอน"]
    assert [row[0] for row in rows[1:]] == page_ids(client, "/review", "data-result")
    assert len(rows) == 3
    assert [row[0] for row in sheet[1:]] == [int(row[0]) for row in rows[1:]]


def test_review_export_of_another_district_has_none_of_ours(
    client: FlaskClient, session: Session
) -> None:
    _district, division, _school = make_district(session, "50980000")
    _user, password = make_user(session, Role.OFFICER, division, "officer9@test.tidtam.local")
    login(client, "officer9@test.tidtam.local", password)
    rows, _sheet = exported(client, "/review")
    assert rows[1:] == []
    assert has_thai(rows[0][0])


def test_budget_exports_every_allocation_the_page_lists(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("officer")
    rows, sheet = exported(client, "/budget")
    header = rows[0]
    assert header[:2] == ["การจัดสรรงบประมาณ", "รหัสโครงการ"]
    assert "จัดสรรแล้ว (บาท)" in header
    assert [row[0] for row in rows[1:]] == page_ids(client, "/budget", "data-allocation")
    assert len(rows) > 1
    amount = header.index("จัดสรรแล้ว (บาท)")
    for row, cells in zip(rows[1:], sheet[1:], strict=True):
        assert re.fullmatch(r"\d+\.\d\d", row[amount])  # exact decimals, no separators
        assert Decimal(row[amount]) == cells[amount]


def test_an_officer_budget_export_has_no_other_district(
    client: FlaskClient, session: Session
) -> None:
    district, division, school = make_district(session, "50980000")
    theirs = make_project(
        session,
        owner=district,
        responsible=division,
        name="เขตอื่น",
        allocations=[(school, "1234.56", [])],
    )
    _user, password = make_user(session, Role.OFFICER, division, "officer8@test.tidtam.local")
    login(client, "officer8@test.tidtam.local", password)
    rows, _sheet = exported(client, "/budget")
    codes = {row[1] for row in rows[1:]}
    assert codes == {theirs.code}
    assert "50230000-3598" not in "".join(",".join(row) for row in rows)


def test_approvals_export_every_waiting_decision(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    from service.budget.operations import create_allocation
    from tests.work_data import unit

    officer = user(session, "officer")
    allocation = create_allocation(
        session,
        officer,
        make_project(
            session,
            owner=unit(session, "50230000"),
            responsible=unit(session, "50230700"),
            budget="200000.00",
        ),
        unit(session, "50230771"),
        Decimal("60000.01"),
        "ค่าวัสดุ",
    )
    for action in ("submit", "endorse"):
        engine.take(session, officer, "allocation", allocation.id, action, {})
    session.commit()
    client = login_as("approver")
    rows, _sheet = exported(client, "/approvals")
    assert rows[0][:3] == ["ชนิด", "รหัส", "รหัสโครงการ"]
    html = client.get("/approvals").get_data(as_text=True)
    shown = re.findall(r'data-(?:allocation|installment)="(\d+)"', html)
    assert [row[1] for row in rows[1:]] == shown
    assert str(allocation.id) in shown
    mine = next(row for row in rows[1:] if row[1] == str(allocation.id))
    assert mine[5] == "60000.01"


def test_evaluations_export_every_subject_of_the_quarter(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("evaluator")
    path = "/evaluations?year=2566&quarter=1"
    rows, sheet = exported(client, path)
    assert rows[0][:3] == ["รหัส", "โครงการ", "สถานะ"]
    keys, page = [], 1
    while True:
        html = client.get(f"{path}&page={page}").get_data(as_text=True)
        found = re.findall(r'data-subject="project-(\d+)"', html)
        if not found or found[0] in keys:
            break
        keys += found
        page += 1
    assert len(rows) - 1 == len(keys) > 0
    assert len(sheet) == len(rows)
    kpis, _sheet = exported(client, "/evaluations?year=2566&quarter=1&kind=kpi")
    assert kpis[0][1] == "ตัวชี้วัด"


def test_admin_units_export_every_unit_the_page_lists(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    rows, _sheet = exported(client, "/admin/units")
    assert rows[0][:3] == ["รหัส", "ชื่อ", "ประเภท"]
    html = client.get("/admin/units").get_data(as_text=True)
    shown = re.findall(r'data-unit="(\d+)"', html)
    assert len(rows) - 1 >= len(shown) > 0
    assert len(rows) - 1 == len(page_ids(client, "/admin/units", "data-unit"))
    narrowed, _sheet = exported(client, "/admin/units?q=50230771")
    codes = [row[0] for row in narrowed[1:]]
    assert "50230771" in codes and all("50230771" in code for code in codes)
    page = client.get("/admin/units?q=50230771").get_data(as_text=True)
    assert len(codes) == len(re.findall(r'data-unit="(\d+)"', page))


def test_admin_users_export_every_user_the_page_lists(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    rows, _sheet = exported(client, "/admin/users")
    assert rows[0] == ["อีเมล", "ชื่อ", "ใช้งาน", "บทบาท"]
    assert len(rows) - 1 == len(page_ids(client, "/admin/users", "data-user")) > 0
    emails = {row[0] for row in rows[1:]}
    assert "officer@demo.tidtam.local" in emails


def test_a_unit_admin_exports_only_their_users_and_units(
    client: FlaskClient, session: Session
) -> None:
    district, _division, _school = make_district(session, "50980000")
    _user, password = make_user(session, Role.ADMIN, district, "admin9@test.tidtam.local")
    login(client, "admin9@test.tidtam.local", password)
    units, _sheet = exported(client, "/admin/units")
    assert units[1:] and all(row[0].startswith("5098") for row in units[1:])
    users, _sheet = exported(client, "/admin/users")
    assert "officer@demo.tidtam.local" not in {row[0] for row in users[1:]}
    assert "admin9@test.tidtam.local" in {row[0] for row in users[1:]}


def demo_project_id(session: Session) -> int:
    from sqlalchemy import select

    from service.projects.models import Project

    found = session.scalar(select(Project.id).where(Project.code == "50230000-3598"))
    assert found is not None
    return found


def test_history_exports_the_audit_trail_the_page_lists(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    path = f"/projects/{demo_project_id(session)}/history"
    client = login_as("officer")
    rows, _sheet = exported(client, path)
    assert rows[0] == ["เมื่อ", "ผู้ดำเนินการ", "รายการ", "การดำเนินการ", "การเปลี่ยนสถานะ", "เหตุผล"]
    html = client.get(path).get_data(as_text=True)
    match = re.search(r"ประวัติการเปลี่ยนแปลง \((\d+)\)", html)
    assert match is not None
    assert len(rows) - 1 == int(match.group(1)) > 0
    assert f"{path}?format=csv" in html


def test_history_export_of_a_project_out_of_scope_is_not_found(
    client: FlaskClient, session: Session
) -> None:
    _district, division, _school = make_district(session, "50980000")
    _user, password = make_user(session, Role.OFFICER, division, "officer7@test.tidtam.local")
    login(client, "officer7@test.tidtam.local", password)
    path = f"/projects/{demo_project_id(session)}/history"
    assert client.get(f"{path}?format=csv").status_code == 404
    assert client.get(f"{path}?format=xlsx").status_code == 404


def test_anonymous_history_export_is_sent_to_sign_in(client: FlaskClient, session: Session) -> None:
    response = client.get(f"/projects/{demo_project_id(session)}/history?format=csv")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("officer", "/budget"),
        ("approver", "/approvals"),
        ("evaluator", "/evaluations"),
        ("admin", "/admin/users"),
        ("admin", "/admin/units"),
    ],
)
def test_each_list_links_its_downloads(login_as, role: str, path: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as(role)
    html = client.get(path).get_data(as_text=True)
    assert "format=csv" in html and "format=xlsx" in html
    assert client.get(f"{path}?format=pdf").status_code == 404


def test_an_export_holds_every_row_not_only_the_page_of_fifty(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    district, _division, _school = make_district(session, "50970000")
    for n in range(60):
        create_unit(
            session,
            code=f"5097{n:04d}99",
            name_th=f"โรงเรียนที่ {n}",
            name_en=f"School {n}",
            kind=UnitKind.SCHOOL,
            parent=district,
        )
    session.commit()
    client = login_as("admin")
    html = client.get("/admin/units").get_data(as_text=True)
    assert len(re.findall(r'data-unit="(\d+)"', html)) == 50
    rows, sheet = exported(client, "/admin/units")
    codes = [row[0] for row in rows[1:]]
    assert len(codes) == len(set(codes)) == len(page_ids(client, "/admin/units", "data-unit"))
    assert {f"5097{n:04d}99" for n in range(60)} <= set(codes)
    assert len(sheet) == len(rows)

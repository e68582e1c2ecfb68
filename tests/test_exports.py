"""CSV and XLSX exports of the lists: Thai headers, BE dates, exact amounts, scope."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from service.budget.models import InstallmentState
from service.core.export import Column, be_numeric_date, csv_lines, xlsx_bytes
from service.org.models import Role
from tests.conftest import login
from tests.project_data import make_district, make_project, make_user, unit


def read_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the byte-order mark to read Thai"
    return list(csv.reader(io.StringIO(text[1:])))


def test_dashboard_csv_has_thai_headers_and_exact_amounts(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    odd = make_project(
        session,
        owner=unit(session, "50230700"),
        name="งบมีเศษสตางค์",
        budget="1234567.89",
        allocations=[(unit(session, "50230771"), "1000000.01", [("0.01", InstallmentState.PAID)])],
    )
    response = login_as("officer").get("/dashboard?year=2566&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="dashboard-2566.csv"' in response.headers["Content-Disposition"]
    assert "Content-Security-Policy" in response.headers
    rows = read_csv(response.data)
    header = rows[0]
    assert header[:4] == ["รหัสโครงการ", "โครงการ", "หน่วยงานที่รับผิดชอบ", "สถานะโครงการ"]
    assert "งบประมาณที่อนุมัติ (บาท)" in header and "จ่ายแล้ว (บาท)" in header
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    demo = by_code["50230000-3598"]
    assert demo["ความคืบหน้า (ร้อยละ)"] == "20.00"
    assert demo["ล่าช้ากว่าแผน"] == "ใช่"
    assert demo["งบประมาณที่อนุมัติ (บาท)"] == "180000.00"
    row = by_code[odd.code]
    assert row["งบประมาณที่อนุมัติ (บาท)"] == "1234567.89"
    assert row["จัดสรรแล้ว (บาท)"] == "1000000.01"
    assert row["จ่ายแล้ว (บาท)"] == "0.01"


def test_dashboard_xlsx_cells_are_exact_numbers_with_formats(login_as, session: Session) -> None:  # type: ignore[no-untyped-def]
    make_project(session, owner=unit(session, "50230700"), name="เศษ", budget="9999999999.99")
    response = login_as("officer").get("/dashboard?year=2566&format=xlsx&sort=-approved")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert header[0] == "รหัสโครงการ"
    approved = header.index("งบประมาณที่อนุมัติ (บาท)") + 1
    assert sheet.cell(row=2, column=approved).number_format == "#,##0.00"
    assert sheet.cell(row=3, column=2).value == "ค่าใช้จ่ายในการพัฒนาคุณภาพเครือข่ายโรงเรียน"
    assert sheet.cell(row=3, column=approved).value == 180000
    # the XML holds the Decimal's own digits, not a float's
    with zipfile.ZipFile(io.BytesIO(response.data)) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>9999999999.99</v>" in xml
    assert re.search(r"<v>180000(\.00)?</v>", xml)


def test_exports_hold_only_rows_the_reader_may_see(client: FlaskClient, session: Session) -> None:
    district, division, _school = make_district(session, "50980000")
    theirs = make_project(session, owner=district, responsible=division, name="เขตอื่น")
    _user, password = make_user(session, Role.OFFICER, division, "officer3@test.tidtam.local")
    login(client, "officer3@test.tidtam.local", password)
    for fmt in ("csv", "xlsx"):
        data = client.get(f"/dashboard?year=2566&format={fmt}").data
        text = (
            data.decode("utf-8")
            if fmt == "csv"
            else "".join(
                str(c.value)
                for row in load_workbook(io.BytesIO(data)).active.iter_rows()  # type: ignore[union-attr]
                for c in row
            )
        )
        assert theirs.code in text
        assert "50230000-3598" not in text


def test_a_school_gets_no_export(login_as) -> None:  # type: ignore[no-untyped-def]
    school = login_as("school")
    for fmt in ("csv", "xlsx"):
        assert school.get(f"/dashboard?year=2566&format={fmt}").status_code == 403


def test_public_export_has_no_internal_columns(client: FlaskClient) -> None:
    rows = read_csv(client.get("/public/projects?year=2566&format=csv").data)
    assert "จัดสรรแล้ว (บาท)" not in rows[0]
    assert any(row[0] == "50230000-3598" for row in rows[1:])
    xlsx = client.get("/public/projects?year=2566&format=xlsx")
    assert xlsx.status_code == 200
    assert client.get("/public/projects?year=2566&format=pdf").status_code == 404


def test_english_headers_on_request(login_as) -> None:  # type: ignore[no-untyped-def]
    rows = read_csv(login_as("officer").get("/dashboard?year=2566&format=csv&lang=en").data)
    assert rows[0][:2] == ["Project code", "Project"]


def test_dates_are_buddhist_era_and_money_stays_decimal() -> None:
    columns = [
        Column("วันที่", lambda r: r[0], "date"),
        Column("จำนวนเงิน", lambda r: r[1], "money"),
        Column("ข้อความ", lambda r: r[2]),
    ]
    rows = [(date(2022, 12, 30), Decimal("0.10"), "=1+1"), (None, None, "ก")]
    lines = "".join(csv_lines(columns, rows))
    assert "30/12/2565,0.10,'=1+1" in lines
    book = load_workbook(io.BytesIO(xlsx_bytes(columns, rows, "ทดสอบ")))
    sheet = book.active
    assert sheet is not None
    assert sheet["A2"].value == "30/12/2565"
    assert sheet["B2"].number_format == "#,##0.00"
    assert sheet["C2"].data_type == "s"  # text, never a formula
    assert be_numeric_date(date(2023, 1, 1)) == "01/01/2566"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_follow_the_filters(login_as, session: Session, fmt: str) -> None:  # type: ignore[no-untyped-def]
    other = make_project(session, owner=unit(session, "50230700"), name="ไม่ตรงคำค้น")
    data = login_as("officer").get(f"/dashboard?year=2566&q=3598&format={fmt}").data
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(data)).active
        assert sheet is not None
        codes = [row[0].value for row in sheet.iter_rows(min_row=2)]
    else:
        codes = [row[0] for row in read_csv(data)[1:]]
    assert codes == ["50230000-3598"]
    assert other.code not in codes

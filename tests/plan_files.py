"""Annual-plan workbooks written by the tests, as people fill them in: BE years as text and
as Excel dates, Thai digits, a project code merged down its steps, stray spaces, numbers stored
as text."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.fiscal import fiscal_year_bounds
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiLevel, KpiType, MeasureKind
from service.projects.annual_plan import (
    PROJECT_COLUMNS,
    PROJECTS,
    STEP_COLUMNS,
    STEPS,
    TEXT_COLUMNS,
    TEXTS,
)
from tests.work_data import unit


def workbook(
    projects: list[list[Any]],
    steps: list[list[Any]],
    texts: list[list[Any]] | None = None,
    merge: list[str] | None = None,
) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for title, columns, rows in (
        (PROJECTS, PROJECT_COLUMNS, projects),
        (STEPS, STEP_COLUMNS, steps),
        (TEXTS, TEXT_COLUMNS, texts or []),
    ):
        sheet = book.create_sheet(title)
        sheet.append([header for _key, header in columns])
        for row in rows:
            sheet.append(row)
        if title == STEPS:
            for cells in merge or []:
                sheet.merge_cells(cells)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def good_plan(name: str = "โครงการอ่านออกเขียนได้") -> bytes:
    """Two projects of FY 2567 for the demo district's division."""
    projects = [
        [
            "  50230000-8801 ",
            name,
            "๒๕๖๗",
            "50230000",
            "50230700",
            "งานประจำ",
            "90,000.00",
            "เพราะ",
            "7.2, 7.2.2",
        ],
        ["50230000-8802", "โครงการกีฬาสี", 2567, "50230000", "50230700", "ยุทธศาสตร์", 45000, "", ""],
    ]
    steps = [
        ["50230000-8801", 1, "ขออนุมัติ", "40", "1/10/2566", "๓๑/๑๒/๒๕๖๖", ""],
        [None, "2", "ดำเนินงาน ", 60, datetime(2567, 1, 1), "30 ก.ย. 2567", "5023077101"],
        ["50230000-8802", 1, "จัดงาน", "100", "1/11/2566", "30/11/2566", ""],
    ]
    texts = [
        ["50230000-8801", "วัตถุประสงค์", "เพื่อให้นักเรียนอ่านออก"],
        ["50230000-8801", "เป้าหมายเชิงปริมาณ", "นักเรียน 100 คน"],
        ["50230000-8801", "ตัวชี้วัด", "5023-6525"],  # a KPI of 2567: see year_kpi
    ]
    # The project code is merged down its two steps, as people lay such sheets out.
    return workbook(projects, steps, texts, merge=["A2:A3"])


def year_kpi(session: Session, code: str, be_year: int) -> Kpi:
    """A KPI of the demo district under `code` in fiscal year `be_year` (made, year and all)."""
    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None:
        starts_on, ends_on = fiscal_year_bounds(be_year)
        year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
    kpi = Kpi(
        code=code,
        fiscal_year=year,
        name=f"ตัวชี้วัดปี {be_year}",
        measure_kind=MeasureKind.PERCENT,
        target=Decimal(80),
        kpi_type=KpiType.ROUTINE,
        level=KpiLevel.OUTPUT,
        owner_unit=unit(session, "50230000"),
    )
    session.add(kpi)
    session.flush()
    return kpi

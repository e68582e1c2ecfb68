"""The annual plan read from a workbook our own writer did not make: tests/data/
office-plan-2567.xlsx, written with XlsxWriter (not openpyxl) the way an office fills the plan
in by hand (a merged title row, a two-row header with merged cells, the code merged down its
steps, Thai digits, BE dates typed as text and one real date cell in the Thai calendar, codes
and money stored as text, stray spaces, a renamed steps sheet, a notes sheet). How it was made,
honestly, is in tests/data/make_office_plan.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from service.projects.annual_plan import apply_plan, read_plan
from service.projects.models import ProjectKind, TargetKind
from tests.plan_files import year_kpi
from tests.work_data import user

FILE = Path(__file__).parent / "data" / "office-plan-2567.xlsx"


def test_an_office_workbook_reads_into_a_clean_preview(session: Session) -> None:
    year_kpi(session, "5023-6525", 2567)  # the file's KPI, of the projects' year
    officer = user(session, "officer")
    preview = read_plan(session, officer, FILE.read_bytes())
    assert preview.problems == []
    assert [(c.plan.code, c.action) for c in preview.changes] == [
        ("50230000-8901", "create"),
        ("50230000-8902", "create"),
    ]
    assert preview.rows == 2 + 4 + 3  # projects, steps, texts: the title and notes are not rows
    reading, sports = (c.plan for c in preview.changes)
    assert reading.name == "โครงการส่งเสริมการอ่าน" and reading.be_year == 2567
    assert (reading.owner, reading.responsible) == ("50230000", "50230700")
    assert reading.budget == Decimal("120000.00") and reading.kind is ProjectKind.ROUTINE
    assert reading.rationale == "เพื่อให้นักเรียน อ่านคล่อง"
    assert reading.strategies == ["7.2", "7.2.2"]
    assert [(s.position, s.name, s.weight, s.start, s.end, s.unit_code) for s in reading.steps] == [
        (1, "ขออนุมัติโครงการ", Decimal("30.00"), date(2023, 10, 1), date(2023, 10, 31), ""),
        (2, "จัดซื้อหนังสือ", Decimal("30.00"), date(2023, 11, 1), date(2023, 12, 31), ""),
        (3, "กิจกรรมรักการอ่าน", Decimal("40.00"), date(2024, 1, 1), date(2024, 9, 30), "5023077101"),
    ]
    assert reading.objectives == ["เพื่อให้นักเรียนอ่านคล่อง"]
    assert reading.targets == [(TargetKind.QUANTITY, "นักเรียน 120 คน")]
    assert reading.kpis == ["5023-6525"]
    assert (sports.owner, sports.budget, sports.kind) == (
        "50230000",
        Decimal("35000"),
        ProjectKind.STRATEGIC,
    )
    assert [(s.start, s.end) for s in sports.steps] == [(date(2023, 12, 1), date(2023, 12, 25))]

    done = apply_plan(session, officer, preview)
    assert done == {"create": 2}
    again = read_plan(session, officer, FILE.read_bytes())
    assert [c.action for c in again.changes] == ["unchanged", "unchanged"], again.problems

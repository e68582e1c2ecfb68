"""The annual plan from a spreadsheet: the XLSX template, reading a filled-in file into a
preview (what will be created, updated or left alone, and every problem with its sheet, row
and column), and applying a preview in one transaction.

Reading is forgiving of real files: Buddhist Era years (typed as text, or as Excel dates whose
year is the BE year), Thai digits, merged cells (a code merged down a block of steps), stray
spaces, numbers stored as text. It is strict about meaning: weights that do not make 100,
dates outside the fiscal year, BE and CE mixed in one file, unknown units or strategy codes,
a project code twice. Nothing is written by reading; `apply_plan` writes all of it or, on any
refusal, nothing (the caller rolls back). A project already in the year is updated only while
it is a draft; a locked one is never touched; one whose file rows equal it is left alone, so
importing the same file again changes nothing.
"""

from __future__ import annotations

import io
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel.speaklater import LazyString
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.audit.operations import record
from service.core.fields import read_day
from service.core.permissions import needs_role
from service.core.thai import normalize_thai, read_code, to_arabic_digits
from service.core.translate import gettext as _
from service.core.translate import lazy_gettext as _l
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, kpi_project
from service.org.models import OrgUnit, User
from service.projects.models import (
    PlanStep,
    Project,
    ProjectKind,
    ProjectObjective,
    ProjectState,
    ProjectTarget,
    TargetKind,
)
from service.projects.operations import (
    DISTRICT,
    create_project,
    link_strategies,
    remove_steps,
    save_step,
    set_objectives_and_targets,
    update_project,
)
from service.strategy.models import StrategyNode

# ---- the sheets --------------------------------------------------------------------------------

PROJECTS, STEPS, TEXTS, LISTS = "โครงการ", "ขั้นตอน", "วัตถุประสงค์-เป้าหมาย-ตัวชี้วัด", "รายการ"

PROJECT_COLUMNS = (
    ("code", "รหัสโครงการ"),
    ("name", "ชื่อโครงการ"),
    ("year", "ปีงบประมาณ (พ.ศ.)"),
    ("owner", "รหัสหน่วยงานเจ้าของ"),
    ("responsible", "รหัสหน่วยงานรับผิดชอบ"),
    ("kind", "ประเภทโครงการ"),
    ("budget", "งบประมาณ (บาท)"),
    ("rationale", "หลักการและเหตุผล"),
    ("strategies", "รหัสยุทธศาสตร์ (คั่นด้วย ,)"),
)
STEP_COLUMNS = (
    ("code", "รหัสโครงการ"),
    ("position", "ลำดับ"),
    ("name", "ขั้นตอนการดำเนินงาน"),
    ("weight", "น้ำหนัก (ร้อยละ)"),
    ("start", "วันเริ่ม"),
    ("end", "วันสิ้นสุด"),
    ("unit", "รหัสหน่วยงานผู้รับผิดชอบ"),
)
TEXT_COLUMNS = (
    ("code", "รหัสโครงการ"),
    ("kind", "ชนิด"),
    ("text", "ข้อความ หรือ รหัสตัวชี้วัด"),
)
KINDS = {"งานประจำ": ProjectKind.ROUTINE, "ยุทธศาสตร์": ProjectKind.STRATEGIC}
TEXT_KINDS = ("วัตถุประสงค์", "เป้าหมายเชิงปริมาณ", "เป้าหมายเชิงคุณภาพ", "ตัวชี้วัด")
COLUMNS = {PROJECTS: PROJECT_COLUMNS, STEPS: STEP_COLUMNS, TEXTS: TEXT_COLUMNS}
SHEET_NAMES: dict[str, LazyString] = {
    PROJECTS: _l("Projects"),
    STEPS: _l("Steps"),
    TEXTS: _l("Objectives, targets and KPIs"),
}


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def template_bytes(session: Session, units: list[OrgUnit], be_year: int) -> bytes:
    """The XLSX template: the three sheets with Thai headers and one example project, and
    drop-down lists of the units and kinds (a hidden sheet holds the lists)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    lists = book.active
    assert lists is not None
    lists.title = LISTS
    for row, unit in enumerate(units, start=1):
        lists.cell(row=row, column=1, value=unit.code).data_type = "s"
        lists.cell(row=row, column=2, value=unit.name_th)
    for row, kind in enumerate(KINDS, start=1):
        lists.cell(row=row, column=3, value=kind)
    for row, kind in enumerate(TEXT_KINDS, start=1):
        lists.cell(row=row, column=4, value=kind)
    lists.sheet_state = "hidden"
    unit_list = f"={LISTS}!$A$1:$A${max(1, len(units))}"
    example_unit = units[0].code if units else ""
    sheets = []
    for title, columns in (
        (PROJECTS, PROJECT_COLUMNS),
        (STEPS, STEP_COLUMNS),
        (TEXTS, TEXT_COLUMNS),
    ):
        sheet = book.create_sheet(title)
        for index, (_key, header) in enumerate(columns):
            cell = sheet.cell(row=1, column=index + 1, value=header)
            cell.font = Font(bold=True)
            sheet.column_dimensions[_letter(index)].width = max(14, len(header) + 4)
        sheets.append(sheet)
    projects, steps, texts = sheets
    code = f"{example_unit or '50230000'}-0001"
    projects.append(
        [
            code,
            "ตัวอย่าง: โครงการพัฒนาการอ่าน",
            be_year,
            example_unit,
            example_unit,
            "งานประจำ",
            "90000.00",
            "ตัวอย่างหลักการและเหตุผล",
            "",
        ]
    )
    start, end = f"1/10/{be_year - 1}", f"30/9/{be_year}"
    for position, (name, first, last) in enumerate(
        (("ขออนุมัติโครงการ", start, f"31/12/{be_year - 1}"), ("ดำเนินงาน", f"1/1/{be_year}", end)),
        start=1,
    ):
        steps.append([code, position, name, 50, first, last, ""])
    texts.append([code, "วัตถุประสงค์", "ตัวอย่างวัตถุประสงค์"])
    texts.append([code, "เป้าหมายเชิงปริมาณ", "ตัวอย่างเป้าหมาย"])
    for sheet, column in ((projects, "D"), (projects, "E"), (steps, "G")):
        validation = DataValidation(type="list", formula1=unit_list, allow_blank=True)
        validation.add(f"{column}2:{column}5000")
        sheet.add_data_validation(validation)
    kinds = DataValidation(type="list", formula1=f"={LISTS}!$C$1:$C${len(KINDS)}")
    kinds.add("F2:F5000")
    projects.add_data_validation(kinds)
    text_kinds = DataValidation(type="list", formula1=f"={LISTS}!$D$1:$D${len(TEXT_KINDS)}")
    text_kinds.add("B2:B5000")
    texts.add_data_validation(text_kinds)
    book.active = 1
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int
    column: str  # the letter
    header: str
    message: str

    @property
    def sheet_label(self) -> str:
        return str(SHEET_NAMES.get(self.sheet, self.sheet))


@dataclass
class StepRow:
    position: int
    name: str
    weight: Decimal
    start: date
    end: date
    unit_code: str


@dataclass
class PlanRow:
    """One project as the file gives it."""

    row: int
    code: str
    name: str
    be_year: int
    owner: str
    responsible: str
    kind: ProjectKind
    budget: Decimal
    rationale: str
    strategies: list[str]
    steps: list[StepRow] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    targets: list[tuple[TargetKind, str]] = field(default_factory=list)
    kpis: list[str] = field(default_factory=list)


@dataclass
class PlannedChange:
    plan: PlanRow
    action: str  # "create", "update", "unchanged", "locked"
    project: Project | None = None
    changed: list[str] = field(default_factory=list)


@dataclass
class Preview:
    changes: list[PlannedChange]
    problems: list[Problem]
    rows: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


def clean_text(value: Any) -> str:
    """Text as people mean it: NFC, Thai digits as Arabic, spaces (also non-breaking ones)
    collapsed and stripped; numbers Excel stored as floats without their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value)).replace("\u00a0", " ").replace("\u200b", "")
    return " ".join(to_arabic_digits(normalize_thai(text)).split())


#: How far down the header of a sheet may end (a title row and a two-row header fit).
HEADER_ROWS = 5
#: Columns read past the template's, to tell a column moved right from one gone.
SPARE_COLUMNS = 10


class _Cells:
    """The cells of a sheet by (row, column), merged ranges filled from their first cell."""

    def __init__(self, sheet: Any, width: int) -> None:
        self.values: dict[tuple[int, int], Any] = {}
        self.width = width + SPARE_COLUMNS
        for row in sheet.iter_rows(min_row=1, max_col=self.width):
            for cell in row:
                if cell.value is not None:
                    self.values[(cell.row, cell.column)] = cell.value
        for merged in sheet.merged_cells.ranges:
            first = self.values.get((merged.min_row, merged.min_col))
            for row_number in range(merged.min_row, merged.max_row + 1):
                for column in range(merged.min_col, merged.max_col + 1):
                    self.values[(row_number, column)] = first
        self.last_row = max((r for r, _c in self.values), default=0)
        # The header is the template's one row, or the last of the first rows whose first cell
        # is the code column's header: an office's file may put a title above it, or head its
        # columns in two rows with merged cells (merged down, the header fills both rows).
        self.first_row = 2
        code_header = clean_text(PROJECT_COLUMNS[0][1])
        for row in range(1, min(self.last_row, HEADER_ROWS) + 1):
            if clean_text(self.values.get((row, 1))) == code_header:
                self.first_row = row + 1


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.eras: list[tuple[str, Problem]] = []  # ("BE" | "CE", where)

    def problem(
        self, sheet: str, row: int, columns: tuple[tuple[str, str], ...], key: str, message: str
    ) -> None:
        index = [k for k, _h in columns].index(key)
        self.problems.append(Problem(sheet, row, _letter(index), columns[index][1], message))

    def where(
        self, sheet: str, row: int, columns: tuple[tuple[str, str], ...], key: str
    ) -> Problem:
        index = [k for k, _h in columns].index(key)
        return Problem(sheet, row, _letter(index), columns[index][1], "")

    def number(self, value: Any) -> Decimal | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | Decimal):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(repr(value))
        text = clean_text(value).replace(",", "").replace("บาท", "").replace("%", "").strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None

    def day(self, value: Any, where: Problem) -> date | None:
        """A date cell or text; an Excel date whose year is 2400 or later is a BE year typed
        into a date cell. Notes the era of each typed year (text, or BE in a date cell) to
        find files that mix them."""
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            if value.year >= 2400:
                self.eras.append(("BE", where))
                try:
                    return value.replace(year=value.year - 543)
                except ValueError:  # 29 February of a BE year that is not a CE leap year
                    return None
            # A real date of the Common Era is no sign of the file's era: Excel keeps every
            # date so, also those a Thai office sees in the Buddhist calendar.
            return value
        text = clean_text(value)
        digits = [int(part) for part in text.replace("-", "/").split("/") if part.isdigit()]
        year = max(digits) if digits else None
        try:
            found = read_day(text)
        except ValidationError:
            return None
        if year is not None and year >= 1900:
            self.eras.append(("BE" if year >= 2400 else "CE", where))
        return found


def _heading(value: Any) -> str:
    return clean_text(value).replace(" ", "")


def _check_header(reader: _Reader, name: str, cells: _Cells) -> None:
    """A problem for each column of the template the sheet's header row lacks or has
    elsewhere. Rows read under a wrong header are read shifted, a misleading problem in
    every cell, so a sheet with one of these is not read further."""
    if not cells.values:
        return  # an empty sheet: nothing to misread
    columns, row = COLUMNS[name], cells.first_row - 1
    found = [_heading(cells.values.get((row, column))) for column in range(1, cells.width + 1)]
    missing = [
        (i, header) for i, (_key, header) in enumerate(columns) if _heading(header) not in found
    ]
    for index, header in missing:
        reader.problems.append(
            Problem(
                name,
                row,
                _letter(index),
                header,
                _("the column %(header)s is missing", header=header),
            )
        )
    if missing:
        return
    for index, (_key, header) in enumerate(columns):
        if found[index] != _heading(header):
            reader.problems.append(
                Problem(
                    name,
                    row,
                    _letter(index),
                    header,
                    _(
                        "the column %(header)s is not in its place: the template has it as"
                        " column %(column)s",
                        header=header,
                        column=_letter(index),
                    ),
                )
            )


def _sheet(book: Any, name: str) -> Any:
    for sheet in book.worksheets:
        if clean_text(sheet.title) == name:
            return sheet
    return None


def read_plan(session: Session, user: User, data: bytes) -> Preview:
    """The preview of importing the workbook `data` as `user`: nothing is written."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    reader = _Reader()
    try:
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (BadZipFile, OSError, KeyError, ValueError):
        return Preview([], [Problem("", 0, "", "", _("the file is not an XLSX workbook"))], 0)
    sheets = {name: _sheet(book, name) for name in (PROJECTS, STEPS, TEXTS)}
    for name, sheet in sheets.items():
        if sheet is None and name != TEXTS:
            reader.problems.append(
                Problem(name, 0, "", "", _("the sheet %(sheet)s is missing", sheet=name))
            )
    if reader.problems:
        return Preview([], reader.problems, 0)
    cells = {
        name: _Cells(sheet, len(COLUMNS[name]))
        for name, sheet in sheets.items()
        if sheet is not None
    }
    for name, sheet_cells in cells.items():
        _check_header(reader, name, sheet_cells)
    if reader.problems:
        # The steps and texts name the projects: read under a header gone wrong, they too
        # would only repeat it, so none of the file is read further.
        return Preview([], _in_file_order(reader.problems), 0)
    plans = _read_projects(session, reader, cells[PROJECTS])
    if not plans and not reader.problems:
        # The template as downloaded: importing it would do nothing, and say it did.
        reader.problems.append(
            Problem(
                PROJECTS,
                0,
                "",
                "",
                _("the file holds no project: fill in the sheet %(sheet)s", sheet=PROJECTS),
            )
        )
    _read_steps(session, reader, cells[STEPS], plans)
    if TEXTS in cells:
        _read_texts(session, reader, cells[TEXTS], plans)
    _check_eras(reader)
    changes = _plan_changes(session, user, reader, plans)
    rows = sum(
        1 + len(p.steps) + len(p.objectives) + len(p.targets) + len(p.kpis) for p in plans.values()
    )
    return Preview(changes, _in_file_order(reader.problems), rows)


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(
        problems,
        key=lambda p: (
            list(SHEET_NAMES).index(p.sheet) if p.sheet in SHEET_NAMES else 9,
            p.row,
            p.column,
        ),
    )


def _read_projects(session: Session, reader: _Reader, cells: _Cells) -> dict[str, PlanRow]:
    columns = PROJECT_COLUMNS
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    strategies = set(session.scalars(select(StrategyNode.code)))
    years = set(session.scalars(select(FiscalYear.be_year)))
    plans: dict[str, PlanRow] = {}
    seen: Counter[str] = Counter()
    for row in range(cells.first_row, cells.last_row + 1):
        raw = {key: cells.values.get((row, i + 1)) for i, (key, _h) in enumerate(columns)}
        if all(clean_text(v) == "" for v in raw.values()):
            continue
        text = {key: clean_text(value) for key, value in raw.items()}
        for key in ("owner", "responsible"):
            text[key] = read_code(text[key])  # full-width digits too, as the admin pages read

        def bad(key: str, message: str, row: int = row) -> None:
            reader.problem(PROJECTS, row, columns, key, message)

        code = text["code"]
        if not code:
            bad("code", _("the project code is empty"))
            continue
        seen[code] += 1
        if seen[code] > 1:
            bad("code", _("project code %(code)s appears twice in the file", code=code))
            continue
        if not text["name"]:
            bad("name", _("the project name is empty"))
        year_number = reader.number(raw["year"])
        be_year = int(year_number) if year_number is not None else 0
        if 1900 <= be_year < 2400:
            bad(
                "year",
                _(
                    "%(year)s is a Common Era year: write the Buddhist Era year (%(be)s)",
                    year=be_year,
                    be=be_year + 543,
                ),
            )
        elif be_year not in years:
            bad("year", _("there is no fiscal year %(year)s", year=text["year"] or "—"))
        for key in ("owner", "responsible"):
            if text[key] not in units:
                bad(key, _("there is no unit with code %(code)s", code=text[key] or "—"))
        owner, responsible = units.get(text["owner"]), units.get(text["responsible"])
        if owner and responsible and not responsible.path.startswith(owner.path):
            bad("responsible", _("the responsible unit is not under the owning unit"))
        kind = KINDS.get(text["kind"]) or (
            ProjectKind(text["kind"]) if text["kind"] in {k.value for k in ProjectKind} else None
        )
        if kind is None:
            bad("kind", _("the kind is %(kinds)s", kinds=" / ".join(KINDS)))
        budget = reader.number(raw["budget"]) if text["budget"] else Decimal(0)
        if budget is None or budget < 0 or budget != budget.quantize(Decimal("0.01")):
            bad("budget", _("the budget is a number of baht such as 90000.00"))
            budget = Decimal(0)
        codes = [
            clean_text(c) for c in text["strategies"].replace("،", ",").split(",") if clean_text(c)
        ]
        for unknown in [c for c in codes if c not in strategies]:
            bad("strategies", _("there is no strategy with code %(code)s", code=unknown))
        plans[code] = PlanRow(
            row=row,
            code=code,
            name=text["name"],
            be_year=be_year,
            owner=text["owner"],
            responsible=text["responsible"],
            kind=kind or ProjectKind.ROUTINE,
            budget=budget.quantize(Decimal("0.01")),
            rationale=text["rationale"],
            strategies=sorted(set(codes)),
        )
    return plans


def _read_steps(
    session: Session, reader: _Reader, cells: _Cells, plans: dict[str, PlanRow]
) -> None:
    columns = STEP_COLUMNS
    units = set(session.scalars(select(OrgUnit.code)))
    bounds = {y.be_year: (y.starts_on, y.ends_on) for y in session.scalars(select(FiscalYear))}
    first_row: dict[str, int] = {}
    for row in range(cells.first_row, cells.last_row + 1):
        raw = {key: cells.values.get((row, i + 1)) for i, (key, _h) in enumerate(columns)}
        if all(clean_text(v) == "" for v in raw.values()):
            continue
        text = {key: clean_text(value) for key, value in raw.items()}
        text["unit"] = read_code(text["unit"])

        def bad(key: str, message: str, row: int = row) -> None:
            reader.problem(STEPS, row, columns, key, message)

        plan = plans.get(text["code"])
        if plan is None:
            bad(
                "code", _("project %(code)s is not on the projects sheet", code=text["code"] or "—")
            )
            continue
        first_row.setdefault(plan.code, row)
        position = reader.number(raw["position"])
        weight = reader.number(raw["weight"])
        start = reader.day(raw["start"], reader.where(STEPS, row, columns, "start"))
        end = reader.day(raw["end"], reader.where(STEPS, row, columns, "end"))
        if position is None or position < 1 or position != int(position):
            bad("position", _("the step number is a whole number from 1"))
            continue
        if weight is None or not Decimal(0) < weight <= Decimal(100):
            bad("weight", _("the weight is a percent more than 0 and at most 100"))
            weight = Decimal(0)
        if not text["name"]:
            bad("name", _("the step name is empty"))
        for key, day in (("start", start), ("end", end)):
            if day is None:
                bad(
                    key,
                    _("%(value)s is not a date: write it as 30/12/2565", value=text[key] or "—"),
                )
            elif (
                plan.be_year in bounds
                and not bounds[plan.be_year][0] <= day <= bounds[plan.be_year][1]
            ):
                bad(
                    key,
                    _("%(day)s is outside fiscal year %(year)s", day=text[key], year=plan.be_year),
                )
        if start and end and end < start:
            bad("end", _("the step ends before it starts"))
        if text["unit"] and text["unit"] not in units:
            bad("unit", _("there is no unit with code %(code)s", code=text["unit"]))
        if any(s.position == int(position) for s in plan.steps):
            bad(
                "position",
                _("step %(n)s of project %(code)s appears twice", n=int(position), code=plan.code),
            )
            continue
        plan.steps.append(
            StepRow(
                int(position),
                text["name"],
                weight.quantize(Decimal("0.01")),
                start or date.min,
                end or date.min,
                text["unit"],
            )
        )
    for plan in plans.values():
        plan.steps.sort(key=lambda s: s.position)
        total = sum((s.weight for s in plan.steps), Decimal(0))
        if plan.steps and total != 100:
            reader.problem(
                STEPS,
                first_row[plan.code],
                columns,
                "weight",
                _(
                    "the weights of project %(code)s add up to %(total)s, not 100",
                    code=plan.code,
                    total=f"{total.normalize():f}",
                ),
            )


def _read_texts(
    session: Session, reader: _Reader, cells: _Cells, plans: dict[str, PlanRow]
) -> None:
    columns = TEXT_COLUMNS
    # A KPI code is unique only within its fiscal year: a project links the KPI of its own.
    kpis = {
        (be_year, code)
        for be_year, code in session.execute(
            select(FiscalYear.be_year, Kpi.code).join(Kpi.fiscal_year)
        )
    }
    for row in range(cells.first_row, cells.last_row + 1):
        raw = {key: cells.values.get((row, i + 1)) for i, (key, _h) in enumerate(columns)}
        if all(clean_text(v) == "" for v in raw.values()):
            continue
        text = {key: clean_text(value) for key, value in raw.items()}
        plan = plans.get(text["code"])
        if plan is None:
            reader.problem(
                TEXTS,
                row,
                columns,
                "code",
                _("project %(code)s is not on the projects sheet", code=text["code"] or "—"),
            )
            continue
        kind, body = text["kind"], text["text"]
        if not body:
            reader.problem(TEXTS, row, columns, "text", _("the text is empty"))
        elif kind == "วัตถุประสงค์":
            plan.objectives.append(body)
        elif kind == "เป้าหมายเชิงปริมาณ":
            plan.targets.append((TargetKind.QUANTITY, body))
        elif kind == "เป้าหมายเชิงคุณภาพ":
            plan.targets.append((TargetKind.QUALITY, body))
        elif kind == "ตัวชี้วัด":
            if (plan.be_year, body) not in kpis:
                reader.problem(
                    TEXTS,
                    row,
                    columns,
                    "text",
                    _(
                        "there is no KPI with code %(code)s in fiscal year %(year)s",
                        code=body,
                        year=plan.be_year,
                    ),
                )
            else:
                plan.kpis.append(body)
        else:
            reader.problem(
                TEXTS,
                row,
                columns,
                "kind",
                _("the kind is %(kinds)s", kinds=" / ".join(TEXT_KINDS)),
            )


def _check_eras(reader: _Reader) -> None:
    eras = Counter(era for era, _where in reader.eras)
    if len(eras) < 2:
        return
    usual = eras.most_common(1)[0][0]
    for era, where in reader.eras:
        if era != usual:
            message = (
                _("this date is in the Common Era while the file writes Buddhist Era years")
                if usual == "BE"
                else _("this date is in the Buddhist Era while the file writes Common Era years")
            )
            reader.problems.append(
                Problem(where.sheet, where.row, where.column, where.header, message)
            )


# ---- comparing with what is there --------------------------------------------------------------


def _differences(project: Project, plan: PlanRow, kpis: list[str]) -> list[str]:
    found = []
    if project.name != plan.name:
        found.append("name")
    if project.kind != plan.kind:
        found.append("kind")
    if project.approved_budget != plan.budget:
        found.append("approved_budget")
    if project.rationale != plan.rationale:
        found.append("rationale")
    if project.owner_unit.code != plan.owner or project.responsible_unit.code != plan.responsible:
        found.append("units")
    if sorted(n.code for n in project.strategies) != plan.strategies:
        found.append("strategies")
    steps = [
        (
            s.position,
            s.name,
            s.weight,
            s.planned_start,
            s.planned_end,
            s.responsible_unit.code
            if s.responsible_unit and s.responsible_unit_id != project.responsible_unit_id
            else "",
        )
        for s in project.steps
    ]
    wanted = [
        (
            s.position,
            s.name,
            s.weight,
            s.start,
            s.end,
            s.unit_code if s.unit_code != plan.responsible else "",
        )
        for s in plan.steps
    ]
    if steps != wanted:
        found.append("steps")
    if [o.text for o in project.objectives] != plan.objectives or [
        (t.kind, t.text) for t in project.targets
    ] != plan.targets:
        found.append("texts")
    if plan.kpis and sorted(set(plan.kpis)) != kpis:
        found.append("kpis")
    return found


def _plan_changes(
    session: Session, user: User, reader: _Reader, plans: dict[str, PlanRow]
) -> list[PlannedChange]:
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    years = {y.be_year: y.id for y in session.scalars(select(FiscalYear))}
    existing: dict[tuple[int, str], Project] = {}
    codes = list(plans)
    for start in range(0, len(codes), 500):
        for known in session.scalars(
            select(Project)
            .where(Project.code.in_(codes[start : start + 500]))
            .options(
                selectinload(Project.steps),
                selectinload(Project.objectives),
                selectinload(Project.targets),
                selectinload(Project.strategies),
            )
        ):
            existing[(known.fiscal_year_id, known.code)] = known
    linked: dict[int, list[str]] = {}
    ids = [p.id for p in existing.values()]
    for start in range(0, len(ids), 500):
        for project_id, code in session.execute(
            select(kpi_project.c.project_id, Kpi.code)
            .join(Kpi, Kpi.id == kpi_project.c.kpi_id)
            .join(Project, Project.id == kpi_project.c.project_id)
            .where(
                kpi_project.c.project_id.in_(ids[start : start + 500]),
                Kpi.fiscal_year_id == Project.fiscal_year_id,
            )
        ):
            linked.setdefault(project_id, []).append(code)
    for codes_of in linked.values():
        codes_of.sort()
    changes = []
    for plan in plans.values():
        unit = units.get(plan.responsible)
        project = existing.get((years.get(plan.be_year, 0), plan.code))
        if unit is not None and not needs_role(session, user, DISTRICT, unit, ""):
            reader.problem(
                PROJECTS,
                plan.row,
                PROJECT_COLUMNS,
                "responsible",
                _("you may not plan projects of %(unit)s", unit=unit.name_th),
            )
            continue
        if project is None:
            changes.append(PlannedChange(plan, "create"))
        elif project.state is not ProjectState.DRAFT:
            changes.append(PlannedChange(plan, "locked", project))
        else:
            changed = _differences(project, plan, linked.get(project.id, []))
            changes.append(
                PlannedChange(plan, "update" if changed else "unchanged", project, changed)
            )
    return changes


# ---- applying ----------------------------------------------------------------------------------


def _fill_new_project(
    session: Session,
    user: User,
    project: Project,
    plan: PlanRow,
    units: dict[str, OrgUnit],
    strategies: dict[str, StrategyNode],
    kpis: dict[tuple[int, str], Kpi],
) -> None:
    """The steps, texts, strategies and KPI links of a project `create_project` has just
    made (a draft of the importer's own, checked already): added as rows, one audit row."""
    for step in plan.steps:
        session.add(
            PlanStep(
                project=project,
                position=step.position,
                name=step.name,
                weight=step.weight,
                planned_start=step.start,
                planned_end=step.end,
                responsible_unit=units.get(step.unit_code) or project.responsible_unit,
            )
        )
    for position, text in enumerate(plan.objectives, start=1):
        session.add(ProjectObjective(project=project, position=position, text=text))
    for position, (kind, text) in enumerate(plan.targets, start=1):
        session.add(ProjectTarget(project=project, position=position, kind=kind, text=text))
    project.strategies = [strategies[c] for c in plan.strategies]
    codes = sorted(set(plan.kpis))
    if codes:
        session.execute(
            kpi_project.insert(),
            [{"kpi_id": kpis[(plan.be_year, c)].id, "project_id": project.id} for c in codes],
        )
    record(
        session,
        action="project.plan_import",
        object_type="project",
        object_id=project.id,
        actor=user,
        changes={
            "steps": [[s.position, s.name, s.weight, s.start, s.end] for s in plan.steps],
            "objectives": len(plan.objectives),
            "targets": len(plan.targets),
            "strategies": plan.strategies,
            "kpis": codes,
        },
    )


def _update_draft(
    session: Session,
    user: User,
    project: Project,
    plan: PlanRow,
    units: dict[str, OrgUnit],
    strategies: dict[str, StrategyNode],
    kpis: dict[tuple[int, str], Kpi],
) -> None:
    """A draft already there, changed through the editor's own operations: steps the file
    no longer lists are removed first (refused, and so the whole import, for one that has
    results reported)."""
    listed = {step.position for step in plan.steps}
    extra = [step.position for step in project.steps if step.position not in listed]
    if extra:
        remove_steps(session, user, project, extra)
        session.expire(project, ["steps"])
    for step in plan.steps:
        save_step(
            session,
            user,
            project,
            position=step.position,
            name=step.name,
            weight=step.weight,
            planned_start=step.start,
            planned_end=step.end,
            responsible_unit=units.get(step.unit_code),
        )
    if (
        len(plan.objectives) >= len(project.objectives)
        and len(plan.targets) >= len(project.targets)
        and (plan.objectives or plan.targets)
    ):
        set_objectives_and_targets(session, user, project, plan.objectives, plan.targets)
    link_strategies(session, user, project, [strategies[c] for c in plan.strategies])
    wanted = [kpis[(plan.be_year, c)] for c in sorted(set(plan.kpis))]
    if wanted:
        for kpi in wanted:
            if project not in kpi.projects:
                kpi.projects.append(project)
        record(
            session,
            action="project.kpis",
            object_type="project",
            object_id=project.id,
            actor=user,
            changes={"kpis": [k.code for k in wanted]},
        )


def apply_plan(session: Session, user: User, preview: Preview) -> dict[str, int]:
    """Create and update what the preview says, through the projects' own operations (each
    checks and records), and set each change's project to the one made or updated; the
    caller commits once, or rolls back on Refused."""
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    years = {y.be_year: y for y in session.scalars(select(FiscalYear))}
    strategies = {n.code: n for n in session.scalars(select(StrategyNode))}
    kpis = {
        (k.fiscal_year.be_year, k.code): k
        for k in session.scalars(select(Kpi).options(selectinload(Kpi.fiscal_year)))
    }
    done: Counter[str] = Counter()
    for change in preview.changes:
        plan = change.plan
        if change.action in ("unchanged", "locked"):
            done[change.action] += 1
            continue
        if change.project is None:
            project = create_project(
                session,
                user,
                code=plan.code,
                name=plan.name,
                fiscal_year=years[plan.be_year],
                owner_unit=units[plan.owner],
                responsible_unit=units[plan.responsible],
                kind=plan.kind,
                approved_budget=plan.budget,
                rationale=plan.rationale,
            )
        else:
            project = change.project
            update_project(
                session,
                user,
                project,
                {
                    "name": plan.name,
                    "kind": plan.kind,
                    "approved_budget": plan.budget,
                    "rationale": plan.rationale,
                },
            )
        if change.project is None:
            _fill_new_project(session, user, project, plan, units, strategies, kpis)
        else:
            _update_draft(session, user, project, plan, units, strategies, kpis)
        change.project = project  # for the answer to lead on to it
        done[change.action] += 1
    session.flush()
    return dict(done)

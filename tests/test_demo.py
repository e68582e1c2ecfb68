"""The demo is the legacy page: every value on it, read from the legacy text itself, is in the
database after `demo-data`, and loading twice changes nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from service.budget.models import Allocation
from service.core.thai import to_arabic_digits
from service.demo.load import load_demo
from service.evaluations.models import Evaluation
from service.kpis.models import Kpi
from service.models import Base
from service.org.models import OrgUnit, Role, RoleAssignment, UnitKind
from service.projects.models import Project
from service.projects.queries import project_progress
from tests.conftest import LEGACY_PAGE

LINES = [line.strip() for line in LEGACY_PAGE.read_text(encoding="utf-8").splitlines()]


def plain(value: Decimal) -> str:
    """20.00 → "20", 3.50 → "3.5": numbers as the legacy page prints them."""
    return format(value.normalize(), "f")


def line_after(heading: str, skip: int = 1) -> str:
    """The first non-empty line `skip` lines of content below `heading`."""
    index = LINES.index(heading)
    content = [line for line in LINES[index + 1 :] if line]
    return content[skip - 1]


@pytest.fixture
def project(session: Session) -> Project:
    code = re.search(r"(\d{8}-\d+)", LINES[5])
    assert code
    found = session.scalar(select(Project).where(Project.code == code.group(1)))
    assert found is not None
    return found


def test_identity(project: Project) -> None:
    name, code = LINES[5].split(" : ")
    agency, year = LINES[7].split(" : ")
    assert (project.name, project.code) == (name, code)
    assert project.owner_unit.name_th == agency
    assert project.owner_unit.kind is UnitKind.DISTRICT_OFFICE
    assert project.fiscal_year.be_year == int(year.strip("()"))
    assert project.responsible_unit.name_th == LINES[13]
    assert project.unit_codes == line_after("หลักการและเหตุผล", 2)


def test_texts(project: Project) -> None:
    assert project.rationale == line_after("หลักการและเหตุผล")
    objectives = line_after("วัตถุประสงค์ของโครงการ")
    numbered = " ".join(f"2.{o.position} {o.text}" for o in project.objectives)
    assert numbered == objectives
    targets = line_after("เป้าหมายของโครงการ")
    for target in project.targets:
        assert f"- {target.text}" in targets
    quantity = [t for t in project.targets if t.kind.value == "quantity"]
    quality = [t for t in project.targets if t.kind.value == "quality"]
    assert (
        targets.index(quantity[-1].text)
        < targets.index("3.2 ด้านคุณภาพ")
        < targets.index(quality[0].text)
    )


def test_strategy_path(project: Project) -> None:
    start = LINES.index("สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ") + 2
    path_lines = LINES[start : start + 4]
    node = project.strategies[0]
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    chain.reverse()
    assert [n.level for n in chain] == [1, 2, 3, 4]
    for node, line in zip(chain, path_lines, strict=True):
        code = to_arabic_digits(line.removeprefix("ยุทธศาสตร์ที่ ").split(" ")[0])
        assert node.code == code
        assert node.name in line
        assert line.rstrip("%").endswith(node.name)


def test_steps(project: Project) -> None:
    start = LINES.index("แผนการดำเนินงานฯ")
    for step in project.steps:
        at = LINES.index(f"ขั้นตอน {step.position}", start)
        assert LINES[at + 1] == f":{step.name}"
        assert LINES[at + 2] == f":{plain(step.weight)}%"
        assert LINES[at + 3] == f"เริ่มต้น :{step.planned_start.isoformat()} 00:00:00"
        assert LINES[at + 4] == f"สิ้นสุด :{step.planned_end.isoformat()} 00:00:00"
    assert len(project.steps) == sum(1 for line in LINES if line.startswith("ขั้นตอน "))
    assert sum(step.weight for step in project.steps) == 100


def test_progress_report(project: Project) -> None:
    (report,) = project.reports
    heading = LINES[LINES.index("ผลการดำเนินงาน") + 2]
    assert heading == f"(1) ความคืบหน้าโครงการฯ ร้อยละ {report.percent} ({report.reported_on})"
    be = report.reported_on.replace(year=report.reported_on.year + 543)
    assert f"{be:%d/%m/%Y} : {report.narrative}" in LINES
    assert f"** ปัญหาของโครงการ :{report.problems}" in LINES
    assert f"** อุปสรรคของโครงการ :{report.obstacles}" in LINES


def test_progress_is_derived_from_accepted_results(session: Session, project: Project) -> None:
    shown = LINES[LINES.index("ความคืบหน้าโครงการ ร้อยละ 20") - 2]
    assert project_progress(session, project.id) == Decimal(shown)


def test_kpi_and_its_quarters(session: Session, project: Project) -> None:
    code = LINES[LINES.index("สนับสนุนตัวชี้วัดตามแผนฯ") + 2].split(" : ")[1]
    kpi = session.scalar(select(Kpi).where(Kpi.code == code))
    assert kpi is not None
    assert project in kpi.projects
    assert f"ตัวชี้วัด : {kpi.name}" in LINES
    assert f"ค่าเป้าหมาย {kpi.unit_label} : {plain(kpi.target)}" in LINES
    assert "ประเภทตัวชี้วัด : ตัวชี้วัดงานประจำ" in LINES and kpi.kpi_type.value == "routine"
    assert f"ตัวชี้วัดระดับผลผลิต ({kpi.level.value})" in LINES
    start = LINES.index("(* 2.1 / 2.2 *)")
    for result in kpi.results:
        at = LINES.index(str(result.quarter), start)
        assert LINES[at + 1] == f"{result.value:.2f}"
        assert LINES[at + 3] == f"{result.numerator:.0f} / {result.denominator:.0f}"


def test_evaluation(session: Session, project: Project) -> None:
    match = re.fullmatch(r"\*\*\* สยป\. ประเมินโครงการ : ไตรมาสที่ (\d) (\d+)", LINES[17])
    assert match
    evaluation = session.scalar(select(Evaluation).where(Evaluation.project_id == project.id))
    assert evaluation is not None
    assert evaluation.quarter == int(match.group(1))
    assert evaluation.score == Decimal(match.group(2))
    assert evaluation.state.value == "published"


def test_budget_to_networks(session: Session, project: Project) -> None:
    targets = line_after("เป้าหมายของโครงการ")
    networks = re.search(r"จำนวน (\d+) เครือข่าย \((\d+),(\d+)\)", targets)
    each = re.search(r"เครือข่ายละ ([\d,]+) บาท \((\S+)\)", targets)
    assert networks and each
    allocations = session.scalars(select(Allocation).where(Allocation.project_id == project.id))
    by_network = {a.recipient_unit.name_th: a.amount for a in allocations}
    amount = Decimal(each.group(1).replace(",", ""))
    assert by_network == {f"เครือข่าย {n}": amount for n in networks.group(2, 3)}
    from service.core.thai import bahttext

    assert bahttext(amount) == each.group(2)
    assert project.approved_budget == amount * int(networks.group(1))


def test_networks_have_three_schools_each_and_one_user_per_role(session: Session) -> None:
    for code in ("50230771", "50230772"):
        network = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        assert network is not None
        assert len([c for c in network.children if c.kind is UnitKind.SCHOOL]) >= 3
    roles = set(session.scalars(select(RoleAssignment.role)))
    assert roles == set(Role)


def test_loading_twice_changes_nothing(app: Flask, session: Session) -> None:
    def counts() -> dict[str, int]:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }

    before = counts()
    load_demo(session)
    session.flush()
    assert counts() == before
    assert session.scalar(text("SELECT count(*) FROM project")) == 1


def test_loading_names_no_person_as_having_acted(session: Session) -> None:
    """The demo's history said the director approved allocation #1 when the demo was loaded
    (and the page said 4 Nov 2565 beside it): loading is nobody's act, recorded as the
    system's. Who approved what, and when, stays on the approvals."""
    from service.audit.models import AuditEntry

    loaded = session.scalars(select(AuditEntry).where(AuditEntry.action == "demo.load")).all()
    assert loaded and all(entry.actor_id is None for entry in loaded)

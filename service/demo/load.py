"""The demo: the BMA org tree around Bang Khun Thian and project 50230000-3598 as the legacy
page shows it, with one user per role. Loading twice changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.audit.operations import record
from service.budget.models import (
    Allocation,
    AllocationState,
    Approval,
    Installment,
    InstallmentState,
)
from service.core.fiscal import fiscal_year_bounds, quarter_of
from service.demo import legacy_project as legacy
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiLevel, KpiQuarterResult, KpiType, MeasureKind
from service.org.models import OrgUnit, Role, UnitKind, User
from service.org.operations import create_unit, create_user, grant_role
from service.projects.models import (
    PlanStep,
    ProgressReport,
    Project,
    ProjectKind,
    ProjectObjective,
    ProjectState,
    ProjectTarget,
    ResultState,
    StepResult,
    TargetKind,
)
from service.strategy.models import StrategyNode

# (code, Thai name, English name, kind, parent code)
UNITS: list[tuple[str, str, str, UnitKind, str | None]] = [
    (
        "10000000",
        "กรุงเทพมหานคร",
        "Bangkok Metropolitan Administration",
        UnitKind.ADMINISTRATION,
        None,
    ),
    (
        "11000000",
        "สำนักยุทธศาสตร์และประเมินผล",
        "Strategy and Evaluation Department",
        UnitKind.DEPARTMENT,
        "10000000",
    ),
    (
        "50230000",
        legacy.AGENCY,
        "Bang Khun Thian District Office",
        UnitKind.DISTRICT_OFFICE,
        "10000000",
    ),
    ("50230700", legacy.DIVISION, "Education Division", UnitKind.DIVISION, "50230000"),
    ("50230771", "เครือข่าย 71", "School network 71", UnitKind.SCHOOL_NETWORK, "50230700"),
    ("50230772", "เครือข่าย 72", "School network 72", UnitKind.SCHOOL_NETWORK, "50230700"),
    ("5023077101", "โรงเรียนวัดหัวกระบือ", "Wat Hua Krabue School", UnitKind.SCHOOL, "50230771"),
    ("5023077102", "โรงเรียนวัดบางกระดี่", "Wat Bang Kradi School", UnitKind.SCHOOL, "50230771"),
    ("5023077103", "โรงเรียนวัดกก", "Wat Kok School", UnitKind.SCHOOL, "50230771"),
    ("5023077201", "โรงเรียนวัดพรหมรังษี", "Wat Phrom Rangsi School", UnitKind.SCHOOL, "50230772"),
    (
        "5023077202",
        "โรงเรียนคลองพิทยาลงกรณ์",
        "Khlong Phitthayalongkon School",
        UnitKind.SCHOOL,
        "50230772",
    ),
    ("5023077203", "โรงเรียนบ้านขุนประเทศ", "Ban Khun Prathet School", UnitKind.SCHOOL, "50230772"),
]

# (role, email, name, password, unit code, head of unit)
USERS: list[tuple[Role, str, str, str, str, bool]] = [
    (
        Role.SCHOOL,
        "school@demo.tidtam.local",
        "ครูสมศรี ใจดี",
        "demo-school-2566",
        "5023077101",
        False,
    ),
    (
        Role.OFFICER,
        "officer@demo.tidtam.local",
        "นายสมชาย รักงาน",
        "demo-officer-2566",
        "50230700",
        True,
    ),
    (
        Role.APPROVER,
        "approver@demo.tidtam.local",
        "นางวิไล ผู้อำนวยการ",
        "demo-approver-2566",
        "50230000",
        True,
    ),
    (
        Role.EVALUATOR,
        "evaluator@demo.tidtam.local",
        "นางสาวประไพ ประเมิน",
        "demo-evaluator-2566",
        "11000000",
        False,
    ),
    (
        Role.ADMIN,
        "admin@demo.tidtam.local",
        "นายสมศักดิ์ ดูแลระบบ",
        "demo-admin-2566",
        "10000000",
        False,
    ),
]

# Officers approve up to this; above it the district approver must approve too.
DISTRICT_APPROVAL_LIMIT = Decimal("50000.00")


def _load_units(session: Session) -> dict[str, OrgUnit]:
    units: dict[str, OrgUnit] = {}
    for code, name_th, name_en, kind, parent_code in UNITS:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        if unit is None:
            parent = units[parent_code] if parent_code else None
            unit = create_unit(
                session, code=code, name_th=name_th, name_en=name_en, kind=kind, parent=parent
            )
        units[code] = unit
    district = units["50230000"]
    if district.approval_limit is None:
        district.approval_limit = DISTRICT_APPROVAL_LIMIT
        district.approvals_required = 2
    return units


def _load_users(session: Session, units: dict[str, OrgUnit]) -> dict[Role, User]:
    users: dict[Role, User] = {}
    for role, email, name, password, unit_code, is_head in USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(session, email=email, name=name, password=password)
        grant_role(session, user, role, units[unit_code], is_head=is_head)
        users[role] = user
    return users


def _load_fiscal_years(session: Session) -> dict[int, FiscalYear]:
    years: dict[int, FiscalYear] = {}
    for be_year in (2566, 2567):
        year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
        if year is None:
            starts_on, ends_on = fiscal_year_bounds(be_year)
            year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
            session.add(year)
        years[be_year] = year
    session.flush()
    return years


def _load_strategy(session: Session) -> list[StrategyNode]:
    nodes: list[StrategyNode] = []
    parent: StrategyNode | None = None
    for code, level, name in legacy.STRATEGY_PATH:
        node = session.scalar(select(StrategyNode).where(StrategyNode.code == code))
        if node is None:
            node = StrategyNode(code=code, level=level, name=name, parent=parent)
            session.add(node)
        nodes.append(node)
        parent = node
    session.flush()
    return nodes


def _at(day: str, hour: int = 3) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _load_project(
    session: Session,
    units: dict[str, OrgUnit],
    users: dict[Role, User],
    year: FiscalYear,
    strategy: list[StrategyNode],
) -> Project:
    existing = session.scalar(
        select(Project).where(Project.code == legacy.CODE, Project.fiscal_year_id == year.id)
    )
    if existing is not None:
        return existing
    officer, approver = users[Role.OFFICER], users[Role.APPROVER]
    division, district = units["50230700"], units["50230000"]
    networks = [units["50230771"], units["50230772"]]
    budget = Decimal(legacy.NETWORK_BUDGET)
    project = Project(
        code=legacy.CODE,
        fiscal_year=year,
        name=legacy.NAME,
        owner_unit=district,
        responsible_unit=division,
        kind=ProjectKind.ROUTINE,
        rationale=legacy.RATIONALE,
        unit_codes=legacy.UNIT_CODES,
        contact_name=officer.name,
        contact_phone="02-415-0021 ต่อ 7011",
        approved_budget=budget * len(networks),
        state=ProjectState.LOCKED,
        strategies=[strategy[-1]],
    )
    session.add(project)
    for position, text in enumerate(legacy.OBJECTIVES, start=1):
        session.add(ProjectObjective(project=project, position=position, text=text))
    for position, (kind, text) in enumerate(legacy.TARGETS, start=1):
        session.add(
            ProjectTarget(project=project, position=position, kind=TargetKind(kind), text=text)
        )
    schools = [u for u in units.values() if u.kind is UnitKind.SCHOOL]
    steps: list[PlanStep] = []
    for position, (name, start, end) in enumerate(legacy.STEPS, start=1):
        step = PlanStep(
            project=project,
            position=position,
            name=name,
            weight=Decimal("20"),
            planned_start=date.fromisoformat(start),
            planned_end=date.fromisoformat(end),
            responsible_unit=division,
        )
        session.add(step)
        steps.append(step)
    session.flush()
    # Step 1 is done and accepted: that alone is the 20 % the legacy page reports.
    session.add(
        StepResult(
            step=steps[0],
            unit=division,
            state=ResultState.ACCEPTED,
            completion=Decimal("100"),
            accepted_completion=Decimal("100"),
            narrative=legacy.REPORT["narrative"],
            submitted_by=officer,
            submitted_at=_at("2022-10-01"),
            reviewed_by=approver,
            reviewed_at=_at("2022-10-03"),
        )
    )
    session.add(StepResult(step=steps[1], unit=division, state=ResultState.NOT_STARTED))
    for step in steps[2:4]:
        for school in schools:
            session.add(StepResult(step=step, unit=school, state=ResultState.NOT_STARTED))
    session.add(StepResult(step=steps[4], unit=division, state=ResultState.NOT_STARTED))
    session.add(
        ProgressReport(
            project=project,
            reported_on=date.fromisoformat(legacy.REPORT["reported_on"]),
            percent=Decimal(legacy.REPORT["percent"]),
            narrative=legacy.REPORT["narrative"],
            problems=legacy.REPORT["problems"],
            obstacles=legacy.REPORT["obstacles"],
            author=officer,
            created_at=_at(legacy.REPORT["reported_on"], 9),
        )
    )
    for network in networks:
        allocation = Allocation(
            project=project,
            recipient_unit=network,
            amount=budget,
            purpose=legacy.TARGETS[1][1],
            state=AllocationState.APPROVED,
            created_by_id=officer.id,
            created_at=_at("2022-11-01"),
        )
        session.add(allocation)
        session.flush()
        for level, approver_user, day in ((1, officer, "2022-11-01"), (2, approver, "2022-11-02")):
            session.add(
                Approval(
                    subject_type="allocation",
                    subject_id=allocation.id,
                    level=level,
                    approver_id=approver_user.id,
                    amount=budget,
                    approved_at=_at(day),
                )
            )
        installment = Installment(
            allocation=allocation,
            amount=budget,
            state=InstallmentState.APPROVED,
            purpose=legacy.STEPS[0][0],
            requested_by_id=officer.id,
            requested_at=_at("2022-11-03"),
        )
        session.add(installment)
        session.flush()
        session.add(
            Approval(
                subject_type="installment",
                subject_id=installment.id,
                level=1,
                approver_id=approver.id,
                amount=budget,
                approved_at=_at("2022-11-04"),
            )
        )
        # Loaded, not done by anyone: no person is named as having approved it now (the
        # approvals keep who approved and when).
        record(
            session,
            action="demo.load",
            object_type="allocation",
            object_id=allocation.id,
            from_state=None,
            to_state=allocation.state.value,
        )
        record(
            session,
            action="demo.load",
            object_type="installment",
            object_id=installment.id,
            from_state=None,
            to_state=installment.state.value,
        )
    session.flush()
    record(
        session,
        action="demo.load",
        object_type="project",
        object_id=project.id,
        from_state=None,
        to_state=project.state.value,
    )
    return project


def _load_kpi(
    session: Session, units: dict[str, OrgUnit], year: FiscalYear, project: Project
) -> Kpi:
    existing = session.scalar(
        select(Kpi).where(Kpi.code == legacy.KPI["code"], Kpi.fiscal_year_id == year.id)
    )
    if existing is not None:
        return existing
    kpi = Kpi(
        code=legacy.KPI["code"],
        fiscal_year=year,
        name=legacy.KPI["name"],
        definition="โครงการงานประจำของหน่วยงานที่ดำเนินการสำเร็จตามเป้าหมาย / โครงการงานประจำทั้งหมด",
        unit_label=legacy.KPI["unit_label"],
        measure_kind=MeasureKind.PERCENT,
        target=Decimal(legacy.KPI["target"]),
        kpi_type=KpiType(legacy.KPI["kpi_type"]),
        level=KpiLevel(legacy.KPI["level"]),
        owner_unit=units["50230000"],
        computation="routine_projects_on_target",
        projects=[project],
    )
    session.add(kpi)
    for quarter in range(1, 5):
        session.add(
            KpiQuarterResult(
                kpi=kpi,
                quarter=quarter,
                value=Decimal("0"),
                numerator=Decimal("0"),
                denominator=Decimal("0"),
            )
        )
    session.flush()
    return kpi


def _load_evaluation(
    session: Session, users: dict[Role, User], year: FiscalYear, project: Project
) -> None:
    quarter = int(str(legacy.EVALUATION["quarter"]))
    exists = session.scalar(
        select(Evaluation.id).where(
            Evaluation.project_id == project.id,
            Evaluation.fiscal_year_id == year.id,
            Evaluation.quarter == quarter,
        )
    )
    if exists is not None:
        return
    published = _at("2023-04-10")
    assert quarter_of(published.date()) == 3  # scored after Q2 ended
    evaluation = Evaluation(
        subject_type="project",
        project=project,
        fiscal_year=year,
        quarter=quarter,
        state=EvaluationState.PUBLISHED,
        score=Decimal(str(legacy.EVALUATION["score"])),
        evaluator=users[Role.EVALUATOR],
        scored_at=published,
        published_at=published,
    )
    session.add(evaluation)
    session.flush()
    record(
        session,
        action="demo.load",
        object_type="evaluation",
        object_id=evaluation.id,
        from_state=None,
        to_state=evaluation.state.value,
    )


def load_demo(session: Session) -> list[tuple[str, str, str]]:
    """Load the demo into `session` (flushes, does not commit) and return the demo logins
    as (role, email, password). Idempotent: a second run finds everything and adds nothing."""
    units = _load_units(session)
    users = _load_users(session, units)
    years = _load_fiscal_years(session)
    strategy = _load_strategy(session)
    project = _load_project(session, units, users, years[legacy.FISCAL_YEAR], strategy)
    _load_kpi(session, units, years[legacy.FISCAL_YEAR], project)
    _load_evaluation(session, users, years[legacy.FISCAL_YEAR], project)
    session.flush()
    return [(role.value, email, password) for role, email, _name, password, *_rest in USERS]

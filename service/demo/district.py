"""A living demo district beside the legacy project: a few dozen projects of the fiscal year
the service's clock is in and of the year before, so that every page and alert shows what it
does on an ordinary day (issue 14 §3).

Everything is derived from a project's serial number and the day it is loaded, never from a
random source: results in every state, allocations and installments in every state, progress
reports, KPIs with quarterly results, evaluations draft and published, steps overdue. Each
project is looked up by its code first, so loading twice (on the same day or any later one)
adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
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
from service.core.fiscal import fiscal_year_bounds, fiscal_year_of, quarter_bounds, quarter_of
from service.demo.load import DISTRICT_APPROVAL_LIMIT
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi, KpiLevel, KpiQuarterResult, KpiType, MeasureKind
from service.org.models import Delegation, OrgUnit, Role, UnitKind, User
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

AGENCY = "50230000"
#: Projects of the current fiscal year and of the one before.
CURRENT_PROJECTS = 30
LAST_YEAR_PROJECTS = 12

#: A third school network with schools of its own (the legacy tree has 71 and 72).
UNITS: list[tuple[str, str, str, UnitKind, str]] = [
    ("50230773", "เครือข่าย 73", "School network 73", UnitKind.SCHOOL_NETWORK, "50230700"),
    ("5023077301", "โรงเรียนวัดสิงห์", "Wat Sing School", UnitKind.SCHOOL, "50230773"),
    ("5023077302", "โรงเรียนวัดแสมดำ", "Wat Samae Dam School", UnitKind.SCHOOL, "50230773"),
    ("5023077303", "โรงเรียนคลองบางบอน", "Khlong Bang Bon School", UnitKind.SCHOOL, "50230773"),
]

#: More people of the district: a clerk in other schools, a second approver and a deputy
#: who acts for the district approver while she is away.
USERS: list[tuple[Role, str, str, str, str]] = [
    (Role.SCHOOL, "school2@demo.tidtam.local", "ครูมานพ ตั้งใจ", "demo-school2-2566", "5023077201"),
    (Role.SCHOOL, "school3@demo.tidtam.local", "ครูสุดา ขยัน", "demo-school3-2566", "5023077301"),
    (
        Role.OFFICER,
        "deputy@demo.tidtam.local",
        "นายประเสริฐ รองผู้อำนวยการ",
        "demo-deputy-2566",
        "50230700",
    ),
]

TOPICS = [
    "ส่งเสริมการอ่านออกเขียนได้",
    "พัฒนาทักษะคณิตศาสตร์",
    "ห้องเรียนภาษาอังกฤษ",
    "อาหารกลางวันและโภชนาการ",
    "ความปลอดภัยในโรงเรียน",
    "ลูกเสือและเนตรนารี",
    "พัฒนาครูด้านดิจิทัล",
    "ห้องสมุดมีชีวิต",
    "ดนตรีและนาฏศิลป์",
    "กีฬาเพื่อสุขภาพ",
    "ป้องกันยาเสพติด",
    "อนุรักษ์สิ่งแวดล้อม",
]
#: Each project's plan: its steps' weights (sum 100), whether the network's schools report
#: them (else the division does) and their names.
PLANS: list[list[tuple[Decimal, bool, str]]] = [
    [
        (Decimal(20), False, "ขออนุมัติโครงการและเงินประจำงวด"),
        (Decimal(20), True, "ประชุมชี้แจงครูในโรงเรียน"),
        (Decimal(20), True, "ดำเนินกิจกรรมในโรงเรียน"),
        (Decimal(20), True, "นิเทศและติดตามผลในโรงเรียน"),
        (Decimal(20), False, "สรุปและรายงานผลการดำเนินงาน"),
    ],
    [
        (Decimal(10), True, "สำรวจความต้องการของนักเรียน"),
        (Decimal(30), True, "จัดหาสื่อและวัสดุ"),
        (Decimal(40), True, "ดำเนินกิจกรรมในโรงเรียน"),
        (Decimal(20), False, "สรุปและรายงานผลการดำเนินงาน"),
    ],
    [
        (Decimal(25), True, "อบรมครูผู้รับผิดชอบ"),
        (Decimal(25), True, "ดำเนินกิจกรรมภาคเรียนที่ 1"),
        (Decimal(25), True, "ดำเนินกิจกรรมภาคเรียนที่ 2"),
        (Decimal(25), False, "สรุปและรายงานผลการดำเนินงาน"),
    ],
]
PROJECT_STATES = [
    ProjectState.LOCKED,
    ProjectState.LOCKED,
    ProjectState.LOCKED,
    ProjectState.DRAFT,
    ProjectState.LOCKED,
    ProjectState.SUBMITTED,
    ProjectState.LOCKED,
    ProjectState.REVISION_REQUESTED,
    ProjectState.LOCKED,
    ProjectState.CLOSED,
]
NETWORKS = ["50230771", "50230772", "50230773"]
FIRST_STEP_DAYS = 45


def _at(day: date, hour: int = 3) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _year(session: Session, be_year: int) -> FiscalYear:
    year = session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
    if year is None:
        starts_on, ends_on = fiscal_year_bounds(be_year)
        year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on, is_open=True)
        session.add(year)
        session.flush()
    return year


def _units(session: Session) -> dict[str, OrgUnit]:
    units = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.like("5023%")))}
    for code, name_th, name_en, kind, parent in UNITS:
        if code not in units:
            units[code] = create_unit(
                session,
                code=code,
                name_th=name_th,
                name_en=name_en,
                kind=kind,
                parent=units[parent],
            )
    return units


def _people(
    session: Session, units: dict[str, OrgUnit], today: date
) -> tuple[dict[str, User], list[tuple[str, str, str]]]:
    people = {u.email: u for u in session.scalars(select(User).where(User.email.like("%@demo.%")))}
    logins = []
    for role, email, name, password, unit_code in USERS:
        if email not in people:
            people[email] = create_user(session, email=email, name=name, password=password)
            grant_role(session, people[email], role, units[unit_code])
        logins.append((role.value, email, password))
    for unit in units.values():
        email = clerk_email(unit.code)
        if unit.kind is UnitKind.SCHOOL and email not in people:
            people[email] = create_user(
                session, email=email, name=f"ครูธุรการ{unit.name_th}", password="demo-school-2566"
            )
            grant_role(session, people[email], Role.SCHOOL, unit)
    approver = people["approver@demo.tidtam.local"]
    deputy = people["deputy@demo.tidtam.local"]
    held = session.scalar(
        select(Delegation.id).where(
            Delegation.principal_id == approver.id, Delegation.delegate_id == deputy.id
        )
    )
    if held is None:
        session.add(
            Delegation(
                principal=approver,
                delegate=deputy,
                starts_on=today - timedelta(days=7),
                ends_on=today + timedelta(days=60),
                reason="ผู้อำนวยการเขตไปราชการต่างประเทศ",
            )
        )
    session.flush()
    return people, logins


#: The demo's named school clerks; the other schools' clerks are school-<code>@demo.….
CLERKS = {
    "5023077101": "school@demo.tidtam.local",
    "5023077201": "school2@demo.tidtam.local",
    "5023077301": "school3@demo.tidtam.local",
}


def clerk_email(school_code: str) -> str:
    return CLERKS.get(school_code, f"school-{school_code}@demo.tidtam.local")


def _result_state(serial: int, step: tuple[date, date], reporter: int, today: date) -> ResultState:
    """A result's state from where its step lies against today: ahead not started; long
    over mostly accepted (a few still open, overdue); under way or lately over, every state
    a result can be in, in turn."""
    start, end = step
    if start > today:
        return ResultState.NOT_STARTED
    turn = (serial + reporter) % 6
    if (today - end).days > 120:
        return ResultState.ACCEPTED if turn != 5 else ResultState.IN_PROGRESS
    return [
        ResultState.ACCEPTED,
        ResultState.SUBMITTED,
        ResultState.RETURNED,
        ResultState.IN_PROGRESS,
        ResultState.SUBMITTED,
        ResultState.NOT_STARTED,
    ][turn]


def _add_results(
    session: Session,
    step: PlanStep,
    units: Sequence[OrgUnit],
    serial: int,
    today: date,
    people: dict[str, User],
) -> list[ResultState]:
    officer = people["officer@demo.tidtam.local"]
    deputy = people["deputy@demo.tidtam.local"]
    states = []
    for index, unit in enumerate(units):
        state = _result_state(serial, (step.planned_start, step.planned_end), index, today)
        result = StepResult(step=step, unit=unit, state=state)
        if state is not ResultState.NOT_STARTED:
            result.completion = (
                Decimal(100) if state is not ResultState.IN_PROGRESS else Decimal(40)
            )
            result.narrative = f"{unit.name_th}: ดำเนินการ{step.name}"
        if state in (ResultState.SUBMITTED, ResultState.ACCEPTED, ResultState.RETURNED):
            submitted = min(step.planned_end, today - timedelta(days=1))
            # Each school's own clerk; the division's results by the second officer, so
            # that the officer, who reviews, did not submit them.
            clerk = people.get(clerk_email(unit.code)) if unit.kind is UnitKind.SCHOOL else None
            result.submitted_by = clerk or deputy
            result.submitted_at = _at(submitted)
            if state is not ResultState.SUBMITTED:
                result.reviewed_by = officer
                result.reviewed_at = _at(min(submitted + timedelta(days=2), today))
        if state is ResultState.ACCEPTED:
            result.accepted_completion = Decimal(100)
        if state is ResultState.RETURNED:
            result.review_reason = "หลักฐานไม่ครบ: แนบรายชื่อผู้เข้าร่วมกิจกรรม"
        session.add(result)
        states.append(state)
    return states


#: Allocation states still asking for money: submitting or approving it, or (approved) an
#: installment requested on it.
WAITS_FOR_MONEY = (
    AllocationState.DRAFT,
    AllocationState.SUBMITTED,
    AllocationState.RETURNED,
    AllocationState.APPROVED,
)


def _add_budget(
    session: Session,
    project: Project,
    serial: int,
    network: OrgUnit,
    people: dict[str, User],
    today: date,
) -> None:
    """One allocation per project to its network, in a state chosen by the serial; the paid
    and approved ones with installments in every state."""
    officer = people["officer@demo.tidtam.local"]
    approver = people["approver@demo.tidtam.local"]
    states = list(AllocationState)
    state = states[serial % len(states)] if project.state is not ProjectState.DRAFT else None
    if state is None:
        return
    if project.state is ProjectState.CLOSED and state in WAITS_FOR_MONEY:
        # No money of a closed project is asked for or approved any more (NO_NEW_MONEY): its
        # allocation was settled before it closed. Approved installments are still paid.
        state = AllocationState.COMPLETED
    amount = project.approved_budget * 4 / 5
    created = min(project.fiscal_year.starts_on + timedelta(days=20), today)
    allocation = Allocation(
        project=project,
        recipient_unit=network,
        amount=amount,
        purpose="ค่าวัสดุและค่าอาหารสำหรับกิจกรรมของโรงเรียน",
        state=state,
        created_by_id=officer.id,
        created_at=_at(created),
        submitted_at=_at(created) if state is not AllocationState.DRAFT else None,
    )
    session.add(allocation)
    session.flush()
    # Above the officer's limit an officer who did not prepare it endorses first (level 1)
    # and the approver approves (level 2): a submitted one waits in the approver's list.
    deciders = [approver]
    if amount > DISTRICT_APPROVAL_LIMIT:
        deciders = [people["deputy@demo.tidtam.local"], approver]
    if state is AllocationState.SUBMITTED:
        deciders = deciders[:-1]
    if state in (AllocationState.SUBMITTED, AllocationState.DRAFT, AllocationState.RETURNED):
        deciders = deciders if state is AllocationState.SUBMITTED else []
    elif state in (AllocationState.REJECTED, AllocationState.WITHDRAWN):
        deciders = []
    for level, decider in enumerate(deciders, start=1):
        session.add(
            Approval(
                subject_type="allocation",
                subject_id=allocation.id,
                level=level,
                approver_id=decider.id,
                amount=amount,
                approved_at=_at(created + timedelta(days=level)),
            )
        )
    if state in (AllocationState.APPROVED, AllocationState.DISBURSING, AllocationState.COMPLETED):
        parts: list[InstallmentState] = {
            AllocationState.APPROVED: [InstallmentState.REQUESTED],
            AllocationState.DISBURSING: [
                InstallmentState.PAID,
                InstallmentState.APPROVED,
                InstallmentState.REJECTED,
            ],
            AllocationState.COMPLETED: [InstallmentState.PAID, InstallmentState.PAID],
        }[state]
        share = amount / 2
        for position, part in enumerate(parts):
            requested = min(created + timedelta(days=3 + 10 * position), today)
            installment = Installment(
                allocation=allocation,
                amount=share,
                state=part,
                purpose=f"เงินประจำงวดที่ {position + 1}",
                requested_by_id=officer.id,
                requested_at=_at(requested),
                paid_on=min(requested + timedelta(days=5), today)
                if part is InstallmentState.PAID
                else None,
            )
            session.add(installment)
            session.flush()
            if part in (InstallmentState.APPROVED, InstallmentState.PAID):
                session.add(
                    Approval(
                        subject_type="installment",
                        subject_id=installment.id,
                        level=1,
                        approver_id=approver.id,
                        amount=share,
                        approved_at=_at(requested + timedelta(days=1)),
                    )
                )


def _add_project(
    session: Session,
    year: FiscalYear,
    serial: int,
    units: dict[str, OrgUnit],
    people: dict[str, User],
    strategy: StrategyNode | None,
    today: date,
) -> Project:
    officer = people["officer@demo.tidtam.local"]
    topic = TOPICS[serial % len(TOPICS)]
    network = units[NETWORKS[serial % len(NETWORKS)]]
    schools = [u for u in units.values() if u.parent_id == network.id]
    state = PROJECT_STATES[serial % len(PROJECT_STATES)]
    if year.ends_on < today and state is not ProjectState.CLOSED:
        state = ProjectState.LOCKED if serial % 3 else ProjectState.CLOSED
    project = Project(
        code=f"{AGENCY}-{year.be_year % 100}{serial:02d}",
        fiscal_year=year,
        name=f"โครงการ{topic} {network.name_th} ปีงบประมาณ {year.be_year}",
        owner_unit=units[AGENCY],
        responsible_unit=units["50230700"],
        kind=ProjectKind.ROUTINE if serial % 4 else ProjectKind.STRATEGIC,
        rationale=f"เพื่อให้นักเรียนในสังกัด{network.name_th}ได้รับการพัฒนาด้าน{topic}อย่างทั่วถึง",
        unit_codes="50230700/50230700",
        contact_name=officer.name,
        contact_phone="02-415-0021 ต่อ 7011",
        approved_budget=Decimal(40000 + 15000 * (serial % 7)),
        state=state,
        strategies=[strategy] if strategy is not None else [],
        created_at=_at(year.starts_on),
    )
    session.add(project)
    session.add(ProjectObjective(project=project, position=1, text=f"เพื่อพัฒนา{topic}ของนักเรียน"))
    session.add(
        ProjectTarget(
            project=project,
            position=1,
            kind=TargetKind.QUANTITY,
            text=f"นักเรียน {len(schools)} โรงเรียนในเครือข่าย",
        )
    )
    session.add(
        ProjectTarget(
            project=project, position=2, kind=TargetKind.QUALITY, text="นักเรียนร้อยละ 80 ผ่านเกณฑ์"
        )
    )
    plan = PLANS[serial % len(PLANS)]
    span = (year.ends_on - year.starts_on).days
    # The plan is spread over the year, each project starting a little later than the last.
    # The first step is short (six weeks): in the year's first quarter some are over already.
    offset = (serial * 5) % 40
    first = FIRST_STEP_DAYS
    step_days = (span - offset - first) // (len(plan) - 1)
    accepted_share = Decimal(0)
    for position, (weight, by_schools, name) in enumerate(plan, start=1):
        if position == 1:
            start = year.starts_on + timedelta(days=offset)
            end = start + timedelta(days=first - 1)
        else:
            start = year.starts_on + timedelta(days=offset + first + step_days * (position - 2))
            end = start + timedelta(days=step_days - 1)
        step = PlanStep(
            project=project,
            position=position,
            name=name,
            weight=weight,
            planned_start=start,
            planned_end=end,
            responsible_unit=units["50230700"],
        )
        session.add(step)
        if state in (ProjectState.LOCKED, ProjectState.CLOSED):
            reporters = schools if by_schools else [units["50230700"]]
            states = _add_results(session, step, reporters, serial + position, today, people)
            accepted = sum(1 for s in states if s is ResultState.ACCEPTED)
            accepted_share += weight * accepted / len(states)
    if state in (ProjectState.LOCKED, ProjectState.CLOSED):
        for quarter in range(1, 5):
            _first, last = quarter_bounds(year.be_year, quarter)
            if last >= today:
                break
            session.add(
                ProgressReport(
                    project=project,
                    reported_on=last,
                    percent=min(accepted_share, Decimal(25 * quarter)).quantize(Decimal("0.01")),
                    narrative=f"ไตรมาสที่ {quarter}: ดำเนินกิจกรรมตามแผน",
                    problems="โรงเรียนบางแห่งส่งผลล่าช้า" if serial % 2 else "",
                    obstacles="ช่วงสอบปลายภาคทำให้เลื่อนกิจกรรม" if serial % 3 == 0 else "",
                    author=officer,
                    created_at=_at(last, 9),
                )
            )
    session.flush()
    _add_budget(session, project, serial, network, people, today)
    record(
        session,
        action="demo.load",
        object_type="project",
        object_id=project.id,
        from_state=None,
        to_state=project.state.value,
    )
    return project


def _add_kpis(
    session: Session,
    year: FiscalYear,
    projects: list[Project],
    units: dict[str, OrgUnit],
    today: date,
) -> list[Kpi]:
    specs = [
        ("101", "ร้อยละของนักเรียนที่อ่านออกเขียนได้", MeasureKind.PERCENT, "ร้อยละ", Decimal(90)),
        ("102", "จำนวนกิจกรรมส่งเสริมการอ่านที่จัด", MeasureKind.COUNT, "ครั้ง", Decimal(12)),
        ("103", "ระดับความสำเร็จของการนิเทศโรงเรียน", MeasureKind.LEVEL, "ระดับ", Decimal(5)),
        ("104", "ค่าเฉลี่ยคะแนนความพึงพอใจของผู้ปกครอง", MeasureKind.AVERAGE, "ค่าเฉลี่ย", Decimal(4)),
    ]
    kpis = []
    for index, (suffix, name, measure, label, target) in enumerate(specs):
        kpi = Kpi(
            code=f"5023-{year.be_year % 10}{suffix}",
            fiscal_year=year,
            name=name,
            definition=f"{name} ของโรงเรียนในสังกัดสำนักงานเขตบางขุนเทียน",
            unit_label=label,
            measure_kind=measure,
            target=target,
            kpi_type=KpiType.STRATEGIC if index % 2 else KpiType.ROUTINE,
            level=KpiLevel.OUTCOME if index % 2 else KpiLevel.OUTPUT,
            owner_unit=units[AGENCY],
            projects=projects[index::4][:4],
        )
        session.add(kpi)
        for quarter in range(1, 5):
            _first, last = quarter_bounds(year.be_year, quarter)
            if last >= today:
                break
            value = (target * Decimal(20 + 20 * quarter) / 100).quantize(Decimal("0.01"))
            session.add(
                KpiQuarterResult(
                    kpi=kpi,
                    quarter=quarter,
                    value=value,
                    narrative=f"ผลสะสมถึงไตรมาสที่ {quarter}",
                )
            )
        kpis.append(kpi)
    session.flush()
    return kpis


def _add_evaluations(
    session: Session,
    year: FiscalYear,
    projects: list[Project],
    kpis: list[Kpi],
    evaluator: User,
    today: date,
) -> None:
    """Every project and KPI of the year, per quarter begun: published for quarters long
    past, scored but not published (a draft) for the last one, open for the current one."""
    current = fiscal_year_of(today) == year.be_year
    last_quarter = quarter_of(today) if current else 4
    subjects: list[tuple[str, Project | Kpi]] = [("project", p) for p in projects]
    subjects += [("kpi", k) for k in kpis]
    for number, (kind, subject) in enumerate(subjects):
        if isinstance(subject, Project) and subject.state in (
            ProjectState.DRAFT,
            ProjectState.SUBMITTED,
        ):
            continue
        for quarter in range(1, last_quarter + 1):
            _first, last = quarter_bounds(year.be_year, quarter)
            if last < today - timedelta(days=20) and (number + quarter) % 5:
                state = EvaluationState.PUBLISHED
            elif last < today or (number + quarter) % 3 == 0:
                state = EvaluationState.SCORED
            else:
                state = EvaluationState.OPEN
            scored = state is not EvaluationState.OPEN
            evaluation = Evaluation(
                subject_type=kind,
                project=subject if kind == "project" else None,
                kpi=subject if kind == "kpi" else None,
                fiscal_year=year,
                quarter=quarter,
                state=state,
                score=Decimal(60 + (number * 7 + quarter * 11) % 41) if scored else None,
                comment="ดำเนินการตามแผน" if scored else "",
                evaluator=evaluator if scored else None,
                scored_at=_at(min(last + timedelta(days=5), today)) if scored else None,
                published_at=_at(min(last + timedelta(days=10), today))
                if state is EvaluationState.PUBLISHED
                else None,
            )
            session.add(evaluation)


def load_district(session: Session, today: date) -> list[tuple[str, str, str]]:
    """Load the living district for `today` (flushes, does not commit) and return the logins
    it adds as (role, email, password). Needs the legacy demo's tree and users loaded first.
    Idempotent: a project (and with it everything hanging off it) whose code is there
    already is left as it is."""
    units = _units(session)
    people, logins = _people(session, units, today)
    strategy = session.scalars(select(StrategyNode).order_by(StrategyNode.level.desc())).first()
    current_be = fiscal_year_of(today)
    # Years before the last are closed, as an office closes them: nobody is chased for them.
    for old in session.scalars(
        select(FiscalYear).where(FiscalYear.be_year < current_be - 1, FiscalYear.is_open)
    ):
        old.is_open = False
    for be_year, count in ((current_be - 1, LAST_YEAR_PROJECTS), (current_be, CURRENT_PROJECTS)):
        year = _year(session, be_year)
        codes = [f"{AGENCY}-{be_year % 100}{serial:02d}" for serial in range(1, count + 1)]
        known = set(
            session.scalars(
                select(Project.code).where(
                    Project.fiscal_year_id == year.id, Project.code.in_(codes)
                )
            )
        )
        made = [
            _add_project(session, year, serial, units, people, strategy, today)
            for serial, code in enumerate(codes, start=1)
            if code not in known
        ]
        if not made:
            continue
        kpis = _add_kpis(session, year, made, units, today) if not known else []
        _add_evaluations(session, year, made, kpis, people["evaluator@demo.tidtam.local"], today)
    session.flush()
    return logins

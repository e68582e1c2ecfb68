"""Importing legacy project pages (parsed by service.legacy.parser) into the database.

A page creates or updates, by natural key: the agency (by the 8-digit code the project code
starts with, else by name) and the division (by the unit code the page shows, else by name),
creating missing units with their code or a generated one; the fiscal year; the project (by
code and year) with all its texts and its contact; the steps with weights and dates; the
progress reports (by date); the strategy path (nodes created where missing, the deepest node
linked); the KPIs (by code and year) with their quarterly results; and the evaluating office's
score.

The page is the source of what it shows and nothing else: a value is written only when it
differs, a field the page does not carry (a contact, a budget) is left as it is, and nothing is
ever deleted. Importing the same page twice changes nothing, and leaves no audit row the second
time. A published evaluation is frozen: a page showing another score is refused. Each page is
imported inside a savepoint: a page that fails leaves nothing behind. Only complete pages are
imported; the others are reported with the parser's reasons.

A project created from a page gets one result per step for its division; when the progress the
page shows is exactly the weight of its first steps, those steps are accepted, so that the
progress Tidtam derives is the one the page shows.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from service.audit.operations import record
from service.core.db import Base, utcnow
from service.core.fiscal import fiscal_year_bounds, quarter_bounds
from service.core.thai import normalize_thai
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import (
    Kpi,
    KpiLevel,
    KpiQuarterResult,
    KpiType,
    MeasureKind,
    kpi_project,
)
from service.legacy.parser import ParsedPage
from service.org.models import OrgUnit, UnitKind, User
from service.projects import participants
from service.projects.figures import figures_today, refresh_figures
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
    project_strategy,
)
from service.strategy.models import StrategyNode

Outcome = Literal["created", "updated", "unchanged", "skipped", "failed"]

IMPORT_ACTION = "legacy.import"
IMPORTER_EMAIL = "legacy-import@tidtam.local"
ADMINISTRATION_CODE = "10000000"
EVALUATING_OFFICE_CODE = "11000000"

MEASURE_KINDS = {
    "ร้อยละ": MeasureKind.PERCENT,
    "ระดับ": MeasureKind.LEVEL,
    "ค่าเฉลี่ย": MeasureKind.AVERAGE,
    "ครบขั้นตอน": MeasureKind.STEPS_COMPLETE,
    "ฉบับ": MeasureKind.COUNT,
    "ครั้ง": MeasureKind.COUNT,
    "แห่ง": MeasureKind.COUNT,
    "คน": MeasureKind.COUNT,
    "เรื่อง": MeasureKind.COUNT,
}


class ImportRefused(ValueError):
    """The page cannot be imported as it is; the message says why."""


@dataclass
class PageReport:
    source: str
    code: str | None
    outcome: Outcome
    changes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "code": self.code,
            "outcome": self.outcome,
            "changes": self.changes,
            "reasons": self.reasons,
            "notes": self.notes,
        }


@dataclass
class ImportSummary:
    pages: list[PageReport] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for page in self.pages if page.outcome == outcome)

    @property
    def pages_per_second(self) -> float:
        return len(self.pages) / self.seconds if self.seconds else 0.0


def _decimal(value: str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ImportRefused(f"{what}: {value!r} is not a number") from None


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


class _Changes:
    """Writes a value only when it differs, and remembers what changed (and, for shared
    data a page may only fill in, what it would have changed)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.notes: list[str] = []

    def set(self, obj: object, attribute: str, value: object, label: str) -> None:
        if value is None or getattr(obj, attribute) == value:
            return
        setattr(obj, attribute, value)
        self.add(label)

    def fill(self, obj: object, attribute: str, value: object, label: str) -> None:
        """Set a value that is missing; keep one that is there and note the disagreement."""
        current = getattr(obj, attribute)
        if current is None:
            self.set(obj, attribute, value, label)
        elif value is not None and current != value:
            note = f"{label}: {attribute} kept {current} (the page shows {value})"
            if note not in self.notes:
                self.notes.append(note)

    def add(self, label: str) -> None:
        if label not in self.names:
            self.names.append(label)


class LegacyImporter:
    """Imports pages into `session` (each in a savepoint; the caller commits). Lookups of
    units, years and strategy nodes are cached for the run and forgotten when a page fails."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._forget()

    def _forget(self) -> None:
        self._units: dict[str, OrgUnit] = {}
        self._years: dict[int, FiscalYear] = {}
        self._nodes: dict[str, StrategyNode] = {}
        self._kpi_cache: dict[tuple[str, int], Kpi] = {}
        self._importer: User | None = None

    # ---- one page

    def import_page(self, page: ParsedPage) -> PageReport:
        if not page.importable:
            reasons = page.errors or [f"status {page.status}"]
            if page.missing:
                reasons = [*reasons, "missing: " + ", ".join(page.missing)]
            return PageReport(page.source, page.code, "skipped", reasons=reasons)
        changes = _Changes()
        try:
            with self.session.begin_nested(), self.session.no_autoflush:
                created = self._import(page, changes)
        except Exception as error:  # the savepoint is rolled back: nothing of the page stays
            self._forget()
            reason = str(error) if isinstance(error, ImportRefused) else repr(error)
            return PageReport(page.source, page.code, "failed", reasons=[reason])
        if created:
            outcome: Outcome = "created"
        else:
            outcome = "updated" if changes.names else "unchanged"
        return PageReport(
            page.source, page.code, outcome, changes=changes.names, notes=changes.notes
        )

    def _import(self, page: ParsedPage, changes: _Changes) -> bool:
        assert page.code and page.name and page.agency and page.fiscal_year
        session = self.session
        year = self._year(page.fiscal_year)
        agency = self._agency(page)
        division = self._division(page, agency)
        project = session.scalar(
            select(Project).where(Project.code == page.code, Project.fiscal_year_id == year.id)
        )
        if project is None:
            self._create(page, year, agency, division, changes)
            return True
        changes.set(project, "name", normalize_thai(page.name), "name")
        changes.set(project, "rationale", page.rationale, "rationale")
        changes.set(project, "unit_codes", "/".join(page.unit_codes) or None, "unit_codes")
        if page.contact.names:
            changes.set(project, "contact_name", ", ".join(page.contact.names), "contact")
        if page.contact.phones:
            changes.set(project, "contact_phone", ", ".join(page.contact.phones), "contact")

        for position, objective in enumerate(page.objectives, start=1):
            self._positioned(
                project.objectives,
                position,
                lambda p: ProjectObjective(project=project, position=p, text=""),
                {"text": objective.text},
                f"objective {position}",
                changes,
            )
        for position, target in enumerate(page.targets, start=1):
            values: dict[str, object] = {"text": target.text}
            if target.kind:
                values["kind"] = TargetKind(target.kind)
            self._positioned(
                project.targets,
                position,
                lambda p: ProjectTarget(
                    project=project, position=p, kind=TargetKind.QUANTITY, text=""
                ),
                values,
                f"target {position}",
                changes,
            )
        new_steps = self._steps(page, project, division, changes)
        self._reports(page, project, changes)
        self._strategies(page, project, changes)
        links = self._kpis(page, project.id, year, agency, changes, new_project=False)
        self._evaluation(page, project, year, changes)
        if new_steps:
            self._results(page, new_steps, division)
        session.flush()
        self._link(links, project.id)
        if changes.names:
            record(
                session,
                action=IMPORT_ACTION,
                object_type="project",
                object_id=project.id,
                actor=self._importer_user(),
                changes={"source": page.source, "changed": sorted(set(changes.names))},
            )
        session.flush()
        return False

    def _create(
        self,
        page: ParsedPage,
        year: FiscalYear,
        agency: OrgUnit,
        division: OrgUnit,
        changes: _Changes,
    ) -> None:
        """A new project and everything under it, written with Core inserts (executemany):
        the unit of work's cost for some thirty new objects a page is most of an import."""
        assert page.code and page.name
        conn = self.session.connection()
        now = utcnow()
        kind = (
            ProjectKind.ROUTINE
            if any(kpi.type == "routine" for kpi in page.kpis) or not page.kpis
            else ProjectKind.STRATEGIC
        )
        steps = []
        for step in page.steps:
            weight = _decimal(step.weight, f"step {step.order} weight")
            end = date.fromisoformat(step.end) if step.end else None
            start = date.fromisoformat(step.start) if step.start else end
            if weight is None or start is None or not step.name:
                raise ImportRefused(f"step {step.order} lacks a name, weight or date")
            steps.append((step.order, step.name, weight, start, end or start))
        total = sum((weight for _o, _n, weight, _s, _e in steps), Decimal(0))
        if total != Decimal(100):
            raise ImportRefused(f"step weights sum to {total}, not 100")
        reports = []
        for report in page.reports:
            if report.date is None or report.percent is None:
                raise ImportRefused(f"report {report.number} lacks a date or a percent")
            day = date.fromisoformat(report.date)
            reports.append(
                {
                    "reported_on": day,
                    "percent": _decimal(report.percent, f"report {report.date}"),
                    "narrative": report.narrative or "",
                    "problems": report.problems or "",
                    "obstacles": report.obstacles or "",
                    "created_at": _at(day, 9),
                }
            )
        nodes = self._strategy_nodes(page)
        project_table = _table(Project)
        project_id = conn.execute(
            project_table.insert().returning(project_table.c.id),
            {
                "code": page.code,
                "fiscal_year_id": year.id,
                "name": normalize_thai(page.name),
                "owner_unit_id": agency.id,
                "responsible_unit_id": division.id,
                "kind": kind,
                "rationale": page.rationale or "",
                "unit_codes": "/".join(page.unit_codes),
                "contact_name": ", ".join(page.contact.names),
                "contact_phone": ", ".join(page.contact.phones),
                "approved_budget": Decimal("0.00"),
                "state": ProjectState.LOCKED,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        rows = [
            {"project_id": project_id, "position": n, "text": o.text}
            for n, o in enumerate(page.objectives, start=1)
        ]
        if rows:
            conn.execute(_table(ProjectObjective).insert(), rows)
        rows = [
            {
                "project_id": project_id,
                "position": n,
                "kind": TargetKind(t.kind or "quantity"),
                "text": t.text,
            }
            for n, t in enumerate(page.targets, start=1)
        ]
        if rows:
            conn.execute(_table(ProjectTarget).insert(), rows)
        step_table = _table(PlanStep)
        step_ids = (
            conn.execute(
                step_table.insert().returning(step_table.c.id, sort_by_parameter_order=True),
                [
                    {
                        "project_id": project_id,
                        "position": order,
                        "name": name,
                        "weight": weight,
                        "planned_start": start,
                        "planned_end": end,
                        "responsible_unit_id": division.id,
                    }
                    for order, name, weight, start, end in steps
                ],
            )
            .scalars()
            .all()
        )
        conn.execute(
            _table(StepResult).insert(),
            self._result_rows(page, steps, list(step_ids), division),
        )
        # Core inserts pass by the ORM hook that keeps project_participant.
        participants.record_project(conn, project_id)
        refresh_figures(conn, Project.id == project_id, figures_today())
        if reports:
            conn.execute(
                _table(ProgressReport).insert(),
                [{"project_id": project_id, **report} for report in reports],
            )
        if nodes:
            conn.execute(
                project_strategy.insert(),
                [{"project_id": project_id, "strategy_node_id": node.id} for node in nodes],
            )
        links = self._kpis(page, project_id, year, agency, changes, new_project=True)
        self.session.flush()
        self._link(links, project_id)
        if page.evaluation is not None and page.evaluation.score is not None:
            quarter = page.evaluation.quarter
            published = _at(quarter_bounds(year.be_year, quarter)[1] + timedelta(days=1))
            conn.execute(
                _table(Evaluation).insert(),
                {
                    "subject_type": "project",
                    "project_id": project_id,
                    "fiscal_year_id": year.id,
                    "quarter": quarter,
                    "state": EvaluationState.PUBLISHED,
                    "score": _decimal(page.evaluation.score, "evaluation score"),
                    "evaluator_id": self._importer_user().id,
                    "scored_at": published,
                    "published_at": published,
                },
            )
        changes.add("created")
        record(
            self.session,
            action=IMPORT_ACTION,
            object_type="project",
            object_id=project_id,
            actor=self._importer_user(),
            to_state=ProjectState.LOCKED.value,
            changes={"source": page.source, "changed": ["created"]},
        )
        self.session.flush()

    def _link(self, kpis: list[Kpi], project_id: int) -> None:
        # A district's KPI may measure hundreds of projects: never load them all.
        if kpis:
            self.session.connection().execute(
                kpi_project.insert(),
                [{"kpi_id": kpi.id, "project_id": project_id} for kpi in kpis],
            )

    def _result_rows(
        self,
        page: ParsedPage,
        steps: list[tuple[int, str, Decimal, date, date]],
        step_ids: list[int],
        division: OrgUnit,
    ) -> list[dict[str, Any]]:
        """One result per step for the division; the first steps whose weights add up to the
        page's progress are accepted (only when some prefix adds up exactly)."""
        progress = _decimal(page.progress, "progress") or Decimal(0)
        accepted = 0
        running = Decimal(0)
        for count, (_order, _name, weight, _start, _end) in enumerate(steps, start=1):
            running += weight
            if running == progress:
                accepted = count
                break
            if running > progress:
                break
        first_report = min((r.date for r in page.reports if r.date), default=None)
        rows: list[dict[str, Any]] = []
        for index, ((_order, _name, _weight, _start, end), step_id) in enumerate(
            zip(steps, step_ids, strict=True)
        ):
            row: dict[str, Any] = {
                "step_id": step_id,
                "unit_id": division.id,
                "due_on": end,  # the copy the ORM's listener keeps (a Core insert passes it by)
                "state": ResultState.NOT_STARTED,
                "completion": Decimal(0),
                "accepted_completion": None,
                "submitted_at": None,
                "reviewed_at": None,
                "reviewed_by_id": None,
            }
            if index < accepted:
                day = min(end, date.fromisoformat(first_report)) if first_report else end
                row.update(
                    state=ResultState.ACCEPTED,
                    completion=Decimal(100),
                    accepted_completion=Decimal(100),
                    submitted_at=_at(day),
                    reviewed_at=_at(day, 4),
                    reviewed_by_id=self._importer_user().id,
                )
            rows.append(row)
        return rows

    # ---- reference data

    def _year(self, be_year: int) -> FiscalYear:
        year = self._years.get(be_year)
        if year is None:
            year = self.session.scalar(select(FiscalYear).where(FiscalYear.be_year == be_year))
            if year is None:
                starts_on, ends_on = fiscal_year_bounds(be_year)
                year = FiscalYear(be_year=be_year, starts_on=starts_on, ends_on=ends_on)
                self.session.add(year)
                self.session.flush()
            self._years[be_year] = year
        return year

    def _unit_by_code(self, code: str) -> OrgUnit | None:
        unit = self._units.get(code)
        if unit is None:
            unit = self.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
            if unit is not None:
                self._units[code] = unit
        return unit

    def _new_unit(self, code: str, name: str, kind: UnitKind, parent: OrgUnit | None) -> OrgUnit:
        unit = OrgUnit(code=code, name_th=name, kind=kind, parent=parent)
        self.session.add(unit)
        self.session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
        self._units[code] = unit
        return unit

    def _free_code(self, make: Callable[[int], str]) -> str:
        for number in range(1, 100):
            code = make(number)
            if self._unit_by_code(code) is None:
                return code
        raise ImportRefused("no free unit code left")

    def _administration(self) -> OrgUnit:
        root = self._unit_by_code(ADMINISTRATION_CODE)
        if root is None:
            root = self.session.scalar(
                select(OrgUnit).where(OrgUnit.kind == UnitKind.ADMINISTRATION).limit(1)
            )
        if root is None:
            root = self._new_unit(
                ADMINISTRATION_CODE, "กรุงเทพมหานคร", UnitKind.ADMINISTRATION, None
            )
        return root

    def _agency(self, page: ParsedPage) -> OrgUnit:
        assert page.code and page.agency
        name = normalize_thai(page.agency)
        code = page.code.split("-", 1)[0]
        unit = self._unit_by_code(code)
        if unit is None:
            unit = self.session.scalar(
                select(OrgUnit).where(OrgUnit.name_th == name, OrgUnit.parent_id.is_not(None))
            )
        if unit is None:
            kind = (
                UnitKind.DISTRICT_OFFICE if name.startswith("สำนักงานเขต") else UnitKind.DEPARTMENT
            )
            if not (len(code) == 8 and code.isdigit()):
                code = self._free_code(lambda n: f"9{n:02d}00000")
            unit = self._new_unit(code, name, kind, self._administration())
        return unit

    def _division(self, page: ParsedPage, agency: OrgUnit) -> OrgUnit:
        name = normalize_thai(page.division) if page.division else None
        for code in page.unit_codes:
            unit = self._unit_by_code(code)
            if unit is not None:
                return unit
        if name:
            unit = self.session.scalar(
                select(OrgUnit).where(OrgUnit.parent_id == agency.id, OrgUnit.name_th == name)
            )
            if unit is not None:
                return unit
        if not name:
            return agency
        shown = next((c for c in page.unit_codes if len(c) == 8 and c.isdigit()), None)
        new_code = shown or self._free_code(lambda n: f"{agency.code[:4]}{89 + n:02d}00")
        return self._new_unit(new_code, name, UnitKind.DIVISION, agency)

    def _importer_user(self) -> User:
        if self._importer is None:
            user = self.session.scalar(select(User).where(User.email == IMPORTER_EMAIL))
            if user is None:
                user = User(
                    email=IMPORTER_EMAIL,
                    name="นำเข้าจากระบบเดิม (legacy import)",
                    # Nobody signs in as the importer: an unguessable password, and inactive.
                    password_hash=generate_password_hash(secrets.token_hex(32), method="scrypt"),
                    active=False,
                )
                self.session.add(user)
                self.session.flush()
            self._importer = user
        return self._importer

    # ---- parts of the project

    def _positioned(
        self,
        existing: list[Any],
        position: int,
        make: Callable[[int], Any],
        values: dict[str, object],
        label: str,
        changes: _Changes,
    ) -> Any:
        row = next((item for item in existing if item.position == position), None)
        if row is None:
            row = make(position)
            self.session.add(row)
            changes.add(label)
        for attribute, value in values.items():
            changes.set(row, attribute, value, label)
        return row

    def _steps(
        self, page: ParsedPage, project: Project, division: OrgUnit, changes: _Changes
    ) -> list[PlanStep]:
        created: list[PlanStep] = []
        for step in page.steps:
            weight = _decimal(step.weight, f"step {step.order} weight")
            start = date.fromisoformat(step.start) if step.start else None
            end = date.fromisoformat(step.end) if step.end else start
            start = start or end
            row = next((s for s in project.steps if s.position == step.order), None)
            if row is None:
                if weight is None or start is None or end is None or not step.name:
                    raise ImportRefused(f"step {step.order} lacks a name, weight or date")
                row = PlanStep(
                    project=project,
                    position=step.order,
                    name=step.name,
                    weight=weight,
                    planned_start=start,
                    planned_end=end,
                    responsible_unit=division,
                )
                self.session.add(row)
                created.append(row)
                changes.add(f"step {step.order}")
                continue
            label = f"step {step.order}"
            changes.set(row, "name", step.name, label)
            changes.set(row, "weight", weight, label)
            changes.set(row, "planned_start", start, label)
            changes.set(row, "planned_end", end, label)
        total = sum((s.weight for s in project.steps), Decimal(0))
        if project.steps and total != Decimal(100):
            raise ImportRefused(f"step weights sum to {total}, not 100")
        return created

    def _reports(self, page: ParsedPage, project: Project, changes: _Changes) -> None:
        for report in page.reports:
            if report.date is None or report.percent is None:
                raise ImportRefused(f"report {report.number} lacks a date or a percent")
            day = date.fromisoformat(report.date)
            row = next((r for r in project.reports if r.reported_on == day), None)
            label = f"report {report.date}"
            if row is None:
                row = ProgressReport(
                    project=project,
                    reported_on=day,
                    percent=Decimal(report.percent),
                    created_at=_at(day, 9),
                )
                self.session.add(row)
                changes.add(label)
            changes.set(row, "percent", _decimal(report.percent, label), label)
            changes.set(row, "narrative", report.narrative, label)
            changes.set(row, "problems", report.problems, label)
            changes.set(row, "obstacles", report.obstacles, label)

    def _node(self, code: str, level: int, name: str, parent: StrategyNode | None) -> StrategyNode:
        node = self._nodes.get(code)
        if node is None:
            node = self.session.scalar(select(StrategyNode).where(StrategyNode.code == code))
            if node is None:
                node = StrategyNode(
                    code=code, level=level, name=normalize_thai(name), parent=parent
                )
                self.session.add(node)
                self.session.flush()
            self._nodes[code] = node
        return node

    def _strategies(self, page: ParsedPage, project: Project, changes: _Changes) -> None:
        linked = {node.id for node in project.strategies}
        for node in self._strategy_nodes(page):
            if node.id not in linked:
                project.strategies.append(node)
                changes.add(f"strategy {node.code}")

    def _strategy_nodes(self, page: ParsedPage) -> list[StrategyNode]:
        """The nodes of the page's strategy paths (created where missing); returns the
        deepest node of each path, which is what a project links to."""
        by_code = {strategy.code: strategy for strategy in page.strategies}
        nodes: dict[str, StrategyNode] = {}
        for strategy in sorted(page.strategies, key=lambda s: (s.level, s.code)):
            parent_code = strategy.code.rpartition(".")[0]
            parent = nodes.get(parent_code) if parent_code in by_code else None
            if parent is None and parent_code:
                parent = self._nodes.get(parent_code) or self.session.scalar(
                    select(StrategyNode).where(StrategyNode.code == parent_code)
                )
            nodes[strategy.code] = self._node(strategy.code, strategy.level, strategy.name, parent)
        return [
            node
            for code, node in nodes.items()
            if not any(other.startswith(code + ".") for other in nodes)
        ]

    def _kpis(
        self,
        page: ParsedPage,
        project_id: int,
        year: FiscalYear,
        agency: OrgUnit,
        changes: _Changes,
        new_project: bool,
    ) -> list[Kpi]:
        """KPIs by code and year, with their quarters; returns the existing KPIs the project
        is still to be linked to (after the flush that gives it an id)."""
        session = self.session
        links: list[Kpi] = []
        for parsed in page.kpis:
            label = f"KPI {parsed.code}"
            target = _decimal(parsed.target, f"{label} target") if parsed.target else None
            unit_label = normalize_thai(parsed.unit) if parsed.unit else None
            key = (parsed.code, year.id)
            kpi = self._kpi_cache.get(key) or session.scalar(
                select(Kpi).where(Kpi.code == parsed.code, Kpi.fiscal_year_id == year.id)
            )
            # A KPI is shared by the projects it measures, and pages of different projects may
            # show it differently: a page fills in what is missing and never overwrites.
            kpi_created = kpi is None
            if kpi is None:
                kpi = Kpi(
                    code=parsed.code,
                    fiscal_year=year,
                    name=parsed.name or parsed.code,
                    unit_label=unit_label or "ร้อยละ",
                    measure_kind=MEASURE_KINDS.get(unit_label or "ร้อยละ", MeasureKind.OTHER),
                    target=target if target is not None else Decimal(0),
                    kpi_type=KpiType(parsed.type or "routine"),
                    level=KpiLevel(parsed.level or "output"),
                    owner_unit=agency,
                )
                session.add(kpi)
                changes.add(label)
            if not kpi_created:
                changes.fill(kpi, "name", parsed.name, label)
                changes.fill(kpi, "target", target, label)
                changes.fill(kpi, "unit_label", unit_label, label)
                if parsed.type:
                    changes.fill(kpi, "kpi_type", KpiType(parsed.type), label)
                if parsed.level:
                    changes.fill(kpi, "level", KpiLevel(parsed.level), label)
            if kpi_created:
                kpi.results = []
            self._kpi_cache[key] = kpi
            if kpi_created or new_project or not self._linked(kpi.id, project_id):
                links.append(kpi)
                changes.add(f"{label} link")
            for quarter in parsed.quarters:
                result = next((r for r in kpi.results if r.quarter == quarter.quarter), None)
                q_label = f"{label} Q{quarter.quarter}"
                if result is None:
                    result = KpiQuarterResult(kpi=kpi, quarter=quarter.quarter)
                    session.add(result)
                    changes.add(q_label)
                changes.fill(result, "value", _decimal(quarter.result, q_label), q_label)
                changes.fill(result, "numerator", _decimal(quarter.numerator, q_label), q_label)
                changes.fill(result, "denominator", _decimal(quarter.denominator, q_label), q_label)
        return links

    def _linked(self, kpi_id: int | None, project_id: int) -> bool:
        return (
            self.session.execute(
                select(kpi_project.c.kpi_id).where(
                    kpi_project.c.kpi_id == kpi_id, kpi_project.c.project_id == project_id
                )
            ).first()
            is not None
        )

    def _evaluation(
        self, page: ParsedPage, project: Project, year: FiscalYear, changes: _Changes
    ) -> None:
        if page.evaluation is None or page.evaluation.score is None:
            return
        quarter = page.evaluation.quarter
        score = _decimal(page.evaluation.score, "evaluation score")
        evaluation = self.session.scalar(
            select(Evaluation).where(
                Evaluation.project_id == project.id,
                Evaluation.fiscal_year_id == year.id,
                Evaluation.quarter == quarter,
            )
        )
        if evaluation is not None:
            if evaluation.score == score:
                return
            if evaluation.state is EvaluationState.PUBLISHED:
                raise ImportRefused(
                    f"quarter {quarter} is published with score {evaluation.score}; the page "
                    f"shows {score}: a published evaluation is reopened only with a reason"
                )
            evaluation.score = score
            evaluation.evaluator = evaluation.evaluator or self._importer_user()
            changes.add(f"evaluation Q{quarter}")
            return
        self._new_evaluation(page, project, year, changes)

    def _new_evaluation(
        self, page: ParsedPage, project: Project, year: FiscalYear, changes: _Changes
    ) -> None:
        if page.evaluation is None or page.evaluation.score is None:
            return
        quarter = page.evaluation.quarter
        score = _decimal(page.evaluation.score, "evaluation score")
        published = _at(quarter_bounds(year.be_year, quarter)[1] + timedelta(days=1))
        self.session.add(
            Evaluation(
                subject_type="project",
                project=project,
                fiscal_year=year,
                quarter=quarter,
                state=EvaluationState.PUBLISHED,
                score=score,
                evaluator=self._importer_user(),
                scored_at=published,
                published_at=published,
            )
        )
        changes.add(f"evaluation Q{quarter}")

    def _results(self, page: ParsedPage, steps: list[PlanStep], division: OrgUnit) -> None:
        """One result per new step for the division; the first steps whose weights add up to
        the page's progress are accepted (only when some prefix adds up exactly)."""
        progress = _decimal(page.progress, "progress") or Decimal(0)
        ordered = sorted(steps, key=lambda s: s.position)
        accepted = 0
        running = Decimal(0)
        for count, step in enumerate(ordered, start=1):
            running += step.weight
            if running == progress:
                accepted = count
                break
            if running > progress:
                break
        first_report = min((r.date for r in page.reports if r.date), default=None)
        for index, step in enumerate(ordered):
            if index < accepted:
                day = step.planned_end
                if first_report:
                    day = min(day, date.fromisoformat(first_report))
                self.session.add(
                    StepResult(
                        step=step,
                        unit=division,
                        state=ResultState.ACCEPTED,
                        completion=Decimal(100),
                        accepted_completion=Decimal(100),
                        submitted_at=_at(day),
                        reviewed_at=_at(day, 4),
                        reviewed_by=self._importer_user(),
                    )
                )
            else:
                self.session.add(StepResult(step=step, unit=division))

    # ---- many pages

    def import_pages(
        self,
        pages: Iterable[ParsedPage],
        each: Callable[[ParsedPage, PageReport], None] | None = None,
    ) -> ImportSummary:
        summary = ImportSummary()
        started = time.perf_counter()
        for page in pages:
            report = self.import_page(page)
            summary.pages.append(report)
            if each is not None:
                each(page, report)
        summary.seconds = time.perf_counter() - started
        return summary


def import_pages(
    session: Session,
    pages: Iterable[ParsedPage],
    each: Callable[[ParsedPage, PageReport], None] | None = None,
) -> ImportSummary:
    """Import `pages` into `session`, each page in a savepoint; flushes, never commits."""
    return LegacyImporter(session).import_pages(pages, each)

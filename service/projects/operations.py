"""Creating and editing projects, their plan steps, result assignments and progress reports.
Plan content changes only while the plan is a draft; state changes go through the engine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.audit.models import AuditEntry
from service.audit.operations import record
from service.core import translate
from service.core.db import utcnow
from service.core.fiscal import DEFAULT_TZ, local_date, local_today
from service.core.labels import label, object_type_label
from service.core.permissions import needs_role
from service.core.thai import format_date, normalize_thai, read_code
from service.core.translate import gettext as _
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, Role, User
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
from service.workflow.engine import Refused, lock

DISTRICT = (Role.OFFICER, Role.APPROVER)
EDITABLE = (ProjectState.DRAFT,)
TEXT_FIELDS = ("name", "rationale", "contact_name", "contact_phone", "unit_codes")


def _text_field(key: str, value: Any) -> str:
    """A text field as kept: normalised; the unit codes ("50230700/50230700") written with
    Arabic digits however they were typed (service.core.thai.read_code)."""
    return read_code(str(value)) if key == "unit_codes" else normalize_thai(str(value))


def _plan_changed(project: Project) -> None:
    """Mark the project's row written by a change of its plan held in other rows (objectives,
    targets, steps, strategy links): its version moves on the next flush, as it does for a
    change of its own columns, so that a page or client that read the plan before is refused
    its save (`hold_unchanged`) instead of writing back what it read."""
    project.updated_at = utcnow()


def hold_unchanged(
    session: Session, project: Project, version: int | None, *, on_page: bool = True
) -> Project:
    """`project` locked for this transaction and read afresh, for a change drawn from it as
    it stood at `version` (None: the sender does not say, and nothing is checked). Raises
    Refused(409), naming who changed it last and when, when it has changed since: as a page
    says it, or (not `on_page`) as the API says it to a client that read the version."""
    current = lock(session, Project, project.id)
    if current is None:
        raise Refused(
            404,
            _(
                "%(object)s %(id)s does not exist",
                object=object_type_label("project"),
                id=project.id,
            ),
        )
    if version is None or current.version == version:
        return current
    # The latest change that moved the version: reports and KPI links leave it as it was.
    last = session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.object_type == "project",
            AuditEntry.object_id == current.id,
            AuditEntry.action.not_in(("project.report", "project.kpis")),
        )
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    instant = last.occurred_at if last is not None else current.updated_at
    when = (
        f"{format_date(local_date(instant), translate.current())}"
        f" {instant.astimezone(ZoneInfo(DEFAULT_TZ)):%H:%M}"
    )
    who = last.actor.name if last is not None and last.actor is not None else None
    if not on_page:
        reason = (
            _("the project was changed by %(who)s at %(when)s: read it again", who=who, when=when)
            if who
            else _("the project was changed at %(when)s: read it again", when=when)
        )
    elif who:
        reason = _(
            "the project was changed by %(who)s at %(when)s while your page was open",
            who=who,
            when=when,
        )
    else:
        reason = _("the project was changed at %(when)s while your page was open", when=when)
    raise Refused(409, reason, state=current.state.value)


def _may_edit(session: Session, actor: User, project: Project) -> None:
    allowed = needs_role(session, actor, DISTRICT, project.responsible_unit, _("edit this project"))
    if not allowed:
        raise Refused(403, allowed.reason)
    if project.state not in EDITABLE:
        raise Refused(
            409,
            _("the plan is %(state)s: request a revision to change it", state=label(project.state)),
            state=project.state.value,
        )


def create_project(
    session: Session,
    actor: User,
    *,
    code: str,
    name: str,
    fiscal_year: FiscalYear,
    owner_unit: OrgUnit,
    responsible_unit: OrgUnit,
    kind: ProjectKind = ProjectKind.ROUTINE,
    approved_budget: Decimal = Decimal("0.00"),
    **texts: Any,
) -> Project:
    """A draft project. Raises Refused(403) outside the actor's units, Refused(409) for a code
    already used in that fiscal year, Refused(422) for bad fields."""
    allowed = needs_role(session, actor, DISTRICT, responsible_unit, _("create projects here"))
    if not allowed:
        raise Refused(403, allowed.reason)
    code, name = read_code(code), normalize_thai(name)
    problems = {}
    if not code:
        problems["code"] = _("is required")
    if not name:
        problems["name"] = _("is required")
    if not responsible_unit.path.startswith(owner_unit.path):
        problems["responsible_unit_id"] = _("must lie under the owning unit")
    if approved_budget < 0:
        problems["approved_budget"] = _("must not be negative")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    taken = session.scalar(
        select(Project.id).where(Project.code == code, Project.fiscal_year_id == fiscal_year.id)
    )
    if taken is not None:
        raise Refused(
            409,
            _(
                "project %(code)s exists in fiscal year %(year)s",
                code=code,
                year=fiscal_year.be_year,
            ),
        )
    project = Project(
        code=code,
        name=name,
        fiscal_year=fiscal_year,
        owner_unit=owner_unit,
        responsible_unit=responsible_unit,
        kind=kind,
        approved_budget=approved_budget,
        state=ProjectState.DRAFT,
        **{k: _text_field(k, v) for k, v in texts.items() if k in TEXT_FIELDS},
    )
    session.add(project)
    session.flush()
    record(
        session,
        action="project.create",
        object_type="project",
        object_id=project.id,
        actor=actor,
        to_state="draft",
        changes={"code": code},
    )
    return project


def update_project(
    session: Session, actor: User, project: Project, changes: dict[str, Any]
) -> Project:
    """Change texts, flags and budget of a draft project, recording old and new values."""
    _may_edit(session, actor, project)
    recorded: dict[str, Any] = {}
    for key, value in changes.items():
        if key in TEXT_FIELDS:
            value = _text_field(key, value)
            if key == "name" and not value:
                # a project is known by its name on every page, list and export
                raise Refused(
                    422, _("some input is missing or wrong"), fields={"name": _("is required")}
                )
        elif key in ("multi_year", "in_plan"):
            value = bool(value)
        elif key == "approved_budget":
            if not isinstance(value, Decimal) or value < 0:
                raise Refused(
                    422,
                    _("approved budget must be a decimal ≥ 0"),
                    fields={"approved_budget": _("must not be negative")},
                )
        elif key == "kind":
            value = ProjectKind(value)
        else:
            raise Refused(
                422,
                _("%(field)s cannot be changed here", field=key),
                fields={key: _("unknown field")},
            )
        old = getattr(project, key)
        if old != value:
            setattr(project, key, value)
            recorded[key] = [str(old), str(value)]
    if recorded:
        session.flush()
        record(
            session,
            action="project.update",
            object_type="project",
            object_id=project.id,
            actor=actor,
            changes=recorded,
        )
    return project


def set_objectives_and_targets(
    session: Session,
    actor: User,
    project: Project,
    objectives: list[str],
    targets: list[tuple[TargetKind, str]],
) -> None:
    """Replace the texts of the objectives and targets, in order: rows are rewritten in place,
    extra rows added and the rows past the new lists removed (the plan is a draft: nothing
    refers to them yet); their positions are their numbers 2.n and 3.n."""
    _may_edit(session, actor, project)
    before = (
        [o.text for o in project.objectives],
        [(t.kind, t.text) for t in project.targets],
    )
    for position, text in enumerate(objectives, start=1):
        if position <= len(project.objectives):
            project.objectives[position - 1].text = normalize_thai(text)
        else:
            objective = ProjectObjective(position=position, text=normalize_thai(text))
            project.objectives.append(objective)
    for position, (kind, text) in enumerate(targets, start=1):
        if position <= len(project.targets):
            project.targets[position - 1].kind = kind
            project.targets[position - 1].text = normalize_thai(text)
        else:
            target = ProjectTarget(position=position, kind=kind, text=normalize_thai(text))
            project.targets.append(target)
    removed = [*project.objectives[len(objectives) :], *project.targets[len(targets) :]]
    for row in removed:
        session.delete(row)
    after = (
        [o.text for o in project.objectives[: len(objectives)]],
        [(t.kind, t.text) for t in project.targets[: len(targets)]],
    )
    if after == before:
        return  # a save that changed no text records nothing and moves no version
    _plan_changed(project)
    session.flush()
    if removed:
        session.expire(project, ["objectives", "targets"])
    record(
        session,
        action="project.texts",
        object_type="project",
        object_id=project.id,
        actor=actor,
        changes={"objectives": len(objectives), "targets": len(targets)},
    )


def step_problems(
    name: str, weight: Decimal | None, planned_start: date | None, planned_end: date | None
) -> dict[str, str]:
    """What is wrong with a plan step as typed, by field (nothing: {}); a value that could
    not be read (None) is left to the reader's own message. The editor asks it of every row
    before saving any, so that a form names all its problems at once."""
    problems = {}
    if not normalize_thai(name):
        problems["name"] = _("is required")
    if weight is not None and not Decimal(0) < weight <= Decimal(100):
        problems["weight"] = _("must be more than 0 and at most 100")
    if planned_start is not None and planned_end is not None and planned_start > planned_end:
        problems["planned_end"] = _("must not be before the start")
    return problems


def save_step(
    session: Session,
    actor: User,
    project: Project,
    *,
    position: int,
    name: str,
    weight: Decimal,
    planned_start: date,
    planned_end: date,
    responsible_unit: OrgUnit | None = None,
) -> PlanStep:
    """Add the step at `position`, or change it when it exists (draft plans only).
    Raises Refused(422) with per-field reasons."""
    _may_edit(session, actor, project)
    problems = step_problems(name, weight, planned_start, planned_end)
    if not isinstance(weight, Decimal):
        problems["weight"] = _("must be more than 0 and at most 100")
    if position < 1:
        problems["position"] = _("must be 1 or more")
    if problems:
        raise Refused(422, _("some input is missing or wrong"), fields=problems)
    step = session.scalar(
        select(PlanStep).where(PlanStep.project_id == project.id, PlanStep.position == position)
    )
    unit = responsible_unit or project.responsible_unit
    wanted = (normalize_thai(name), weight, planned_start, planned_end, unit.id)
    if step is None or wanted != (
        step.name,
        step.weight,
        step.planned_start,
        step.planned_end,
        step.responsible_unit_id,
    ):
        _plan_changed(project)
    if step is None:
        step = PlanStep(project=project, position=position)
        session.add(step)
    step.name = normalize_thai(name)
    step.weight = weight
    step.planned_start = planned_start
    step.planned_end = planned_end
    step.responsible_unit = unit
    session.flush()
    record(
        session,
        action="step.save",
        object_type="project",
        object_id=project.id,
        actor=actor,
        changes={
            "position": position,
            "weight": str(weight),
            "start": planned_start.isoformat(),
            "end": planned_end.isoformat(),
        },
    )
    return step


def remove_steps(session: Session, actor: User, project: Project, positions: list[int]) -> None:
    """Remove the steps at `positions` (draft plans only) and close the gaps: the steps after
    keep their order, numbered from 1. A step a unit has started reporting on is refused."""
    _may_edit(session, actor, project)
    doomed = set(positions)
    steps = list(
        session.scalars(
            select(PlanStep).where(PlanStep.project_id == project.id).order_by(PlanStep.position)
        )
    )
    for step in steps:
        if step.position in doomed and any(
            r.state is not ResultState.NOT_STARTED or r.evidence for r in step.results
        ):
            raise Refused(
                409,
                _("step %(n)s has results reported: it cannot be removed", n=step.position),
                fields={f"step-{step.position}-name": _("has results reported")},
            )
    removed = []
    for step in steps:
        if step.position in doomed:
            for result in list(step.results):
                session.delete(result)
            session.delete(step)
            removed.append(step.position)
    session.flush()
    position = 0
    for step in steps:
        if step.position in doomed:
            continue
        position += 1
        if step.position != position:
            step.position = position
            session.flush()  # one at a time: each moves into a place already freed
    if removed:
        _plan_changed(project)
        session.flush()
        record(
            session,
            action="step.remove",
            object_type="project",
            object_id=project.id,
            actor=actor,
            changes={"positions": removed},
        )
    session.expire(project, ["steps"])


def assign_result(session: Session, actor: User, step: PlanStep, unit: OrgUnit) -> StepResult:
    """Make `unit` (a school, network or the division) report on `step`; idempotent."""
    project = step.project
    allowed = needs_role(session, actor, DISTRICT, project.responsible_unit, _("assign steps"))
    if not allowed:
        raise Refused(403, allowed.reason)
    if not unit.path.startswith(project.owner_unit.path):
        raise Refused(
            422, _("unit %(id)s does not lie under the project's owning unit", id=unit.id)
        )
    existing = session.scalar(
        select(StepResult).where(StepResult.step_id == step.id, StepResult.unit_id == unit.id)
    )
    if existing is not None:
        return existing
    result = StepResult(step=step, unit=unit, state=ResultState.NOT_STARTED)
    session.add(result)
    session.flush()
    record(
        session,
        action="step_result.assign",
        object_type="step_result",
        object_id=result.id,
        actor=actor,
        to_state="not_started",
        changes={"unit_id": unit.id, "step_id": step.id},
    )
    return result


def add_progress_report(
    session: Session,
    actor: User,
    project: Project,
    *,
    reported_on: date,
    percent: Decimal,
    narrative: str,
    problems: str = "",
    obstacles: str = "",
) -> ProgressReport:
    """A dated progress report (ผลการดำเนินงาน) by the district."""
    allowed = needs_role(session, actor, DISTRICT, project.responsible_unit, _("report progress"))
    if not allowed:
        raise Refused(403, allowed.reason)
    if not isinstance(percent, Decimal) or not Decimal(0) <= percent <= Decimal(100):
        raise Refused(
            422, _("percent must lie in 0 to 100"), fields={"percent": _("must lie in 0 to 100")}
        )
    first_day, today = project.fiscal_year.starts_on, local_today()
    if not first_day <= reported_on <= today:
        # A report tells what was done: not before its fiscal year began, not in the future.
        why = _(
            "the report's date must lie between %(first)s and %(last)s",
            first=format_date(first_day, translate.current()),
            last=format_date(today, translate.current()),
        )
        raise Refused(422, why, fields={"reported_on": why})
    if not normalize_thai(narrative):
        raise Refused(
            422, _("the report needs a narrative"), fields={"narrative": _("is required")}
        )
    report = ProgressReport(
        project=project,
        reported_on=reported_on,
        percent=percent,
        narrative=normalize_thai(narrative),
        problems=normalize_thai(problems),
        obstacles=normalize_thai(obstacles),
        author_id=actor.id,
    )
    session.add(report)
    session.flush()
    number = session.scalar(
        select(func.count())
        .select_from(ProgressReport)
        .where(ProgressReport.project_id == project.id)
    )
    record(
        session,
        action="project.report",
        object_type="project",
        object_id=project.id,
        actor=actor,
        changes={"report": number, "percent": str(percent)},
    )
    return report


def link_strategies(
    session: Session, actor: User, project: Project, nodes: list[StrategyNode]
) -> None:
    """Set the strategy-tree nodes the project serves (draft plans only), recording the codes."""
    _may_edit(session, actor, project)
    before = sorted(node.code for node in project.strategies)
    after = sorted({node.code for node in nodes})
    if before == after:
        return
    project.strategies = sorted({node.id: node for node in nodes}.values(), key=lambda n: n.code)
    _plan_changed(project)
    session.flush()
    record(
        session,
        action="project.strategies",
        object_type="project",
        object_id=project.id,
        actor=actor,
        changes={"strategies": [before, after]},
    )

"""What a person's calendar feed holds, computed from the data as it stands (nothing is
stored), and the feed itself as iCalendar (RFC 5545) text built with `icalendar`.

| event | for | day(s) | UID |
| --- | --- | --- | --- |
| a result's deadline | schools (role school): their units' results not yet submitted or accepted | the step's planned end | step-result-<id>-due |
| a step's deadline | officers: steps of the projects their units run, with a result not accepted | the step's planned end | plan-step-<id>-due |
| a result waiting for review | officers and approvers who may review it (never its submitter) | submitted day + the review reminder's days | step-result-<id>-review |
| an allocation or installment waiting for a decision | whoever the workflow lets decide it now | submitted / requested day + the installment reminder's days | allocation-<id>-decision, installment-<id>-decision |
| a self-assessment window | officers and approvers owning an open evaluation | from the quarter's end to the self-assessment reminder's day | evaluation-<id>-self |
| a scoring window | evaluators: evaluations of the quarter still to score | from the quarter's end to the scoring reminder's day | evaluation-window-<year>-q<quarter>-score |

Only projects and evaluations of fiscal years still open are listed (a closed year is
history). Each event's UID names its object, so calendar apps update an event in place when a
date moves and drop it when the work is done. The words follow the person's language.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import ColumnElement, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from service.budget.models import Allocation, AllocationState, Installment, InstallmentState
from service.budget.permissions import above_limit
from service.core.fiscal import quarter_bounds
from service.core.thai import format_baht, format_date
from service.deadlines.rules import DEFAULT_RULES
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.notifications.models import ReminderKind, ReminderRule
from service.org.models import OrgUnit, Role, User
from service.org.scope import active_roles
from service.projects.models import PlanStep, Project, ProjectState, ResultState, StepResult
from service.workflow import engine

BANGKOK = ZoneInfo("Asia/Bangkok")
RUNNING = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED)
#: Results whose unit still owes its report.
OWED = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)
DECISIONS = frozenset(("approve", "endorse", "return", "reject"))

WORDS: dict[str, dict[str, str]] = {
    "calendar": {"th": "ติดตาม: งานของ {name}", "en": "Tidtam: work of {name}"},
    "result_due": {
        "th": "ครบกำหนดส่งผล: {step} ({code})",
        "en": "Result due: {step} ({code})",
    },
    "step_due": {
        "th": "ครบกำหนดขั้นตอน: {step} ({code})",
        "en": "Step due: {step} ({code})",
    },
    "review": {
        "th": "รอท่านตรวจสอบผล: {step} ของ{unit} ({code})",
        "en": "Waiting for your review: {step} by {unit} ({code})",
    },
    "allocation": {
        "th": "รอท่านพิจารณาการจัดสรร {amount} บาท ให้{unit} ({code})",
        "en": "For your decision: allocation of {amount} baht to {unit} ({code})",
    },
    "installment": {
        "th": "รอท่านพิจารณาเงินประจำงวด {amount} บาท ของ{unit} ({code})",
        "en": "For your decision: installment of {amount} baht for {unit} ({code})",
    },
    "self_assess": {
        "th": "ช่วงประเมินตนเอง: {subject} ไตรมาสที่ {quarter}/{year}",
        "en": "Self-assessment window: {subject}, Q{quarter} FY{year}",
    },
    "score": {
        "th": "ช่วงให้คะแนน ไตรมาสที่ {quarter}/{year}: รอให้คะแนน {count} รายการ",
        "en": "Scoring window Q{quarter} FY{year}: {count} to score",
    },
    "project": {"th": "โครงการ {code} {name}", "en": "Project {code} {name}"},
    "kpi": {"th": "ตัวชี้วัด {code}", "en": "KPI {code}"},
    "project_subject": {"th": "โครงการ {code}", "en": "project {code}"},
    "submitted": {"th": "ส่งเมื่อ {day}", "en": "Submitted on {day}"},
    "planned": {"th": "ตามแผน {start} – {end}", "en": "Planned {start} – {end}"},
}


def word(key: str, lang: str, **values: Any) -> str:
    return WORDS[key]["en" if lang == "en" else "th"].format(**values)


@dataclass(frozen=True)
class FeedEvent:
    """One all-day event: `starts` to `ends` inclusive."""

    uid: str
    starts: date
    ends: date
    summary: str
    description: str
    path: str
    sequence: int
    category: str


def _offsets(session: Session) -> dict[ReminderKind, int]:
    """Days after the anchor each reminder kind first fires: the active rules' earliest, else
    the defaults. The feed's deadlines are the days people are reminded from."""
    found = {kind: offset for kind, _name, offset, _repeat, _escalate in DEFAULT_RULES}
    rows = session.execute(
        select(ReminderRule.kind, func.min(ReminderRule.offset_days))
        .where(ReminderRule.active.is_(True))
        .group_by(ReminderRule.kind)
    )
    for kind, offset in rows:
        found[kind] = int(offset)
    return found


def _role_paths(session: Session, user: User, roles: Sequence[Role]) -> list[str]:
    return sorted({a.unit.path for a in active_roles(session, user) if a.role in roles})


def _under(paths: list[str], unit: Any) -> ColumnElement[bool]:
    """Rows of `unit` (an OrgUnit alias) in the subtrees at `paths`."""
    if not paths:
        return false()
    return or_(*(unit.path.startswith(path) for path in paths))


def _year_open(fiscal_year_id: Any) -> ColumnElement[bool]:
    return exists().where(FiscalYear.id == fiscal_year_id, FiscalYear.is_open.is_(True))


def _local_day(instant: datetime | None) -> date:
    assert instant is not None
    return instant.astimezone(BANGKOK).date()


def _results_due(session: Session, user: User, lang: str) -> list[FeedEvent]:
    unit = aliased(OrgUnit)
    rows = session.execute(
        select(StepResult, PlanStep, Project)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .join(unit, unit.id == StepResult.unit_id)
        .where(
            _under(_role_paths(session, user, (Role.SCHOOL,)), unit),
            StepResult.state.in_(OWED),
            Project.state.in_(RUNNING),
            _year_open(Project.fiscal_year_id),
        )
        .order_by(PlanStep.planned_end, StepResult.id)
    )
    return [
        FeedEvent(
            uid=f"step-result-{result.id}-due",
            starts=step.planned_end,
            ends=step.planned_end,
            summary=word("result_due", lang, step=step.name, code=project.code),
            description=_project_line(project, lang)
            + "\n"
            + word(
                "planned",
                lang,
                start=format_date(step.planned_start, lang),
                end=format_date(step.planned_end, lang),
            ),
            path=f"/results/{result.id}",
            sequence=result.version,
            category="deadline",
        )
        for result, step, project in rows
    ]


def _steps_due(session: Session, user: User, lang: str) -> list[FeedEvent]:
    unit = aliased(OrgUnit)
    open_result = exists().where(
        StepResult.step_id == PlanStep.id, StepResult.state != ResultState.ACCEPTED
    )
    rows = session.execute(
        select(PlanStep, Project)
        .join(Project, Project.id == PlanStep.project_id)
        .join(unit, unit.id == Project.responsible_unit_id)
        .where(
            _under(_role_paths(session, user, (Role.OFFICER,)), unit),
            Project.state.in_(RUNNING),
            _year_open(Project.fiscal_year_id),
            open_result,
        )
        .order_by(PlanStep.planned_end, PlanStep.id)
    )
    return [
        FeedEvent(
            uid=f"plan-step-{step.id}-due",
            starts=step.planned_end,
            ends=step.planned_end,
            summary=word("step_due", lang, step=step.name, code=project.code),
            description=_project_line(project, lang),
            path=f"/projects/{project.id}",
            sequence=project.version,
            category="deadline",
        )
        for step, project in rows
    ]


def _reviews(session: Session, user: User, lang: str, days: int) -> list[FeedEvent]:
    unit = aliased(OrgUnit)
    rows = session.execute(
        select(StepResult, PlanStep, Project)
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .join(unit, unit.id == Project.responsible_unit_id)
        .where(
            _under(_role_paths(session, user, (Role.OFFICER, Role.APPROVER)), unit),
            StepResult.state == ResultState.SUBMITTED,
            or_(StepResult.submitted_by_id.is_(None), StepResult.submitted_by_id != user.id),
            _year_open(Project.fiscal_year_id),
        )
        .options(joinedload(StepResult.unit))
        .order_by(StepResult.submitted_at, StepResult.id)
    )
    found = []
    for result, step, project in rows:
        submitted = _local_day(result.submitted_at)
        due = submitted + timedelta(days=days)
        found.append(
            FeedEvent(
                uid=f"step-result-{result.id}-review",
                starts=due,
                ends=due,
                summary=word(
                    "review", lang, step=step.name, unit=result.unit.name(lang), code=project.code
                ),
                description=_project_line(project, lang)
                + "\n"
                + word("submitted", lang, day=format_date(submitted, lang)),
                path=f"/review#result-{result.id}",
                sequence=result.version,
                category="review",
            )
        )
    return found


def _decides(session: Session, user: User, obj: Any) -> bool:
    """Whether the workflow lets `user` take a decision on `obj` now (its own predicate and
    guards: the limit, four eyes), as the approvals screens offer it."""
    return any(o.allowed and o.name in DECISIONS for o in engine.options(session, user, obj))


def _decisions(session: Session, user: User, lang: str, days: int) -> list[FeedEvent]:
    paths = _role_paths(session, user, (Role.OFFICER, Role.APPROVER))
    if not paths:
        return []
    unit = aliased(OrgUnit)
    found = []
    allocations = session.scalars(
        select(Allocation)
        .join(Project, Project.id == Allocation.project_id)
        .join(unit, unit.id == Project.responsible_unit_id)
        .where(
            _under(paths, unit),
            Allocation.state == AllocationState.SUBMITTED,
            _year_open(Project.fiscal_year_id),
        )
        .order_by(Allocation.id)
    ).all()
    for allocation in allocations:
        if not _decides(session, user, allocation):
            continue
        path = (
            f"/approvals#allocation-{allocation.id}"
            if above_limit(allocation)
            else f"/budget#allocation-{allocation.id}"
        )
        asked = _local_day(allocation.submitted_at or allocation.created_at)
        found.append(_decision("allocation", allocation, allocation, asked, days, path, lang))
    installments = session.scalars(
        select(Installment)
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .join(Project, Project.id == Allocation.project_id)
        .join(unit, unit.id == Project.responsible_unit_id)
        .where(
            _under(paths, unit),
            Installment.state == InstallmentState.REQUESTED,
            _year_open(Project.fiscal_year_id),
        )
        .order_by(Installment.id)
    ).all()
    for installment in installments:
        if not _decides(session, user, installment):
            continue
        allocation = installment.allocation
        path = (
            f"/approvals#installment-{installment.id}"
            if above_limit(allocation, installment.amount)
            else f"/budget#allocation-{allocation.id}"
        )
        asked = _local_day(installment.requested_at)
        found.append(_decision("installment", installment, allocation, asked, days, path, lang))
    return found


def _decision(
    kind: str,
    subject: Allocation | Installment,
    allocation: Allocation,
    asked: date,
    days: int,
    path: str,
    lang: str,
) -> FeedEvent:
    """An allocation or installment waiting for the reader's decision, due `days` after it
    was asked for."""
    due = asked + timedelta(days=days)
    project = allocation.project
    return FeedEvent(
        uid=f"{kind}-{subject.id}-decision",
        starts=due,
        ends=due,
        summary=word(
            kind,
            lang,
            amount=format_baht(subject.amount),
            unit=allocation.recipient_unit.name(lang),
            code=project.code,
        ),
        description=_project_line(project, lang)
        + "\n"
        + word("submitted", lang, day=format_date(asked, lang)),
        path=path,
        sequence=subject.version,
        category="decision",
    )


def _self_assessments(session: Session, user: User, lang: str, days: int) -> list[FeedEvent]:
    owner = aliased(OrgUnit)
    project, kpi = aliased(Project), aliased(Kpi)
    rows = session.execute(
        select(Evaluation, FiscalYear)
        .join(FiscalYear, FiscalYear.id == Evaluation.fiscal_year_id)
        .outerjoin(project, project.id == Evaluation.project_id)
        .outerjoin(kpi, kpi.id == Evaluation.kpi_id)
        .join(owner, owner.id == func.coalesce(project.responsible_unit_id, kpi.owner_unit_id))
        .where(
            _under(_role_paths(session, user, (Role.OFFICER, Role.APPROVER)), owner),
            Evaluation.state == EvaluationState.OPEN,
            FiscalYear.is_open.is_(True),
        )
        .order_by(FiscalYear.be_year, Evaluation.quarter, Evaluation.id)
    )
    found = []
    for evaluation, year in rows:
        quarter_end = quarter_bounds(year.be_year, evaluation.quarter)[1]
        if evaluation.project is not None:
            subject = word("project_subject", lang, code=evaluation.project.code)
        else:
            assert evaluation.kpi is not None
            subject = word("kpi", lang, code=evaluation.kpi.code)
        found.append(
            FeedEvent(
                uid=f"evaluation-{evaluation.id}-self",
                starts=quarter_end + timedelta(days=1),
                ends=quarter_end + timedelta(days=max(days, 1)),
                summary=word(
                    "self_assess",
                    lang,
                    subject=subject,
                    quarter=evaluation.quarter,
                    year=year.be_year,
                ),
                description=subject,
                path=f"/evaluations?year={year.be_year}&quarter={evaluation.quarter}",
                sequence=evaluation.version,
                category="evaluation",
            )
        )
    return found


def _scoring_windows(session: Session, user: User, lang: str, days: int) -> list[FeedEvent]:
    if not any(a.role is Role.EVALUATOR for a in active_roles(session, user)):
        return []
    rows = session.execute(
        select(FiscalYear.be_year, Evaluation.quarter, func.count(Evaluation.id))
        .join(FiscalYear, FiscalYear.id == Evaluation.fiscal_year_id)
        .where(
            Evaluation.state.in_((EvaluationState.OPEN, EvaluationState.SELF_ASSESSED)),
            FiscalYear.is_open.is_(True),
        )
        .group_by(FiscalYear.be_year, Evaluation.quarter)
        .order_by(FiscalYear.be_year, Evaluation.quarter)
    )
    found = []
    for be_year, quarter, count in rows:
        quarter_end = quarter_bounds(be_year, quarter)[1]
        found.append(
            FeedEvent(
                uid=f"evaluation-window-{be_year}-q{quarter}-score",
                starts=quarter_end + timedelta(days=1),
                ends=quarter_end + timedelta(days=max(days, 1)),
                summary=word("score", lang, quarter=quarter, year=be_year, count=count),
                description="",
                path=f"/evaluations?year={be_year}&quarter={quarter}",
                sequence=int(count),
                category="evaluation",
            )
        )
    return found


def _project_line(project: Project, lang: str) -> str:
    return word("project", lang, code=project.code, name=project.name)


def feed_events(session: Session, user: User) -> list[FeedEvent]:
    """Everything `user`'s feed holds now, in their language, by day."""
    lang = user.language
    offsets = _offsets(session)
    events = [
        *_results_due(session, user, lang),
        *_steps_due(session, user, lang),
        *_reviews(session, user, lang, offsets[ReminderKind.REVIEW_WAITING]),
        *_decisions(session, user, lang, offsets[ReminderKind.INSTALLMENT_WAITING]),
        *_self_assessments(session, user, lang, offsets[ReminderKind.EVALUATION_SELF]),
        *_scoring_windows(session, user, lang, offsets[ReminderKind.EVALUATION_SCORE]),
    ]
    return sorted(events, key=lambda e: (e.starts, e.uid))


def render(events: Sequence[FeedEvent], user: User, base_url: str, domain: str) -> bytes:
    """The feed as iCalendar text: one VEVENT per event, all-day (DTEND the day after the
    last), UIDs "<uid>@<domain>", links to `base_url` + each event's page."""
    lang = user.language
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Tidtam//Calendar feed//TH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", word("calendar", lang, name=user.name))
    calendar.add("x-wr-timezone", "Asia/Bangkok")
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    stamp = datetime.now(UTC).replace(microsecond=0)
    for event in events:
        entry = icalendar.Event()
        entry.add("uid", f"{event.uid}@{domain}")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", event.starts)
        entry.add("dtend", event.ends + timedelta(days=1))
        entry.add("summary", event.summary)
        link = base_url.rstrip("/") + event.path
        entry.add("description", f"{event.description}\n{link}".strip())
        entry.add("url", link)
        entry.add("sequence", event.sequence)
        entry.add("categories", [event.category])
        entry.add("transp", "TRANSPARENT")
        calendar.add_component(entry)
    return bytes(calendar.to_ical())


__all__ = ["FeedEvent", "feed_events", "render"]

"""The deadline engine: reminder rules (data, edited by admins) turned into notifications,
one set-based INSERT … SELECT per rule.

For each rule, a *source* lists the objects still waiting (steps without an accepted result,
results waiting for review, installments waiting for approval, months without a progress
report, evaluations not self-assessed or not scored), each with its *anchor* day (when it was
due, or since when it waits, as a Bangkok calendar day) and the unit whose people are told.

A rule fires `offset_days` after the anchor (negative: before it), then every `repeat_days`
until the object is done; occurrence k is the k-th firing. Only the current occurrence is ever
computed, so after downtime an object gets one alert stating its current state ("12 days
overdue"), not one per missed day. From `escalate_after_days` after the anchor the head of the
unit (the nearest head at or above it) is told too. A rule without repeat fires once; one that
fires before the anchor stops being due once the anchor has passed (the overdue rule takes
over).

The delivery key "deadline:<rule>:<object type>:<object id>:<period>:<occurrence>:user:<id>:
<channel>" is unique in the database: two runs at the same moment, or a rerun, add nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    exists,
    func,
    literal,
    null,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from service.budget.models import Allocation, Installment, InstallmentState
from service.budget.workflow import prepared_by
from service.core.fiscal import quarter_bounds
from service.core.sql import concat_text, date_literal, days_between, json_object, local_day
from service.evaluations.models import Evaluation, EvaluationState
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.notifications.models import ReminderKind, ReminderRule
from service.notifications.operations import insert_notifications
from service.org.models import Role, RoleAssignment, UnitKind, User
from service.org.queries import nearest_role_holders
from service.projects.models import (
    PlanStep,
    ProgressReport,
    Project,
    ProjectState,
    ResultState,
    StepResult,
)

#: Results whose reporting unit still owes something.
OPEN_RESULTS = (ResultState.NOT_STARTED, ResultState.IN_PROGRESS, ResultState.RETURNED)


@dataclass(frozen=True)
class Context:
    dialect: str
    today: date
    rule: ReminderRule
    years: dict[int, int]  # fiscal_year.id -> be_year


def _source_columns(
    object_type: str, object_id: Any, anchor: Any, unit_id: Any, period: Any = ""
) -> list[Any]:
    return [
        literal(object_type, String).label("object_type"),
        object_id.label("object_id"),
        anchor.label("anchor"),
        unit_id.label("unit_id"),
        (literal(period, String) if isinstance(period, str) else period).label("period"),
    ]


def _year_open(fiscal_year_id: Any) -> ColumnElement[bool]:
    """Only projects (and evaluations) of fiscal years still open are chased: a closed
    year's leftovers are history, not work."""
    return exists().where(FiscalYear.id == fiscal_year_id, FiscalYear.is_open.is_(True))


def _steps(ctx: Context) -> Select:
    return (
        select(
            *_source_columns(
                "step_result", StepResult.id, PlanStep.planned_end, StepResult.unit_id
            ),
            Project.id.label("project_id"),
        )
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(
            StepResult.state.in_(OPEN_RESULTS),
            Project.state == ProjectState.LOCKED,
            _year_open(Project.fiscal_year_id),
        )
    )


def _reviews(ctx: Context) -> Select:
    return (
        select(
            *_source_columns(
                "step_result",
                StepResult.id,
                local_day(ctx.dialect, StepResult.submitted_at),
                Project.responsible_unit_id,
            ),
            Project.id.label("project_id"),
        )
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .join(Project, Project.id == PlanStep.project_id)
        .where(
            StepResult.state == ResultState.SUBMITTED,
            StepResult.submitted_at.is_not(None),
            _year_open(Project.fiscal_year_id),
        )
    )


def _installments(ctx: Context) -> Select:
    return (
        select(
            *_source_columns(
                "installment",
                Installment.id,
                local_day(ctx.dialect, Installment.requested_at),
                Project.owner_unit_id,
            ),
            Project.id.label("project_id"),
        )
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .join(Project, Project.id == Allocation.project_id)
        .where(Installment.state == InstallmentState.REQUESTED, _year_open(Project.fiscal_year_id))
    )


def report_month(today: date, offset_days: int) -> tuple[date, date]:
    """The latest month whose report deadline (its last day + `offset_days`) is on or before
    `today`: its first and last day."""
    day = today - timedelta(days=offset_days)
    month_end = (
        day if (day + timedelta(days=1)).day == 1 else day.replace(day=1) - timedelta(days=1)
    )
    return month_end.replace(day=1), month_end


def _reports(ctx: Context) -> Select:
    first, last = report_month(ctx.today, ctx.rule.offset_days)
    filed = exists().where(
        ProgressReport.project_id == Project.id,
        ProgressReport.withdrawn_at.is_(None),
        ProgressReport.reported_on >= first,
        ProgressReport.reported_on <= last,
    )
    return (
        select(
            *_source_columns(
                "project",
                Project.id,
                date_literal(ctx.dialect, last),
                Project.responsible_unit_id,
                first.strftime("%Y-%m"),
            ),
            Project.id.label("project_id"),
        )
        .join(FiscalYear, FiscalYear.id == Project.fiscal_year_id)
        .where(
            Project.state == ProjectState.LOCKED,
            FiscalYear.is_open.is_(True),
            FiscalYear.starts_on <= first,
            FiscalYear.ends_on >= last,
            ~filed,
        )
    )


def _quarter_end(ctx: Context) -> Any:
    """Each evaluation's quarter end, as a CASE over the (few) fiscal years."""
    whens = [
        (
            and_(Evaluation.fiscal_year_id == year_id, Evaluation.quarter == quarter),
            date_literal(ctx.dialect, quarter_bounds(be_year, quarter)[1]),
        )
        for year_id, be_year in ctx.years.items()
        for quarter in (1, 2, 3, 4)
    ]
    if not whens:
        return cast(null(), Date)
    return case(*whens, else_=null())


def _evaluations(states: tuple[EvaluationState, ...]) -> Callable[[Context], Select]:
    def source(ctx: Context) -> Select:
        project = aliased(Project)
        kpi = aliased(Kpi)
        return (
            select(
                *_source_columns(
                    "evaluation",
                    Evaluation.id,
                    _quarter_end(ctx),
                    func.coalesce(project.responsible_unit_id, kpi.owner_unit_id),
                ),
                Evaluation.project_id.label("project_id"),
                Evaluation.evaluator_id.label("evaluator_id"),
            )
            .outerjoin(project, project.id == Evaluation.project_id)
            .outerjoin(kpi, kpi.id == Evaluation.kpi_id)
            .where(Evaluation.state.in_(states), _year_open(Evaluation.fiscal_year_id))
        )

    return source


# -- who is told ----------------------------------------------------------------------------


def _reporters(source: FromClause) -> Select[int, int]:
    """The people of the reporting unit itself (its school users, or its officers when a
    district unit reports)."""
    return (
        select(source.c.object_id, RoleAssignment.user_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.unit_id == source.c.unit_id,
                RoleAssignment.role.in_([Role.SCHOOL, Role.OFFICER]),
                RoleAssignment.withdrawn_at.is_(None),
            ),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
    )


def _nearest(roles: list[Role], kind: UnitKind | None = None) -> Callable[[FromClause], Select]:
    def resolve(source: FromClause) -> Select:
        holders = nearest_role_holders(roles, ancestor_kind=kind, name="told")
        return select(source.c.object_id, holders.c.user_id).join(
            holders, holders.c.unit_id == source.c.unit_id
        )

    return resolve


def _not_who_asked(source: FromClause, person: Any) -> ColumnElement[bool]:
    """SQL: `person` did not request the waiting installment, in person or through a deputy
    acting for them. Four eyes bars them from approving it (service.budget.workflow), so a
    reminder that it "has waited for approval" is not theirs to act on."""
    return ~prepared_by("installment", source.c.object_id, person)


def _installment_approvers(source: FromClause) -> Select:
    """The district's approvers, but whoever requested the installment (or was acted for)."""
    holders = nearest_role_holders(
        [Role.APPROVER], ancestor_kind=UnitKind.DISTRICT_OFFICE, name="told"
    )
    return (
        select(source.c.object_id, holders.c.user_id)
        .join(holders, holders.c.unit_id == source.c.unit_id)
        .where(_not_who_asked(source, holders.c.user_id))
    )


def _installment_heads(source: FromClause) -> Select:
    """The heads told when it waits too long, but whoever requested it (as above)."""
    heads = nearest_role_holders(list(Role), heads_only=True, name="head")
    return (
        select(source.c.object_id, heads.c.user_id)
        .join(heads, heads.c.unit_id == source.c.unit_id)
        .where(_not_who_asked(source, heads.c.user_id))
    )


def _evaluators(source: FromClause) -> Select:
    """The evaluation's evaluator, or while none is assigned the evaluating office's
    evaluators (evaluators work tree-wide: this is the one role told as a whole)."""
    assigned = (
        select(source.c.object_id, source.c.evaluator_id.label("user_id"))
        .join(User, and_(User.id == source.c.evaluator_id, User.active.is_(True)))
        .where(source.c.evaluator_id.is_not(None))
    )
    office = (
        select(source.c.object_id, RoleAssignment.user_id)
        .join(
            RoleAssignment,
            and_(RoleAssignment.role == Role.EVALUATOR, RoleAssignment.withdrawn_at.is_(None)),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
        .where(source.c.evaluator_id.is_(None))
    )
    return select(union_all(assigned, office).subquery("evaluator"))


def _heads(source: FromClause) -> Select:
    heads = nearest_role_holders(list(Role), heads_only=True, name="head")
    return select(source.c.object_id, heads.c.user_id).join(
        heads, heads.c.unit_id == source.c.unit_id
    )


def _evaluation_heads(source: FromClause) -> Select:
    return (
        select(source.c.object_id, RoleAssignment.user_id)
        .join(
            RoleAssignment,
            and_(
                RoleAssignment.role == Role.EVALUATOR,
                RoleAssignment.is_head.is_(True),
                RoleAssignment.withdrawn_at.is_(None),
            ),
        )
        .join(User, and_(User.id == RoleAssignment.user_id, User.active.is_(True)))
    )


@dataclass(frozen=True)
class Watch:
    """What a reminder kind watches and who hears of it."""

    source: Callable[[Context], Select]
    told: Callable[[FromClause], Select]
    heads: Callable[[FromClause], Select] = _heads


WATCHES: dict[ReminderKind, Watch] = {
    ReminderKind.STEP_DUE: Watch(_steps, _reporters),
    ReminderKind.STEP_OVERDUE: Watch(_steps, _reporters),
    ReminderKind.REVIEW_WAITING: Watch(_reviews, _nearest([Role.OFFICER])),
    ReminderKind.INSTALLMENT_WAITING: Watch(
        _installments, _installment_approvers, _installment_heads
    ),
    ReminderKind.REPORT_MISSING: Watch(_reports, _nearest([Role.OFFICER])),
    ReminderKind.EVALUATION_SELF: Watch(
        _evaluations((EvaluationState.OPEN,)), _nearest([Role.OFFICER])
    ),
    ReminderKind.EVALUATION_SCORE: Watch(
        _evaluations((EvaluationState.OPEN, EvaluationState.SELF_ASSESSED)),
        _evaluators,
        _evaluation_heads,
    ),
}


def rule_candidates(ctx: Context) -> Select:
    """The notifications rule `ctx.rule` asks for on `ctx.today`, as candidate rows for
    `insert_notifications`: one per (object, current occurrence, recipient)."""
    rule = ctx.rule
    watch = WATCHES[rule.kind]
    today = date_literal(ctx.dialect, ctx.today)
    base = watch.source(ctx).subquery("waiting")
    # Only objects whose first firing day has come (sargable on the anchor's own column).
    first_day_passed = base.c.anchor <= date_literal(
        ctx.dialect, ctx.today - timedelta(days=rule.offset_days)
    )
    conditions = [first_day_passed]
    if rule.repeat_days is None and rule.offset_days < 0:
        conditions.append(base.c.anchor >= today)  # a "before due" reminder goes stale
    # A CTE: the recipients and the escalation read the waiting objects once between them.
    source = select(base).where(*conditions).cte("due")
    since_anchor = days_between(ctx.dialect, today, source.c.anchor)
    occurrence: ColumnElement[int]
    if rule.repeat_days is None:
        occurrence = literal(0, Integer)
    else:
        occurrence = (since_anchor - rule.offset_days) // rule.repeat_days

    # Who is told, once per (object, person): a head who is also among the people told (a
    # head officer of the unit a report is missing from) gets one alert, marked escalated
    # from the escalation day on. Without this the two candidates shared one delivery key
    # and ON CONFLICT kept either of them, after writing both (a third of a report rule's
    # rows at 100,000 projects).
    told = watch.told(source).subquery("told")
    told_columns = list(told.c)
    parts = [
        select(
            told_columns[0].label("object_id"),
            told_columns[1].label("user_id"),
            literal(0, Integer).label("escalated"),
        )
    ]
    if rule.escalate_after_days is not None:
        heads = watch.heads(source).where(since_anchor >= rule.escalate_after_days).subquery("head")
        head_columns = list(heads.c)
        parts.append(
            select(
                head_columns[0].label("object_id"),
                head_columns[1].label("user_id"),
                literal(1, Integer).label("escalated"),
            )
        )
    every = union_all(*parts).subquery("told_every")
    pairs = (
        select(
            every.c.object_id,
            every.c.user_id,
            (func.max(every.c.escalated) == 1).label("escalated"),
        )
        .group_by(every.c.object_id, every.c.user_id)
        .subquery("told_pair")
    )
    return (
        select(
            pairs.c.user_id.label("recipient_id"),
            literal(f"deadline.{rule.kind.value}", String).label("kind"),
            source.c.object_type,
            source.c.object_id,
            json_object(
                ctx.dialect,
                # The rule's name is not stored: it is a third of the row, and the send path
                # reads it from the rule (`notifications.operations.with_rule_names`).
                rule_id=literal(rule.id, Integer),
                due=cast(source.c.anchor, String),
                days=since_anchor,
                occurrence=occurrence,
                period=source.c.period,
                project_id=source.c.project_id,
                escalated=pairs.c.escalated,
            ).label("payload"),
            concat_text(
                f"deadline:{rule.id}:",
                source.c.object_type,
                ":",
                source.c.object_id,
                ":",
                source.c.period,
                ":",
                occurrence,
            ).label("key"),
        )
        .select_from(source)
        .join(pairs, pairs.c.object_id == source.c.object_id)
    )


@dataclass
class DeadlineRun:
    """A run's outcome: per rule id, the new notifications to dispatch (email, webhook)."""

    today: date
    dispatch: dict[int, list[int]] = field(default_factory=dict)

    @property
    def dispatch_ids(self) -> list[int]:
        return sorted(i for ids in self.dispatch.values() for i in ids)


def run_rule(
    session: Session,
    rule: ReminderRule,
    *,
    today: date,
    now: datetime,
    requeue_after: timedelta,
    years: dict[int, int] | None = None,
) -> list[int]:
    """Fire `rule` for `today` (a Bangkok day): one INSERT … SELECT of the keys not there yet
    (PostgreSQL, the rule's runs taking turns), or … ON CONFLICT DO NOTHING (SQLite, whose
    transactions take turns already). Returns the ids of new notifications to dispatch.
    Does not commit."""
    if years is None:
        years = dict(session.execute(select(FiscalYear.id, FiscalYear.be_year)).all())
    ctx = Context(dialect=session.get_bind().dialect.name, today=today, rule=rule, years=years)
    candidates = rule_candidates(ctx)
    key_prefix = f"deadline:{rule.id}:"
    if ctx.dialect != "postgresql":
        return insert_notifications(
            session, candidates, now=now, requeue_after=requeue_after, key_prefix=key_prefix
        )
    # Runs of one rule take turns: the later one, once the first has committed, finds every
    # key it would insert there already. The insert then needs no ON CONFLICT (see
    # `insert_notifications`); transaction-scoped, so it works through PgBouncer.
    session.execute(select(func.pg_advisory_xact_lock(RUN_LOCK, rule.id)))
    # PostgreSQL plans no parallel workers for the SELECT of an INSERT … SELECT, and reads
    # the CTE of waiting objects once per channel's SELECT; CREATE TABLE … AS may use them,
    # and the insert then reads a small table. Half the rule's time at 100,000 projects.
    connection = session.connection()
    compiled = candidates.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_STAGED.name} ON COMMIT DROP AS {compiled}", compiled.params
    )
    try:
        return insert_notifications(
            session,
            select(_STAGED),
            now=now,
            requeue_after=requeue_after,
            serialised=True,
            key_prefix=key_prefix,
        )
    finally:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_STAGED.name}")


#: pg_advisory_xact_lock(RUN_LOCK, rule id) serialises the runs of a rule.
RUN_LOCK = 2566_0002


#: The candidates of one rule, staged (PostgreSQL): rule_candidates' columns.
_STAGED = table(
    "deadline_candidate_staged",
    column("recipient_id", Integer),
    column("kind", String),
    column("object_type", String),
    column("object_id", Integer),
    column("payload", JSON),
    column("key", String),
)


def active_rules(session: Session) -> list[ReminderRule]:
    return list(
        session.scalars(
            select(ReminderRule).where(ReminderRule.active.is_(True)).order_by(ReminderRule.id)
        )
    )


__all__ = [
    "WATCHES",
    "DeadlineRun",
    "active_rules",
    "report_month",
    "rule_candidates",
    "run_rule",
]

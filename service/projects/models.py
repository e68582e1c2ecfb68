"""Projects of the annual plan, their texts, plan steps, step results and progress reports."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, Money, Percent, UTCDateTime, enum_column, utcnow
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User
from service.strategy.models import StrategyNode


class ProjectKind(enum.StrEnum):
    ROUTINE = "routine"
    STRATEGIC = "strategic"


class ProjectState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    LOCKED = "locked"
    REVISION_REQUESTED = "revision_requested"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


#: The states of a project whose plan was approved: carried out and reported on. Only these
#: can be behind their plan: a draft's or a submitted plan's dates are not a plan anyone
#: agreed to yet, and nothing can be reported on it. (Its budget, which comes with the
#: project and is allocated before the plan is locked, is approved money in every state.)
UNDER_WAY = (ProjectState.LOCKED, ProjectState.REVISION_REQUESTED, ProjectState.CLOSED)


class TargetKind(enum.StrEnum):
    QUANTITY = "quantity"
    QUALITY = "quality"


class ResultState(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"


project_strategy = Table(
    "project_strategy",
    Base.metadata,
    Column("project_id", ForeignKey("project.id"), primary_key=True),
    Column("strategy_node_id", ForeignKey("strategy_node.id"), primary_key=True),
    Index("ix_project_strategy_node", "strategy_node_id"),  # a node's projects (rollups)
)


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    name: Mapped[str] = mapped_column(Text)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    responsible_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    kind: Mapped[ProjectKind] = mapped_column(enum_column(ProjectKind, "project_kind"))
    multi_year: Mapped[bool] = mapped_column(Boolean, default=False)
    in_plan: Mapped[bool] = mapped_column(Boolean, default=True)
    rationale: Mapped[str] = mapped_column(Text, default="")
    # The legacy page's agency/budget unit codes ("50230700/50230700").
    unit_codes: Mapped[str] = mapped_column(String(64), default="")
    contact_name: Mapped[str] = mapped_column(String(255), default="")
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    approved_budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    # When a budget transfer in or out of it was last approved (None: never); the page reads
    # the transfers only for a project that has some.
    budget_transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[ProjectState] = mapped_column(
        enum_column(ProjectState, "project_state"), default=ProjectState.DRAFT
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    fiscal_year: Mapped[FiscalYear] = relationship()
    owner_unit: Mapped[OrgUnit] = relationship(foreign_keys=[owner_unit_id])
    responsible_unit: Mapped[OrgUnit] = relationship(foreign_keys=[responsible_unit_id])
    objectives: Mapped[list[ProjectObjective]] = relationship(
        order_by="ProjectObjective.position", back_populates="project"
    )
    targets: Mapped[list[ProjectTarget]] = relationship(
        order_by="ProjectTarget.position", back_populates="project"
    )
    steps: Mapped[list[PlanStep]] = relationship(
        order_by="PlanStep.position", back_populates="project"
    )
    reports: Mapped[list[ProgressReport]] = relationship(
        order_by="ProgressReport.reported_on", back_populates="project"
    )
    strategies: Mapped[list[StrategyNode]] = relationship(
        secondary=project_strategy, order_by="StrategyNode.code"
    )

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        UniqueConstraint("code", "fiscal_year_id"),
        CheckConstraint("approved_budget >= 0", name="budget_not_negative"),
        # A district's projects by either unit, their ids and states off the index alone
        # (`run_or_owned_by`): with only the keys, PostgreSQL preferred reading the year
        # index whole (15 vs 1 ms for a district's 1,400 projects).
        Index(
            "ix_project_unit_year",
            "owner_unit_id",
            "fiscal_year_id",
            postgresql_include=["state", "id"],
        ),
        Index(
            "ix_project_responsible_year",
            "responsible_unit_id",
            "fiscal_year_id",
            postgresql_include=["state", "id"],
        ),
        # A year's projects with what a tree-wide dashboard sorts and filters on, read off
        # the index alone (the rows are wide: reading 33,000 of them took 100 ms).
        Index(
            "ix_project_year_state",
            "fiscal_year_id",
            "state",
            postgresql_include=["id", "code", "responsible_unit_id", "approved_budget"],
        ),
    )

    def __repr__(self) -> str:
        return f"<Project {self.code}>"


class ProjectFigures(Base):
    """A project's figures, kept in the transaction of every change that moves them
    (`service.projects.figures`), so lists read one row per project instead of aggregating
    its steps, results, allocations and installments.

    Planned progress and overdue steps depend on the day as well: they are as of
    `figures_day`, the Bangkok day of the last change or of the nightly refresh."""

    __tablename__ = "project_figures"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    actual_progress: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    planned_progress: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    overdue_steps: Mapped[int] = mapped_column(Integer, default=0)
    waiting_results: Mapped[int] = mapped_column(Integer, default=0)
    budget_approved: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    budget_allocated: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    budget_granted: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    budget_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    figures_day: Mapped[date] = mapped_column(Date)

    __table_args__ = (
        # The dashboard's sorts on a figure, each with the id to page by key.
        Index("ix_project_figures_actual", "actual_progress", "project_id"),
        Index("ix_project_figures_planned", "planned_progress", "project_id"),
        Index("ix_project_figures_overdue", "overdue_steps", "project_id"),
        Index("ix_project_figures_paid", "budget_paid", "project_id"),
    )


class ProjectObjective(Base):
    """วัตถุประสงค์, numbered 2.1, 2.2 … by position."""

    __tablename__ = "project_objective"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    project: Mapped[Project] = relationship(back_populates="objectives")

    __table_args__ = (
        UniqueConstraint("project_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
    )


class ProjectTarget(Base):
    """เป้าหมาย: quantity (ด้านปริมาณ) or quality (ด้านคุณภาพ), in page order."""

    __tablename__ = "project_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[TargetKind] = mapped_column(enum_column(TargetKind, "target_kind"))
    text: Mapped[str] = mapped_column(Text)

    project: Mapped[Project] = relationship(back_populates="targets")

    __table_args__ = (
        UniqueConstraint("project_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
    )


class PlanStep(Base):
    """A weighted step of the plan (แผนการดำเนินงาน). Weights of a project sum to 100 before
    its plan can be locked; overdue is derived from `planned_end`, never stored."""

    __tablename__ = "plan_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    weight: Mapped[Decimal] = mapped_column(Percent)
    planned_start: Mapped[date] = mapped_column(Date)
    planned_end: Mapped[date] = mapped_column(Date)
    responsible_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))

    project: Mapped[Project] = relationship(back_populates="steps")
    responsible_unit: Mapped[OrgUnit | None] = relationship()
    results: Mapped[list[StepResult]] = relationship(back_populates="step")

    __table_args__ = (
        UniqueConstraint("project_id", "position"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("weight > 0 AND weight <= 100", name="weight_range"),
        CheckConstraint("planned_start <= planned_end", name="dates_ordered"),
        Index("ix_plan_step_end", "planned_end"),
    )


class StepResult(Base):
    """A unit's result for one step. `completion` is what was last reported; the accepted
    figure, which alone moves project progress, is kept apart so a resubmission never
    lowers progress before the district has looked at it."""

    __tablename__ = "step_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("plan_step.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    # A copy of the step's planned end, what the result lists sort on: sorted off an index of
    # this table instead of through a join with plan_step. Kept equal to the step's in every
    # flush that makes a result or moves a step's end (service.projects.due_on); never set by hand.
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[ResultState] = mapped_column(
        enum_column(ResultState, "result_state"), default=ResultState.NOT_STARTED
    )
    completion: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0.00"))
    accepted_completion: Mapped[Decimal | None] = mapped_column(Percent)
    narrative: Mapped[str] = mapped_column(Text, default="")
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    step: Mapped[PlanStep] = relationship(back_populates="results")
    unit: Mapped[OrgUnit] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    evidence: Mapped[list[EvidenceFile]] = relationship(
        back_populates="result", order_by="EvidenceFile.id"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def current_evidence(self) -> list[EvidenceFile]:
        """The files offered for review: those not withdrawn."""
        return [e for e in self.evidence if e.withdrawn_at is None]

    @property
    def withdrawn_evidence(self) -> list[EvidenceFile]:
        """The files the unit withdrew, kept for the result's history."""
        return [e for e in self.evidence if e.withdrawn_at is not None]

    __table_args__ = (
        UniqueConstraint("step_id", "unit_id"),
        CheckConstraint("completion >= 0 AND completion <= 100", name="completion_range"),
        CheckConstraint(
            "accepted_completion IS NULL OR "
            "(accepted_completion >= 0 AND accepted_completion <= 100)",
            name="accepted_range",
        ),
        CheckConstraint(
            "state NOT IN ('submitted', 'accepted', 'returned') OR submitted_at IS NOT NULL",
            name="submitted_has_time",
        ),
        CheckConstraint(
            "state <> 'accepted' OR (accepted_completion IS NOT NULL AND reviewed_at IS NOT NULL)",
            name="accepted_has_review",
        ),
        # A unit's results of a state in the order of their planned end: the school home's
        # sections, read unit by unit for a network or a district (`my_steps`).
        Index("ix_step_result_state_unit_due", "state", "unit_id", "due_on", "id"),
        # A unit's results (the school's page, its reminders).
        Index("ix_step_result_unit_step", "unit_id", "step_id"),
        # The result lists' order, read off the index a page at a time: every result (the
        # API for tree-wide readers), and those of one state (the review queue, the school
        # home's sections).
        Index("ix_step_result_due", "due_on", "id"),
        Index("ix_step_result_state_due", "state", "due_on", "id"),
    )


class ProjectParticipant(Base):
    """A unit that reports a result on one of the project's steps, with the project's year.

    Derived from step_result (service.projects.participants keeps it whenever results are
    added); it answers "which projects does this unit take part in" with one index range
    instead of a walk from a million results through their steps (visible_projects)."""

    __tablename__ = "project_participant"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), primary_key=True)
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))

    __table_args__ = (
        Index("ix_project_participant_unit_year", "unit_id", "fiscal_year_id", "project_id"),
    )


class EvidenceFile(Base):
    """An uploaded file, stored under a random name outside the web root."""

    __tablename__ = "evidence_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("step_result.id"))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    result: Mapped[StepResult] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class ProgressReport(Base):
    """ผลการดำเนินงาน: a dated report with the percent the district stated at that time."""

    __tablename__ = "progress_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    reported_on: Mapped[date] = mapped_column(Date)
    percent: Mapped[Decimal] = mapped_column(Percent)
    narrative: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    obstacles: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship(back_populates="reports")
    author: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        Index("ix_progress_report_project_date", "project_id", "reported_on"),
    )


# Keeps project_participant beside step_result for every session that adds results.
from service.projects import participants as _participants  # noqa: E402, F401

"""Quarterly evaluations of projects and KPIs by the evaluating office (สยป.)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, Measure, Percent, UTCDateTime, enum_column, utcnow
from service.fiscal.models import FiscalYear
from service.kpis.models import Kpi
from service.org.models import User
from service.projects.models import Project


class EvaluationState(enum.StrEnum):
    OPEN = "open"
    SELF_ASSESSED = "self_assessed"
    SCORED = "scored"
    PUBLISHED = "published"


class Evaluation(Base):
    """One subject (a project or a KPI) in one quarter. Published means frozen; reopening
    copies the published score into `EvaluationRevision` first."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    kpi_id: Mapped[int | None] = mapped_column(ForeignKey("kpi.id"))
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    quarter: Mapped[int] = mapped_column(Integer)
    state: Mapped[EvaluationState] = mapped_column(
        enum_column(EvaluationState, "evaluation_state"), default=EvaluationState.OPEN
    )
    self_value: Mapped[Decimal | None] = mapped_column(Measure)
    self_narrative: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[Decimal | None] = mapped_column(Percent)
    sub_score_1: Mapped[Decimal | None] = mapped_column(Percent)
    sub_score_2: Mapped[Decimal | None] = mapped_column(Percent)
    comment: Mapped[str] = mapped_column(Text, default="")
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    project: Mapped[Project | None] = relationship()
    kpi: Mapped[Kpi | None] = relationship()
    fiscal_year: Mapped[FiscalYear] = relationship()
    evaluator: Mapped[User | None] = relationship()
    revisions: Mapped[list[EvaluationRevision]] = relationship(
        order_by="EvaluationRevision.id", back_populates="evaluation"
    )

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        UniqueConstraint("project_id", "fiscal_year_id", "quarter"),
        UniqueConstraint("kpi_id", "fiscal_year_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        CheckConstraint(
            "(subject_type = 'project' AND project_id IS NOT NULL AND kpi_id IS NULL) OR "
            "(subject_type = 'kpi' AND kpi_id IS NOT NULL AND project_id IS NULL)",
            name="one_subject",
        ),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
        CheckConstraint(
            "state NOT IN ('scored', 'published') "
            "OR (score IS NOT NULL AND evaluator_id IS NOT NULL)",
            name="scored_has_score",
        ),
        CheckConstraint(
            "state <> 'published' OR published_at IS NOT NULL", name="published_has_time"
        ),
        Index("ix_evaluation_year_quarter_state", "fiscal_year_id", "quarter", "state"),
    )


class EvaluationRevision(Base):
    """A published score as it stood before it was reopened, with who reopened it and why."""

    __tablename__ = "evaluation_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id"))
    score: Mapped[Decimal | None] = mapped_column(Percent)
    sub_score_1: Mapped[Decimal | None] = mapped_column(Percent)
    sub_score_2: Mapped[Decimal | None] = mapped_column(Percent)
    comment: Mapped[str] = mapped_column(Text, default="")
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    reopened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)

    evaluation: Mapped[Evaluation] = relationship(back_populates="revisions")

    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason_given"),)

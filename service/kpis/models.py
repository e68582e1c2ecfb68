"""KPIs (ตัวชี้วัด) linked to projects, and their quarterly results."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, Measure, Percent, UTCDateTime, enum_column, utcnow
from service.fiscal.models import FiscalYear
from service.org.models import OrgUnit, User

if TYPE_CHECKING:
    from service.projects.models import Project


class MeasureKind(enum.StrEnum):
    PERCENT = "percent"  # ร้อยละ
    COUNT = "count"  # ฉบับ, ครั้ง, แห่ง …
    LEVEL = "level"  # ระดับ
    AVERAGE = "average"  # ค่าเฉลี่ย
    STEPS_COMPLETE = "steps_complete"  # ครบขั้นตอน
    OTHER = "other"  # free text unit


class KpiType(enum.StrEnum):
    ROUTINE = "routine"  # ตัวชี้วัดงานประจำ
    STRATEGIC = "strategic"  # ตัวชี้วัดเชิงยุทธศาสตร์


class KpiLevel(enum.StrEnum):
    OUTPUT = "output"
    OUTCOME = "outcome"


kpi_project = Table(
    "kpi_project",
    Base.metadata,
    Column("kpi_id", ForeignKey("kpi.id"), primary_key=True),
    Column("project_id", ForeignKey("project.id"), primary_key=True),
    Index("ix_kpi_project_project", "project_id"),  # a project's KPIs (the project page)
)


class Kpi(Base):
    __tablename__ = "kpi"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    name: Mapped[str] = mapped_column(Text)
    definition: Mapped[str] = mapped_column(Text, default="")
    unit_label: Mapped[str] = mapped_column(String(64), default="ร้อยละ")
    measure_kind: Mapped[MeasureKind] = mapped_column(enum_column(MeasureKind, "measure_kind"))
    target: Mapped[Decimal] = mapped_column(Measure)
    kpi_type: Mapped[KpiType] = mapped_column(enum_column(KpiType, "kpi_type"))
    level: Mapped[KpiLevel] = mapped_column(enum_column(KpiLevel, "kpi_level"))
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    # A computed KPI is filled in by the quarterly rollup; others are reported by hand.
    computation: Mapped[str] = mapped_column(String(64), default="")

    fiscal_year: Mapped[FiscalYear] = relationship()
    owner_unit: Mapped[OrgUnit] = relationship()
    projects: Mapped[list[Project]] = relationship(secondary=kpi_project, order_by="Project.code")
    results: Mapped[list[KpiQuarterResult]] = relationship(
        order_by="KpiQuarterResult.quarter", back_populates="kpi"
    )

    __table_args__ = (UniqueConstraint("code", "fiscal_year_id"),)

    def __repr__(self) -> str:
        return f"<Kpi {self.code}>"


class KpiQuarterResult(Base):
    """A KPI's result in one quarter: the value (cumulative through the year), and for ratio
    KPIs its numerator and denominator, which the legacy page shows as the `2.1 / 2.2` pair."""

    __tablename__ = "kpi_quarter_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpi.id"))
    quarter: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal | None] = mapped_column(Measure)
    narrative: Mapped[str] = mapped_column(Text, default="")
    numerator: Mapped[Decimal | None] = mapped_column(Measure)
    denominator: Mapped[Decimal | None] = mapped_column(Measure)
    sub_score_1: Mapped[Decimal | None] = mapped_column(Percent)
    sub_score_2: Mapped[Decimal | None] = mapped_column(Percent)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    kpi: Mapped[Kpi] = relationship(back_populates="results")
    evidence: Mapped[list[KpiEvidenceFile]] = relationship(
        order_by="KpiEvidenceFile.id", back_populates="result"
    )

    @property
    def measured(self) -> bool:
        """Whether the quarter has a result to call achieved: a value, and not the 0 over 0
        that stands for none (the legacy pages list 0.00 and 0 / 0 for every quarter nobody
        reported, and leave "achieved" blank)."""
        return self.value is not None and not (self.value == 0 and self.denominator == 0)

    @property
    def current_evidence(self) -> list[KpiEvidenceFile]:
        return [e for e in self.evidence if e.withdrawn_at is None]

    __table_args__ = (
        UniqueConstraint("kpi_id", "quarter"),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_range"),
        CheckConstraint("denominator IS NULL OR denominator >= 0", name="denominator_not_negative"),
    )


class KpiEvidenceFile(Base):
    """A file backing a quarter's hand-reported result, stored like a step result's evidence
    (checked by its first bytes, a random name outside the web root, served as an attachment).
    Withdrawn, never deleted."""

    __tablename__ = "kpi_evidence_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("kpi_quarter_result.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    result: Mapped[KpiQuarterResult] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)

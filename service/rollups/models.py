"""Quarterly rollups, computed by the workers with set-based SQL and upserted by natural key,
so a rerun gives the same rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, Money, Percent, UTCDateTime, utcnow


class ProjectRollup(Base):
    __tablename__ = "project_rollup"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    quarter: Mapped[int] = mapped_column(Integer)
    actual_progress: Mapped[Decimal] = mapped_column(Percent)
    planned_progress: Mapped[Decimal] = mapped_column(Percent)
    variance: Mapped[Decimal] = mapped_column(Percent)
    behind_schedule: Mapped[bool] = mapped_column(Boolean)
    budget_approved: Mapped[Decimal] = mapped_column(Money)
    budget_allocated: Mapped[Decimal] = mapped_column(Money)
    budget_paid: Mapped[Decimal] = mapped_column(Money)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("project_id", "fiscal_year_id", "quarter"),
        Index("ix_project_rollup_year_quarter", "fiscal_year_id", "quarter"),
    )


class AggregateFigures:
    """The figures a unit or strategy node aggregates over its projects in one quarter."""

    fiscal_year_id: Mapped[int] = mapped_column(ForeignKey("fiscal_year.id"))
    quarter: Mapped[int] = mapped_column(Integer)
    projects: Mapped[int] = mapped_column(Integer)
    behind_schedule: Mapped[int] = mapped_column(Integer)
    actual_progress: Mapped[Decimal] = mapped_column(Percent)
    planned_progress: Mapped[Decimal] = mapped_column(Percent)
    budget_approved: Mapped[Decimal] = mapped_column(Money)
    budget_allocated: Mapped[Decimal] = mapped_column(Money)
    budget_paid: Mapped[Decimal] = mapped_column(Money)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitRollup(AggregateFigures, Base):
    """The same aggregates over the projects a unit owns or is responsible for (its subtree)."""

    __tablename__ = "unit_rollup"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))

    __table_args__ = (UniqueConstraint("unit_id", "fiscal_year_id", "quarter"),)


class StrategyRollup(AggregateFigures, Base):
    __tablename__ = "strategy_rollup"

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy_node_id: Mapped[int] = mapped_column(ForeignKey("strategy_node.id"))

    __table_args__ = (UniqueConstraint("strategy_node_id", "fiscal_year_id", "quarter"),)

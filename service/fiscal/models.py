"""Fiscal years: 1 October to 30 September, named by the Buddhist Era year they end in."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, CheckConstraint, Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base


class FiscalYear(Base):
    __tablename__ = "fiscal_year"

    id: Mapped[int] = mapped_column(primary_key=True)
    be_year: Mapped[int] = mapped_column(Integer, unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("starts_on < ends_on", name="period_ordered"),
        CheckConstraint("be_year BETWEEN 2400 AND 2700", name="be_year_range"),
    )

    def __repr__(self) -> str:
        return f"<FiscalYear {self.be_year}>"

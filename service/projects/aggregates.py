"""Progress, plan, overdue steps and budget figures for many projects at once, in SQL.

Lists (the district dashboard, the public list, their exports) show these figures for
thousands of projects and sort and filter on them, so they are computed set-based: one
aggregate subquery per table, joined once to the projects, never a query per row. The
figures agree with the project page's (`service.projects.page`, `service.core.progress`):

- actual: Σ weight × mean accepted completion of the step's result rows ÷ 100, counting a
  step only when one of its rows has an accepted figure;
- planned on a day: Σ weight × the share of the step's inclusive span elapsed by that day;
- overdue steps: planned end before the day and some result of the step not accepted, or
  no result at all (one school of six accepted leaves the step late for the other five);
- allocated: allocations approved, disbursing or completed; granted: installments approved
  or paid; paid: the installments' payments (an installment paid before payments were
  recorded, whole).

SQLite hands aggregates back as floats: read them through :func:`percent_value` and
:func:`money_value`, which make exact Decimals of them.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from service.budget.models import Allocation, Installment, Payment
from service.projects.models import PlanStep, ResultState, StepResult
from service.projects.page import ALLOCATED_STATES, GRANTED_INSTALLMENT_STATES

_CENT = Decimal("0.01")

#: A select of any number of columns of any type.
RowsSelect: TypeAlias = Select[*tuple[Any, ...]]


class day_number(FunctionElement[int]):
    """The day number of a DATE expression: differences of two are days between them."""

    type = Integer()
    inherit_cache = True


@compiles(day_number)
def _day_number_default(element: day_number, compiler: Any, **kw: Any) -> str:
    # PostgreSQL: date - date is an integer number of days.
    return f"({compiler.process(element.clauses, **kw)} - DATE '2000-01-01')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: Any, **kw: Any) -> str:
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) AS INTEGER)"


def percent_value(value: Any) -> Decimal:
    """An aggregate percent from the database as an exact Decimal to 0.01 (ROUND_HALF_UP)."""
    if value is None:
        return Decimal("0.00")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(_CENT, rounding=ROUND_HALF_UP)


def money_value(value: Any) -> Decimal:
    """A sum of money from the database as an exact Decimal to the satang."""
    return percent_value(value)


def step_figures(project_ids: Any, day: date | ColumnElement[date]) -> RowsSelect:
    """Per project among `project_ids` (a subquery, a CTE's column, a list of ids or an
    expanding bind parameter): actual, planned on `day` (a date or a bind parameter) and the
    number of overdue steps on `day`. Projects without steps have
    no row.

    Results are grouped by step alone first (a narrow key the (step_id, unit_id) index
    serves), then joined to the steps and grouped by project: a step without accepted
    results has a mean accepted completion of 0, so it adds nothing to actual either way.
    """
    on_day: ColumnElement[date] = day if isinstance(day, ColumnElement) else literal(day, Date)
    results = (
        select(
            StepResult.step_id.label("step_id"),
            func.avg(func.coalesce(StepResult.accepted_completion, 0)).label("mean"),
            func.max(case((StepResult.state == ResultState.ACCEPTED, 0), else_=1)).label(
                "has_open"
            ),
        )
        .join(PlanStep, PlanStep.id == StepResult.step_id)
        .where(PlanStep.project_id.in_(project_ids))
        .group_by(StepResult.step_id)
        .subquery("step_results")
    )
    today = day_number(on_day)
    start = day_number(PlanStep.planned_start)
    end = day_number(PlanStep.planned_end)
    # "* 1.0": SQLite divides integers as integers.
    elapsed = (today - start + 1) * literal_column("1.0") / (end - start + 1)
    planned = case(
        (PlanStep.planned_end <= on_day, PlanStep.weight),
        (PlanStep.planned_start > on_day, 0),
        else_=PlanStep.weight * elapsed,
    )
    actual = PlanStep.weight * func.coalesce(results.c.mean, 0) / 100
    overdue = case(
        (
            and_(
                PlanStep.planned_end < on_day,
                # No result rows at all (NULL) counts as open too.
                func.coalesce(results.c.has_open, 1) == 1,
            ),
            1,
        ),
        else_=0,
    )
    return (
        select(
            PlanStep.project_id.label("project_id"),
            func.sum(actual).label("actual"),
            func.sum(planned).label("planned"),
            func.sum(overdue).label("overdue"),
        )
        .outerjoin(results, results.c.step_id == PlanStep.id)
        .where(PlanStep.project_id.in_(project_ids))
        .group_by(PlanStep.project_id)
    )


def allocation_figures(project_ids: Any) -> RowsSelect:
    """Per project among `project_ids`: the amount allocated (approved or later)."""
    return (
        select(
            Allocation.project_id.label("project_id"),
            func.sum(Allocation.amount).label("allocated"),
        )
        .where(Allocation.project_id.in_(project_ids), Allocation.state.in_(ALLOCATED_STATES))
        .group_by(Allocation.project_id)
    )


def installment_figures(project_ids: Any) -> RowsSelect:
    """Per project among `project_ids`: installments granted (approved or paid) and paid."""
    granted = case((Installment.state.in_(GRANTED_INSTALLMENT_STATES), Installment.amount), else_=0)
    # What was paid: the sum of the installment's payments; one paid before payments were
    # recorded counts whole (`service.budget.queries.installment_paid`, the project page's).
    payments = (
        select(func.sum(Payment.amount))
        .where(Payment.installment_id == Installment.id)
        .scalar_subquery()
    )
    paid = func.coalesce(payments, case((Installment.state == "paid", Installment.amount), else_=0))
    return (
        select(
            Allocation.project_id.label("project_id"),
            func.sum(granted).label("granted"),
            func.sum(paid).label("paid"),
        )
        .join(Allocation, Allocation.id == Installment.allocation_id)
        .where(Allocation.project_id.in_(project_ids))
        .group_by(Allocation.project_id)
    )


def zero_if_null(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(column, 0)

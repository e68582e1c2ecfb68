"""Project progress derived from plan steps (pure functions)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.progress import (
    StepPlan,
    actual_progress,
    is_behind_schedule,
    planned_progress,
    s_curve,
    variance,
    weights_problem,
    weights_total,
)

D = Decimal
TWENTY = D(20)

# The legacy project 50230000-3598: five one-day steps of 20% each.
LEGACY_STEP_DAYS = [
    date(2022, 10, 1),
    date(2022, 11, 1),
    date(2022, 12, 1),
    date(2023, 1, 1),
    date(2023, 6, 1),
]
LEGACY_PLAN = [StepPlan(TWENTY, day, day) for day in LEGACY_STEP_DAYS]
LEGACY_REPORT_DAY = date(2022, 12, 30)


# --- StepPlan ---------------------------------------------------------------------------------


def test_step_plan_is_frozen_and_validated() -> None:
    step = StepPlan(D(20), date(2022, 10, 1), date(2022, 10, 31))
    with pytest.raises(AttributeError):
        step.weight = D(30)  # type: ignore[misc]
    with pytest.raises(ValueError, match="before it starts"):
        StepPlan(D(20), date(2022, 10, 2), date(2022, 10, 1))
    with pytest.raises(ValueError, match="negative"):
        StepPlan(D(-1), date(2022, 10, 1), date(2022, 10, 1))
    with pytest.raises(TypeError):
        StepPlan(20.0, date(2022, 10, 1), date(2022, 10, 1))  # type: ignore[arg-type]


def test_step_plan_int_weight_becomes_decimal() -> None:
    step = StepPlan(20, date(2022, 10, 1), date(2022, 10, 1))  # type: ignore[arg-type]
    assert isinstance(step.weight, Decimal)
    assert step.weight == D(20)


# --- actual progress --------------------------------------------------------------------------


def test_actual_progress_legacy_example() -> None:
    steps = [(TWENTY, D(100)), (TWENTY, None), (TWENTY, None), (TWENTY, None), (TWENTY, None)]
    result = actual_progress(steps)
    assert result == D("20.00")
    assert str(result) == "20.00"


def test_actual_progress_partial_and_rounding() -> None:
    assert actual_progress([(D(30), D(50)), (D(70), D(10))]) == D("22.00")
    assert actual_progress([(D("33.33"), D("33.33"))]) == D("11.11")  # 11.108889
    assert actual_progress([(D(1), D("0.5"))]) == D("0.01")  # 0.005 rounds half up
    assert actual_progress([]) == D("0.00")


def test_actual_progress_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        actual_progress([(TWENTY, D(101))])
    with pytest.raises(ValueError, match=r"0\.\.100"):
        actual_progress([(TWENTY, D(-1))])
    with pytest.raises(ValueError, match="negative"):
        actual_progress([(D(-20), D(50))])
    with pytest.raises(TypeError):
        actual_progress([(TWENTY, 50.0)])  # type: ignore[list-item]


weights = st.decimals(min_value=0, max_value=100, places=2)
completions = st.none() | st.decimals(min_value=0, max_value=100, places=2)


@given(st.lists(st.tuples(weights, completions), max_size=10))
def test_actual_progress_is_between_zero_and_total_weight(
    steps: list[tuple[Decimal, Decimal | None]],
) -> None:
    result = actual_progress(steps)
    assert D(0) <= result <= weights_total(weight for weight, _ in steps)
    assert result == result.quantize(D("0.01"))


# --- planned progress -------------------------------------------------------------------------


def test_planned_progress_legacy_example() -> None:
    planned = planned_progress(LEGACY_PLAN, LEGACY_REPORT_DAY)
    assert planned == D("60.00")
    actual = actual_progress([(TWENTY, D(100))] + [(TWENTY, None)] * 4)
    assert actual == D("20.00")
    assert variance(actual, planned) == D("-40.00")
    assert is_behind_schedule(actual, planned)


def test_planned_progress_one_day_step_is_complete_on_its_day() -> None:
    assert planned_progress(LEGACY_PLAN, date(2022, 9, 30)) == D("0.00")
    assert planned_progress(LEGACY_PLAN, date(2022, 10, 1)) == D("20.00")
    assert planned_progress(LEGACY_PLAN, date(2023, 6, 1)) == D("100.00")


def test_planned_progress_is_linear_over_inclusive_span() -> None:
    # A 10-day step (1..10 October): day k of the span counts k/10 of the weight.
    step = StepPlan(D(50), date(2022, 10, 1), date(2022, 10, 10))
    assert planned_progress([step], date(2022, 9, 30)) == D("0.00")
    assert planned_progress([step], date(2022, 10, 1)) == D("5.00")
    assert planned_progress([step], date(2022, 10, 5)) == D("25.00")
    assert planned_progress([step], date(2022, 10, 10)) == D("50.00")
    assert planned_progress([step], date(2023, 1, 1)) == D("50.00")


def test_planned_progress_rounds_half_up() -> None:
    # 3-day step of weight 10: day 1 = 3.333…, day 2 = 6.666…
    step = StepPlan(D(10), date(2022, 10, 1), date(2022, 10, 3))
    assert planned_progress([step], date(2022, 10, 1)) == D("3.33")
    assert planned_progress([step], date(2022, 10, 2)) == D("6.67")


@st.composite
def plans(draw: st.DrawFn) -> list[StepPlan]:
    """Plans of 1..8 steps in FY 2566 whose weights (2 places) sum to exactly 100."""
    count = draw(st.integers(min_value=1, max_value=8))
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=count - 1, max_size=count - 1)))
    bounds = [0, *cuts, 10_000]
    step_weights = [D(high - low) / 100 for low, high in pairwise(bounds)]
    base = date(2022, 10, 1)
    steps = []
    for weight in step_weights:
        start = base + timedelta(days=draw(st.integers(0, 364)))
        end = start + timedelta(days=draw(st.integers(0, 120)))
        steps.append(StepPlan(weight, start, end))
    return steps


@given(plans(), st.integers(-30, 520), st.integers(0, 60))
def test_planned_progress_is_monotone(steps: list[StepPlan], offset: int, more: int) -> None:
    day = date(2022, 10, 1) + timedelta(days=offset)
    later = day + timedelta(days=more)
    assert planned_progress(steps, day) <= planned_progress(steps, later)


@given(plans(), st.integers(0, 400))
def test_planned_progress_is_100_after_the_last_end(steps: list[StepPlan], extra: int) -> None:
    assert weights_problem(step.weight for step in steps) is None
    last_end = max(step.end for step in steps)
    assert planned_progress(steps, last_end + timedelta(days=extra)) == D("100.00")
    first_start = min(step.start for step in steps)
    assert planned_progress(steps, first_start - timedelta(days=1)) == D("0.00")


# --- schedule flags ---------------------------------------------------------------------------


def test_variance_and_behind_schedule() -> None:
    assert variance(D("20.00"), D("60.00")) == D("-40.00")
    assert variance(D(70), D(60)) == D(10)
    assert not is_behind_schedule(D(50), D(60))  # exactly 10 behind: tolerated
    assert is_behind_schedule(D("49.99"), D(60))
    assert not is_behind_schedule(D(70), D(60))
    assert is_behind_schedule(D(55), D(60), tolerance=D(0))
    with pytest.raises(ValueError, match="tolerance"):
        is_behind_schedule(D(0), D(0), tolerance=D(-1))


# --- weights ----------------------------------------------------------------------------------


def test_weights_total() -> None:
    assert weights_total([TWENTY] * 5) == D(100)
    assert weights_total([]) == D(0)
    with pytest.raises(TypeError):
        weights_total([20.0])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("weights_in", "problem"),
    [
        ([TWENTY] * 5, None),
        ([D("20.00")] * 5, None),
        ([D("33.33"), D("33.33"), D("33.34")], None),
        ([TWENTY] * 4, "weights sum to 80, not 100"),
        ([D("20.00")] * 4, "weights sum to 80, not 100"),
        ([D("49.5"), D(50)], "weights sum to 99.5, not 100"),
        ([D(60), D(60)], "weights sum to 120, not 100"),
        ([], "weights sum to 0, not 100"),
        ([D(105), D(-5)], "weight -5 is negative"),
    ],
)
def test_weights_problem(weights_in: list[Decimal], problem: str | None) -> None:
    assert weights_problem(weights_in) == problem


# --- S-curve ----------------------------------------------------------------------------------


def test_s_curve_on_given_dates() -> None:
    start, end = date(2022, 10, 1), date(2023, 9, 30)
    days = [date(2023, 6, 1), date(2022, 12, 30), date(2022, 10, 1), date(2022, 12, 30)]
    assert s_curve(LEGACY_PLAN, start, end, days) == [
        (date(2022, 10, 1), D("20.00")),
        (date(2022, 12, 30), D("60.00")),
        (date(2023, 6, 1), D("100.00")),
    ]


def test_s_curve_evenly_spaced() -> None:
    start, end = date(2022, 10, 1), date(2022, 10, 11)
    step = StepPlan(D(100), start, end)
    curve = s_curve([step], start, end, 3)
    assert [day for day, _ in curve] == [start, date(2022, 10, 6), end]
    assert curve[-1][1] == D("100.00")
    # A range shorter than the number of points yields each day once.
    assert len(s_curve([step], start, start + timedelta(days=1), 12)) == 2


def test_s_curve_accepts_a_generator_of_steps() -> None:
    steps = (step for step in LEGACY_PLAN)
    curve = s_curve(steps, date(2022, 10, 1), date(2023, 9, 30), 4)
    assert curve[-1] == (date(2023, 9, 30), D("100.00"))


def test_s_curve_rejects_bad_ranges() -> None:
    start, end = date(2022, 10, 1), date(2023, 9, 30)
    with pytest.raises(ValueError, match="before it starts"):
        s_curve(LEGACY_PLAN, end, start, 5)
    with pytest.raises(ValueError, match="at least 2"):
        s_curve(LEGACY_PLAN, start, end, 1)
    with pytest.raises(ValueError, match="outside"):
        s_curve(LEGACY_PLAN, start, end, [date(2023, 10, 1)])


@given(plans(), st.integers(2, 40))
def test_s_curve_is_sorted_and_non_decreasing(steps: list[StepPlan], points: int) -> None:
    start, end = date(2022, 10, 1), date(2023, 9, 30)
    curve = s_curve(steps, start, end, points)
    days = [day for day, _ in curve]
    values = [value for _, value in curve]
    assert days == sorted(set(days))
    assert days[0] == start
    assert days[-1] == end
    assert values == sorted(values)

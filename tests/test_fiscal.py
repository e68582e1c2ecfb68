"""Thai fiscal years and quarters, and the Asia/Bangkok local day (pure functions)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.fiscal import (
    FiscalQuarter,
    fiscal_year_bounds,
    fiscal_year_of,
    local_date,
    local_today,
    quarter_bounds,
    quarter_of,
)

# Dates whose fiscal year has representable bounds (FY 545 … FY 10542).
fiscal_dates = st.dates(min_value=date(1, 10, 1), max_value=date(9999, 9, 30))
fiscal_years = st.integers(min_value=545, max_value=10542)


def test_fiscal_year_2566() -> None:
    assert fiscal_year_bounds(2566) == (date(2022, 10, 1), date(2023, 9, 30))


@pytest.mark.parametrize(
    ("d", "fy"),
    [
        (date(2022, 9, 30), 2565),
        (date(2022, 10, 1), 2566),
        (date(2022, 12, 30), 2566),
        (date(2023, 1, 1), 2566),
        (date(2023, 9, 30), 2566),
        (date(2023, 10, 1), 2567),
    ],
)
def test_fiscal_year_of(d: date, fy: int) -> None:
    assert fiscal_year_of(d) == fy


@pytest.mark.parametrize(
    ("month", "quarter"),
    [
        (10, 1),
        (11, 1),
        (12, 1),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 3),
        (5, 3),
        (6, 3),
        (7, 4),
        (8, 4),
        (9, 4),
    ],
)
def test_quarter_of(month: int, quarter: int) -> None:
    assert quarter_of(date(2023, month, 15)) == quarter


def test_quarter_bounds_2566() -> None:
    assert quarter_bounds(2566, 1) == (date(2022, 10, 1), date(2022, 12, 31))
    assert quarter_bounds(2566, 2) == (date(2023, 1, 1), date(2023, 3, 31))
    assert quarter_bounds(2566, 3) == (date(2023, 4, 1), date(2023, 6, 30))
    assert quarter_bounds(2566, 4) == (date(2023, 7, 1), date(2023, 9, 30))


def test_quarter_bounds_leap_year() -> None:
    assert quarter_bounds(2567, 2) == (date(2024, 1, 1), date(2024, 3, 31))
    assert FiscalQuarter.of(date(2024, 2, 29)) == FiscalQuarter(2567, 2)


@pytest.mark.parametrize("quarter", [0, 5, -1])
def test_quarter_outside_1_to_4_is_rejected(quarter: int) -> None:
    with pytest.raises(ValueError, match="quarter"):
        quarter_bounds(2566, quarter)
    with pytest.raises(ValueError, match="quarter"):
        FiscalQuarter(2566, quarter)


@pytest.mark.parametrize("year", [0, 544, 10543])
def test_unrepresentable_fiscal_year_is_rejected(year: int) -> None:
    with pytest.raises(ValueError, match="fiscal year"):
        fiscal_year_bounds(year)
    with pytest.raises(ValueError, match="fiscal year"):
        FiscalQuarter(year, 1)


def test_non_int_year_or_quarter_is_rejected() -> None:
    with pytest.raises(TypeError):
        fiscal_year_bounds("2566")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        quarter_bounds(2566, 2.0)  # type: ignore[arg-type]


def test_fiscal_quarter() -> None:
    q = FiscalQuarter.of(date(2023, 2, 14))
    assert q == FiscalQuarter(2566, 2)
    assert (q.start, q.end) == (date(2023, 1, 1), date(2023, 3, 31))
    assert q.label("th") == "ไตรมาสที่ 2/2566"
    assert q.label() == "ไตรมาสที่ 2/2566"
    assert q.label("en") == "Q2 FY2566"
    assert q.label("en_US") == "Q2 FY2566"
    assert date(2023, 3, 31) in q
    assert date(2023, 4, 1) not in q


def test_fiscal_quarter_is_frozen_and_ordered() -> None:
    q = FiscalQuarter(2566, 4)
    with pytest.raises(AttributeError):
        q.quarter = 1  # type: ignore[misc]
    assert sorted([FiscalQuarter(2567, 1), q, FiscalQuarter(2566, 1)]) == [
        FiscalQuarter(2566, 1),
        q,
        FiscalQuarter(2567, 1),
    ]


def test_fiscal_quarter_label_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        FiscalQuarter(2566, 1).label("de")


@given(fiscal_dates)
def test_every_date_is_in_exactly_one_quarter(d: date) -> None:
    fy = fiscal_year_of(d)
    containing = [
        q for q in range(1, 5) if quarter_bounds(fy, q)[0] <= d <= quarter_bounds(fy, q)[1]
    ]
    assert containing == [quarter_of(d)]
    q = FiscalQuarter.of(d)
    assert q.start <= d <= q.end
    assert d in q
    start, end = fiscal_year_bounds(fy)
    assert start <= d <= end


@given(fiscal_years)
def test_quarters_tile_the_fiscal_year(fy: int) -> None:
    start, end = fiscal_year_bounds(fy)
    bounds = [quarter_bounds(fy, q) for q in range(1, 5)]
    assert bounds[0][0] == start
    assert bounds[-1][1] == end
    for (_, previous_end), (next_start, _) in pairwise(bounds):
        assert next_start == previous_end + timedelta(days=1)
    assert all(first <= last for first, last in bounds)
    assert sum((last - first).days + 1 for first, last in bounds) == (end - start).days + 1


@given(fiscal_years)
def test_consecutive_fiscal_years_touch(fy: int) -> None:
    if fy < 10542:
        assert fiscal_year_bounds(fy + 1)[0] == fiscal_year_bounds(fy)[1] + timedelta(days=1)
    assert fiscal_year_of(fiscal_year_bounds(fy)[0]) == fy
    assert fiscal_year_of(fiscal_year_bounds(fy)[1]) == fy


# --- local day --------------------------------------------------------------------------------


def test_bangkok_day_boundary_moves_fiscal_year() -> None:
    instant = datetime(2023, 9, 30, 17, 30, tzinfo=UTC)
    assert instant.date() == date(2023, 9, 30)  # still FY 2566 Q4 in UTC
    day = local_date(instant)
    assert day == date(2023, 10, 1)
    assert fiscal_year_of(day) == 2567
    assert quarter_of(day) == 1
    assert FiscalQuarter.of(day) == FiscalQuarter(2567, 1)


def test_local_date_just_before_bangkok_midnight() -> None:
    assert local_date(datetime(2023, 9, 30, 16, 59, 59, tzinfo=UTC)) == date(2023, 9, 30)


def test_local_date_with_other_zones() -> None:
    instant = datetime(2023, 9, 30, 17, 30, tzinfo=UTC)
    assert local_date(instant, "UTC") == date(2023, 9, 30)
    assert local_date(instant, ZoneInfo("Asia/Bangkok")) == date(2023, 10, 1)
    plus_seven = datetime(2023, 10, 1, 0, 30, tzinfo=timezone(timedelta(hours=7)))
    assert local_date(plus_seven) == date(2023, 10, 1)


def test_local_date_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2023, 9, 30, 17, 30))


def test_local_date_rejects_plain_date_and_unknown_zone() -> None:
    with pytest.raises(TypeError):
        local_date(date(2023, 9, 30))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        local_date(datetime(2023, 9, 30, tzinfo=UTC), "Mars/Olympus_Mons")


def test_local_today_is_the_bangkok_day() -> None:
    before = datetime.now(ZoneInfo("Asia/Bangkok")).date()
    today = local_today()
    after = datetime.now(ZoneInfo("Asia/Bangkok")).date()
    assert before <= today <= after
    with pytest.raises(ValueError, match="time zone"):
        local_today("Nowhere/Nothing")

"""Chart geometry (pure): the gauge's arc, the time axis and its ticks, the S-curve's lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from service.core.charts import TimeAxis, gauge, s_curve_chart, timeline_chart
from service.core.progress import StepPlan

YEAR = (date(2022, 10, 1), date(2023, 9, 30))
LEGACY_STEPS = [
    StepPlan(Decimal(20), day, day)
    for day in (
        date(2022, 10, 1),
        date(2022, 11, 1),
        date(2022, 12, 1),
        date(2023, 1, 1),
        date(2023, 6, 1),
    )
]


def test_gauge_arc_ends_where_the_value_lies() -> None:
    assert gauge(Decimal(0)).value_path is None
    assert gauge(Decimal(100)).value_path == "M20,100 A80,80 0 0 1 180.0,100.0"
    assert gauge(Decimal(50)).value_path == "M20,100 A80,80 0 0 1 100.0,20.0"
    assert gauge(Decimal(150)).value_path == gauge(Decimal(100)).value_path  # clamped
    half = gauge(Decimal(20), Decimal(50))
    assert (half.planned_x, half.planned_y) == (100.0, 20.0)


def test_time_axis_maps_days_and_ticks_months_in_thai_and_english() -> None:
    axis = TimeAxis(YEAR[0], YEAR[1], 0, 365)
    assert axis.x(date(2022, 10, 1)) == 0
    assert axis.x_end(date(2023, 9, 30)) == 365
    assert axis.x(date(2021, 1, 1)) == 0 and axis.x(date(2030, 1, 1)) == 365
    thai = [tick.label for tick in axis.month_ticks("th")]
    assert thai[0] == "ต.ค. 65" and thai[3] == "ม.ค. 66" and thai[-1] == "ก.ย."
    assert len(thai) == 12
    assert [t.label for t in axis.month_ticks("en", every=3)] == ["Oct 22", "Jan 23", "Apr", "Jul"]


def test_s_curve_of_the_legacy_project() -> None:
    events = [(date(2022, 10, 3), Decimal(20))]
    chart = s_curve_chart(
        LEGACY_STEPS, events, [(date(2022, 12, 30), Decimal(20))], YEAR, date(2023, 2, 1), "th"
    )
    by_day = {point.day: point for point in chart.table}
    assert by_day[date(2022, 12, 31)].planned == Decimal("60.00")
    assert by_day[date(2022, 12, 31)].actual == Decimal("20.00")
    assert by_day[date(2023, 9, 30)].planned == Decimal("100.00")
    # month ends after today have no actual figure yet: the line stops at today
    assert by_day[date(2023, 1, 31)].actual == Decimal("20.00")
    assert by_day[date(2023, 2, 28)].actual is None and by_day[date(2023, 9, 30)].actual is None
    assert chart.planned_path.startswith("M") and chart.actual_path.startswith("M")
    assert chart.today_x is not None and len(chart.reports) == 1
    assert chart.reports[0].y == chart.y(Decimal(20))
    narrow = s_curve_chart(LEGACY_STEPS, events, [], YEAR, date(2023, 2, 1), "th", narrow=True)
    assert narrow.width == 360 and len(narrow.month_ticks) == 4


def test_timeline_draws_one_day_steps_visibly() -> None:
    chart = timeline_chart(
        [(n, s, "planned") for n, s in enumerate(LEGACY_STEPS, 1)], YEAR, date(2024, 1, 1), "en"
    )
    assert [bar.position for bar in chart.bars] == [1, 2, 3, 4, 5]
    assert all(bar.width >= 4 for bar in chart.bars)
    assert chart.today_x is None  # today lies past the year
    assert chart.height == int(chart.top + chart.row * 5 + 24)

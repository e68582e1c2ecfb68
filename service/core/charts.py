"""Geometry of the server-drawn SVG charts: the progress gauge, the S-curve of planned against
actual progress, and the timeline of plan steps.

Pure functions of their arguments, returning plain data that `templates/macros/charts.html`
turns into SVG (the service runs on closed networks and its CSP allows no inline script or
style, so charts are markup with presentation attributes, drawn here). Coordinates are in
the SVG's user units; the SVG scales to its container.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from service.core.progress import FULL, StepPlan, planned_progress
from service.core.thai import ENGLISH_MONTHS_ABBR, THAI_MONTHS_ABBR, be_year

_CENT = Decimal("0.01")


def _pct(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _clamp(value: Decimal) -> Decimal:
    return min(max(value, Decimal(0)), FULL)


def _r(value: float) -> float:
    return round(value, 1)


# --------------------------------------------------------------------------------------------
# Gauge


@dataclass(frozen=True)
class Gauge:
    """A half-ring gauge: `value_path` draws the ring from 0 up to the value (None for 0)."""

    value: Decimal
    value_path: str | None
    planned_x: float | None
    planned_y: float | None


def _ring_point(percent: Decimal) -> tuple[float, float]:
    angle = math.pi * (1 - float(_clamp(percent)) / 100)
    return _r(100 + 80 * math.cos(angle)), _r(100 - 80 * math.sin(angle))


def gauge(value: Decimal, planned: Decimal | None = None) -> Gauge:
    """A gauge for `value` percent, with a tick where `planned` percent lies (if given).

    The ring is the upper half of a circle of radius 80 centred at (100, 100); the value is an
    arc of its own (not a dash pattern, which PDF renderers split at curve segments). Values
    outside 0..100 are drawn clamped. Never raises for Decimals.
    """
    value_path = None
    if _clamp(value) > 0:
        x, y = _ring_point(value)
        value_path = f"M20,100 A80,80 0 0 1 {x},{y}"
    planned_x = planned_y = None
    if planned is not None:
        planned_x, planned_y = _ring_point(planned)
    return Gauge(value=value, value_path=value_path, planned_x=planned_x, planned_y=planned_y)


# --------------------------------------------------------------------------------------------
# Time axis shared by the S-curve and the timeline


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class TimeAxis:
    """Days `start` … `end` (inclusive) mapped onto `left` … `right`."""

    start: date
    end: date
    left: float
    right: float

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def x(self, day: date) -> float:
        """The x of the start of `day`; days outside the axis are clamped to its ends."""
        offset = min(max((day - self.start).days, 0), self.days)
        return _r(self.left + (self.right - self.left) * offset / self.days)

    def x_end(self, day: date) -> float:
        """The x of the end of `day` (start of the next)."""
        return self.x(day + timedelta(days=1))

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def month_ticks(self, lang: str, every: int = 1) -> list[Tick]:
        """A tick at the first of every `every`-th month of the fiscal year (1: each month, 3:
        each quarter) on the axis, labelled with the short month name (Thai or English) and,
        in January and at the first tick, the year (BE in Thai)."""
        names = THAI_MONTHS_ABBR if lang == "th" else ENGLISH_MONTHS_ABBR
        ticks = []
        month = date(self.start.year, self.start.month, 1)
        if month < self.start:
            month = _next_month(month)
        first = True
        while month <= self.end:
            if (month.month - 10) % every:
                month = _next_month(month)
                continue
            text = names[month.month - 1]
            if first or month.month == 1:
                year = be_year(month.year) if lang == "th" else month.year
                text = f"{text} {str(year)[-2:]}"
            ticks.append(Tick(self.x(month), text))
            first = False
            month = _next_month(month)
        return ticks


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def chart_span(
    fiscal_start: date, fiscal_end: date, steps: Iterable[StepPlan]
) -> tuple[date, date]:
    """The fiscal year, widened to cover every step (multi-year plans run past it)."""
    start, end = fiscal_start, fiscal_end
    for step in steps:
        start = min(start, step.start)
        end = max(end, step.end)
    return start, end


# --------------------------------------------------------------------------------------------
# S-curve


@dataclass(frozen=True)
class CurvePoint:
    day: date
    planned: Decimal
    #: None after today: what is done by a day still to come is not known.
    actual: Decimal | None


@dataclass(frozen=True)
class ReportMark:
    x: float
    y: float
    day: date
    percent: Decimal


@dataclass
class SCurve:
    """An S-curve chart `width` × `height` units: plot area `left`..`right` × `top`..`bottom`."""

    width: int = 640
    height: int = 280
    left: float = 44
    right: float = 628
    top: float = 14
    bottom: float = 248
    font: int = 12
    planned_path: str = ""
    actual_path: str = ""
    today_x: float | None = None
    month_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    reports: list[ReportMark] = field(default_factory=list)
    table: list[CurvePoint] = field(default_factory=list)

    def y(self, percent: Decimal) -> float:
        share = float(_clamp(percent)) / 100
        return _r(self.bottom - (self.bottom - self.top) * share)


def actual_history(
    events: Iterable[tuple[date, Decimal]], day: date, start_from: Decimal = Decimal(0)
) -> Decimal:
    """The actual progress on `day`: `start_from` plus every event's contribution (points
    of progress) dated on or before `day`. Exact; quantised to 0.01."""
    return _pct(start_from + sum((delta for when, delta in events if when <= day), Decimal(0)))


def s_curve_chart(
    steps: Sequence[StepPlan],
    events: Sequence[tuple[date, Decimal]],
    reports: Sequence[tuple[date, Decimal]],
    span: tuple[date, date],
    today: date,
    lang: str,
    narrow: bool = False,
) -> SCurve:
    """Planned progress over `span` (from the steps), actual progress (from `events`: the day
    an accepted result took effect and the points it added), the reported percents as marks,
    a line at `today`, month ticks and a month-end table for readers who cannot see the chart.

    The planned line is exact at every step boundary (planned progress is linear between
    them); the actual line is a staircase that stops at `today`. `narrow` draws it for a
    phone: 360 units wide, quarters ticked instead of months.
    """
    chart = (
        SCurve(width=360, height=250, left=30, right=350, top=12, bottom=220, font=13)
        if narrow
        else SCurve()
    )
    axis = TimeAxis(span[0], span[1], chart.left, chart.right)
    chart.month_ticks = axis.month_ticks(lang, every=3 if narrow else 1)
    chart.y_ticks = [Tick(chart.y(Decimal(v)), str(v)) for v in (0, 25, 50, 75, 100)]

    # Planned: its value at the end of day d is planned_progress(d); break points are the days
    # before each step starts and the last day of each step.
    days = {span[0] - timedelta(days=1), span[1]}
    for step in steps:
        days.update({step.start - timedelta(days=1), step.end})
    points = []
    for day in sorted(d for d in days if span[0] - timedelta(days=1) <= d <= span[1]):
        points.append(f"{axis.x_end(day)},{chart.y(planned_progress(steps, day))}")
    chart.planned_path = "M" + " L".join(points)

    # Actual: a staircase through the accepted results, up to today.
    stop = min(today, span[1])
    if stop >= span[0]:
        level = actual_history(events, span[0] - timedelta(days=1))
        path = [f"{axis.x(span[0])},{chart.y(level)}"]
        for when in sorted({when for when, _delta in events if span[0] <= when <= stop}):
            x = axis.x(when)
            path.append(f"{x},{chart.y(level)}")
            level = actual_history(events, when)
            path.append(f"{x},{chart.y(level)}")
        path.append(f"{axis.x_end(stop)},{chart.y(level)}")
        chart.actual_path = "M" + " L".join(path)
    if axis.contains(today):
        chart.today_x = axis.x_end(today)
    chart.reports = [
        ReportMark(axis.x_end(day), chart.y(percent), day, percent)
        for day, percent in reports
        if axis.contains(day)
    ]

    month_ends = []
    month = date(span[0].year, span[0].month, 1)
    while month <= span[1]:
        month_ends.append(min(_next_month(month) - timedelta(days=1), span[1]))
        month = _next_month(month)
    chart.table = [
        CurvePoint(
            day,
            planned_progress(steps, day),
            # a month end still to come: as of today, as the line stops there
            actual_history(events, day) if day <= today else None,
        )
        for day in month_ends
        if day >= span[0]
    ]
    return chart


# --------------------------------------------------------------------------------------------
# Timeline


@dataclass(frozen=True)
class TimelineBar:
    position: int
    y: float
    x: float
    width: float
    status: str


@dataclass
class Timeline:
    """One row per step, 640 units wide; `status` picks the bar's colour."""

    width: int = 640
    height: int = 0
    left: float = 72
    right: float = 628
    top: float = 8
    row: float = 26
    font: int = 12
    bars: list[TimelineBar] = field(default_factory=list)
    month_ticks: list[Tick] = field(default_factory=list)
    today_x: float | None = None

    @property
    def axis_y(self) -> float:
        return self.top + self.row * len(self.bars)


#: Colours of the timeline's bars, by step status (also its legend).
STATUS_COLOURS = {
    "done": "#1b6e3a",
    "partly": "#0b5c8a",
    "overdue": "#a4161a",
    "planned": "#8a96a3",
}


def timeline_chart(
    steps: Sequence[tuple[int, StepPlan, str]],
    span: tuple[date, date],
    today: date,
    lang: str,
    narrow: bool = False,
) -> Timeline:
    """Bars from each step's planned start to the end of its planned end day; a one-day step
    is drawn at least 4 units wide so it stays visible. `steps` are (position, plan, status).
    `narrow` draws it 360 units wide with quarters ticked, for a phone."""
    chart = Timeline(width=360, left=64, right=350, row=28, font=13) if narrow else Timeline()
    axis = TimeAxis(span[0], span[1], chart.left, chart.right)
    for index, (position, plan, status) in enumerate(steps):
        x = axis.x(plan.start)
        width = max(axis.x_end(plan.end) - x, 4.0)
        y = chart.top + chart.row * index
        chart.bars.append(TimelineBar(position, _r(y), x, _r(width), status))
    chart.height = int(chart.axis_y + 24)
    chart.month_ticks = axis.month_ticks(lang, every=3 if narrow else 1)
    if axis.contains(today):
        chart.today_x = axis.x_end(today)
    return chart


# --------------------------------------------------------------------------------------------
# Bars: progress against plan per unit or strategy node, and the budget chain


@dataclass(frozen=True)
class Bar:
    """One row: its label above a bar from `left` of `width`, and an optional marker at
    `marker_x` (the plan)."""

    label: str
    value_text: str
    y: float
    width: float
    marker_x: float | None


@dataclass
class BarChart:
    """Rows of labelled horizontal bars in a `width` × `height` box. Narrow on purpose (a
    phone's width), so the labels stay legible when the SVG scales up on a wide screen."""

    width: int = 360
    height: int = 0
    left: float = 4
    right: float = 356
    row: float = 40
    font: int = 13
    bars: list[Bar] = field(default_factory=list)


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    rows: Sequence[tuple[str, Decimal, Decimal | None, str]], maximum: Decimal | None = None
) -> BarChart:
    """A bar per `(label, value, marker, value_text)`, scaled to `maximum` (100 when None:
    percents), values and markers clamped to 0..maximum. Labels longer than the row are cut
    with an ellipsis (the table beside the chart gives them whole)."""
    chart = BarChart()
    top = Decimal(100) if maximum is None else maximum
    span = chart.right - chart.left

    def x_of(value: Decimal) -> float:
        if top <= 0:
            return 0.0
        share = min(max(value, Decimal(0)), top) / top
        return _r(span * float(share))

    for index, (text, value, marker, value_text) in enumerate(rows):
        chart.bars.append(
            Bar(
                label=_short(text),
                value_text=value_text,
                y=_r(index * chart.row),
                width=x_of(value),
                marker_x=None if marker is None else _r(chart.left + x_of(marker)),
            )
        )
    chart.height = int(len(rows) * chart.row + 8)
    return chart


# --------------------------------------------------------------------------------------------
# Disbursement curve


@dataclass(frozen=True)
class MoneyPoint:
    """A month end: the money the plan expects spent by then and the money paid by then."""

    day: date
    planned: Decimal
    paid: Decimal | None  # None: the month has not begun yet


def money_curve_chart(
    points: Sequence[MoneyPoint],
    budget: Decimal,
    span: tuple[date, date],
    today: date,
    lang: str,
    narrow: bool = False,
) -> SCurve:
    """The monthly disbursement curve: the plan's cumulative money and the money paid, each
    month end, as a percent of `budget` (the S-curve's frame, so both charts read alike).
    The paid line stops at the last month that has begun."""
    chart = (
        SCurve(width=360, height=250, left=30, right=350, top=12, bottom=220, font=13)
        if narrow
        else SCurve()
    )
    axis = TimeAxis(span[0], span[1], chart.left, chart.right)
    chart.month_ticks = axis.month_ticks(lang, every=3 if narrow else 1)
    chart.y_ticks = [Tick(chart.y(Decimal(v)), str(v)) for v in (0, 25, 50, 75, 100)]

    def share(amount: Decimal) -> Decimal:
        return _pct(amount * 100 / budget) if budget > 0 else Decimal(0)

    start = f"{axis.x(span[0])},{chart.y(Decimal(0))}"
    chart.planned_path = "M" + " L".join(
        [start, *(f"{axis.x_end(p.day)},{chart.y(share(p.planned))}" for p in points)]
    )
    paid = [p for p in points if p.paid is not None]
    if paid:
        chart.actual_path = "M" + " L".join(
            [start]
            + [
                f"{axis.x_end(min(p.day, today))},{chart.y(share(p.paid or Decimal(0)))}"
                for p in paid
            ]
        )
    if axis.contains(today):
        chart.today_x = axis.x_end(today)
    return chart

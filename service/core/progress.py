"""Project progress, derived from plan steps (never typed in).

A project's plan is a list of steps, each with a weight (percent; the weights of a project sum
to exactly 100) and a planned span of days. Actual progress counts only step results the
district accepted; planned progress is where the plan says the project should be on a day.
All values are exact :class:`Decimal` percentages, results quantised to 0.01 (ROUND_HALF_UP).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from service.core.translate import gettext as _

__all__ = [
    "DEFAULT_TOLERANCE",
    "FULL",
    "StepPlan",
    "actual_progress",
    "is_behind_schedule",
    "planned_progress",
    "s_curve",
    "variance",
    "weights_problem",
    "weights_total",
]

#: 100 percent: what step weights sum to, and a complete step's completion.
FULL: Final = Decimal(100)
#: Points behind plan tolerated before a project is flagged.
DEFAULT_TOLERANCE: Final = Decimal(10)

_CENT: Final = Decimal("0.01")
_ZERO: Final = Decimal(0)


def _decimal(value: object, what: str) -> Decimal:
    """Accept Decimal or int (not bool, not float) as an exact finite Decimal."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{what} must be finite, not {value}")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"{what} must be a Decimal, not {type(value).__name__}")


def _percent(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class StepPlan:
    """A plan step's weight (percent) and planned span, ``start`` to ``end`` inclusive.

    An ``int`` weight is stored as a Decimal. Construction raises TypeError for a non-Decimal
    weight (e.g. a float) or non-date bounds, and ValueError for a negative weight or
    ``end < start``.
    """

    weight: Decimal
    start: date
    end: date

    def __post_init__(self) -> None:
        weight = _decimal(self.weight, "step weight")
        if weight < 0:
            raise ValueError(f"step weight must not be negative, got {weight}")
        object.__setattr__(self, "weight", weight)
        if not isinstance(self.start, date) or not isinstance(self.end, date):
            raise TypeError("step start and end must be dates")
        if self.end < self.start:
            raise ValueError(f"step ends ({self.end}) before it starts ({self.start})")

    def fraction_elapsed(self, on: date) -> Decimal:
        """Planned fraction (0..1) of this step done on day ``on``.

        1 from ``end`` on, 0 before ``start``, else (days since start + 1) / (days in span),
        so a one-day step is complete on its day. Never raises for a date.
        """
        if on >= self.end:
            return Decimal(1)
        if on < self.start:
            return _ZERO
        return Decimal((on - self.start).days + 1) / Decimal((self.end - self.start).days + 1)

    def planned_weight(self, on: date) -> Decimal:
        """Weight × :meth:`fraction_elapsed` on day ``on`` (one division, not quantised).

        Never raises for a date.
        """
        if on >= self.end:
            return self.weight
        if on < self.start:
            return _ZERO
        elapsed = (on - self.start).days + 1
        return self.weight * elapsed / Decimal((self.end - self.start).days + 1)


def actual_progress(steps: Iterable[tuple[Decimal, Decimal | None]]) -> Decimal:
    """Return Σ weight × completion / 100 over ``(weight, accepted completion %)`` pairs.

    ``None`` completion means no result has been accepted yet and counts as 0. The result is
    quantised to 0.01 (ROUND_HALF_UP); it lies between 0 and the sum of the weights.
    Example: weights 20 ×5 with completions (100, None, None, None, None) → ``Decimal("20.00")``.

    Raises TypeError for a float (or other non-Decimal) weight or completion, and ValueError
    for a negative weight or a completion outside 0..100.
    """
    total = _ZERO
    for weight_value, completion_value in steps:
        weight = _decimal(weight_value, "step weight")
        if weight < 0:
            raise ValueError(f"step weight must not be negative, got {weight}")
        if completion_value is None:
            continue
        completion = _decimal(completion_value, "step completion")
        if not _ZERO <= completion <= FULL:
            raise ValueError(f"step completion must be within 0..100, got {completion}")
        total += weight * completion / FULL
    return _percent(total)


def planned_progress(steps: Iterable[StepPlan], on: date) -> Decimal:
    """Return the progress (percent) the plan expects on day ``on``.

    Σ :meth:`StepPlan.planned_weight` (weight × fraction of the span elapsed): a step whose
    end is on or before ``on`` counts fully, one not yet started counts 0, one in progress
    counts linearly by days over its inclusive span. Quantised to 0.01 (ROUND_HALF_UP).
    Non-decreasing in ``on``; equal to the sum of the weights from the last step's end on.
    Never raises for valid steps.
    """
    total = _ZERO
    for step in steps:
        total += step.planned_weight(on)
    return _percent(total)


def variance(actual: Decimal, planned: Decimal) -> Decimal:
    """Return ``actual - planned``: negative when behind plan. Exact; never raises."""
    return actual - planned


def is_behind_schedule(
    actual: Decimal, planned: Decimal, tolerance: Decimal = DEFAULT_TOLERANCE
) -> bool:
    """Whether the project is more than ``tolerance`` points behind plan.

    True iff ``planned - actual > tolerance`` (20 actual vs 60 planned → True). Raises
    ValueError for a negative tolerance.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must not be negative, got {tolerance}")
    return planned - actual > tolerance


def weights_total(weights: Iterable[Decimal]) -> Decimal:
    """Return the exact sum of step weights (0 for none).

    Raises TypeError for a float (or other non-Decimal) weight.
    """
    return sum((_decimal(weight, "step weight") for weight in weights), _ZERO)


def _plain(value: Decimal) -> str:
    """Format without exponent or trailing zeros: 80.00 → "80", 99.50 → "99.5"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def weights_problem(weights: Iterable[Decimal]) -> str | None:
    """Explain why step weights are not acceptable, or return None when they are.

    Acceptable means no weight is negative and they sum to exactly 100. Otherwise returns a
    human-readable reason such as ``"weights sum to 80, not 100"`` or
    ``"weight -5 is negative"`` (numbers without trailing zeros).

    Raises TypeError for a float (or other non-Decimal) weight.
    """
    values = [_decimal(weight, "step weight") for weight in weights]
    for value in values:
        if value < 0:
            return _("weight %(weight)s is negative", weight=_plain(value))
    total = sum(values, _ZERO)
    if total != FULL:
        return _("weights sum to %(total)s, not 100", total=_plain(total))
    return None


def _evenly_spaced(start: date, end: date, points: int) -> list[date]:
    if isinstance(points, bool) or points < 2:
        raise ValueError(f"need at least 2 sample points, got {points}")
    span = (end - start).days
    steps = points - 1
    # Round span * i / steps half-up in integers.
    return [start + timedelta(days=(2 * span * i + steps) // (2 * steps)) for i in range(points)]


def s_curve(
    steps: Iterable[StepPlan],
    start: date,
    end: date,
    points: int | Iterable[date] = 12,
) -> list[tuple[date, Decimal]]:
    """Sample :func:`planned_progress` over ``start`` … ``end`` (inclusive), for charts.

    ``points`` is either the number (>= 2) of evenly spaced sample days, the first ``start``
    and the last ``end`` (fewer when the range has fewer days), or an iterable of the sample
    dates themselves. Returns ``(day, planned %)`` pairs sorted by day, without duplicates.

    Raises ValueError if ``end < start``, if a count below 2 is given, or if a given date lies
    outside ``start`` … ``end``.
    """
    if end < start:
        raise ValueError(f"chart range ends ({end}) before it starts ({start})")
    if isinstance(points, int):
        days = _evenly_spaced(start, end, points)
    else:
        days = list(points)
        for day in days:
            if not start <= day <= end:
                raise ValueError(f"sample date {day} is outside {start} … {end}")
    plan = list(steps)
    return [(day, planned_progress(plan, day)) for day in sorted(set(days))]

"""Thai government fiscal years and quarters, and the local (Asia/Bangkok) calendar day.

A fiscal year runs from 1 October to 30 September and is named by the Buddhist Era year in
which it ends: FY 2566 = 2022-10-01 … 2023-09-30. Quarters: Q1 Oct–Dec, Q2 Jan–Mar,
Q3 Apr–Jun, Q4 Jul–Sep. All functions are pure except :func:`local_today`, which reads the
clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.core.thai import be_year, ce_year

__all__ = [
    "DEFAULT_TZ",
    "FiscalQuarter",
    "fiscal_year_bounds",
    "fiscal_year_of",
    "local_date",
    "local_today",
    "quarter_bounds",
    "quarter_of",
]

#: The zone whose calendar day is "the day" for the service.
DEFAULT_TZ: Final = "Asia/Bangkok"

# Fiscal years whose bounds are representable as datetime.date (CE 1 … 9999).
_MIN_FISCAL_YEAR: Final = be_year(2)
_MAX_FISCAL_YEAR: Final = be_year(9999)


def fiscal_year_of(d: date) -> int:
    """Return the fiscal year (Buddhist Era) that contains ``d``.

    2022-09-30 → 2565, 2022-10-01 → 2566, 2023-09-30 → 2566. Never raises for a date (a
    ``datetime`` counts by its own date part; convert instants with :func:`local_date` first).
    """
    return be_year(d.year + 1 if d.month >= 10 else d.year)


def _check_fiscal_year(be: int) -> int:
    if isinstance(be, bool) or not isinstance(be, int):
        raise TypeError(f"fiscal year must be an int (Buddhist Era), not {type(be).__name__}")
    if not _MIN_FISCAL_YEAR <= be <= _MAX_FISCAL_YEAR:
        raise ValueError(
            f"fiscal year {be} is out of range {_MIN_FISCAL_YEAR}..{_MAX_FISCAL_YEAR} "
            "(Buddhist Era years are expected, e.g. 2566)"
        )
    return ce_year(be)


def _check_quarter(quarter: int) -> int:
    if isinstance(quarter, bool) or not isinstance(quarter, int):
        raise TypeError(f"quarter must be an int, not {type(quarter).__name__}")
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter must be 1, 2, 3 or 4, not {quarter}")
    return quarter


def fiscal_year_bounds(be_year: int) -> tuple[date, date]:
    """Return the first and last day (both inclusive) of fiscal year ``be_year``.

    ``fiscal_year_bounds(2566) == (date(2022, 10, 1), date(2023, 9, 30))``.

    Raises TypeError for a non-int year and ValueError for a year whose bounds are not
    representable as dates.
    """
    ce = _check_fiscal_year(be_year)
    return date(ce - 1, 10, 1), date(ce, 9, 30)


def quarter_of(d: date) -> int:
    """Return the fiscal quarter (1..4) of ``d``: Oct–Dec 1, Jan–Mar 2, Apr–Jun 3, Jul–Sep 4.

    Never raises for a date.
    """
    return (d.month - 10) % 12 // 3 + 1


def quarter_bounds(be_year: int, quarter: int) -> tuple[date, date]:
    """Return the first and last day (both inclusive) of ``quarter`` of fiscal year ``be_year``.

    ``quarter_bounds(2566, 2) == (date(2023, 1, 1), date(2023, 3, 31))``.

    Raises TypeError for non-int arguments, ValueError for a quarter outside 1..4 or a year
    whose bounds are not representable as dates.
    """
    ce = _check_fiscal_year(be_year)
    _check_quarter(quarter)
    first_month_index = 9 + 3 * (quarter - 1)  # months counted from January of ce - 1
    start = date(ce - 1 + first_month_index // 12, first_month_index % 12 + 1, 1)
    next_index = first_month_index + 3
    next_start = date(ce - 1 + next_index // 12, next_index % 12 + 1, 1)
    return start, next_start - timedelta(days=1)


@dataclass(frozen=True, order=True)
class FiscalQuarter:
    """One quarter of one fiscal year; orders chronologically.

    ``year`` is the Buddhist Era fiscal year, ``quarter`` is 1..4. Construction raises
    TypeError for non-int fields and ValueError for an out-of-range year or quarter.
    """

    year: int
    quarter: int

    def __post_init__(self) -> None:
        _check_fiscal_year(self.year)
        _check_quarter(self.quarter)

    @classmethod
    def of(cls, d: date) -> FiscalQuarter:
        """Return the fiscal quarter containing ``d``."""
        return cls(fiscal_year_of(d), quarter_of(d))

    @property
    def start(self) -> date:
        """First day of the quarter."""
        return quarter_bounds(self.year, self.quarter)[0]

    @property
    def end(self) -> date:
        """Last day of the quarter (inclusive)."""
        return quarter_bounds(self.year, self.quarter)[1]

    def __contains__(self, d: object) -> bool:
        """``d in quarter``: whether the date ``d`` falls in this quarter."""
        return isinstance(d, date) and self.start <= _as_date(d) <= self.end

    def label(self, lang: str = "th") -> str:
        """Return ``"ไตรมาสที่ 2/2566"`` (Thai) or ``"Q2 FY2566"`` (English).

        ``lang`` may be ``"th"``/``"en"`` or a locale such as ``"th_TH"``/``"en-US"``.
        Raises ValueError for any other language.
        """
        code = lang.strip().lower().replace("-", "_")
        if code == "th" or code.startswith("th_"):
            return f"ไตรมาสที่ {self.quarter}/{self.year}"
        if code == "en" or code.startswith("en_"):
            return f"Q{self.quarter} FY{self.year}"
        raise ValueError(f"unsupported language {lang!r}: expected 'th' or 'en'")


def _as_date(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def local_date(instant: datetime, tz: str | tzinfo = DEFAULT_TZ) -> date:
    """Return the calendar day of ``instant`` in ``tz`` (default Asia/Bangkok).

    2023-09-30T17:30:00Z → 2023-10-01 (00:30 in Bangkok).

    Raises TypeError if ``instant`` is not a datetime, ValueError if it is naive (no time
    zone: its instant is unknown) or ``tz`` is not a known time zone.
    """
    if not isinstance(instant, datetime):
        raise TypeError(f"instant must be a datetime, not {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"instant must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(_zone(tz)).date()


def local_today(tz: str | tzinfo = DEFAULT_TZ) -> date:
    """Return today's date in ``tz`` (default Asia/Bangkok), read from the system clock.

    Raises ValueError if ``tz`` is not a known time zone.
    """
    return datetime.now(_zone(tz)).date()

"""Thai-language helpers: Buddhist Era dates, Thai digits, text normalisation, baht in words.

Everything here is a pure function of its arguments. Money is handled as :class:`Decimal`
only (never ``float``); dates are :class:`datetime.date` values in the Common Era and are
converted to the Buddhist Era (BE = CE + 543) only for display and parsing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Final, Literal

__all__ = [
    "BE_OFFSET",
    "ENGLISH_MONTHS",
    "ENGLISH_MONTHS_ABBR",
    "THAI_MONTHS",
    "THAI_MONTHS_ABBR",
    "DateStyle",
    "baht_in_english",
    "bahttext",
    "be_year",
    "ce_year",
    "format_baht",
    "format_be_date",
    "format_date",
    "format_percent",
    "normalize_thai",
    "parse_thai_date",
    "read_code",
    "to_arabic_digits",
    "to_thai_digits",
]

DateStyle = Literal["short", "long"]

#: Buddhist Era year = Common Era year + BE_OFFSET.
BE_OFFSET: Final = 543

#: Full Thai month names; ``THAI_MONTHS[month - 1]``.
THAI_MONTHS: Final[tuple[str, ...]] = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)

#: Abbreviated Thai month names; ``THAI_MONTHS_ABBR[month - 1]``.
THAI_MONTHS_ABBR: Final[tuple[str, ...]] = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)

#: Full English month names; ``ENGLISH_MONTHS[month - 1]``.
ENGLISH_MONTHS: Final[tuple[str, ...]] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: Abbreviated English month names; ``ENGLISH_MONTHS_ABBR[month - 1]``.
ENGLISH_MONTHS_ABBR: Final[tuple[str, ...]] = tuple(name[:3] for name in ENGLISH_MONTHS)

# Years at or above this are read as Buddhist Era when parsing (BE 2400 = CE 1857).
_BE_THRESHOLD: Final = 2400


# --------------------------------------------------------------------------------------------
# Years and dates
# --------------------------------------------------------------------------------------------


def be_year(ce_year: int) -> int:
    """Return the Buddhist Era year for a Common Era year (``ce_year + 543``).

    Never raises for an ``int``.
    """
    return ce_year + BE_OFFSET


def ce_year(be_year: int) -> int:
    """Return the Common Era year for a Buddhist Era year (``be_year - 543``).

    Never raises for an ``int``.
    """
    return be_year - BE_OFFSET


def _check_style(style: str) -> None:
    if style not in ("short", "long"):
        raise ValueError(f"date style must be 'short' or 'long', not {style!r}")


def format_be_date(d: date, style: DateStyle = "short") -> str:
    """Format ``d`` the Thai way: day, Thai month name, Buddhist Era year.

    ``short`` gives ``"30 ธ.ค. 2565"``, ``long`` gives ``"30 ธันวาคม 2565"``; the day is not
    zero-padded. A ``datetime`` is formatted by its date part.

    Raises ValueError for an unknown ``style``.
    """
    _check_style(style)
    months = THAI_MONTHS_ABBR if style == "short" else THAI_MONTHS
    return f"{d.day} {months[d.month - 1]} {be_year(d.year)}"


def _is_thai(lang: str) -> bool:
    code = lang.strip().lower().replace("-", "_")
    if code == "th" or code.startswith("th_"):
        return True
    if code == "en" or code.startswith("en_"):
        return False
    raise ValueError(f"unsupported language {lang!r}: expected 'th' or 'en' (or th_*/en_*)")


def format_date(d: date, lang: str, style: DateStyle = "short") -> str:
    """Format ``d`` for display in ``lang``.

    Thai (``"th"``, ``"th_TH"``, ``"th-TH"``) gives the Buddhist Era form of
    :func:`format_be_date`; English (``"en"``, ``"en_US"`` …) gives ``"30 Dec 2022"`` (short)
    or ``"30 December 2022"`` (long), Common Era, day not zero-padded.

    Raises ValueError for an unsupported language or an unknown ``style``.
    """
    _check_style(style)
    if _is_thai(lang):
        return format_be_date(d, style)
    months = ENGLISH_MONTHS_ABBR if style == "short" else ENGLISH_MONTHS
    return f"{d.day} {months[d.month - 1]} {d.year}"


def _month_key(name: str) -> str:
    return name.replace(".", "").casefold()


_MONTH_LOOKUP: Final[dict[str, int]] = {
    _month_key(name): index + 1
    for names in (THAI_MONTHS, THAI_MONTHS_ABBR, ENGLISH_MONTHS, ENGLISH_MONTHS_ABBR)
    for index, name in enumerate(names)
}

_SLASH_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
)
_NAMED_DATE = re.compile(
    r"([0-9]{1,2})\s*([^\s0-9]+?)\s*(?:พ\.\s?ศ\.?\s*)?([0-9]{4})",
)


def _resolve_year(year: int) -> int:
    return ce_year(year) if year >= _BE_THRESHOLD else year


def _make_date(text: str, year: int, month: int, day: int) -> date:
    ce = _resolve_year(year)
    try:
        return date(ce, month, day)
    except ValueError as exc:
        raise ValueError(f"not a valid date: {text!r} ({exc})") from None


def parse_thai_date(text: str) -> date:
    """Parse a date written in one of the forms the legacy system and Thai users use.

    Accepted (surrounding whitespace ignored, Thai digits allowed):

    - ``"30/12/2565"`` — day/month/year;
    - ``"2022-12-30"`` and ``"2022-12-30 00:00:00"`` — ISO date, optionally with a time of
      day, which is dropped;
    - ``"30 ธ.ค. 2565"``, ``"30 ธันวาคม 2565"``, ``"30 ธันวาคม พ.ศ. 2565"`` — day, Thai month
      name (full or abbreviated, dots optional), year; English month names (``"30 Dec 2022"``)
      are accepted too.

    A four-digit year >= 2400 is read as Buddhist Era, any other as Common Era.

    Raises ValueError (with the offending text in the message) when the text matches none of
    these forms, names an unknown month, or names a day that does not exist; TypeError when
    ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_thai_date expects a str, not {type(text).__name__}")
    cleaned = normalize_thai(to_arabic_digits(text))
    if match := _SLASH_DATE.fullmatch(cleaned):
        day, month, year = (int(g) for g in match.groups())
        return _make_date(text, year, month, day)
    if match := _ISO_DATE.fullmatch(cleaned):
        year, month, day = (int(g) for g in match.groups())
        return _make_date(text, year, month, day)
    if match := _NAMED_DATE.fullmatch(cleaned):
        day_text, month_text, year_text = match.groups()
        month_number = _MONTH_LOOKUP.get(_month_key(month_text))
        if month_number is None:
            raise ValueError(f"unknown month name {month_text!r} in date {text!r}")
        return _make_date(text, int(year_text), month_number, int(day_text))
    raise ValueError(
        f"unrecognised date {text!r}: expected d/m/yyyy (e.g. 30/12/2565), yyyy-mm-dd "
        "(optionally with a time) or 'd month yyyy' (e.g. 30 ธ.ค. 2565)"
    )


# --------------------------------------------------------------------------------------------
# Digits and text
# --------------------------------------------------------------------------------------------

_THAI_DIGITS: Final = "๐๑๒๓๔๕๖๗๘๙"
_ARABIC_DIGITS: Final = "0123456789"
_TO_THAI: Final = str.maketrans(_ARABIC_DIGITS, _THAI_DIGITS)
_TO_ARABIC: Final = str.maketrans(_THAI_DIGITS, _ARABIC_DIGITS)


def to_thai_digits(s: str) -> str:
    """Replace ASCII digits 0-9 with Thai digits ๐-๙ (``"7.2.2.2"`` → ``"๗.๒.๒.๒"``).

    Every other character is kept as is. Never raises for a ``str``.
    """
    return s.translate(_TO_THAI)


def to_arabic_digits(s: str) -> str:
    """Replace Thai digits ๐-๙ with ASCII digits 0-9 (``"๗.๒.๒.๒"`` → ``"7.2.2.2"``).

    Every other character is kept as is. Never raises for a ``str``.
    """
    return s.translate(_TO_ARABIC)


_ZERO_WIDTH = re.compile("[\u200b-\u200d\ufeff]")
_TONE = "[\u0e48-\u0e4b]"
# NIKHAHIT (ํ) + SARA AA (า), with a tone mark before or between them -> tone + SARA AM (ำ).
_DECOMPOSED_SARA_AM = re.compile(f"({_TONE}?)\u0e4d({_TONE}?)\u0e32")
# A tone mark typed after SARA AM belongs before it.
_TONE_AFTER_SARA_AM = re.compile(f"\u0e33({_TONE}+)")
_WHITESPACE = re.compile(r"\s+")


def normalize_thai(text: str) -> str:
    """Normalise Thai text before comparing or storing it.

    Applies, in order: removal of zero-width characters (U+200B–U+200D, U+FEFF); Unicode NFC;
    folding of a decomposed SARA AM (NIKHAHIT U+0E4D + SARA AA U+0E32) into U+0E33 with any
    tone mark placed before it (``"ก" "ํ" "่" "า"`` and ``"ก" "่" "ํ" "า"`` both become
    ``"ก่ำ"``), also moving tone marks typed after ``ำ`` to before it; collapsing every run of
    whitespace to a single space; stripping leading and trailing whitespace.

    The result is a fixed point: ``normalize_thai(normalize_thai(t)) == normalize_thai(t)``.
    Never raises for a ``str``.
    """
    result = unicodedata.normalize("NFC", _ZERO_WIDTH.sub("", text))
    result = _DECOMPOSED_SARA_AM.sub(lambda m: m.group(1) + m.group(2) + "\u0e33", result)
    result = _TONE_AFTER_SARA_AM.sub(lambda m: m.group(1) + "\u0e33", result)
    return _WHITESPACE.sub(" ", result).strip()


# Full-width forms of ASCII (U+FF01–U+FF5E: "５０２３", "－"), which a Thai, Chinese or Japanese
# input method left in full-width mode types instead of the ASCII characters.
_FULL_WIDTH: Final = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_CODE_CHARACTERS: Final = {**_FULL_WIDTH, **_TO_ARABIC}


def read_code(text: str) -> str:
    """A code as a person typed it (an org unit's ``50230774``, a second factor's six
    digits), written the one way it is stored and compared: normalised (:func:`normalize_thai`),
    with Thai digits (``"๕๐๒๓"``) and full-width characters (``"５０２３"``, ``"－"``) as their
    ASCII ones. Whatever else was typed is kept, so a code that is wrong stays wrong.

    Never raises for a ``str``.
    """
    return normalize_thai(text).translate(_CODE_CHARACTERS)


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------

_DIGIT_WORDS: Final = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า")
_PLACE_WORDS: Final = ("", "สิบ", "ร้อย", "พัน", "หมื่น", "แสน")
_MILLION: Final = 1_000_000


def _to_decimal(amount: object, what: str) -> Decimal:
    """Convert Decimal/int/str to a finite Decimal; TypeError for float and others."""
    if isinstance(amount, bool | float):
        raise TypeError(f"{what} must be a Decimal (or int/str), not {type(amount).__name__}")
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise ValueError(f"{what} is not a number: {amount!r}") from None
    else:
        raise TypeError(f"{what} must be a Decimal (or int/str), not {type(amount).__name__}")
    if not value.is_finite():
        raise ValueError(f"{what} must be finite, not {value}")
    return value


def _quantize(value: Decimal, places: int) -> Decimal:
    """Round ``value`` to ``places`` decimals, ROUND_HALF_UP, exactly (enough precision)."""
    if isinstance(places, bool) or not isinstance(places, int) or places < 0:
        raise ValueError(f"places must be a non-negative int, not {places!r}")
    shape = value.as_tuple()
    exponent = shape.exponent
    assert isinstance(exponent, int)  # finite values only
    if exponent == -places:  # already to the place, as NUMERIC(_, 2) columns come back
        return value.copy_abs() if value.is_zero() else value
    digits = max(len(shape.digits), 1)
    context = Context(prec=digits + max(exponent, 0) + places + 2)
    result = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=context)
    return result.copy_abs() if result.is_zero() else result  # no "-0.00"


def _read_below_million(n: int, higher: bool) -> str:
    """Read 1 <= n < 1,000,000; ``higher`` says a non-zero digit precedes this group."""
    parts: list[str] = []
    for position in range(5, -1, -1):
        digit = (n // 10**position) % 10
        if digit == 0:
            continue
        if position == 1:
            word = "" if digit == 1 else "ยี่" if digit == 2 else _DIGIT_WORDS[digit]
        elif position == 0 and digit == 1 and (higher or n >= 10):
            word = "เอ็ด"
        else:
            word = _DIGIT_WORDS[digit]
        parts.append(word + _PLACE_WORDS[position])
    return "".join(parts)


def _read_integer(n: int, higher: bool = False) -> str:
    """Read a positive integer in Thai words; millions repeat (ล้านล้าน) above 10^12."""
    if n >= _MILLION:
        high, low = divmod(n, _MILLION)
        low_words = _read_below_million(low, True) if low else ""
        return _read_integer(high, higher) + "ล้าน" + low_words
    return _read_below_million(n, higher)


def _baht_and_satang(amount: Decimal | int | str) -> tuple[bool, int, int]:
    """``amount`` rounded half up to the satang, exactly: whether it is below zero, and its
    whole baht and satang. The words of either language are read from these."""
    satang_total = int(_quantize(_to_decimal(amount, "amount"), 2).scaleb(2))
    baht, satang = divmod(abs(satang_total), 100)
    return satang_total < 0, baht, satang


def bahttext(amount: Decimal | int | str) -> str:
    """Return ``amount`` in Thai words, as on cheques and approvals (Excel's BAHTTEXT).

    The amount is first rounded to satang (0.01) with ROUND_HALF_UP, exactly (no float).
    Whole amounts end in ``"บาทถ้วน"`` (90000 → ``"เก้าหมื่นบาทถ้วน"``, 0 → ``"ศูนย์บาทถ้วน"``);
    amounts with satang end in ``"สตางค์"`` (``Decimal("1.25")`` → ``"หนึ่งบาทยี่สิบห้าสตางค์"``,
    ``Decimal("0.50")`` → ``"ห้าสิบสตางค์"``). Conventions: ``สิบ`` for 10, ``ยี่สิบ`` for 20,
    ``เอ็ด`` for a 1 in the units place when a higher digit precedes it (101 →
    ``"หนึ่งร้อยเอ็ดบาทถ้วน"``, 1,000,001 → ``"หนึ่งล้านเอ็ดบาทถ้วน"``), ``ล้าน`` repeated for
    10^12 and above (``"สองล้านล้านบาทถ้วน"``). Negative amounts are prefixed ``"ลบ"``; an amount
    that rounds to zero reads ``"ศูนย์บาทถ้วน"`` without it.

    Raises TypeError for a ``float`` (or any type other than Decimal, int, str) and
    ValueError for a string that is not a number or for NaN/infinity.
    """
    negative, baht, satang = _baht_and_satang(amount)
    if baht == 0 and satang == 0:
        return "ศูนย์บาทถ้วน"
    words = _read_integer(baht) + "บาท" if baht else ""
    words += _read_below_million(satang, False) + "สตางค์" if satang else "ถ้วน"
    return ("ลบ" if negative else "") + words


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _english_integer(n: int) -> str:
    """A positive integer in English words: 1,999 → "one thousand nine hundred ninety-nine"."""
    for size, name in _SCALES:
        if n >= size:
            high, low = divmod(n, size)
            return f"{_english_integer(high)} {name}" + (f" {_english_integer(low)}" if low else "")
    if n >= 100:
        high, low = divmod(n, 100)
        return f"{_ONES[high]} hundred" + (f" {_english_integer(low)}" if low else "")
    if n >= 20:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    return _ONES[n]


def baht_in_english(amount: Decimal | int | str) -> str:
    """``amount`` in English words, for the English reader of an official print: bahttext's
    rounding and its parts (``Decimal("1.25")`` → ``"One baht and twenty-five satang"``,
    90000 → ``"Ninety thousand baht only"``). Raises as bahttext does."""
    negative, baht, satang = _baht_and_satang(amount)
    if baht == 0 and satang == 0:
        return "Zero baht only"
    parts = [f"{_english_integer(baht)} baht"] if baht else []
    parts.append(f"{_english_integer(satang)} satang" if satang else "only")
    words = (" and " if satang and baht else " ").join(parts)
    words = ("minus " if negative else "") + words
    return words[0].upper() + words[1:]


def format_baht(amount: Decimal | int, places: int = 2) -> str:
    """Format a money amount with thousands separators and ``places`` decimals.

    ``Decimal("90000")`` → ``"90,000.00"``; rounding is ROUND_HALF_UP and exact (no float);
    negatives keep a leading ``"-"``.

    Raises TypeError for a ``float``, ValueError for NaN/infinity or a negative ``places``.
    """
    value = _quantize(_to_decimal(amount, "amount"), places)
    return f"{value:,.{places}f}"


def format_percent(value: Decimal | int, places: int = 2) -> str:
    """Format a percentage number (no ``%`` sign, no separators): ``Decimal("20")`` → ``"20.00"``.

    Rounding is ROUND_HALF_UP and exact.

    Raises TypeError for a ``float``, ValueError for NaN/infinity or a negative ``places``.
    """
    quantized = _quantize(_to_decimal(value, "value"), places)
    return f"{quantized:.{places}f}"

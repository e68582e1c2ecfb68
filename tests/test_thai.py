"""Thai dates, digits, text normalisation and baht in words (pure functions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.core.thai import (
    ENGLISH_MONTHS,
    ENGLISH_MONTHS_ABBR,
    THAI_MONTHS,
    THAI_MONTHS_ABBR,
    baht_in_english,
    bahttext,
    be_year,
    ce_year,
    format_baht,
    format_be_date,
    format_date,
    format_percent,
    normalize_thai,
    parse_thai_date,
    to_arabic_digits,
    to_thai_digits,
)

LEGACY_REPORT_DAY = date(2022, 12, 30)

# Dates whose BE year has four digits and is >= 2400, so the BE text parses back as BE.
be_dates = st.dates(min_value=date(1857, 1, 1), max_value=date(9456, 12, 31))
# Dates whose CE year has four digits and is < 2400, so the CE text parses back as CE.
ce_dates = st.dates(min_value=date(1000, 1, 1), max_value=date(2399, 12, 31))


# --- month tables -----------------------------------------------------------------------------


def test_month_tables() -> None:
    assert len(THAI_MONTHS) == len(THAI_MONTHS_ABBR) == len(ENGLISH_MONTHS) == 12
    assert THAI_MONTHS[0] == "มกราคม"
    assert THAI_MONTHS[11] == "ธันวาคม"
    assert THAI_MONTHS_ABBR == (
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
    assert ENGLISH_MONTHS_ABBR[0] == "Jan"
    assert ENGLISH_MONTHS_ABBR[11] == "Dec"


# --- years and dates --------------------------------------------------------------------------


def test_be_ce_years() -> None:
    assert be_year(2022) == 2565
    assert ce_year(2566) == 2023


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_be_ce_round_trip(year: int) -> None:
    assert ce_year(be_year(year)) == year
    assert be_year(ce_year(year)) == year


def test_format_be_date() -> None:
    assert format_be_date(LEGACY_REPORT_DAY) == "30 ธ.ค. 2565"
    assert format_be_date(LEGACY_REPORT_DAY, "short") == "30 ธ.ค. 2565"
    assert format_be_date(LEGACY_REPORT_DAY, "long") == "30 ธันวาคม 2565"


def test_format_be_date_does_not_pad_the_day() -> None:
    assert format_be_date(date(2023, 1, 5)) == "5 ม.ค. 2566"


def test_format_be_date_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="style"):
        format_be_date(LEGACY_REPORT_DAY, "medium")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lang", "style", "expected"),
    [
        ("th", "short", "30 ธ.ค. 2565"),
        ("th", "long", "30 ธันวาคม 2565"),
        ("th_TH", "short", "30 ธ.ค. 2565"),
        ("en", "short", "30 Dec 2022"),
        ("en", "long", "30 December 2022"),
        ("en-US", "long", "30 December 2022"),
    ],
)
def test_format_date(lang: str, style: str, expected: str) -> None:
    assert format_date(LEGACY_REPORT_DAY, lang, style) == expected  # type: ignore[arg-type]


def test_format_date_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        format_date(LEGACY_REPORT_DAY, "fr", "short")


@pytest.mark.parametrize(
    "text",
    [
        "30/12/2565",
        "2022-12-30",
        "2022-12-30 00:00:00",
        "30 ธ.ค. 2565",
        "30 ธันวาคม 2565",
        "  30 ธันวาคม 2565 ",
        "๓๐/๑๒/๒๕๖๕",
        "30 ธันวาคม พ.ศ. 2565",
        "30 Dec 2022",
        "30/12/2022",
    ],
)
def test_parse_thai_date(text: str) -> None:
    assert parse_thai_date(text) == LEGACY_REPORT_DAY


def test_parse_thai_date_years_from_2400_are_be() -> None:
    assert parse_thai_date("1/10/2400") == date(1857, 10, 1)
    assert parse_thai_date("1/10/2399") == date(2399, 10, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unrecognised date"),
        ("yesterday", "unrecognised date"),
        ("30-12-2565", "unrecognised date"),
        ("30/12/65", "unrecognised date"),
        ("31/02/2565", "not a valid date"),
        ("2022-13-01", "not a valid date"),
        ("30 Foo 2565", "unknown month"),
    ],
)
def test_parse_thai_date_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_thai_date(text)


@given(be_dates, st.sampled_from(["short", "long"]))
def test_be_format_then_parse_round_trips(d: date, style: str) -> None:
    assert parse_thai_date(format_be_date(d, style)) == d  # type: ignore[arg-type]


@given(ce_dates, st.sampled_from(["short", "long"]))
def test_english_format_then_parse_round_trips(d: date, style: str) -> None:
    assert parse_thai_date(format_date(d, "en", style)) == d  # type: ignore[arg-type]


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_iso_parse_round_trips_for_ce_years(d: date) -> None:
    if d.year < 2400:
        assert parse_thai_date(d.isoformat()) == d


# --- digits -----------------------------------------------------------------------------------


def test_digits() -> None:
    assert to_thai_digits("7.2.2.2") == "๗.๒.๒.๒"
    assert to_arabic_digits("๗.๒.๒.๒") == "7.2.2.2"
    assert to_thai_digits("0123456789") == "๐๑๒๓๔๕๖๗๘๙"
    assert to_arabic_digits("เครือข่าย ๗๑") == "เครือข่าย 71"


@given(st.text())
def test_digit_round_trips(text: str) -> None:
    arabic = to_arabic_digits(text)
    assert to_arabic_digits(to_thai_digits(arabic)) == arabic
    thai = to_thai_digits(text)
    assert to_thai_digits(to_arabic_digits(thai)) == thai
    assert not any(c in "๐๑๒๓๔๕๖๗๘๙" for c in arabic)
    assert not any(c in "0123456789" for c in thai)


# --- normalisation ----------------------------------------------------------------------------

KO = "ก"
NIKHAHIT = "\u0e4d"
SARA_AA = "\u0e32"
SARA_AM = "\u0e33"
MAI_EK = "\u0e48"


def test_normalize_folds_decomposed_sara_am() -> None:
    assert normalize_thai("ส" + NIKHAHIT + SARA_AA + "นักงาน") == "สำนักงาน"


def test_normalize_puts_tone_mark_before_sara_am() -> None:
    expected = KO + MAI_EK + SARA_AM
    assert normalize_thai(KO + NIKHAHIT + MAI_EK + SARA_AA) == expected
    assert normalize_thai(KO + MAI_EK + NIKHAHIT + SARA_AA) == expected
    assert normalize_thai(KO + SARA_AM + MAI_EK) == expected


def test_normalize_whitespace_and_zero_width() -> None:
    assert normalize_thai("  ฝ่าย\u200bการศึกษา \t\n สำนักงานเขต\ufeff ") == "ฝ่ายการศึกษา สำนักงานเขต"
    assert normalize_thai("a\u200c\u200db") == "ab"
    assert normalize_thai("\u00a0x\u00a0\u00a0y ") == "x y"


def test_normalize_applies_nfc() -> None:
    assert normalize_thai("e\u0301") == "\u00e9"


@given(st.text(alphabet=st.characters(min_codepoint=0x0E00, max_codepoint=0x0E7F) | st.just(" ")))
def test_normalize_is_idempotent_on_thai_text(text: str) -> None:
    once = normalize_thai(text)
    assert normalize_thai(once) == once
    assert NIKHAHIT + SARA_AA not in once


# --- baht in words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (90000, "เก้าหมื่นบาทถ้วน"),
        (Decimal("90000.00"), "เก้าหมื่นบาทถ้วน"),
        (1234, "หนึ่งพันสองร้อยสามสิบสี่บาทถ้วน"),
        (101, "หนึ่งร้อยเอ็ดบาทถ้วน"),
        (21, "ยี่สิบเอ็ดบาทถ้วน"),
        (20, "ยี่สิบบาทถ้วน"),
        (11, "สิบเอ็ดบาทถ้วน"),
        (10, "สิบบาทถ้วน"),
        (1, "หนึ่งบาทถ้วน"),
        (0, "ศูนย์บาทถ้วน"),
        (Decimal("0.50"), "ห้าสิบสตางค์"),
        (Decimal("1.25"), "หนึ่งบาทยี่สิบห้าสตางค์"),
        (Decimal("0.01"), "หนึ่งสตางค์"),
        (Decimal("0.21"), "ยี่สิบเอ็ดสตางค์"),
        (1001, "หนึ่งพันเอ็ดบาทถ้วน"),
        (1_000_000, "หนึ่งล้านบาทถ้วน"),
        (1_000_001, "หนึ่งล้านเอ็ดบาทถ้วน"),
        (11_000_000, "สิบเอ็ดล้านบาทถ้วน"),
        (21_000_000, "ยี่สิบเอ็ดล้านบาทถ้วน"),
        (180_000, "หนึ่งแสนแปดหมื่นบาทถ้วน"),
        (2_000_000_000_000, "สองล้านล้านบาทถ้วน"),
        (1_500_000_000_000, "หนึ่งล้านห้าแสนล้านบาทถ้วน"),
        (-21, "ลบยี่สิบเอ็ดบาทถ้วน"),
        (Decimal("-1.25"), "ลบหนึ่งบาทยี่สิบห้าสตางค์"),
        ("90000", "เก้าหมื่นบาทถ้วน"),
        (" 1234.50 ", "หนึ่งพันสองร้อยสามสิบสี่บาทห้าสิบสตางค์"),
    ],
)
def test_bahttext(amount: Decimal | int | str, words: str) -> None:
    assert bahttext(amount) == words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "Zero baht only"),
        ("0.50", "Fifty satang"),
        ("1.25", "One baht and twenty-five satang"),
        (90000, "Ninety thousand baht only"),
        ("13999.505", "Thirteen thousand nine hundred ninety-nine baht and fifty-one satang"),
        (1_000_001, "One million one baht only"),
        (-21, "Minus twenty-one baht only"),
        (2 * 10**12, "Two trillion baht only"),
    ],
)
def test_baht_in_english(amount: Decimal | int | str, words: str) -> None:
    assert baht_in_english(amount) == words


def test_bahttext_rounds_half_up_to_satang() -> None:
    assert bahttext(Decimal("0.005")) == "หนึ่งสตางค์"
    assert bahttext(Decimal("0.004")) == "ศูนย์บาทถ้วน"
    assert bahttext(Decimal("0.995")) == "หนึ่งบาทถ้วน"
    assert bahttext(Decimal("-0.004")) == "ศูนย์บาทถ้วน"


def test_bahttext_rejects_float() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        bahttext(90000.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity"])
def test_bahttext_rejects_non_numbers(bad: str) -> None:
    with pytest.raises(ValueError):
        bahttext(bad)


@given(st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2))
def test_bahttext_total_on_money_range(amount: Decimal) -> None:
    words = bahttext(amount)
    assert words.endswith(("บาทถ้วน", "สตางค์"))
    assert "ลบ" not in words
    assert words.endswith("บาทถ้วน") == (amount == amount.to_integral_value())


# --- number formatting ------------------------------------------------------------------------


def test_format_baht() -> None:
    assert format_baht(Decimal("90000")) == "90,000.00"
    assert format_baht(Decimal("180000.5")) == "180,000.50"
    assert format_baht(Decimal("1234567.895")) == "1,234,567.90"
    assert format_baht(Decimal("-1234.5")) == "-1,234.50"
    assert format_baht(Decimal("-0.001")) == "0.00"
    assert format_baht(Decimal("90000"), places=0) == "90,000"
    assert format_baht(Decimal("12345678901234567890123456789.99")) == (
        "12,345,678,901,234,567,890,123,456,789.99"
    )


def test_format_baht_rejects_float_and_bad_places() -> None:
    with pytest.raises(TypeError):
        format_baht(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_baht(Decimal(1), places=-1)


def test_format_percent() -> None:
    assert format_percent(Decimal("20")) == "20.00"
    assert format_percent(Decimal("20.005")) == "20.01"
    assert format_percent(Decimal("66.6666"), places=1) == "66.7"
    assert format_percent(Decimal("100")) == "100.00"

"""The input field types every door shares: the API's schemas and the pages' forms.

One rule per kind of value, so a value refused by the API is refused by the page too, with a
4xx and never a 500:

- ids are whole numbers within the database's integer column (1 … 2**31 − 1);
- texts hold no NUL character (PostgreSQL cannot store one) and no lone surrogate (no
  encoder can write one), and are stripped of surrounding blanks;
- money, percents and measures are finite decimals that fit their NUMERIC column;
- Buddhist Era years lie in 2400–2700 (the fiscal_year check), days in the same span; the
  pages read days as a Thai person types them (30/12/2565, 30 ธ.ค. 2565), the API as ISO
  (`read_day`).

Thai digits keep working wherever Python's int() and Decimal() read them ("๒๕๖๖").
`value_of` reads one form or query value through a field for the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields, validate

from service.core import translate
from service.core.thai import read_code
from service.core.translate import gettext

MAX_ID = 2**31 - 1
"""The largest value of an INTEGER column (PostgreSQL; SQLite cannot bind much more)."""

FIRST_BE_YEAR, LAST_BE_YEAR = 2400, 2700
FIRST_DAY, LAST_DAY = date(FIRST_BE_YEAR - 543, 1, 1), date(LAST_BE_YEAR - 543, 12, 31)

NO_NUL = "^[^\\u0000]*$"
ISO_DAY_IN_RANGE = "^(185[7-9]|18[6-9][0-9]|19[0-9]{2}|20[0-9]{2}|21[0-5][0-9])-[0-9]{2}-[0-9]{2}$"
"""The OpenAPI pattern of an ISO day between FIRST_DAY and LAST_DAY."""
"""The OpenAPI pattern of a text: anything but NUL (lone surrogates are not JSON text)."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """True when `text` has no NUL and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


class Text(fields.String):
    """A string any database can store: no NUL, no lone surrogate; stripped of blanks."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": NO_NUL, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not storable(text):
            raise ValidationError(gettext("must not contain NUL or invalid characters"))
        return text.strip()


class Code(Text):
    """A code as a person typed it, read as it is stored (service.core.thai.read_code): Thai
    and full-width digits as ASCII ones, so ``๕๐๒๓๐๐๐๐-๓๕๙๘`` finds ``50230000-3598``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return read_code(super()._deserialize(value, attr, data, **kwargs))


class DecimalString(fields.Decimal):
    """A decimal travelling as a string with at most `places` places ("90000.00").

    Loading accepts a string (or a JSON integer) with at most `places` places and at most
    `digits` digits before the point (the NUMERIC column's room); JSON floats are refused,
    never rounded; NaN and infinities are refused. `commas` lets pages send "1,000.00".
    """

    def __init__(
        self, places: int = 2, digits: int = 12, commas: bool = False, **kwargs: Any
    ) -> None:
        self.digit_limit = digits
        self.place_count = places
        self.commas = commas
        metadata = {
            "pattern": rf"^-?[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$",
            "example": "90000.00" if places == 2 else "100.0000",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(places=places, as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool | float) or not isinstance(value, str | int):
            raise ValidationError(
                gettext("must be a decimal such as %(example)s", example=self.metadata["example"])
            )
        text = str(value).strip()
        example = self.metadata["example"]
        if self.commas:
            if decimal_comma(text):
                raise ValidationError(
                    gettext("write decimals with a point, such as %(example)s", example=example)
                )
            text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValidationError(
                gettext("must be a number such as %(example)s", example=example)
            ) from None
        if not number.is_finite():
            raise ValidationError(gettext("must be a finite number"))
        # The size first: quantizing 1e400 would overflow the decimal context.
        if abs(number) >= Decimal(10) ** self.digit_limit:
            raise ValidationError(
                gettext("at most %(digits)s digits before the point", digits=self.digit_limit)
            )
        if not plain_number(text):
            raise ValidationError(gettext("must be a number such as %(example)s", example=example))
        if number != number.quantize(Decimal(1).scaleb(-self.place_count)):
            raise ValidationError(
                gettext("at most %(places)s decimal places", places=self.place_count)
            )
        return number.quantize(Decimal(1).scaleb(-self.place_count))


def decimal_comma(text: str) -> bool:
    """A comma that does not separate thousands ("50,5", "1,5": a decimal comma, as typed
    on a phone set to another language). Read as a thousands separator, "50,5" became 505."""
    if "," not in text:
        return False
    groups = text.strip().lstrip("+-").split(".")[0].split(",")
    return not (1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:]))


def plain_number(text: str) -> bool:
    """Digits (Thai ones too) with a sign and a point at most: Decimal also reads "1e3" and
    "1_000" as 1000, which nobody means when typing an amount."""
    return not any(c in "eE_" for c in text)


def Money(**kwargs: Any) -> DecimalString:
    """Baht in a NUMERIC(14, 2) column."""
    return DecimalString(places=2, digits=12, **kwargs)


NON_NEGATIVE_MONEY = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


def Budget(**kwargs: Any) -> DecimalString:
    """Baht that may be zero but never negative (a budget); the document's pattern says so."""
    kwargs.setdefault("validate", validate.Range(min=0))
    metadata = {"pattern": NON_NEGATIVE_MONEY, **kwargs.pop("metadata", {})}
    return Money(metadata=metadata, **kwargs)


POSITIVE_MONEY = r"^(0*[1-9][0-9]{0,11}(\.[0-9]{1,2})?|0*\.(0[1-9]|[1-9][0-9]?))$"


def Amount(**kwargs: Any) -> DecimalString:
    """Baht asked for or granted: more than zero (the document's pattern says so too)."""
    kwargs.setdefault("validate", validate.Range(min=Decimal("0.01")))
    metadata = {"pattern": POSITIVE_MONEY, "example": "90000.00", **kwargs.pop("metadata", {})}
    return Money(metadata=metadata, **kwargs)


def Percent(**kwargs: Any) -> DecimalString:
    metadata = {"example": "75.5", **kwargs.pop("metadata", {})}
    return DecimalString(places=2, digits=3, metadata=metadata, **kwargs)


def Measure(**kwargs: Any) -> DecimalString:
    return DecimalString(places=4, digits=12, **kwargs)


def Id(**kwargs: Any) -> fields.Integer:
    """An id in a JSON body: an integer, not a string of digits."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kwargs)


def FormId(**kwargs: Any) -> fields.Integer:
    """An id in a form or a query string (digits, Thai digits too)."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


def Ref(**kwargs: Any) -> fields.Integer:
    """An id or a year in a query string (bounded: SQLite cannot bind larger integers)."""
    return fields.Integer(validate=validate.Range(0, MAX_ID), **kwargs)


def Count(maximum: int = 100_000, **kwargs: Any) -> fields.Integer:
    """A small whole number in a form: days, a page number, approvals required."""
    return fields.Integer(validate=validate.Range(0, maximum), **kwargs)


def BeYear(**kwargs: Any) -> fields.Integer:
    """A Buddhist Era year, as the fiscal_year table's check allows (2400–2700)."""
    return fields.Integer(validate=validate.Range(FIRST_BE_YEAR, LAST_BE_YEAR), **kwargs)


_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_SLASH_DAY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_NAMED_DAY = re.compile(r"([0-9]{1,2})\s*([^\s0-9]+?)\s*(?:พ\.\s?ศ\.?\s*)?([0-9]{4})")
FIRST_CE_TYPED, LAST_CE_TYPED = 1900, 2200
"""A year typed d/m/yyyy in this span is Common Era; one from FIRST_BE_YEAR on is Buddhist Era."""


def _shown(text: str) -> str:
    """What was typed, fit to quote in a message (no unstorable character, not too long)."""
    cleaned = _UNSTORABLE.sub("", text)
    return cleaned if len(cleaned) <= 30 else cleaned[:30] + "…"


def _not_a_day() -> ValidationError:
    return ValidationError(gettext("not a date: type dd/mm/yyyy (B.E.), e.g. 30/12/2565"))


def _impossible_year(text: str, year: int) -> ValidationError:
    return ValidationError(
        gettext(
            "%(text)s: the year %(year)s is not possible; type dd/mm/yyyy (B.E.), e.g. 30/12/2565",
            text=_shown(text),
            year=year,
        )
    )


def read_day(text: str, *, typed: bool = True) -> date:
    """The day `text` names, the one date parser of every form and of the API.

    `typed` (the pages) accepts what a Thai person types: ISO "2022-12-30" (what a date input
    sends), d/m/yyyy "30/12/2565" (a year from 2400 on is Buddhist Era, one in 1900–2200 is
    Common Era), Thai digits "๓๐/๑๒/๒๕๖๕", and "30 ธ.ค. 2565" / "30 ธันวาคม 2565". Without
    `typed` (the API) only ISO is read. An ISO year from 2400 on is a Buddhist Era year typed
    into a Common Era field and is refused, as is any day outside FIRST_DAY … LAST_DAY (the
    message names the year typed and the form expected); every refusal is a ValidationError
    with a translated message.
    """
    from service.core.thai import THAI_MONTHS, THAI_MONTHS_ABBR, be_year, to_arabic_digits

    cleaned = to_arabic_digits(text).strip() if typed else text.strip()
    if match := _ISO_DAY.fullmatch(cleaned):
        year, month, day = (int(g) for g in match.groups())
        if year >= FIRST_BE_YEAR:
            # A page reads d/m/yyyy BE; the API reads ISO days of the Common Era only.
            example = (
                f"{day}/{month}/{year}" if typed else f"{year - be_year(0):04}-{month:02}-{day:02}"
            )
            raise ValidationError(
                gettext(
                    "the year %(year)s looks like a Buddhist Era year: type the date as "
                    "%(example)s",
                    year=year,
                    example=example,
                )
            )
    elif not typed:
        raise ValidationError(gettext("must be a date such as 2023-01-31"))
    elif match := _SLASH_DAY.fullmatch(cleaned):
        day, month, year = (int(g) for g in match.groups())
    elif match := _NAMED_DAY.fullmatch(cleaned):
        day_text, name, year_text = match.groups()
        names = [n.replace(".", "") for n in (*THAI_MONTHS, *THAI_MONTHS_ABBR)]
        key = name.replace(".", "")
        if key not in names:
            raise _not_a_day()
        day, month, year = int(day_text), names.index(key) % 12 + 1, int(year_text)
    else:
        raise _not_a_day()
    typed_year = year
    if match.re is not _ISO_DAY:
        if year >= FIRST_BE_YEAR:
            year -= be_year(0)
        elif not FIRST_CE_TYPED <= year <= LAST_CE_TYPED:
            raise _impossible_year(text, year)
    try:
        found = date(year, month, day)
    except ValueError:
        raise _not_a_day() from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise _impossible_year(text, typed_year)
    return found


class DayField(fields.Date):
    """A day read by `read_day` (ISO only unless `typed`), within FIRST_DAY … LAST_DAY."""

    def __init__(self, typed: bool = False, **kwargs: Any) -> None:
        self.typed = typed
        # The document says which years are taken (1857 … 2157, BE 2400 … 2700), so a client
        # reading it never sends a day the server refuses.
        metadata = {"pattern": ISO_DAY_IN_RANGE, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str):
            raise ValidationError(gettext("must be a date such as 2023-01-31"))
        return read_day(value, typed=self.typed)


def Day(typed: bool = False, **kwargs: Any) -> DayField:
    """A day within the years the fiscal years can name: ISO 8601 in the API; `typed` (the
    pages) reads Buddhist Era d/m/yyyy and Thai month names too (see `read_day`)."""
    return DayField(typed=typed, **kwargs)


# ---- marshmallow's and webargs' own messages, in the reader's language --------------------
# The libraries speak English only, and format their messages before we see them. Each one is
# matched here and looked up in the catalog under its own English words (placeholders made
# gettext's), so an English reader gets exactly what marshmallow says and a Thai one its
# translation.


def N_(message: str) -> str:
    """Mark `message` for the catalog; it is translated where it is shown."""
    return message


def _pattern(msgid: str) -> re.Pattern[str]:
    """What `msgid` looks like once marshmallow has filled it in."""
    escaped = re.escape(msgid)
    return re.compile(re.sub(r"%\\\(([a-z_]+)\\\)s", r"(?P<\1>.+?)", escaped))


#: Messages with something filled in, longest first ("… or equal to 1 and less than 5." is
#: not to be read as "greater than …").
_FILLED = [
    (_pattern(msgid), msgid)
    for msgid in (
        N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
        N_("Must be greater than or equal to %(min)s and less than %(max)s."),
        N_("Must be greater than %(min)s and less than or equal to %(max)s."),
        N_("Must be greater than %(min)s and less than %(max)s."),
        N_("Must be greater than or equal to %(min)s."),
        N_("Must be greater than %(min)s."),
        N_("Must be less than or equal to %(max)s."),
        N_("Must be less than %(max)s."),
        N_("Must be one of: %(choices)s."),
        N_("One or more of the choices you made was not in: %(choices)s."),
        N_("Shorter than minimum length %(min)s."),
        N_("Longer than maximum length %(max)s."),
        N_("Length must be between %(min)s and %(max)s."),
        N_("Length must be %(equal)s."),
    )
]


#: Messages with nothing to fill in, by their English words (extracted for the catalog).
_PLAIN = frozenset(
    (
        N_("Missing data for required field."),
        N_("Field may not be null."),
        N_("Invalid value."),
        N_("Invalid input."),
        N_("Not a valid string."),
        N_("Not a valid number."),
        N_("Number too large."),
        N_("Special numeric values (nan or infinity) are not permitted."),
        N_("Not a valid integer."),
        N_("Not a valid boolean."),
        N_("Not a valid date."),
        N_("Not a valid datetime."),
        N_("Not a valid list."),
        N_("Not a valid tuple."),
        N_("Not a valid mapping type."),
        N_("Not a valid email address."),
        N_("Not a valid URL."),
        N_("Invalid input type."),
        N_("Unknown field."),
        N_("String does not match expected pattern."),
        N_("Invalid JSON body."),
    )
)


def _quoted(choices: str) -> str:
    """A value list as marshmallow writes it ("a, b") with each value quoted: values the
    client must send as they are, not words to translate."""
    return ", ".join(f"“{choice}”" for choice in choices.split(", ") if choice)


def translated_message(message: str) -> str:
    """`message` in the current language when it is one of marshmallow's or webargs' own
    (English, formatted); any other message (ours, already translated) as it is."""
    if message in _PLAIN:
        return gettext(message)
    if not message[:1].isupper():
        return message  # ours start in lower case; the libraries' in upper case
    for pattern, msgid in _FILLED:
        if match := pattern.fullmatch(message):
            values = match.groupdict()
            if "choices" in values and translate.current() != "en":
                values["choices"] = _quoted(values["choices"])
            return gettext(msgid, **values)
    return message


class Invalid(ValueError):
    """A form value `value_of` refused: `name` and a translated `message`."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def value_of(field: fields.Field, source: Mapping[str, Any], name: str) -> Any:
    """`source[name]` read through `field`; None when absent or blank and not required.

    Raises Invalid (a ValueError) with the field's translated message otherwise.
    """
    raw = source.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise Invalid(name, gettext("is required"))
        return None
    try:
        return field.deserialize(raw.strip() if isinstance(raw, str) else raw, name, source)
    except ValidationError as error:
        messages = error.messages
        if isinstance(messages, list):
            text = "; ".join(translated_message(str(m)) for m in messages)
        else:
            text = translated_message(str(messages))
        raise Invalid(name, text) from None


def ids_in(values: Iterable[str]) -> list[int]:
    """The distinct ids among `values` (form checkboxes), in order; anything else left out."""
    field = FormId()
    found: set[int] = set()
    for value in values:
        try:
            found.add(field.deserialize(value.strip()))
        except ValidationError:
            continue
    return sorted(found)


def drawn_version(form: Mapping[str, Any]) -> int | None:
    """The version of its object a form was drawn at (its hidden `version`), for a change
    that must not overwrite unseen what was saved meanwhile; None when the form does not say
    (an older page, a script of one's own), and nothing is checked."""
    try:
        found: int | None = value_of(Ref(), form, "version")
    except Invalid:
        return None
    return found

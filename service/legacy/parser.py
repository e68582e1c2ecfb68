"""Parser for project pages of the legacy annual-plan monitoring site.

The legacy site shows one public page per project.  We receive those pages either as a text
dump (one visual line per line, as in ``tests/data/legacy/project-50230000-3598.txt``) or as
the HTML the site served.  :func:`parse_html` turns HTML into the same line structure as the
text dump, so there is one parser (:func:`parse_text`) and one set of rules.

The parser is pure: no database, no network, no clock.  It never raises for any ``str`` input;
whatever it cannot read is reported in :attr:`ParsedPage.errors` and reflected in
:attr:`ParsedPage.status`:

``complete``
    The page reached its end marker (``** ผลการประเมินโครงการ (รายไตรมาส) **``), carries a
    project code, name, agency and fiscal year and at least one plan step, and nothing on it
    failed to parse.  ``errors`` is empty.  Only complete pages may be imported.
``incomplete``
    The page is cut off before its end marker, or it has no plan step.  ``missing`` names the
    absent sections and ``errors`` says that the page must not be imported.
``error``
    The input is not a legacy project page, or a field on a whole page could not be read.

``missing`` lists, in page order, every section that yielded no data, including optional ones
(``contact``, ``evaluation``, ``kpis`` ...): a missing optional section does not change the
status.  The legacy pages normally carry no contact line (the sample does not), so ``contact``
is usually listed; it is informational only.

Text is normalised before extraction: zero-width characters are dropped, the text is put in NFC,
a decomposed sara am (U+0E4D + U+0E32, possibly with a tone mark between) is folded to U+0E33
and runs of blanks become one space.  Free text (names, rationale, narratives) is otherwise kept
as written, including Thai digits; codes, numbers and dates are converted to Arabic digits.
Decimal values are strings without thousands separators ("1,407.52" -> "1407.52"), dates are
ISO ``YYYY-MM-DD`` (years >= 2400 are Buddhist Era and are converted).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any, Literal

Status = Literal["complete", "incomplete", "error"]
TargetKind = Literal["quantity", "quality"]
KpiType = Literal["routine", "strategic"]
KpiLevel = Literal["output", "outcome"]

#: Section names used in :attr:`ParsedPage.missing`, in page order.
SECTIONS: tuple[str, ...] = (
    "name",
    "agency",
    "progress",
    "division",
    "evaluation",
    "contact",
    "rationale",
    "unit_codes",
    "objectives",
    "targets",
    "strategies",
    "reports",
    "steps",
    "kpis",
    "page_end",
)

PAGE_SUFFIXES = frozenset({".txt", ".html", ".htm"})


# --------------------------------------------------------------------------------------------
# Result types


@dataclass(slots=True)
class Evaluation:
    """The evaluating office's (สยป.) score for one quarter."""

    quarter: int
    score: str | None


@dataclass(slots=True)
class Contact:
    """Contact people (with honorifics, as written) and normalised phone numbers."""

    names: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Objective:
    number: str | None
    text: str


@dataclass(slots=True)
class Target:
    kind: TargetKind | None
    text: str


@dataclass(slots=True)
class Strategy:
    code: str
    level: int
    name: str


@dataclass(slots=True)
class Step:
    order: int
    name: str | None = None
    weight: str | None = None
    start: str | None = None
    end: str | None = None


@dataclass(slots=True)
class Report:
    number: int
    date: str | None = None
    percent: str | None = None
    narrative: str | None = None
    problems: str | None = None
    obstacles: str | None = None


@dataclass(slots=True)
class KpiQuarter:
    quarter: int
    result: str | None = None
    numerator: str | None = None
    denominator: str | None = None


@dataclass(slots=True)
class Kpi:
    code: str
    name: str | None = None
    target: str | None = None
    unit: str | None = None
    achieved: str | None = None
    type: KpiType | None = None
    level: KpiLevel | None = None
    quarters: list[KpiQuarter] = field(default_factory=list)


@dataclass(slots=True)
class ParsedPage:
    """Everything read from one legacy project page.  See the module docstring for status."""

    source: str
    status: Status = "error"
    missing: list[str] = field(default_factory=list)
    code: str | None = None
    name: str | None = None
    agency: str | None = None
    division: str | None = None
    fiscal_year: int | None = None
    progress: str | None = None
    evaluation: Evaluation | None = None
    contact: Contact = field(default_factory=Contact)
    unit_codes: list[str] = field(default_factory=list)
    rationale: str | None = None
    objectives: list[Objective] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    strategies: list[Strategy] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def importable(self) -> bool:
        """True only for a complete page: the importer must skip every other page."""
        return self.status == "complete"

    def to_json_dict(self) -> dict[str, Any]:
        """Return the page as plain JSON-serialisable data (the ``--dry-run --json`` shape)."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# Character-level helpers (private; to be merged with service.core.thai later)

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
# Regexes rather than str.translate: they cost nearly nothing when (as usual) nothing matches.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad]")
_ODD_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\f\v]")
_DECOMPOSED_AM = re.compile("\u0e4d([\u0e48-\u0e4b]?)\u0e32")
_BLANKS = re.compile(r" {2,}")
_BE_THRESHOLD = 2400
_BE_OFFSET = 543


def _normalise(text: str) -> str:
    """Drop invisible characters, NFC, fold decomposed sara am, unify blanks and newlines."""
    text = _ODD_SPACES.sub(" ", _INVISIBLE.sub("", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    return _DECOMPOSED_AM.sub("\\1\u0e33", text)


def _arabic(text: str) -> str:
    return text.translate(_THAI_DIGITS)


_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)


def _decimal(raw: str | None) -> str | None:
    """``"1,407.52"`` -> ``"1407.52"``; empty or ``-`` -> None; raises ValueError otherwise."""
    if raw is None:
        return None
    text = _arabic(raw).strip().rstrip("%").strip()
    if text in ("", "-", "–"):
        return None
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {raw!r}")
    return text.replace(",", "")


def _decimal_or_text(raw: str) -> str | None:
    """A decimal when the value is a number, else the text as written (free-text targets)."""
    try:
        return _decimal(raw)
    except ValueError:
        return raw.strip()


def _two_places(value: str) -> str:
    whole, _, fraction = value.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


_THAI_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("มกราคม", "ม.ค."),
        ("กุมภาพันธ์", "ก.พ."),
        ("มีนาคม", "มี.ค."),
        ("เมษายน", "เม.ย."),
        ("พฤษภาคม", "พ.ค."),
        ("มิถุนายน", "มิ.ย."),
        ("กรกฎาคม", "ก.ค."),
        ("สิงหาคม", "ส.ค."),
        ("กันยายน", "ก.ย."),
        ("ตุลาคม", "ต.ค."),
        ("พฤศจิกายน", "พ.ย."),
        ("ธันวาคม", "ธ.ค."),
    ),
    start=1,
):
    for _name in _names:
        _THAI_MONTHS[_name] = _number

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_ISO_DATE = re.compile(rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}", re.ASCII)
_DMY_DATE = re.compile(rf"(\d{{1,2}})/(\d{{1,2}})/(\d{{4}}){_TIME}", re.ASCII)
_MONTH_NAMES = "|".join(re.escape(m) for m in sorted(_THAI_MONTHS, key=len, reverse=True))
_THAI_DATE = re.compile(rf"(\d{{1,2}})\s*({_MONTH_NAMES})\s*(?:พ\.ศ\.\s*)?(\d{{4}})", re.ASCII)
_NULL_DATE = re.compile(r"0{4}-0{1,2}-0{1,2}" + _TIME, re.ASCII)


def _iso_date(raw: str | None) -> str | None:
    """Read a legacy date (ISO, d/m/y or Thai month name; BE or CE) as ``YYYY-MM-DD``.

    Empty values and the legacy null date ``0000-00-00`` give None; anything else that is not a
    valid date raises ValueError.
    """
    if raw is None:
        return None
    text = _arabic(raw).strip()
    if text in ("", "-") or _NULL_DATE.fullmatch(text):
        return None
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DMY_DATE.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _THAI_DATE.fullmatch(text):
        day, month, year = int(match[1]), _THAI_MONTHS[match[2]], int(match[3])
    else:
        raise ValueError(f"not a date: {raw!r}")
    if year >= _BE_THRESHOLD:
        year -= _BE_OFFSET
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise ValueError(f"not a date: {raw!r}") from None


# --------------------------------------------------------------------------------------------
# Line patterns

_D = "[0-9๐-๙]"
_CHROME = re.compile(
    r"ความคืบหน้าโครงการ\s*/\s*กิจกรรม|Back\s*Home|Back|Home|FusionCharts will render here.*"
    r"|ดูโครงการแผนปี.*|\((?:ทดสอบ|คลิก)\).*",
    re.IGNORECASE,
)
_CHROME_CODE = re.compile(rf"\((?:ทดสอบ|คลิก)\).*:\s*({_D}{{8}}\s*-\s*{_D}{{1,6}})")
_SEPARATOR = re.compile(r"-{3,}\s*&+\s*-{3,}")
_END = re.compile(r"\**\s*ผลการประเมินโครงการ\s*\(\s*รายไตรมาส\s*\)\s*\**")
_HEADING = re.compile(
    r"(?:(?P<rationale>หลักการและเหตุผล)"
    r"|(?P<objectives>วัตถุประสงค์(?:ของโครงการ)?)"
    r"|(?P<targets>เป้าหมาย(?:ของโครงการ)?)"
    r"|(?P<strategies>สนับสนุนยุทธศาสตร์(?:กรุงเทพมหานคร)?ฯ?)"
    r"|(?P<reports>ผลการดำเนินงาน(?:ของโครงการ)?)"
    r"|(?P<steps>แผนการดำเนินงาน(?:โครงการ)?ฯ?)"
    r"|(?P<kpis>สนับสนุนตัวชี้วัด(?:ตามแผน)?ฯ?))\s*:?"
)
_NAME_LINE = re.compile(rf"(?P<name>.+?)\s*:\s*(?P<code>{_D}{{8}}\s*-\s*{_D}{{1,6}})")
_AGENCY_LINE = re.compile(rf"(?P<agency>.+?)\s*:\s*\(\s*(?P<year>{_D}{{4}})\s*\)")
_PROGRESS_LINE = re.compile(rf"ความคืบหน้าโครงการ\s*(?:ร้อยละ)?\s*(?P<value>{_D}[0-9๐-๙.,]*)?\s*%?")
_NUMBER_LINE = re.compile(rf"{_D}[0-9๐-๙.,]*\s*%?")
_EVALUATION = re.compile(r"\**\s*สยป\.?\s*ประเมินโครงการ\s*:?\s*(?P<rest>.*)")
_EVALUATION_VALUE = re.compile(rf"(?:ไตรมาสที่\s*(?P<q>{_D}))?\s*(?P<score>{_D}[0-9๐-๙.,]*)?\s*")
_CONTACT_LINE = re.compile(
    r"(?:ผู้รับผิดชอบ(?:โครงการ)?|ผู้ประสานงาน(?:โครงการ)?|ผู้ติดต่อ|ติดต่อ|ผู้ดูแลโครงการ)"
    r"\s*:\s*(?P<value>.*)"
)
_UNIT_CODES = re.compile(rf"{_D}{{8}}(?:\s*/\s*{_D}{{8}})*")
_OBJECTIVE_NUMBER = re.compile(rf"(?:(?<=\s)|^)({_D}+\.{_D}+)[.)]?\s+")
_TARGET_MARKER = re.compile(
    rf"(?:(?<=\s)|^)(?:(?P<num>{_D}+\.{_D}+)[.)]?\s*)?ด้าน(?P<kind>ปริมาณ|คุณภาพ)\s*(?P<colon>:)?\s*"
)
_TARGET_ITEM = re.compile(r"(?:^|\s)[-–•]\s+")
_STRATEGY_LINE = re.compile(
    rf"(?:ยุทธศาสตร์ที่\s*)?(?P<code>{_D}+(?:\.{_D}+)*)\.?\s*(?:[-–—:]\s*)?(?P<name>.*?)\s*%?"
)
_REPORT_HEAD = re.compile(
    rf"\(\s*(?P<number>{_D}+)\s*\)\s*ความคืบหน้าโครงการฯ?\s*(?:ร้อยละ)?\s*"
    rf"(?P<percent>{_D}[0-9๐-๙.,]*)?\s*%?\s*(?:\((?P<date>[^)]*)\))?"
)
_REPORT_DATED = re.compile(
    rf"(?P<date>{_D}{{1,2}}/{_D}{{1,2}}/{_D}{{4}}|{_D}{{4}}-{_D}{{1,2}}-{_D}{{1,2}}"
    rf"(?:\s+{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}})?)?)\s*:\s*(?P<text>.*)"
)
_PROBLEMS = re.compile(r"\**\s*ปัญหา(?:ของโครงการ)?\s*:\s*(?P<text>.*)")
_OBSTACLES = re.compile(r"\**\s*อุปสรรค(?:ของโครงการ)?\s*:\s*(?P<text>.*)")
_STEP_HEAD = re.compile(rf"ขั้นตอน(?:ที่)?\s*(?P<order>{_D}+)\s*(?::\s*(?P<name>.*))?")
_STEP_WEIGHT = re.compile(rf"(?::\s*|(?={_D}[0-9๐-๙.,]*\s*%$))(?P<weight>{_D}[0-9๐-๙.,]*)\s*%?")
_STEP_START = re.compile(r"(?:เริ่มต้น|วันที่เริ่ม)\s*:\s*(?P<date>.*)")
_STEP_END = re.compile(r"(?:สิ้นสุด|วันที่สิ้นสุด)\s*:\s*(?P<date>.*)")
_KPI_HEAD = re.compile(r"รายละเอียดเกี่ยวกับตัวชี้วัด\s*:\s*(?P<code>\S+)")
_KPI_NAME = re.compile(r"ตัวชี้วัด\s*:\s*(?P<name>.*)")
_KPI_TARGET = re.compile(r"ค่าเป้าหมาย\s*(?P<unit>[^:]*?)\s*:\s*(?P<value>.*)")
_KPI_ACHIEVED = re.compile(r"ผลงานที่ทำได้\s*(?P<unit>[^:]*?)\s*:\s*(?P<value>.*)")
_KPI_TYPE = re.compile(r"ประเภทตัวชี้วัด\s*:\s*(?P<type>.*)")
_KPI_LEVEL = re.compile(
    r"ตัวชี้วัดระดับ\s*(?P<thai>ผลผลิต|ผลลัพธ์)?\s*(?:\(\s*(?P<en>output|outcome)\s*\))?.*",
    re.IGNORECASE,
)
_KPI_TABLE_HEADER = re.compile(r"\*?\s*(?:ไตรมาสที่|ผลงาน|ผลประเมินตัวชี้วัด)\s*\*?|\(.*\)")
_QUARTER_NUMBER = re.compile("[1-4]")
_FRACTION = re.compile(r"(?P<num>[0-9๐-๙.,\-]*)\s*/\s*(?P<den>[0-9๐-๙.,\-]*)")
_PHONE = re.compile(
    r"(?<!\d)(?P<main>\+?\d(?:[\d\-. ()]*\d)?)(?:\s*(?P<kw>ต่อ|ext\.?|x)\s*(?P<ext>\d+))?",
    re.IGNORECASE,
)
_PHONE_KEYWORD = re.compile(r"โทรศัพท์|โทรสาร|โทร\.?|มือถือ|\b(?:tel|phone|mobile)\b\.?", re.I)
_CONTACT_SPLIT = re.compile(r"\s*[,;/]\s*|\s+และ\s+|\s+หรือ\s+")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


# --------------------------------------------------------------------------------------------
# Public API


def parse_page(content: str, source: str = "<string>") -> ParsedPage:
    """Parse one legacy project page given as HTML or as a text dump (detected from content).

    Never raises for a ``str``; problems are reported in the result's ``status``/``errors``.
    """
    if _looks_like_html(content):
        return parse_html(content, source)
    return parse_text(content, source)


def parse_html(html: str, source: str = "<string>") -> ParsedPage:
    """Parse the HTML of a legacy project page.

    The HTML is turned into the text dump's line structure (block elements and ``<br>`` start
    new lines, scripts and styles are dropped, entities are unescaped) and handed to
    :func:`parse_text`, so both renderings of a page give the same result.  Never raises.
    """
    return parse_text(html_to_text(html), source)


def html_to_text(html: str) -> str:
    """Render HTML as lines of text the way the legacy text dumps are laid out."""
    return "".join(_html_lines(html))


def parse_text(text: str, source: str = "<string>") -> ParsedPage:
    """Parse the text dump of a legacy project page.

    Promises: the result's ``status`` is ``complete`` only if the page reached its end marker,
    has code, name, agency, fiscal year and at least one step, and ``errors`` is empty; in every
    other case ``errors`` says why the page must not be imported.  Never raises.
    """
    return _PageReader(source).read(text)


def parse_path(path: str | Path) -> Iterator[ParsedPage]:
    """Yield the parsed pages found at ``path``.

    ``path`` may be a page file (``.html``/``.htm`` are read as HTML; ``.txt`` and any other
    name are detected by content), a folder (searched recursively, in sorted path order, for
    page files and ``.zip`` archives) or a ``.zip`` archive (members ``.txt``/``.html``/``.htm``
    in name order).  Bytes are decoded as UTF-8, falling back to cp874 (a superset of TIS-620).
    Each page's ``source`` is the file path, or ``"archive.zip!member"`` for archive members.
    Raises FileNotFoundError when ``path`` does not exist and zipfile.BadZipFile for a broken
    archive; problems inside a page are reported on the page.
    """
    path = Path(path)
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            suffix = child.suffix.lower()
            if suffix == ".zip":
                yield from _parse_zip(child)
            elif suffix in PAGE_SUFFIXES:
                yield _parse_bytes(child.read_bytes(), str(child), suffix)
    elif path.suffix.lower() == ".zip":
        yield from _parse_zip(path)
    else:
        yield _parse_bytes(path.read_bytes(), str(path), path.suffix.lower())


# --------------------------------------------------------------------------------------------
# Files and archives


def _parse_zip(path: Path) -> Iterator[ParsedPage]:
    with zipfile.ZipFile(path) as archive:
        members = sorted(
            (info for info in archive.infolist() if not info.is_dir()),
            key=lambda info: info.filename,
        )
        for info in members:
            suffix = Path(info.filename).suffix.lower()
            if suffix in PAGE_SUFFIXES:
                source = f"{path}!{info.filename}"
                yield _parse_bytes(archive.read(info), source, suffix)


def _parse_bytes(data: bytes, source: str, suffix: str) -> ParsedPage:
    text, problem = _decode(data)
    page = parse_html(text, source) if suffix in (".html", ".htm") else parse_page(text, source)
    if problem:
        page.errors.append(problem)
        page.status = "error"
    return page


def _decode(data: bytes) -> tuple[str, str | None]:
    """Decode legacy bytes: UTF-8 (with or without BOM), else cp874/TIS-620."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp874"), None
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), "bytes are neither UTF-8 nor cp874/TIS-620"


# --------------------------------------------------------------------------------------------
# HTML to lines

_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "br", "caption", "center"),
        *("dd", "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer"),
        *("form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main"),
        *("nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot"),
        *("th", "thead", "tr", "ul"),
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "title", "textarea"})
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
# A tokenizer rather than html.parser: the stdlib parser costs ~15 µs per tag in pure Python,
# which on table-heavy legacy pages alone would exceed the per-page budget.  We only need text,
# tag names and skipped elements; tests check it against html.parser on the fixtures.
_HTML_TOKEN = re.compile(
    r"<(?:!--.*?(?:-->|\Z)"
    r"|!\[CDATA\[.*?(?:\]\]>|\Z)"
    r"|[!?][^>]*(?:>|\Z)"
    r"|(?P<close>/)?(?P<tag>[a-zA-Z][^\s/>]*)(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?:>|\Z))",
    re.DOTALL,
)


def _html_lines(html: str) -> Iterator[str]:
    position = 0
    length = len(html)
    while position < length:
        token = _HTML_TOKEN.search(html, position)
        stop = token.start() if token else length
        if stop > position:
            yield _HTML_WHITESPACE.sub(" ", unescape(html[position:stop]))
        if token is None:
            return
        position = token.end()
        tag = (token["tag"] or "").lower()
        if tag in _SKIPPED_TAGS and not token["close"] and not token[0].endswith("/>"):
            closing = re.compile(rf"</{tag}\s*>", re.IGNORECASE).search(html, position)
            position = closing.end() if closing else length
        elif tag in _BLOCK_TAGS:
            yield "\n"


_HTML_SNIFF = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|div|table|tr|td|p|br|span|meta)\b", re.IGNORECASE
)


def _looks_like_html(content: str) -> bool:
    return bool(_HTML_SNIFF.search(content, 0, 4096))


# --------------------------------------------------------------------------------------------
# The page reader


class _PageReader:
    """One pass over the lines of a page: split into sections, then read each section."""

    def __init__(self, source: str) -> None:
        self.page = ParsedPage(source=source)
        self.errors = self.page.errors
        self.sections: dict[str, list[str]] = {"header": []}
        self.legacy_markers = 0
        self.reached_end = False
        self.chrome_codes: set[str] = set()

    # -- splitting ---------------------------------------------------------------------------

    def read(self, text: str) -> ParsedPage:
        page = self.page
        self._split(text)
        self._read_header(self.sections["header"])
        self._read_rationale(self.sections.get("rationale", []))
        self._read_objectives(self.sections.get("objectives", []))
        self._read_targets(self.sections.get("targets", []))
        self._read_strategies(self.sections.get("strategies", []))
        self._read_reports(self.sections.get("reports", []))
        self._read_steps(self.sections.get("steps", []))
        self._read_kpis(self.sections.get("kpis", []))
        page.missing = [name for name in SECTIONS if not self._has(name)]
        self._settle_status()
        return page

    def _split(self, text: str) -> None:
        section = "header"
        page = self.page
        for raw in _normalise(text).split("\n"):
            line = _BLANKS.sub(" ", raw).strip()
            if not line:
                continue
            if _END.fullmatch(line):
                self.reached_end = True
                break
            if _CHROME.fullmatch(line):
                self.legacy_markers += 1
                if match := _CHROME_CODE.fullmatch(line):
                    self.chrome_codes.add(_code(match[1]))
                continue
            if match := _CONTACT_LINE.fullmatch(line):
                _read_contact(match["value"], page.contact)
                continue
            if match := _EVALUATION.fullmatch(line):
                self._read_evaluation(line, match["rest"])
                continue
            if (heading := _HEADING.fullmatch(line)) and heading.lastgroup:
                section = heading.lastgroup
                self.legacy_markers += 1
                self.sections.setdefault(section, [])
                continue
            if _SEPARATOR.fullmatch(line) and section != "reports":
                continue  # the legacy site draws it after the reports, not only between them
            if (
                section in ("header", "rationale")
                and not page.unit_codes
                and _UNIT_CODES.fullmatch(line)
            ):
                page.unit_codes = [_arabic(c.strip()) for c in line.split("/")]
                continue
            self.sections[section].append(line)

    def _has(self, section: str) -> bool:
        page = self.page
        present: dict[str, object] = {
            "name": page.name,
            "agency": page.agency,
            "progress": page.progress,
            "division": page.division,
            "evaluation": page.evaluation,
            "contact": page.contact.names or page.contact.phones,
            "rationale": page.rationale,
            "unit_codes": page.unit_codes,
            "objectives": page.objectives,
            "targets": page.targets,
            "strategies": page.strategies,
            "reports": page.reports,
            "steps": page.steps,
            "kpis": page.kpis,
            "page_end": self.reached_end,
        }
        return bool(present[section])

    def _settle_status(self) -> None:
        page = self.page
        if page.code is None and not self.legacy_markers:
            page.errors[:] = ["not a legacy project page: no 'name : project code' line"]
            page.status = "error"
            return
        absent = ", ".join(page.missing) or "none"
        if not self.reached_end:
            page.errors.insert(
                0,
                "page is cut off before its end marker (missing sections: "
                f"{absent}); it must not be imported",
            )
            page.status = "incomplete"
            return
        required = [f for f in ("code", "name", "agency", "fiscal_year") if not getattr(page, f)]
        if required:
            page.errors.insert(0, f"page has no {', '.join(required)}")
        if self.chrome_codes - {page.code}:
            codes = ", ".join(sorted(self.chrome_codes))
            page.errors.append(f"page links other project codes ({codes}) than {page.code}")
        if page.errors:
            page.status = "error"
        elif not page.steps:
            page.errors.append("page has no plan steps (แผนการดำเนินงาน); it must not be imported")
            page.status = "incomplete"
        else:
            page.status = "complete"

    # -- header ------------------------------------------------------------------------------

    def _read_header(self, lines: list[str]) -> None:
        page = self.page
        chart_value: str | None = None
        progress_seen = False
        for line in lines:
            if page.code is None and (match := _NAME_LINE.fullmatch(line)):
                page.name = match["name"]
                page.code = _code(match["code"])
            elif page.agency is None and (match := _AGENCY_LINE.fullmatch(line)):
                page.agency = match["agency"]
                year = int(_arabic(match["year"]))
                page.fiscal_year = year if year >= _BE_THRESHOLD else year + _BE_OFFSET
            elif match := _PROGRESS_LINE.fullmatch(line):
                progress_seen = True
                page.progress = self._percent(match["value"], "progress")
            elif _NUMBER_LINE.fullmatch(line):
                chart_value = chart_value or line
            elif page.agency is not None and page.division is None:
                page.division = line
            else:
                self.errors.append(f"unexpected line in the page header: {line[:80]!r}")
        if not progress_seen and chart_value is not None:
            page.progress = self._percent(chart_value, "progress")

    def _percent(self, raw: str | None, what: str) -> str | None:
        try:
            value = _decimal(raw)
        except ValueError as exc:
            self.errors.append(f"{what}: {exc}")
            return None
        return None if value is None else _two_places(value)

    def _read_evaluation(self, line: str, rest: str) -> None:
        match = _EVALUATION_VALUE.fullmatch(rest)
        if match is None or (match["q"] is None and match["score"] is not None):
            self.errors.append(f"unreadable evaluation line: {line!r}")
        elif match["q"] is not None:
            try:
                score = _decimal(match["score"])
            except ValueError as exc:
                self.errors.append(f"evaluation score: {exc}")
                score = None
            self.page.evaluation = Evaluation(quarter=int(_arabic(match["q"])), score=score)

    # -- text sections -----------------------------------------------------------------------

    def _read_rationale(self, lines: list[str]) -> None:
        self.page.rationale = "\n".join(lines) or None

    def _read_objectives(self, lines: list[str]) -> None:
        text = " ".join(lines)
        if not text:
            return
        cuts: list[tuple[int, int, str]] = []  # (start, text start, number)
        expected: tuple[int, int] | None = None
        for match in _OBJECTIVE_NUMBER.finditer(text):
            major, minor = (int(p) for p in _arabic(match[1]).split("."))
            if expected is None or (major, minor) == expected:
                if expected is None and match.start() != 0 and not cuts:
                    cuts.append((0, 0, ""))
                cuts.append((match.start(), match.end(), f"{major}.{minor}"))
                expected = (major, minor + 1)
        if not cuts:
            self.page.objectives.append(Objective(number=None, text=text))
            return
        for index, (_, body_start, number) in enumerate(cuts):
            stop = cuts[index + 1][0] if index + 1 < len(cuts) else len(text)
            body = text[body_start:stop].strip()
            if body:
                self.page.objectives.append(Objective(number=number or None, text=body))

    def _read_targets(self, lines: list[str]) -> None:
        text = " ".join(lines)
        if not text:
            return
        markers = [
            m
            for m in _TARGET_MARKER.finditer(text)
            if m["num"] or m["colon"] or m.end() == len(text) or text[m.end()] in "-–•"
        ]
        segments: list[tuple[TargetKind | None, str]] = []
        if not markers or markers[0].start() > 0:
            segments.append((None, text[: markers[0].start() if markers else len(text)]))
        for index, marker in enumerate(markers):
            stop = markers[index + 1].start() if index + 1 < len(markers) else len(text)
            marked: TargetKind = "quantity" if marker["kind"] == "ปริมาณ" else "quality"
            segments.append((marked, text[marker.end() : stop]))
        for kind, segment in segments:
            for item in _TARGET_ITEM.split(segment):
                if item := item.strip():
                    self.page.targets.append(Target(kind=kind, text=item))

    def _read_strategies(self, lines: list[str]) -> None:
        for line in lines:
            match = _STRATEGY_LINE.fullmatch(line)
            if match is None:
                if self.page.strategies:
                    last = self.page.strategies[-1]
                    last.name = f"{last.name} {line}".strip().removesuffix("%").rstrip()
                else:
                    self.errors.append(f"unreadable strategy line: {line[:80]!r}")
                continue
            code = _arabic(match["code"])
            self.page.strategies.append(
                Strategy(code=code, level=code.count(".") + 1, name=match["name"])
            )

    # -- reports -----------------------------------------------------------------------------

    def _read_reports(self, lines: list[str]) -> None:
        report: Report | None = None
        field_name = "narrative"
        narrative_date: str | None = None
        for line in lines:
            if match := _REPORT_HEAD.fullmatch(line):
                self._finish_report(report, narrative_date)
                report = Report(number=int(_arabic(match["number"])))
                report.percent = self._report_value(report, "percent", match["percent"])
                report.date = self._report_date(report, match["date"])
                field_name, narrative_date = "pre", None
                continue
            if report is None:
                self.errors.append(f"text before the first report: {line[:80]!r}")
                continue
            if _SEPARATOR.fullmatch(line):
                field_name = "done"
            elif match := _PROBLEMS.fullmatch(line):
                report.problems, field_name = match["text"], "problems"
            elif match := _OBSTACLES.fullmatch(line):
                report.obstacles, field_name = match["text"], "obstacles"
            elif field_name == "pre" and _NUMBER_LINE.fullmatch(line):
                continue  # the chart's copy of the percent
            elif field_name == "pre" and (match := _REPORT_DATED.fullmatch(line)):
                narrative_date = self._report_date(report, match["date"])
                report.narrative, field_name = match["text"], "narrative"
            elif field_name in ("pre", "narrative", "problems", "obstacles"):
                if field_name == "pre":
                    field_name = "narrative"
                previous = getattr(report, field_name)
                setattr(report, field_name, f"{previous}\n{line}" if previous else line)
            else:
                self.errors.append(f"report {report.number}: stray line {line[:80]!r}")
        self._finish_report(report, narrative_date)

    def _finish_report(self, report: Report | None, narrative_date: str | None) -> None:
        if report is None:
            return
        if report.date is None:
            report.date = narrative_date
        if report.date is None:
            self.errors.append(f"report {report.number}: no date")
        self.page.reports.append(report)

    def _report_value(self, report: Report, what: str, raw: str | None) -> str | None:
        try:
            return _decimal(raw)
        except ValueError as exc:
            self.errors.append(f"report {report.number} {what}: {exc}")
            return None

    def _report_date(self, report: Report, raw: str | None) -> str | None:
        try:
            return _iso_date(raw)
        except ValueError as exc:
            self.errors.append(f"report {report.number}: {exc}")
            return None

    # -- plan --------------------------------------------------------------------------------

    def _read_steps(self, lines: list[str]) -> None:
        step: Step | None = None
        dated: set[str] = set()  # a legacy null date is a value; an absent line is not
        for line in lines:
            if match := _STEP_HEAD.fullmatch(line):
                self._finish_step(step, dated)
                step, dated = Step(order=int(_arabic(match["order"]))), set()
                if match["name"] is not None:
                    step.name = match["name"].strip()
                continue
            if step is None:
                self.errors.append(f"text before the first plan step: {line[:80]!r}")
            elif step.name is not None and step.weight is None and _STEP_WEIGHT.fullmatch(line):
                step.weight = self._step_value(step, _STEP_WEIGHT.fullmatch(line))
            elif match := _STEP_START.fullmatch(line):
                step.start = self._step_date(step, match["date"])
                dated.add("start")
            elif match := _STEP_END.fullmatch(line):
                step.end = self._step_date(step, match["date"])
                dated.add("end")
            elif step.name is None:
                step.name = line.removeprefix(":").strip()
            elif step.weight is None:
                step.name = f"{step.name} {line.removeprefix(':').strip()}".strip()
            else:
                self.errors.append(f"step {step.order}: stray line {line[:80]!r}")
        self._finish_step(step, dated)

    def _finish_step(self, step: Step | None, dated: set[str]) -> None:
        if step is None:
            return
        absent = [f for f in ("name", "weight") if getattr(step, f) is None]
        absent += [f for f in ("start", "end") if f not in dated]
        if absent:
            self.errors.append(f"step {step.order}: no {', '.join(absent)}")
        self.page.steps.append(step)

    def _step_value(self, step: Step, match: re.Match[str] | None) -> str | None:
        if match is None:
            return None
        try:
            return _decimal(match["weight"])
        except ValueError as exc:
            self.errors.append(f"step {step.order} weight: {exc}")
            return None

    def _step_date(self, step: Step, raw: str) -> str | None:
        try:
            value = _iso_date(raw)
        except ValueError as exc:
            self.errors.append(f"step {step.order}: {exc}")
            return None
        return value

    # -- KPIs --------------------------------------------------------------------------------

    def _read_kpis(self, lines: list[str]) -> None:
        kpi: Kpi | None = None
        cells: list[str] = []
        mode = "fields"
        for line in lines:
            if match := _KPI_HEAD.fullmatch(line):
                self._finish_kpi(kpi, cells)
                kpi, cells, mode = Kpi(code=_code(match["code"])), [], "fields"
                continue
            if kpi is None:
                self.errors.append(f"text before the first KPI: {line[:80]!r}")
            elif match := _KPI_NAME.fullmatch(line):
                kpi.name, mode = match["name"], "name"
            elif match := _KPI_TARGET.fullmatch(line):
                kpi.unit = match["unit"] or None
                kpi.target, mode = _decimal_or_text(match["value"]), "fields"
            elif match := _KPI_ACHIEVED.fullmatch(line):
                kpi.achieved, mode = _decimal_or_text(match["value"]), "fields"
                kpi.unit = kpi.unit or match["unit"] or None
            elif match := _KPI_TYPE.fullmatch(line):
                kpi.type = "routine" if "งานประจำ" in match["type"] else "strategic"
                mode = "fields"
            elif match := _KPI_LEVEL.fullmatch(line):
                level = (match["en"] or "").lower() or match["thai"]
                kpi.level = "output" if level in ("output", "ผลผลิต") else "outcome"
                mode = "fields"
            elif mode != "table" and _KPI_TABLE_HEADER.fullmatch(line):
                mode = "table"
            elif mode == "table" and _KPI_TABLE_HEADER.fullmatch(line) and not cells:
                continue
            elif mode == "name":
                kpi.name = f"{kpi.name} {line}".strip()
            else:
                mode = "table"
                cells.append(line)
        self._finish_kpi(kpi, cells)

    def _finish_kpi(self, kpi: Kpi | None, cells: list[str]) -> None:
        if kpi is None:
            return
        index = 0
        while index < len(cells):
            cell = _arabic(cells[index])
            if not _QUARTER_NUMBER.fullmatch(cell):
                self.errors.append(f"KPI {kpi.code}: unexpected quarter table cell {cell!r}")
                index += 1
                continue
            quarter = KpiQuarter(quarter=int(cell))
            index += 1
            if index < len(cells) and not _FRACTION.fullmatch(cells[index]):
                following = cells[index + 1] if index + 1 < len(cells) else ""
                next_quarter = _arabic(cells[index]) == str(quarter.quarter + 1)
                if not next_quarter or _FRACTION.fullmatch(following):
                    quarter.result = self._kpi_value(kpi, cells[index])
                    index += 1
            if index < len(cells) and (match := _FRACTION.fullmatch(cells[index])):
                quarter.numerator = self._kpi_value(kpi, match["num"])
                quarter.denominator = self._kpi_value(kpi, match["den"])
                index += 1
            kpi.quarters.append(quarter)
        if kpi.name is None:
            self.errors.append(f"KPI {kpi.code}: no name")
        self.page.kpis.append(kpi)

    def _kpi_value(self, kpi: Kpi, raw: str) -> str | None:
        try:
            return _decimal(raw)
        except ValueError as exc:
            self.errors.append(f"KPI {kpi.code}: {exc}")
            return None


def _code(raw: str) -> str:
    return re.sub(r"\s+", "", _arabic(raw))


# --------------------------------------------------------------------------------------------
# Contacts


def _read_contact(value: str, contact: Contact) -> None:
    """Split ``"นายสมชาย ดีมาก, นางวิไล สุขใจ โทร 8812 / 081-234-5678"`` into names and phones."""
    for chunk in _CONTACT_SPLIT.split(_arabic(value)):
        for match in _PHONE.finditer(chunk):
            phone = _phone(match)
            if phone and phone not in contact.phones:
                contact.phones.append(phone)
        rest = _PHONE_KEYWORD.sub(" ", _PHONE.sub(" ", chunk))
        rest = _BLANKS.sub(" ", _EMPTY_BRACKETS.sub(" ", rest)).strip(" :.-–")
        if _HAS_LETTER.search(rest) and rest not in contact.names:
            contact.names.append(rest)


def _phone(match: re.Match[str]) -> str:
    main = match["main"]
    digits = re.sub(r"\D", "", main)
    if main.startswith("+66"):
        digits = "0" + digits[2:]
    if match["ext"]:
        keyword = "ต่อ" if match["kw"] == "ต่อ" else "ext"
        return f"{digits} {keyword} {match['ext']}"
    return digits

"""CSV and XLSX downloads of a list: headers in the reader's language (Thai by default),
dates in the Buddhist Era, amounts exact.

A list is a sequence of :class:`Column` and an iterable of rows; each column reads its value
from a row. CSV is UTF-8 with a byte-order mark (so Excel reads Thai), amounts as plain
decimals ("180000.00") and user text that would start a formula quoted. XLSX cells hold
numbers written from the Decimal's own digits (no float) with a number format, text as text,
and BE dates as text ("30/12/2565": a spreadsheet's date cell cannot hold a BE year).

An export holds no database connection while its client reads: the view reads the keys of
every row (ids, in order) and ends its transaction; the rows are then read a chunk at a time
(`rows_in_chunks`), each chunk in a session of its own that is closed before its rows are
written. A client that reads slowly, goes away mid-download or only asks for the headers
leaves no transaction open and no connection taken (on SQLite, where every transaction
takes the write lock, a held one stopped every other request).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TypeVar

from flask import Response, stream_with_context
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Session

from service.core.db import db
from service.core.thai import be_year

K = TypeVar("K")
T = TypeVar("T")

Kind = Literal["text", "money", "percent", "number", "date"]
FORMATS = ("csv", "xlsx")

_NUMBER_FORMATS = {"money": "#,##0.00", "percent": "0.00", "number": "0"}
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Rows read per short transaction of an export.
CHUNK = 500


@dataclass(frozen=True)
class Column:
    header: LazyString | str
    value: Callable[[Any], Any]
    kind: Kind = "text"
    width: int = 14


def be_numeric_date(day: date | None) -> str:
    """``30/12/2565``: day/month/Buddhist Era year, as Thai offices type dates."""
    if day is None:
        return ""
    return f"{day.day:02d}/{day.month:02d}/{be_year(day.year)}"


#: A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "date":
        return be_numeric_date(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _safe_text(value: Any, kind: Kind) -> str:
    """Text for a CSV cell; user text that a spreadsheet would run as a formula gets a
    leading apostrophe (it is shown, not run)."""
    text = _text(value, kind)
    if kind == "text" and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def rows_in_chunks(
    keys: Sequence[K], read: Callable[[Session, Sequence[K]], Iterable[T]], chunk: int = CHUNK
) -> Iterator[T]:
    """The rows `read` finds for `keys`, `chunk` keys at a time, each chunk read in a session
    of its own that is closed (its transaction ended, its connection returned) before any of
    its rows is handed on. Nothing is read until the first row is asked for, and nothing is
    held between chunks, however long the caller waits or if it never asks again."""
    for start in range(0, len(keys), chunk):
        with db.new_session() as session:
            rows = list(read(session, keys[start : start + chunk]))
        yield from rows


def csv_lines(columns: Sequence[Column], rows: Iterable[Any]) -> Iterator[str]:
    """The CSV document, a line at a time, starting with a byte-order mark and the headers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(column.header) for column in columns])
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe_text(column.value(row), column.kind) for column in columns])
        yield buffer.getvalue()


def xlsx_bytes(columns: Sequence[Column], rows: Iterable[Any], title: str) -> bytes:
    """The XLSX workbook: one sheet named `title`, bold headers, typed cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Sheet")
    for index, column in enumerate(columns):
        sheet.column_dimensions[_letter(index)].width = column.width
    bold = Font(bold=True)
    header_cells = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        cells = []
        for column in columns:
            value = column.value(row)
            if column.kind in _NUMBER_FORMATS and value is not None:
                cell = WriteOnlyCell(sheet, value=_exact_number(value))
                cell.number_format = _NUMBER_FORMATS[column.kind]
            else:
                cell = WriteOnlyCell(sheet, value=_text(value, column.kind))
                cell.data_type = "s"  # text stays text: "=…" in a name is not a formula
            cells.append(cell)
        sheet.append(cells)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _exact_number(value: Any) -> Decimal | int:
    # openpyxl writes a Decimal with its own digits (no float round trip).
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return value
    return Decimal(str(value))


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def download(
    fmt: str, filename: str, columns: Sequence[Column], rows: Iterable[Any], title: str
) -> Response:
    """A CSV (streamed) or XLSX download of the list; `filename` without extension.

    `rows` must read the database in sessions of its own (`rows_in_chunks`): the request's
    session is closed here, so that its transaction (on SQLite, the write lock) is not held
    while the rows are read or the client downloads them.

    Raises ValueError for a format other than csv or xlsx.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected csv or xlsx")
    db.session.close()
    if fmt == "csv":
        response = Response(
            stream_with_context(csv_lines(columns, rows)), content_type="text/csv; charset=utf-8"
        )
    else:
        response = Response(xlsx_bytes(columns, rows, title), mimetype=_XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

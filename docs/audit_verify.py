#!/usr/bin/env python3
"""Check an audit export of Tidtam (CSV or XLSX) without the database.

    python3 docs/audit_verify.py audit-50230000-2022-10-01-2023-09-30.csv

Each row's hash is SHA-256 (hex) of: the previous hash, a newline, and the JSON array
(compact, UTF-8, no ASCII escaping) of the row's first twelve columns as text. Where two rows
follow each other in the chain (positions n and n+1), the second's previous hash must be the
first's hash. A unit's export holds the unit's entries only, so positions may skip: each row is
still checked on its own, and the links between neighbours; an export of every unit has no gap.

Python's standard library reads CSV; XLSX needs openpyxl. Exit 0 when every row checks, 1
naming the first row (line of the file) that does not.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

CHAINED = 12  # chain position … changes
PREV, HASH = 12, 13
#: The export quotes user text a spreadsheet would run as a formula with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _unquote(cell: str) -> str:
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def rows(path: Path) -> Iterator[list[str]]:
    """The data rows as text, the header skipped."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        # Read whole, then closed: a read-only workbook keeps its file open until closed.
        book = load_workbook(path, read_only=True)
        try:
            data = list(book.worksheets[0].iter_rows(values_only=True))[1:]
        finally:
            book.close()
        for values in data:
            yield ["" if v is None else str(v) for v in values]
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            yield [_unquote(cell) for cell in row]


def link_hash(prev: str, fields: list[str]) -> str:
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def check(path: Path) -> tuple[int, str | None]:
    """(rows checked, the first problem or None)."""
    last_seq: int | None = None
    last_hash = ""
    count = 0
    for line, row in enumerate(rows(path), start=2):
        fields, prev, digest = row[:CHAINED], row[PREV], row[HASH]
        if not fields[0]:
            return count, f"line {line}: entry {fields[1]} is not in the chain"
        if link_hash(prev, fields) != digest:
            return count, f"line {line}: entry {fields[1]} does not match its hash"
        seq = int(fields[0])
        if last_seq is not None and seq == last_seq + 1 and prev != last_hash:
            return count, f"line {line}: entry {fields[1]} does not follow the row before it"
        if last_seq is not None and seq <= last_seq:
            return count, f"line {line}: entry {fields[1]} is out of chain order"
        last_seq, last_hash = seq, digest
        count += 1
    return count, None


def skipped(path: Path) -> int:
    """How many chain positions between the first row and the last are not in the file: the
    entries of other units (a unit's export), none in the export of the whole service."""
    seqs = [int(row[0]) for row in rows(path) if row[0]]
    return max(seqs) - min(seqs) + 1 - len(seqs) if seqs else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    checked, problem = check(Path(sys.argv[1]))
    if problem:
        print(f"BROKEN {problem} ({checked} rows before it check)")
        sys.exit(1)
    print(f"OK {checked} rows check")
    if gap := skipped(Path(sys.argv[1])):
        print(
            f"{gap} positions between them are not in this file (other units' entries; "
            "the root unit's export by its admin has every one)"
        )

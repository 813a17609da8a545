"""Database audit exports as CSV (SQL*Plus `SET MARKUP CSV ON`, SQLcl `SET SQLFORMAT CSV`):
bytes in, rows out. Pure, no I/O.

- The first row names the columns, as written (`"ID#","OS_USERNAME",...` or unquoted).
- Values are RFC 4180: double quotes around a value that holds commas, quotes or line
  breaks, `""` for a quote inside one. A row ends at a line break outside quotes, so a
  value may span lines (SQL text, the FACTOR_CONTEXT XML). CRLF and LF both work.
- An empty value is a null (left out of the record, like a null in SQLcl's JSON); values
  stay strings.
- A row with another number of values than the header, or with broken quoting, is a
  `Reject` (kind BAD_ROW) naming its line number and offset. A row equal to the header is
  the header repeated (exports appended to one file) and is not a record; blank lines are
  skipped.
- A row is complete when its quotes balance; one that is still open after
  `max_record_bytes` (a quote that never closes) is rejected and reading goes on at the
  next line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

from auditship.formats.export_rows import ExportRows
from auditship.formats.lines import Line, LineSplitter
from auditship.model import Reject, RejectKind
from auditship.transforms.repair import Parsed

# The csv module refuses fields over 131,072 characters by default (process-wide); a row is
# bounded by max_record_bytes already (LineSplitter, the open-row limit), so no field limit.
csv.field_size_limit(2**31 - 1)
# An Oracle column name or alias as an export header writes it.
COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_#$]*")


def parse_row(text: str) -> list[str] | None:
    """One CSV row (which may hold line breaks inside quotes) as values, or None when its
    quoting is broken."""
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    if len(rows) != 1:
        return None
    return rows[0]


def header_of(line: bytes) -> list[str] | None:
    """The column names when `line` is a CSV header of an export (two or more names that
    are Oracle identifiers), else None: what format detection asks."""
    try:
        names = parse_row(line.decode("utf-8").rstrip("\r"))
    except UnicodeDecodeError:
        return None
    if names is None or len(names) < 2:
        return None
    if not all(COLUMN.fullmatch(n) for n in names):
        return None
    return names


class CsvExportReader:
    """Incremental: `feed` decompressed chunks, then `finish`; yields `(offset, record)`
    or `Reject` in file order. Records come from `rows` (nulls dropped, timestamp, id,
    Database Vault marker)."""

    def __init__(
        self, object_name: str, rows: ExportRows, max_record_bytes: int, base_offset: int = 0
    ) -> None:
        self._name = object_name
        self._rows = rows
        self._max = max_record_bytes
        self._lines = LineSplitter(max_record_bytes, base_offset)
        self._header: list[str] | None = None
        self._open: list[Line] = []  # lines of a row whose quotes have not closed yet
        self._open_bytes = 0
        self._quotes = 0  # quotes in the open row so far

    def feed(self, chunk: bytes) -> Iterator[Parsed | Reject]:
        for line in self._lines.feed(chunk):
            yield from self._line(line)

    def finish(self) -> Iterator[Parsed | Reject]:
        for line in self._lines.finish():
            yield from self._line(line)
        if self._open:
            first = self._open[0]
            yield self._reject_open("the file ends inside a quoted value", first)

    def _line(self, line: Line) -> Iterator[Parsed | Reject]:
        if line.cut:
            if self._open:
                yield self._reject_open("a quoted value does not end", self._open[0])
            yield self._reject(line, line.data, f"the line is {line.length} bytes, over the limit")
            return
        if not self._open and not line.data.strip():
            return  # a blank line between rows
        self._open.append(line)
        self._open_bytes += line.length + 1
        self._quotes += line.data.count(b'"')
        if self._quotes % 2:
            if self._open_bytes > self._max:
                yield self._reject_open("a quoted value does not end", self._open[0])
            return
        lines, self._open, self._open_bytes, self._quotes = self._open, [], 0, 0
        found = self._row(lines)
        if found is not None:
            yield found

    def _row(self, lines: list[Line]) -> Parsed | Reject | None:
        first = lines[0]
        raw = b"\n".join(line.data for line in lines)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._reject(first, raw, f"not UTF-8 at byte {exc.start} of the row")
        values = parse_row(text)
        if values is None:
            return self._reject(first, raw, "broken quoting")
        if self._header is None:
            if not values or not all(values):
                return self._reject(first, raw, "the header row has an empty column name")
            self._header = values
            self._rows.columns(values)
            return None
        if values == self._header:
            return None  # the header again: another export appended
        if len(values) != len(self._header):
            return self._reject(
                first, raw, f"{len(values)} values for the {len(self._header)} columns"
            )
        row: dict[str, Any] = {
            name: value for name, value in zip(self._header, values, strict=True) if value != ""
        }
        return first.offset, self._rows.record(row)

    def _reject_open(self, why: str, first: Line) -> Reject:
        raw = b"\n".join(line.data for line in self._open)[: self._max]
        length = self._open_bytes
        self._open, self._open_bytes, self._quotes = [], 0, 0
        return self._reject(first, raw, why, length)

    def _reject(self, line: Line, raw: bytes, why: str, length: int | None = None) -> Reject:
        return Reject(
            self._name,
            line.offset,
            f"{self._name}: row at line {line.number} (byte {line.offset}): {why}",
            raw,
            stage="repair",
            kind=RejectKind.BAD_ROW,
            length=length if length is not None else (line.length if line.cut else None),
        )

"""Fusion Middleware audit bus-stop files: lines in, records out. Pure, no I/O.

The format (seed 004, "About the Bus-stop File"; the OPSS sample there):

    #Fields:Date Time Initiator EventType EventStatus MessageText ... mapName key
    #Remark Values:ComponentType="JPS"
    2008-12-08 10:46:05.492  - "CheckAuthorization" true "Oracle Platform ..." - ...

- `#Fields:` names the fields, separated by spaces. It can appear again further down (the
  file was appended to or rotated) and can change (another component, another field
  list): each data line is read with the last header above it. A new header also ends
  the remark values of the one before.
- `#Remark Values:` holds `Name="value"` pairs (`ComponentType="JPS"`), added to every
  record under it. Other lines starting with `#` are comments; blank lines are skipped.
- A value is `-` (none: the key is left out), a bare token, or a double-quoted string
  that may hold spaces and the escapes `\\"` and `\\\\` (any other backslash is kept as
  written). Values are separated by one or more spaces or tabs and stay strings.
- Each data line becomes one record: the header's field names as written, then
  `ComponentType` (and any other remark value) unless a field of that name is set, and
  `@timestamp` = Date + Time, which are UTC ("Records to bus-stop files always use UTC").
- A line whose value count does not match its header, a line with a broken quote, a line
  that is not UTF-8 or a data line before any header is a `Reject` (kind BAD_ROW) naming
  the line number, offset and reason: never a shifted record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from auditship.formats.lines import Line, LineSplitter
from auditship.formats.timestamps import busstop_time
from auditship.model import Reject, RejectKind
from auditship.transforms.repair import Parsed

FIELDS = "#Fields:"
REMARK = "#Remark Values:"
# One value: a quoted string that ends before a separator or the end of the line (group 1
# is the quote, group 2 its text) or a bare token (group 3); anything else is junk (group 4:
# a quote that does not end, or text glued to a closing quote). One pass, in C.
# Possessive (`*+`, `++`): a backtracking `*` keeps state per character, ~150 bytes each, so
# an 8 MB quoted value would cost a gigabyte.
_TOKEN = re.compile(r'(")((?:[^"\\]++|\\.)*+)"(?=[ \t]|$)|([^ \t"][^ \t]*+)|([^ \t])')
_ESCAPE = re.compile(r"\\([\"\\])")
_UNESCAPE = itemgetter(1)  # a match of _ESCAPE -> the escaped character
_REMARK_PAIR = re.compile(r'\s*([^\s=,]+)\s*=\s*(?:"((?:[^"\\]++|\\.)*+)"|([^\s,]*))\s*,?')


def tokenize(text: str) -> list[str | None] | None:
    """The values of one data line (`None` for `-`), or None when the line cannot be
    read as values (a quote that does not end, or text glued to a closing quote)."""
    values: list[str | None] = []
    for quote, quoted, bare, junk in _TOKEN.findall(text):
        if quote:
            values.append(_ESCAPE.sub(_UNESCAPE, quoted) if "\\" in quoted else quoted)
        elif junk:
            return None
        else:
            values.append(None if bare == "-" else bare)
    return values


def quote(value: str | None) -> str:
    """How a writer puts `value` on a line (`tokenize`'s inverse; tests and tools)."""
    if value is None:
        return "-"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def remark_values(text: str) -> dict[str, str]:
    """`ComponentType="JPS"` (and more pairs, if any) as a dict."""
    values: dict[str, str] = {}
    for name, quoted, bare in _REMARK_PAIR.findall(text):
        values[name] = _ESCAPE.sub(_UNESCAPE, quoted) if quoted else bare
    return values


class BusStopReader:
    """Incremental: `feed` decompressed chunks, then `finish`; yields `(offset, record)`
    or `Reject` in file order."""

    def __init__(self, object_name: str, max_record_bytes: int, base_offset: int = 0) -> None:
        self._name = object_name
        self._lines = LineSplitter(max_record_bytes, base_offset)
        self._fields: list[str] | None = None
        self._header_line = 0
        self._remarks: dict[str, str] = {}

    def feed(self, chunk: bytes) -> Iterator[Parsed | Reject]:
        for line in self._lines.feed(chunk):
            found = self._line(line)
            if found is not None:
                yield found

    def finish(self) -> Iterator[Parsed | Reject]:
        for line in self._lines.finish():
            found = self._line(line)
            if found is not None:
                yield found

    def _line(self, line: Line) -> Parsed | Reject | None:
        if line.cut:
            return self._reject(line, f"the line is {line.length} bytes, over the record limit")
        try:
            text = line.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._reject(line, f"not UTF-8 at byte {exc.start} of the line")
        if text.startswith("#"):
            self._directive(text, line.number)
            return None
        if not text.strip():
            return None
        if self._fields is None:
            return self._reject(line, "a data line before any #Fields: header")
        values = tokenize(text)
        if values is None:
            return self._reject(line, "a quoted value does not end, or text follows its quote")
        if len(values) != len(self._fields):
            return self._reject(
                line,
                f"{len(values)} values for the {len(self._fields)} fields of the #Fields: "
                f"header on line {self._header_line}",
            )
        return line.offset, self._record(values)

    def _directive(self, text: str, number: int) -> None:
        if text.startswith(FIELDS):
            self._fields = text[len(FIELDS) :].split()
            self._header_line = number
            self._remarks = {}
        elif text.startswith(REMARK):
            self._remarks.update(remark_values(text[len(REMARK) :]))

    def _record(self, values: list[str | None]) -> dict[str, Any]:
        assert self._fields is not None
        pairs = zip(self._fields, values, strict=True)
        record: dict[str, Any] = {field: value for field, value in pairs if value is not None}
        for name, value in self._remarks.items():
            record.setdefault(name, value)
        moment = busstop_time(record.get("Date"), record.get("Time"))
        if moment is not None:
            record["@timestamp"] = moment
        return record

    def _reject(self, line: Line, why: str) -> Reject:
        return Reject(
            self._name,
            line.offset,
            f"{self._name}: line {line.number} (byte {line.offset}): {why}",
            line.data,
            stage="repair",
            kind=RejectKind.BAD_ROW,
            length=line.length if line.cut else None,
        )

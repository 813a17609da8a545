"""Database audit exports as SQLcl JSON (`SET SQLFORMAT JSON`): bytes in, rows out, streaming.
Pure, no I/O.

SQLcl writes one document per query:

    {"results":[{"columns":[{"name":"ID#","type":"NUMBER"},...],"items":
    [
    {"id#":1,"os_username":"oracle",...}
    ,{"id#":2,...}
    ]}]}

- Items are read one at a time (a 1 GB export is never held whole): memory is one item
  plus one input chunk. Documents may follow each other (several queries spooled to one
  file).
- Item keys are the column names in lower case: each is named by `columns[].name` as
  written, so a CSV and a JSON export of the same table give the same field names. Values
  keep their JSON types; nulls (and empty strings, which Oracle stores as null, as CSV
  does) are left out.
- An item that is not a JSON object, bytes between items that are not part of the
  document, an item larger than `max_record_bytes` or a document cut off by the end of the
  file is a `Reject` (kind BAD_ROW) with its offset and the item's number; reading goes on
  with the next item. After an over-long item, reading resumes at the next line that
  starts a new item (`,{`) or ends the list (`]`), which is how SQLcl lays items out.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any

from auditship.formats.export_rows import ExportRows
from auditship.model import Reject, RejectKind
from auditship.transforms.repair import Parsed, loads_exact

START = re.compile(rb'\s*\{\s*"results"\s*:\s*\[')
_WS = re.compile(rb"[\s,]*")
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*')
# A JSON object without nested objects or arrays (every item SQLcl writes for scalar
# columns): found in one C-speed match. Alternatives start with different characters, so
# matching is linear.
_FLAT = re.compile(rb'\{(?:[^"{}\[\]]|"(?:[^"\\]|\\.)*")*\}')
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[{}\[\]]', re.DOTALL)
_RESUME = re.compile(rb"\n[ \t\r]*(?=,[ \t\r\n]*\{|\])")
_LOOKAHEAD = 64  # bytes START needs to be sure
# A step of the reader: yields what it found, returns whether it moved on (False: it
# needs more bytes).
Step = Generator[Parsed | Reject, None, bool]


def value_end(data: bytes | bytearray, pos: int) -> int | None:
    """The index just past the JSON object or array starting at `data[pos]`, or None when
    `data` ends before it does."""
    if data[pos] == 0x7B:
        m = _FLAT.match(data, pos)
        if m is not None:
            return m.end()
    depth = 0
    for m in _TOKENS.finditer(data, pos):
        token = m.group()
        first = token[0]
        if first == 0x22:  # a string
            if len(token) < 2 or token[-1] != 0x22 or _escaped_end(token):
                return None  # it runs off the end
            continue
        depth += 1 if first in (0x7B, 0x5B) else -1
        if depth == 0:
            return m.end()
    return None


def _escaped_end(token: bytes) -> bool:
    """True when the closing quote of `token` is itself escaped (an odd run of backslashes
    before it): the regex then stopped at the end of the data, not of the string."""
    run = len(token) - 1 - len(token[:-1].rstrip(b"\\"))
    return run % 2 == 1


class SqlclJsonReader:
    """Incremental: `feed` decompressed chunks, then `finish`; yields `(offset, record)`
    or `Reject` in file order."""

    def __init__(
        self, object_name: str, rows: ExportRows, max_record_bytes: int, base_offset: int = 0
    ) -> None:
        self._name = object_name
        self._rows = rows
        self._max = max_record_bytes
        self._buf = bytearray()
        self._at = base_offset  # stream offset of _buf[0]
        self._pos = 0
        self._state = "document"  # document | results | result | items | skipping
        self._columns: dict[str, str] = {}
        self._item = 0  # items read in this file (named in rejects)

    def feed(self, chunk: bytes) -> Iterator[Parsed | Reject]:
        self._buf += chunk
        yield from self._run(final=False)
        if self._pos > 1 << 20 or self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._at += self._pos
            self._pos = 0

    def finish(self) -> Iterator[Parsed | Reject]:
        yield from self._run(final=True)
        if self._state != "document":  # every item read was shipped; the end is missing
            rest = bytes(self._buf[self._pos :])
            yield self._reject(self._at + self._pos, rest, "the file ends inside the document")
        self._buf.clear()
        self._pos = 0
        self._state = "document"

    # Each step handles what starts at _pos; it returns False when it needs more bytes.
    def _run(self, final: bool) -> Iterator[Parsed | Reject]:
        while True:
            buf = self._buf
            self._pos = _WS.match(buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos >= len(buf):
                return
            step = getattr(self, "_" + self._state)
            progressed = yield from step(final)
            if not progressed:
                return

    def _document(self, final: bool) -> Step:
        buf, pos = self._buf, self._pos
        m = START.match(buf, pos)
        if m is None:
            if len(buf) - pos < _LOOKAHEAD and not final:
                return False
            why = "not the start of a SQLcl JSON document"
            return (yield from self._junk(final, b'{"results"', why))
        self._pos, self._state = m.end(), "results"
        return True

    def _results(self, final: bool) -> Step:
        buf, pos = self._buf, self._pos
        if buf[pos] == 0x5D:  # ] then the document's }
            end = _WS.match(buf, pos + 1).end()  # type: ignore[union-attr]
            if end >= len(buf):
                return False  # finish() names a document that never ends
            if buf[end] != 0x7D:
                why = "the document does not end with }"
                moved = yield from self._junk(final, b'{"results"', why)
                if moved:
                    self._state = "document"
                return moved
            self._pos, self._state = end + 1, "document"
            return True
        if buf[pos] == 0x7B:
            self._pos, self._state, self._columns = pos + 1, "result", {}
            return True
        return (yield from self._junk(final, b"{", "not a result set of the document"))

    def _result(self, final: bool) -> Step:
        buf, pos = self._buf, self._pos
        if buf[pos] == 0x7D:
            self._pos, self._state = pos + 1, "results"
            return True
        if buf[pos] != 0x22:
            return (yield from self._junk(final, b"{", "not a key of the result set"))
        m = _KEY.match(buf, pos)
        if m is None or m.end() >= len(buf):
            if not final and len(buf) - pos < self._max:
                return False
            return (yield from self._junk(final, b"{", "not a key of the result set"))
        key, start = m.group(1), m.end()
        if key == b"items":
            if buf[start] != 0x5B:
                return (yield from self._junk(final, b"{", '"items" is not a list'))
            self._pos, self._state = start + 1, "items"
            return True
        end = value_end(buf, start) if buf[start] in b"{[" else _scalar_end(buf, start)
        if end is None:
            return (yield from self._wait_or_cut(start, final))
        if key == b"columns":
            self._columns = _column_names(bytes(buf[start:end]))
            self._rows.columns(list(self._columns.values()))
        self._pos = end
        return True

    def _items(self, final: bool) -> Step:
        buf, pos = self._buf, self._pos
        if buf[pos] == 0x5D:
            self._pos, self._state = pos + 1, "result"
            return True
        end = value_end(buf, pos) if buf[pos] in b"{[" else _scalar_end(buf, pos)
        if end is None:
            return (yield from self._wait_or_cut(pos, final))
        self._item += 1
        self._pos = end
        raw = bytes(buf[pos:end])
        item: Any = _loads(raw)
        offset = self._at + pos
        if type(item) is not dict:
            yield self._reject(offset, raw, f"item {self._item} is not a JSON object")
            return True
        names = self._columns
        row: dict[str, Any] = {
            names.get(k) or k: v for k, v in item.items() if v is not None and v != ""
        }
        yield offset, self._rows.record(row)
        return True

    def _skipping(self, final: bool) -> Step:
        yield from ()
        m = _RESUME.search(self._buf, self._pos)
        if m is None:
            keep = max(self._pos, len(self._buf) - 1)  # a \n at the very end may start it
            self._pos = len(self._buf) if final else keep
            return False
        self._pos, self._state = m.end(), "items"
        return True

    def _wait_or_cut(self, start: int, final: bool) -> Step:
        """A value starting at `start` has not ended in the bytes held."""
        held = len(self._buf) - start
        if not final and held <= self._max:
            return False
        if final and held <= self._max:
            return False  # finish() names the cut-off end
        self._item += self._state == "items"
        raw = bytes(self._buf[start : start + self._max])
        yield self._reject(
            self._at + start, raw, f"a value over {self._max} bytes (item {self._item})", held
        )
        self._pos = start + self._max
        self._state = "skipping"
        return True

    def _junk(self, final: bool, resync: bytes, why: str) -> Step:
        """Reject the bytes from _pos up to the next `resync` (or the end, or
        max_record_bytes: where it ends depends on the bytes, not on the chunks)."""
        buf, pos = self._buf, self._pos
        nxt = buf.find(resync, pos + 1, pos + self._max + 1)
        if nxt < 0 and not final and len(buf) - pos <= self._max + len(resync):
            return False  # wait for more bytes
        end = nxt if nxt >= 0 else min(len(buf), pos + self._max)
        yield self._reject(self._at + pos, bytes(buf[pos:end]), why)
        self._pos = end
        return True

    def _reject(self, offset: int, raw: bytes, why: str, length: int | None = None) -> Reject:
        return Reject(
            self._name,
            offset,
            f"{self._name}: byte {offset}: {why}",
            raw[: self._max],
            stage="repair",
            kind=RejectKind.BAD_ROW,
            length=length if length is not None else (len(raw) if len(raw) > self._max else None),
        )


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BARE = re.compile(rb"[^\s,}\]]+")


def _scalar_end(buf: bytearray, pos: int) -> int | None:
    if buf[pos] == 0x22:
        m = _STRING.match(buf, pos)
        return None if m is None else m.end()
    m = _BARE.match(buf, pos)
    return None if m is None or m.end() >= len(buf) else m.end()


def _loads(raw: bytes) -> Any:
    try:
        return loads_exact(raw)
    except ValueError:
        return None


def _column_names(raw: bytes) -> dict[str, str]:
    """`[{"name": "ID#", ...}, ...]` as {lower-case name: name as written}."""
    columns = _loads(raw)
    names: dict[str, str] = {}
    if isinstance(columns, list):
        for column in columns:
            if isinstance(column, dict) and isinstance(column.get("name"), str):
                names[column["name"].lower()] = column["name"]
    return names

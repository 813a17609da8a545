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
  with the next item. An over-long value is skipped to its own end (`ValueSkipper`, which
  holds no bytes), and its one reject covers all of it, whether it came in one chunk or
  many: what is rejected depends on the bytes only.
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
# Possessive quantifiers throughout: a backtracking `*` keeps state per character (~150
# bytes each), so a multi-megabyte string would cost a gigabyte.
_KEY = re.compile(rb'"((?:[^"\\]++|\\.)*+)"\s*:\s*')
# A JSON object without nested objects or arrays (every item SQLcl writes for scalar
# columns): found in one C-speed match. Alternatives start with different characters, so
# matching is linear.
_FLAT = re.compile(rb'\{(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+\}')
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"?|[{}\[\]]', re.DOTALL)
_VALUE_START = frozenset(b'{["-0123456789tfn')  # what a JSON value starts with
_STRUCT = re.compile(rb'["{}\[\]]')
_IN_STRING = re.compile(rb'[^"\\]*+')
_BARE_END = re.compile(rb"[\s,}\]]")
_LOOKAHEAD = 64  # bytes START needs to be sure
_KEY_BYTES = 1024  # a key of a result set ("columns", "items") with its colon, at most
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


class ValueSkipper:
    """Where a JSON value ends, found in pieces without holding them: the nesting depth,
    and whether the scan is inside a string (or just after a backslash in one) or in a
    bare scalar, carried from one piece to the next."""

    def __init__(self, first: int) -> None:
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.bare = first not in b'{["'

    def scan(self, data: bytes | bytearray, pos: int) -> int | None:
        """The index just past the value's end in `data` (scanned from `pos`), or None when
        `data` ends first (call again with the next bytes)."""
        i, n = pos, len(data)
        if self.bare:
            m = _BARE_END.search(data, i)
            return None if m is None else m.start()
        while i < n:
            if self.in_string:
                if self.escape:
                    self.escape = False
                    i += 1
                    continue
                i = _IN_STRING.match(data, i).end()  # type: ignore[union-attr]
                if i >= n:
                    return None
                if data[i] == 0x5C:  # a backslash: the next byte is escaped
                    self.escape = True
                    i += 1
                    continue
                self.in_string = False
                i += 1
                if self.depth == 0:
                    return i  # the value was a string
                continue
            m = _STRUCT.search(data, i)
            if m is None:
                return None
            i = m.start()
            c = data[i]
            i += 1
            if c == 0x22:
                self.in_string = True
            elif c in b"{[":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    return i
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
        # While skipping an over-long value: its scanner, where it started, its first bytes,
        # and the state to go back to.
        self._skipper: ValueSkipper | None = None
        self._skip_start = 0
        self._skip_head = b""
        self._skip_item = 0
        self._after_skip = "items"

    def feed(self, chunk: bytes) -> Iterator[Parsed | Reject]:
        self._buf += chunk
        yield from self._run(final=False)
        if self._pos > 1 << 20 or self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._at += self._pos
            self._pos = 0

    def finish(self) -> Iterator[Parsed | Reject]:
        yield from self._run(final=True)
        if self._state == "skipping":  # the file ends inside the over-long value
            yield self._skipped(self._at + len(self._buf), "the file ends inside it")
        elif self._state != "document":  # every item read was shipped; the end is missing
            rest = bytes(self._buf[self._pos :])
            yield self._reject(self._at + self._pos, rest, "the file ends inside the document")
        self._at += len(self._buf)  # a stream fed on after a decode fault goes on here
        self._buf.clear()
        self._pos = 0
        self._state = "document"

    # Each step handles what starts at _pos; it returns False when it needs more bytes.
    def _run(self, final: bool) -> Iterator[Parsed | Reject]:
        while True:
            buf = self._buf
            if self._state == "skipping":  # inside a value: nothing to step over
                if not (yield from self._skipping(final)):
                    return
                continue
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
        if m is not None and m.end() - pos > _LOOKAHEAD:
            m = None  # as when it came in pieces: START is decided on _LOOKAHEAD bytes
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
            if not final and len(buf) - pos < _KEY_BYTES:
                return False  # the key, or the first byte of its value, is still to come
            return (yield from self._junk(final, b"{", "not a key of the result set"))
        if m.end() - pos > _KEY_BYTES:  # what was waited for above: the same either way
            return (yield from self._junk(final, b"{", "not a key of the result set"))
        key, start = m.group(1), m.end()
        if key == b"items":
            if buf[start] != 0x5B:
                return (yield from self._junk(final, b"{", '"items" is not a list'))
            self._pos, self._state = start + 1, "items"
            return True
        if buf[start] not in _VALUE_START:
            return (yield from self._junk(final, b"{", "not a value of the result set"))
        end = value_end(buf, start) if buf[start] in b"{[" else _scalar_end(buf, start)
        if end is None or end - start > self._max:
            return (yield from self._wait_or_cut(start, final, end is not None))
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
        if buf[pos] not in _VALUE_START:
            why = "not an item of the result set"
            return (yield from self._junk(final, b"{", why, b"]"))
        end = value_end(buf, pos) if buf[pos] in b"{[" else _scalar_end(buf, pos)
        if end is None or end - pos > self._max:
            return (yield from self._wait_or_cut(pos, final, end is not None))
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
        """Scan on through an over-long value; its reject once its end is found."""
        yield from ()
        assert self._skipper is not None
        end = self._skipper.scan(self._buf, self._pos)
        if end is None:
            self._pos = len(self._buf)  # nothing of it is kept
            return False
        yield self._skipped(self._at + end, "")
        self._pos, self._state = end, self._after_skip
        return True

    def _skipped(self, end: int, note: str) -> Reject:
        length = end - self._skip_start
        why = f"a value of {length} bytes, over the {self._max}-byte limit (item {self._skip_item})"
        if note:
            why += f": {note}"
        self._skipper = None
        return self._reject(self._skip_start, self._skip_head, why, length)

    def _wait_or_cut(self, start: int, final: bool, whole: bool = False) -> Step:
        """A value starting at `start` has not ended in the bytes held (or, `whole`, is
        longer than the limit): wait for more, or skip it when it is over the limit."""
        yield from ()
        held = len(self._buf) - start
        if not whole and held <= self._max:
            return False  # more bytes (or, at the end, finish() names the cut-off end)
        self._item += self._state == "items"
        self._skip_item = self._item
        self._skipper = ValueSkipper(self._buf[start])
        self._skip_start = self._at + start
        self._skip_head = bytes(self._buf[start : start + self._max])
        self._after_skip = self._state
        self._pos, self._state = start, "skipping"
        return True

    def _junk(self, final: bool, resync: bytes, why: str, *more: bytes) -> Step:
        """Reject the bytes from _pos up to the next `resync` (or one of `more`; or the end,
        or max_record_bytes: where it ends depends on the bytes, not on the chunks)."""
        buf, pos = self._buf, self._pos
        stop = pos + self._max + 1
        found = [i for i in (buf.find(r, pos + 1, stop) for r in (resync, *more)) if i >= 0]
        nxt = min(found) if found else -1
        longest = max(len(r) for r in (resync, *more))
        if nxt < 0 and not final and len(buf) - pos <= self._max + longest:
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


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
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

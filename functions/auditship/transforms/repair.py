"""Repair: decompressed bytes in, one JSON object per record out, streaming.

OCI Service Connector objects hold JSON records written back to back: several on a line
glued as `}{`, records spread over lines, or one per line. Other producers give NDJSON,
pretty-printed records, or a top-level JSON array. `split_records` accepts any mix.

How it finds records without a byte-by-byte scanner in Python:
- Outside strings, `}` followed by whitespace/`,`/`[`/`]` and then `{` can only be a
  boundary between two top-level values: inside an object `}` is followed by `,` or `}`,
  and `},{` inside an array sits between array elements, not at top level. A regex finds
  every such candidate in C.
- Candidates can also lie inside string values (`"msg": "a}{b"`). A piece cut there is an
  unterminated string, which the JSON parser reports as "unexpected end of data" at the
  very end of the piece: then the piece is extended to the next candidate and parsed again.
- Any other parse error is a real syntax error: that stretch becomes a `Reject` carrying
  the object name, its decompressed byte offset, the reason and the raw bytes, and
  splitting resumes at the next candidate. Nothing is dropped.

Memory is bounded: the buffer holds at most the unfinished tail plus one input chunk, and
a stretch that keeps growing past `max_record_bytes` without parsing is rejected in
pieces. The parse that validates a record is the one that produces its dict, so records
are parsed exactly once on the common path.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from auditship.model import Reject, RejectKind

# `}` then any run of whitespace and array punctuation, then `{`.
_CANDIDATE = re.compile(rb"\}[\s,\[\]]*\{")
# A JSON string (to its end, or to the end of the buffer when unterminated), or a brace.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[{}]', re.DOTALL)
# A reject keeps at most this much of the bytes it covers; its reason names all of them.
MAX_REJECT_RAW_BYTES = 1024 * 1024
_JUNK = (RejectKind.NOT_JSON, RejectKind.TOO_LARGE)
# A run of digits as long as an integer orjson turns into a float (past 64 bits): the
# record is parsed again by the stdlib, which keeps every digit. Found by mapping every
# digit to "0" and searching for the run with bytes.find (a regex runs at ~80 MB/s here).
_DIGIT_RUN = 19
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= c <= 0x39 else 0x78 for c in range(256))
_ZEROS_RUN = b"0" * _DIGIT_RUN
_SEPARATORS = b" \t\r\n,[]"
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024
# After this many cuts inside one record's strings, find its end with one full scan.
_MAX_EXTENSIONS = 16
_CUT_OFF = "record is cut off: the stream ends inside it"
_DOUBTFUL = (
    "empty JSON object right after bytes that are not JSON, on the same line: most likely "
    "cut from a string of the broken record before it, so it is not shipped as a record"
)

Parsed = tuple[int, dict[str, Any]]  # (decompressed offset, record)


def _ran_off_the_end(exc: orjson.JSONDecodeError, piece: bytes | memoryview) -> bool:
    """True when the parser stopped because the piece ended (more bytes could fix it).

    orjson reports the error position in characters, not bytes, so for non-ASCII input the
    position is compared with the decoded length (only on this error path)."""
    if exc.pos >= len(piece):
        return True
    text = bytes(piece).decode("utf-8", "surrogateescape")
    return exc.pos >= len(text)


class RecordSplitter:
    """Incremental splitter: `feed` chunks, then `finish`. Yields `(offset, dict)` or
    `Reject`, in stream order."""

    def __init__(
        self,
        object_name: str,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        base_offset: int = 0,
    ) -> None:
        self.object_name = object_name
        self.max_record_bytes = max_record_bytes
        self._buf = b""
        self._base = base_offset  # stream offset of self._buf[0]
        # Stream offset just past the last bytes that were not JSON, until a line break or
        # a non-empty record follows (see `_doubtful`); None when on firm ground.
        self._unsure_from: int | None = None
        self._junk: Reject | None = None  # a junk reject that the next may continue
        self._digit_runs: list[int] = []  # long digit runs in the buffer (see `_exact`)

    def feed(self, chunk: bytes) -> Iterator[Parsed | Reject]:
        if chunk:
            self._buf = self._buf + chunk if self._buf else chunk
            yield from self._merged(self._drain(final=False), final=False)

    def split_all(self, data: bytes) -> Iterator[Parsed | Reject]:
        """Split `data` as the whole rest of the stream: the same as `feed` then `finish`,
        except that nothing is decided while waiting for bytes that will not come (e.g. a
        record longer than `max_record_bytes` at the end is parsed, not rejected unread)."""
        if data:
            self._buf = self._buf + data if self._buf else data
        yield from self.finish()

    def finish(self) -> Iterator[Parsed | Reject]:
        yield from self._merged(self._drain(final=True), final=True)
        self._base += len(self._buf)
        self._buf = b""

    # -- internals ---------------------------------------------------------------------
    def _reject(self, start: int, end: int, reason: str, kind: RejectKind) -> Reject:
        self._unsure_from = self._base + end
        raw = bytes(self._buf[start : min(end, start + MAX_REJECT_RAW_BYTES)])
        offset = self._base + start
        return Reject(self.object_name, offset, reason, raw, kind=kind, length=end - start)

    def _merged(self, items: Iterator[Parsed | Reject], final: bool) -> Iterator[Parsed | Reject]:
        """One reject for one stretch of bytes that are not JSON: junk rejects that follow
        each other without a gap (a stretch longer than `max_record_bytes` comes out of
        `_drain` in pieces) are joined, across `feed` calls, keeping the first
        MAX_REJECT_RAW_BYTES of their bytes."""
        for item in items:
            junk = self._junk
            if type(item) is Reject and item.kind in _JUNK:
                if junk is not None and junk.offset + junk.covered == item.offset:
                    room = MAX_REJECT_RAW_BYTES - len(junk.raw)
                    if room > 0:
                        junk.raw += item.raw[:room]
                    junk.length = junk.covered + item.covered
                    continue
                if junk is not None:
                    yield _noted(junk)
                self._junk = item
                continue
            if junk is not None:
                yield _noted(junk)
                self._junk = None
            yield item
        if final and self._junk is not None:
            yield _noted(self._junk)
            self._junk = None

    def _doubtful(self, record: dict[str, Any], pos: int) -> bool:
        """True for an empty object that follows bytes that were not JSON on the same line.

        After a syntax error the splitter resumes at the next `}`...`{`, which may lie
        inside a string of the broken record. A piece cut from inside a string holds no
        unescaped `"`, so the only JSON object it can parse as is an empty one: `{}`
        from a string like "payload={}{}" would be a made-up record. A raw line break
        cannot be inside a string, so after one the ground is firm again, as it is after
        any non-empty record. (A non-empty object can still be taken for a record when the
        start of the record around it is lost, e.g. a nested object after junk; its bytes
        are shipped as they are and the lost start is in a reject.)"""
        if self._unsure_from is None:
            return False
        start = max(0, self._unsure_from - self._base)
        if record or self._buf.find(b"\n", start, pos) >= 0:
            self._unsure_from = None
            return False
        return True

    def _skip_to_object(self, pos: int, final: bool) -> tuple[int, Reject | None]:
        """Move past separators to the next `{`. Other bytes before it become a reject.
        Returns (position, reject or None); the position is len(buf) if no `{` follows."""
        buf = self._buf
        n = len(buf)
        while pos < n and buf[pos] in _SEPARATORS:
            pos += 1
        if pos >= n or buf[pos] == 0x7B:  # `{`
            return pos, None
        nxt = buf.find(b"{", pos)
        if nxt < 0:
            if not final and n - pos <= self.max_record_bytes:
                return pos, None  # the rest may arrive with the next chunk
            nxt = n
        end = nxt
        while end > pos and buf[end - 1] in _SEPARATORS:
            end -= 1
        return nxt, self._reject(
            pos, end, "bytes between records are not JSON objects", RejectKind.NOT_JSON
        )

    # Longer than the package's ~60-line rule on purpose: the hot loop of the pure-Python
    # path (every record passes here), with its locals in one frame, and the cases of one
    # cut (record, cut inside a string, junk, cut off) easiest to check side by side.
    def _drain(self, final: bool) -> Iterator[Parsed | Reject]:
        buf = self._buf
        view = memoryview(buf)
        n = len(buf)
        limit = self.max_record_bytes
        loads = orjson.loads
        base = self._base
        # One pass per buffer: only records holding a long run of digits are re-parsed.
        self._digit_runs = _digit_runs(buf)
        long_digits = bool(self._digit_runs)
        pos, rej = self._skip_to_object(0, final)
        if rej is not None:
            yield rej
        # (end of piece, start of the next one) for every candidate boundary
        cuts = [(m.start() + 1, m.end() - 1) for m in _CANDIDATE.finditer(buf, pos)]
        if final:
            tail = n
            while tail > pos and buf[tail - 1] in _SEPARATORS:
                tail -= 1
            cuts.append((tail, n))
        n_cuts = len(cuts)
        i = 0
        while i < n_cuts:
            end, nxt = cuts[i]
            if end <= pos:
                i += 1
                continue
            if pos >= n or buf[pos] != 0x7B:
                pos, rej = self._skip_to_object(pos, final)
                if rej is not None:
                    yield rej
                continue
            # Parse pos..end; on "ran off the end" extend over the next candidate.
            j = i
            extensions = 0
            scanned = cut_off = False
            while True:
                try:
                    obj = loads(view[pos:end])
                except orjson.JSONDecodeError as exc:
                    if end - pos <= limit and _ran_off_the_end(exc, view[pos:end]):
                        extensions += 1
                        if extensions > _MAX_EXTENSIONS:
                            # Many `}{` inside this record's strings: re-parsing from its
                            # start at each one would be quadratic. Find its end in one pass.
                            found = self._scan_record(pos, final)
                            if found == "wait":
                                self._keep_from(pos)
                                return
                            if isinstance(found, tuple):
                                scanned = True
                                record_end, obj = found
                                if self._doubtful(obj, pos):  # pragma: no cover - non-empty
                                    yield self._reject(
                                        pos, record_end, _DOUBTFUL, RejectKind.DOUBTFUL
                                    )
                                else:
                                    yield (base + pos, self._exact(pos, record_end, obj))
                                pos, rej = self._skip_to_object(record_end, final)
                                if rej is not None:
                                    yield rej
                                break
                            cut_off = found == "cut off"
                            end = cuts[-1][0] if cut_off else end
                            obj = None
                            break
                        if j + 1 < n_cuts:
                            j += 1
                            end, nxt = cuts[j]
                            continue
                        if not final:
                            self._keep_from(pos)
                            return  # the record goes on in the next chunk
                        # The stream ends inside this record: it is cut off, all of it
                        # (what looks like records after a cut inside a string is not).
                        cut_off = True
                    obj = None
                break
            if scanned:
                continue  # emitted by the scan above; `pos` is past it
            if cut_off:
                yield self._reject(pos, end, _CUT_OFF, RejectKind.CUT_OFF)
                pos = n
                break
            if obj is not None:
                if type(obj) is not dict:  # pragma: no cover - `{`...`}` parses to a dict
                    yield self._reject(pos, end, "record is not a JSON object", RejectKind.NOT_JSON)
                elif self._doubtful(obj, pos):
                    yield self._reject(pos, end, _DOUBTFUL, RejectKind.DOUBTFUL)
                else:
                    yield (base + pos, self._exact(pos, end, obj) if long_digits else obj)
                pos = nxt
                i = j + 1
                continue
            # A real error in pos..end: salvage a valid leading record (a record followed
            # by junk), else reject the first piece and go on from the next candidate.
            first_end, first_next = cuts[i]
            salvaged = self._salvage(pos, end)
            if salvaged is not None:
                used, rec = salvaged
                if self._doubtful(rec, pos):
                    yield self._reject(pos, pos + used, _DOUBTFUL, RejectKind.DOUBTFUL)
                else:
                    yield (base + pos, self._exact(pos, pos + used, rec))
                pos += used
                pos, rej = self._skip_to_object(pos, True)
                if rej is not None:
                    yield rej
                continue
            yield self._reject(pos, first_end, *self._reason(pos, first_end))
            pos = first_next
            i += 1
        tail = n
        while tail > pos and buf[tail - 1] in _SEPARATORS:
            tail -= 1
        if not final and tail - pos > limit:
            # No record boundary within the limit. A record that ends before junk is
            # still a record; the rest is rejected so memory stays bounded (the
            # remainder of the stretch follows, and `_merged` makes it one letter).
            salvaged = self._salvage(pos, min(n, pos + limit)) if buf[pos] == 0x7B else None
            if salvaged is not None and not self._doubtful(salvaged[1], pos):
                yield (base + pos, self._exact(pos, pos + salvaged[0], salvaged[1]))
                pos += salvaged[0]
            else:
                reason = f"no complete JSON record within {limit} bytes"
                yield self._reject(pos, n, reason, RejectKind.TOO_LARGE)
                pos = n
        self._keep_from(pos)

    def _exact(self, start: int, end: int, record: dict[str, Any]) -> dict[str, Any]:
        """`record` (buf[start:end]) with exact integers when a long digit run is in it."""
        runs = self._digit_runs
        k = bisect_left(runs, start)
        if k == len(runs) or runs[k] >= end:
            return record
        return _exact(memoryview(self._buf)[start:end], record)

    def _scan_record(self, start: int, final: bool) -> tuple[int, dict[str, Any]] | str | None:
        """One string-aware pass from `start` to the brace that closes the record, in time
        linear in the record (not in what follows it): (end, record) for a complete
        record; "wait" when the buffer ends inside it and more may come, "cut off" when
        the stream ends inside it; None when it is invalid."""
        buf = self._buf
        depth = 0
        for token in _TOKENS.finditer(buf, start):
            first = buf[token.start()]
            if first == 0x22:  # a string: braces inside it do not count
                continue
            depth += 1 if first == 0x7B else -1
            if depth == 0:
                end = token.end()
                break
        else:
            return "cut off" if final else "wait"
        try:  # the same strict parser as everywhere else decides what the record is
            strict = orjson.loads(buf[start:end])
        except orjson.JSONDecodeError:
            return None
        return (end, strict) if type(strict) is dict else None

    def _salvage(self, start: int, end: int) -> tuple[int, dict[str, Any]] | None:
        """If `buf[start:end]` begins with a complete JSON object followed by junk, return
        (bytes used, object). Only runs on the error path."""
        piece = bytes(self._buf[start:end])
        try:
            text = piece.decode("utf-8")
            obj, used = json.JSONDecoder().raw_decode(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        if type(obj) is not dict:
            return None
        used_bytes = len(text[:used].encode("utf-8"))
        try:  # re-parse with orjson so the record is exactly what the fast path would give
            return used_bytes, orjson.loads(piece[:used_bytes])
        except orjson.JSONDecodeError:
            return None

    def _reason(self, start: int, end: int) -> tuple[str, RejectKind]:
        if end - start > self.max_record_bytes:
            limit = self.max_record_bytes
            return f"no complete JSON record within {limit} bytes", RejectKind.TOO_LARGE
        piece = self._buf[start:end]
        try:
            orjson.loads(piece)
        except orjson.JSONDecodeError as exc:
            if _ran_off_the_end(exc, piece):
                return _CUT_OFF, RejectKind.CUT_OFF
            # orjson counts characters; report the byte offset of that character
            chars = bytes(piece).decode("utf-8", "surrogateescape")[: exc.pos]
            at = self._base + start + len(chars.encode("utf-8", "surrogateescape"))
            return f"invalid JSON at decompressed byte {at}: {exc.msg}", RejectKind.NOT_JSON
        return "invalid JSON", RejectKind.NOT_JSON  # pragma: no cover

    def _keep_from(self, pos: int) -> None:
        buf = self._buf
        unsure = self._unsure_from
        # A line break in the bytes about to be dropped still counts (see `_doubtful`).
        if unsure is not None and buf.find(b"\n", max(0, unsure - self._base), pos) >= 0:
            self._unsure_from = None
        if pos >= len(buf):
            self._base += len(buf)
            self._buf = b""
        elif pos:
            self._base += pos
            self._buf = buf[pos:]


def _digit_runs(buf: bytes) -> list[int]:
    """Where runs of at least _DIGIT_RUN digits start in `buf` (one hit per such stretch,
    in order)."""
    marks = buf.translate(_DIGITS_AS_ZERO)
    runs: list[int] = []
    at = marks.find(_ZEROS_RUN)
    while at >= 0:
        runs.append(at)
        at = marks.find(_ZEROS_RUN, at + _DIGIT_RUN)
    return runs


def _exact(piece: bytes | memoryview, record: dict[str, Any]) -> dict[str, Any]:
    """`record` (parsed by orjson from `piece`) with integers beyond 64 bits exact: orjson
    reads them as floats. The stdlib parser accepts all orjson accepted; past Python's
    4,300-digit limit for integers, orjson's value stays."""
    try:
        exact = json.loads(bytes(piece))
    except (ValueError, RecursionError):
        return record
    return exact if type(exact) is dict else record


def loads_exact(raw: bytes) -> Any:
    """`raw` parsed as orjson parses it, but with integers beyond 64 bits exact (orjson
    reads them as floats; then the stdlib parses again). Raises ValueError for bytes that
    are not JSON."""
    value = orjson.loads(raw)
    if _digit_runs(raw):
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            pass
    return value


def _noted(reject: Reject) -> Reject:
    """`reject` with its reason naming the whole stretch when it keeps only part of it."""
    if reject.covered > len(reject.raw):
        end = reject.offset + reject.covered
        reject.reason += (
            f" ({reject.covered} bytes, decompressed offsets {reject.offset}..{end}; the "
            f"first {len(reject.raw)} are kept here, all of them in the source object)"
        )
    return reject


def split_records(
    chunks: Iterable[bytes], object_name: str, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[Parsed | Reject]:
    """Split a stream of decompressed chunks into records (`(offset, dict)`) and rejects."""
    splitter = RecordSplitter(object_name, max_record_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()

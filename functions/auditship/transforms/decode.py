"""Decode: compressed object bytes in, decompressed bytes out, streaming.

Contract:
- Input is an iterable of byte chunks (any sizes). Output is an iterator of decompressed
  chunks; memory is bounded by the chunk sizes, never by the object size.
- gzip is detected by its magic bytes (1f 8b); anything else passes through unchanged, so a
  plain NDJSON/JSON object works too. Multi-member gzip (what `cat a.gz b.gz` and many
  writers produce) is decoded member after member.
- Damage does not stop decoding. Where gzip data is corrupt, or bytes that are not gzip
  follow a member, a `DecodeFault` is yielded in stream order (after every byte decoded
  before it), naming the object, the compressed byte range that could not be decoded and
  why, with up to `MAX_FAULT_RAW_BYTES` of those bytes; decoding then resumes at the next
  gzip member header, so intact members after the damage are still shipped. A stream
  that ends inside a member (truncated) ends with a `DecodeFault` too.
- A UTF-8 byte-order mark at the start of the stream (plain input) or of a gzip member's
  output is dropped: editors and Windows tools write one, and it is not JSON.
- A false member header inside damaged bytes (three bytes that happen to look like one)
  costs one more `DecodeFault`, and the few bytes its "member" inflates to before it fails
  (they reach the splitter, which rejects them as not JSON).
- A member's checksum is only known at its end: what a damaged member decoded to before
  the damage showed has been yielded as it came. A flipped bit can alter a record without
  breaking its JSON; most damage garbles everything after it instead.

ISA-L (`isal`) decompresses about 2-3x faster than zlib here and releases the GIL, so the
reader thread overlaps with parsing; zlib is the fallback where isal has no wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from auditship.errors import DecodeError

try:  # pragma: no cover - which branch runs depends on the platform
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover
    import zlib as _zlib  # type: ignore[no-redef]  # the same API, where isal has no wheel

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
_ZEROS = re.compile(rb"\x00*")
_MEMBER_HEADER = b"\x1f\x8b\x08"  # magic + deflate, the only method gzip defines
_FLAG_RESERVED = 0xE0  # header flag bits that must be zero
# A fault's dead letter carries at most this much of the undecodable bytes; its reason
# names the whole range, which stays in the source object.
MAX_FAULT_RAW_BYTES = 1024 * 1024
# Compressed bytes of the current member kept for searching it again if it turns out
# damaged (see `_Gunzip`).
MEMBER_REPLAY_BYTES = 2 * 1024 * 1024
# Compressed input per inflater call ends at multiples of this offset (see `_Gunzip.run`).
_INPUT_BLOCK = 32 * 1024
_GZIP_WBITS = 31  # gzip header + deflate + gzip trailer
# Audit JSON compresses about 9:1, so 1 MiB read from the network would become ~9 MiB in one
# piece; capping each output chunk keeps the read-ahead queue and the splitter's buffer small.
MAX_CHUNK_BYTES = 1024 * 1024


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


@dataclass(slots=True)
class DecodeFault:
    """Compressed bytes `error.offset` .. `end` could not be decoded (`error` says why, and
    which of them `raw` holds: up to MAX_FAULT_RAW_BYTES, from the damaged member's start
    when its bytes were still at hand, else from where the damage surfaced). Decoding went
    on after `end`."""

    error: DecodeError
    end: int
    raw: bytes


def decode_stream(
    chunks: Iterable[bytes], object_name: str, max_chunk: int = MAX_CHUNK_BYTES
) -> Iterator[bytes | DecodeFault]:
    """Yield the decompressed bytes of `chunks` (gzip, multi-member gzip, or plain), in
    pieces of at most `max_chunk` bytes for gzip input, and a `DecodeFault` for each
    stretch that could not be decoded."""
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 2:
            break
    if not head:
        return
    if not is_gzip(head):
        while len(head) < len(UTF8_BOM) and UTF8_BOM.startswith(head):
            more = next(it, None)  # is it a whole BOM, or a stream that starts like one?
            if more is None:
                break
            head += more
        yield head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
        yield from it
        return
    yield from _Gunzip(object_name, max_chunk).run(head, it)


def _next_member(data: bytes, start: int) -> int:
    """Index of the next plausible gzip member header in `data` at or after `start`, -1."""
    i = data.find(_MEMBER_HEADER, start)
    while i >= 0:
        if len(data) < i + 4 or not data[i + 3] & _FLAG_RESERVED:
            return i  # a header cut by the end of `data` too: the caller reads on
        i = data.find(_MEMBER_HEADER, i + 1)
    return -1


class _Gunzip:
    """The gzip state machine behind `decode_stream`: inside a member, between members
    (only zero padding or another member may follow), or skipping damaged bytes up to the
    next member header.

    A damaged member can make the inflater read on into the members after it before it
    notices (a bad block length, say), so the compressed bytes of the current member are
    kept, up to `MEMBER_REPLAY_BYTES`, and the search for the next header starts right
    after the damaged member's own header. Past that size it starts where the damage
    surfaced."""

    def __init__(self, object_name: str, max_chunk: int) -> None:
        self.name = object_name
        self.max_chunk = max_chunk
        self.offset = 0  # compressed offset of `data[0]` in `run`
        self.member_start = 0
        self.replay: bytearray | None = bytearray()  # the current member's bytes so far
        self.skip_start = 0  # where skipping began (`raw` is collected from here)
        self.fault_start = 0  # where the fault's stretch begins (a damaged member's start)
        self.skip_reason = ""
        self.skipped = bytearray()  # the first MAX_FAULT_RAW_BYTES of the skipped stretch
        self.exhausted = False
        self.read_error: Exception | None = None
        self.bom_held: bytes | None = b""  # a member's first output bytes, up to a BOM

    def _fault(self, offset: int, end: int, reason: str, raw: bytes) -> DecodeFault:
        return DecodeFault(DecodeError(self.name, offset, reason), end, raw)

    def _skip(self, data: bytes) -> None:
        room = MAX_FAULT_RAW_BYTES - len(self.skipped)
        if room > 0:
            self.skipped += data[:room]
        self.offset += len(data)

    def _skipped_fault(self) -> DecodeFault:
        """The fault for the stretch skipped up to `offset`, from the damaged member (whose
        decoded part was already passed on) or the first byte that is not gzip."""
        start = self.fault_start
        raw = bytes(self.skipped)
        if raw:
            attached = f"bytes {self.skip_start}..{self.skip_start + len(raw)} attached"
        else:
            attached = "the bytes are in the source object"
        reason = f"{self.skip_reason}: compressed bytes {start}..{self.offset} "
        reason += f"({self.offset - start} bytes) could not be decoded ({attached})"
        self.skipped = bytearray()
        return self._fault(start, self.offset, reason, raw)

    def _read(self, rest: Iterator[bytes]) -> bytes | None:
        """The next compressed chunk, or None at the end. A failed read ends the input
        too, but only after everything read before it has been decoded; then `run`
        raises it (a read failure is not damage: the next call reads again)."""
        try:
            return next(rest, None)
        except Exception as exc:
            self.read_error = exc
            return None

    def _new_member(self) -> Any:
        self.member_start = self.offset
        self.replay = bytearray()
        self.bom_held = b""
        return _zlib.decompressobj(_GZIP_WBITS)

    def _damaged(self, data: bytes, reason: str) -> bytes:
        """Start skipping because the current member is damaged; returns the bytes to
        search for the next member header, which start after the damaged member's first
        byte when its bytes are at hand, else where the damage surfaced."""
        self.fault_start = self.member_start
        self.skip_reason = reason
        if self.replay is not None:  # offset == member_start + len(replay)
            data = bytes(self.replay) + data
            self.offset = self.member_start
        self.replay = None
        self.skip_start = self.offset
        if self.offset == self.member_start:
            self._skip(data[:1])  # never try the same header twice
            data = data[1:]
        return data

    def _without_bom(self, out: bytes, member_ended: bool) -> Iterator[bytes]:
        """`out` without a BOM at the start of the member's output, in pieces no larger
        than `out`. Output that could still be the start of one is held until it is known
        (or the member ends)."""
        held = self.bom_held
        if held is None or (not out and not member_ended):
            if out:
                yield out
            return
        joined = held + out
        if len(joined) < len(UTF8_BOM) and UTF8_BOM.startswith(joined) and not member_ended:
            self.bom_held = joined
            return
        self.bom_held = None
        if joined.startswith(UTF8_BOM):
            out = joined[len(UTF8_BOM) :]
        elif held:
            yield held  # what was held was not a BOM after all: it goes first, on its own
        if out:
            yield out

    def _more(self, data: bytes, at: int, rest: Iterator[bytes]) -> tuple[bytes, int]:
        """`data[at:]` with the next chunk appended (sets `exhausted` at the end)."""
        nxt = self._read(rest)
        if nxt is None:
            self.exhausted = True
            return data, at
        return data[at:] + nxt, 0

    # Longer than the package's ~60-line rule on purpose: one state machine over one input
    # buffer, whose states (member, between, skipping) are easiest to check side by side.
    def run(self, first: bytes, rest: Iterator[bytes]) -> Iterator[bytes | DecodeFault]:
        # `data[at:]` is the input not handled yet and `self.offset` its object offset;
        # `at` moves instead of slicing, so many small members cost no copies.
        d = self._new_member()
        state = "member"
        data, at = first, 0
        while True:
            if state == "skipping":
                i = _next_member(data, at)
                if i >= 0 and len(data) < i + 4 and not self.exhausted:
                    # A header cut by the end of the data: read on and look at it whole.
                    self._skip(data[at:i])
                    data, at = self._more(data, i, rest)
                    continue
                if i < 0:
                    if self.exhausted and self.read_error is not None:
                        raise self.read_error
                    if self.exhausted:
                        self._skip(data[at:])
                        yield self._skipped_fault()
                        return
                    keep = max(at, len(data) - len(_MEMBER_HEADER))  # a header may straddle
                    self._skip(data[at:keep])
                    data, at = self._more(data, keep, rest)
                    continue
                self._skip(data[at:i])
                at = i
                yield self._skipped_fault()
                state, d = "member", self._new_member()
            if at == len(data):
                nxt = self._read(rest) if not self.exhausted else None
                if nxt is not None:
                    data, at = nxt, 0
                    continue
                self.exhausted = True
                if self.read_error is not None:
                    raise self.read_error
                if state != "member":
                    return
                state = "skipping"
                reason = f"truncated gzip stream: the member starting at byte {self.member_start} "
                data, at = self._damaged(b"", reason + "has no end"), 0
                continue
            if state == "between":
                # Some writers pad with zero bytes after the last member.
                end = _ZEROS.match(data, at).end()  # type: ignore[union-attr]  # always matches
                self.offset += end - at
                at = end
                if at == len(data):
                    continue
                if data[at] == GZIP_MAGIC[0]:
                    state, d = "member", self._new_member()
                else:
                    state = "skipping"
                    self.skip_start = self.fault_start = self.offset
                    self.skip_reason = "bytes after the end of a gzip member are not gzip"
                    continue
            # Feed the inflater blocks that end at fixed offsets of the object, so what it
            # yields, and what a failing call takes with it, does not depend on how the
            # reader happened to chunk the bytes: record indices after a fault must be the
            # same on every run, or a checkpoint would skip or repeat records.
            if len(data) - at < _INPUT_BLOCK - self.offset % _INPUT_BLOCK and not self.exhausted:
                data, at = self._more(data, at, rest)
                continue
            view = memoryview(data)
            try:
                while True:
                    block = _INPUT_BLOCK - self.offset % _INPUT_BLOCK
                    if len(data) - at < block and not self.exhausted:
                        break  # read on to the next block boundary
                    feed = view[at : at + block]
                    yield from self._without_bom(d.decompress(feed, self.max_chunk), d.eof)
                    left = d.unused_data if d.eof else d.unconsumed_tail
                    used = len(feed) - len(left)
                    if self.replay is not None:
                        if len(self.replay) + used <= MEMBER_REPLAY_BYTES:
                            self.replay += feed[:used]
                        else:
                            self.replay = None  # too long to keep: search on from the damage
                    self.offset += used
                    at += used
                    if d.eof:
                        state = "between"
                        break
                    if at == len(data):
                        break
            except _zlib.error as exc:  # type: ignore[misc]  # isal's error class is untyped
                state = "skipping"
                data = self._damaged(
                    data[at:],
                    f"corrupt gzip data in the member starting at byte {self.member_start} "
                    f"({exc}); what it decoded to before the fault was passed on as it came",
                )
                at = 0

"""Prepare: repaired records in, sink-ready `Item`s out, in object order.

`to_item` is the per-record work (normalize, then the sink's `prepare`, refusing records
larger than one request). `InlineStage` runs it in this process; `PoolStage` runs it in
worker processes, for the operator command on a multi-core machine.

Why processes: parsing, normalizing and serializing hold the GIL (orjson and ISA-L both
do), so threads cannot use a second core for them. `PoolStage` cuts the decompressed stream
into windows at boundaries that can only lie between records and repairs, normalizes and
prepares each window in a worker; the calling process keeps reading, batching, sending and
all of the accounting, in object order.

Safe cut: `}`, then whitespace containing a newline, then `{`. A raw newline cannot occur
inside a JSON string, so for valid JSON this is always a boundary between two top-level
records; for invalid bytes a cut only decides where one reject ends and the next begins
(their bytes and offsets stay exact). When a stream offers no such cut within four window
sizes (one huge line), the rest of it is prepared in the calling process.

Workers are forked, so a `PoolStage` must be created before the caller starts any thread
(fork copies only the calling thread; a lock held elsewhere would stay locked in the child).
Sinks are pickled into the workers, where only `prepare` is called.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Any

import orjson

from auditship.errors import AuditShipError
from auditship.model import ObjectRef, Record, Reject
from auditship.normalize import Normalizer
from auditship.repair import Parsed, RecordSplitter
from auditship.sinks.base import RecordRefused, Sink

_WS = b" \t\r\n"
# A safe cut (see WindowCutter): `}`, whitespace holding a newline, `{`.
SAFE_CUT = re.compile(rb"\}[ \t\r\n]*\n[ \t\r\n]*\{")
DEFAULT_WINDOW_BYTES = 2 * 1024 * 1024
RECORD = 0x72  # Window.kinds: a prepared record
OTHER = 0x6F  # Window.kinds: an entry of Window.others


@dataclass(slots=True)
class Item:
    """A position that is not a prepared record: "filtered", "refused" (the sink refused
    it: `reason`, `raw`) or "reject" (unparseable bytes: `reject`)."""

    kind: str
    offset: int
    reason: str = ""
    raw: bytes = b""
    reject: Reject | None = None


class Window:
    """What one stretch of the stream holds, in order, as columns: cheap to pickle back
    from a worker (a few lists, not an object per record). `kinds[i]` is RECORD (a record
    prepared for the sink: `payloads[i]`, `sizes[i]`) or OTHER (the next entry of `others`)."""

    __slots__ = ("kinds", "offsets", "others", "payloads", "sizes")

    def __init__(self) -> None:
        self.kinds = bytearray()
        self.offsets: list[int] = []
        self.payloads: list[Any] = []
        self.sizes: list[int] = []
        self.others: list[Item] = []

    def __getstate__(self) -> tuple[Any, ...]:
        return (bytes(self.kinds), self.offsets, self.payloads, self.sizes, self.others)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        kinds, self.offsets, self.payloads, self.sizes, self.others = state
        self.kinds = bytearray(kinds)


def prepare(
    found: Iterable[Parsed | Reject],
    obj: ObjectRef,
    normalize: Normalizer,
    sink: Sink,
    window: Window | None = None,
) -> Window:
    """The per-record work, the same in-process and in workers: normalize each record,
    let the sink prepare it, and refuse what is larger than one request. Appends to
    `window` when given (the fast path's hand-overs), else to a new one.

    `found` is consumed lazily on purpose: holding a chunk's parsed records in a list keeps
    tens of thousands of containers alive, and the cyclic GC then rescans them over and
    over (measured: +50% CPU)."""
    window = Window() if window is None else window
    kinds, offsets, payloads, sizes, others = (
        window.kinds, window.offsets, window.payloads, window.sizes, window.others,
    )  # fmt: skip
    limit = sink.limits.max_bytes
    for f in found:
        if type(f) is Reject:
            kinds.append(OTHER)
            offsets.append(f.offset)
            payloads.append(None)
            sizes.append(0)
            others.append(Item("reject", f.offset, reject=f))
            continue
        offset, body = f  # type: ignore[misc]
        normalized = normalize(body)
        offsets.append(offset)
        if normalized is None:
            kinds.append(OTHER)
            payloads.append(None)
            sizes.append(0)
            others.append(Item("filtered", offset))
            continue
        record = Record(-1, offset, normalized[0], normalized[1])
        try:
            prepared = sink.prepare(record, obj)
            if prepared.size > limit:
                raise RecordRefused(
                    f"record is {prepared.size} bytes; one {sink.name} request carries at "
                    f"most {limit}"
                )
        except RecordRefused as exc:
            kinds.append(OTHER)
            payloads.append(None)
            sizes.append(0)
            others.append(Item("refused", offset, str(exc), _raw_json(record.body)))
            continue
        kinds.append(RECORD)
        payloads.append(prepared.payload)
        sizes.append(prepared.size)
    return window


def _raw_json(body: Any) -> bytes:
    """The record's JSON for its dead letter. orjson writes at most 255 levels of nesting
    and the parser accepts 1,024, so deeper records fall back to the json module."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 10_000))
        try:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        finally:
            sys.setrecursionlimit(limit)


class InlineStage:
    """Decompressed chunks in, `Window`s out, in this process."""

    def __init__(
        self, obj: ObjectRef, normalize: Normalizer, sink: Sink, max_record_bytes: int
    ) -> None:
        self._splitter = RecordSplitter(obj.name, max_record_bytes)
        self._args = (obj, normalize, sink)

    def feed(self, chunk: bytes) -> Iterator[Window]:
        yield prepare(self._splitter.feed(chunk), *self._args)

    def finish(self) -> Iterator[Window]:
        yield prepare(self._splitter.finish(), *self._args)

    def complete(self) -> Iterator[Window]:
        return iter(())  # the splitter hands out every complete record as it comes

    def close(self) -> None:
        return None


# Set in each worker by `_init`.
_normalizer: Normalizer | None = None
_sink: Sink | None = None


def _init(normalizer: Normalizer, sink: Sink) -> None:
    global _normalizer, _sink
    _normalizer, _sink = normalizer, sink


def prepare_stretch(obj: ObjectRef, base: int, data: bytes, max_record_bytes: int) -> Window:
    """Repair, normalize and prepare one stretch of the stream (runs in a worker)."""
    assert _normalizer is not None
    assert _sink is not None
    splitter = RecordSplitter(obj.name, max_record_bytes, base_offset=base)
    return prepare(chain(splitter.feed(data), splitter.finish()), obj, _normalizer, _sink)


class WindowCutter:
    """Accumulates decompressed chunks and hands out windows that end at safe cuts.

    Chunks are not copied into windows: when a window's worth has arrived and the last
    chunk holds safe cuts, the bytes before its first cut (the held start of a record plus
    the chunk's head) are joined into one small window, and the chunk from its first to
    its last cut is handed out as a view. Only when the last chunk has no cut are the held
    chunks joined. When `4 * window_bytes` arrive without a safe cut (one huge line), it
    stops cutting and sets `stuck`; `rest()` then hands over what it holds, which starts
    at a record start."""

    def __init__(self, window_bytes: int = DEFAULT_WINDOW_BYTES) -> None:
        self._window = window_bytes
        self._parts: list[bytes] = []
        self._held = 0
        self._base = 0
        self.stuck = False

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | memoryview]]:
        if not chunk:
            return
        self._parts.append(chunk)
        self._held += len(chunk)
        if self._held < self._window:
            return
        last_cut = self._last_cut(chunk)
        if last_cut <= 0:
            buf = self._join()
            cut = self._last_cut(buf)
            if cut <= 0:
                # No safe cut yet: wait for one, up to a limit that bounds memory.
                self.stuck = len(buf) >= 4 * self._window
                return
            yield self._hand_out(buf, 0, cut)
            return
        first = SAFE_CUT.search(chunk)
        first_cut = first.end() - 1 if first is not None else last_cut
        held = self._parts[:-1]
        if held or first_cut > 0:
            head = b"".join([*held, chunk[:first_cut]]) if held else chunk[:first_cut]
            base = self._base
            self._base += len(head)
            yield base, head
        if last_cut > first_cut:
            yield self._hand_out(chunk, first_cut, last_cut)
        else:
            self._parts, self._held = [chunk[first_cut:]], len(chunk) - first_cut

    def _hand_out(self, buf: bytes, start: int, cut: int) -> tuple[int, memoryview]:
        """buf[start:cut] as a window (a view: not copied); what follows stays held."""
        self._parts = [buf[cut:]] if cut < len(buf) else []
        self._held = len(buf) - cut
        base = self._base
        self._base += cut - start
        return base, memoryview(buf)[start:cut]

    def complete(self) -> Iterator[tuple[int, bytes | memoryview]]:
        """What is held up to its last safe cut (the stream stops early: the bytes after
        the cut may be the start of a record whose end never came)."""
        if not self._held:
            return
        buf = self._join()
        cut = self._last_cut(buf)
        if cut > 0:
            self._parts = [buf[cut:]] if cut < len(buf) else []
            self._held = len(buf) - cut
            base = self._base
            self._base += cut
            yield base, memoryview(buf)[:cut]

    def rest(self) -> tuple[int, bytes]:
        """What is held and not handed out yet, with its stream offset."""
        out = (self._base, self._join())
        self._base += self._held
        self._parts, self._held = [], 0
        return out

    def finish(self) -> Iterator[tuple[int, bytes | memoryview]]:
        if self._held:
            yield self.rest()

    def _join(self) -> bytes:
        parts = self._parts
        if len(parts) != 1:
            parts[:] = [b"".join(parts)]
        return parts[0]

    @staticmethod
    def _last_cut(buf: bytes) -> int:
        """Position of the `{` after the last newline that separates two records, or -1."""
        n = len(buf)
        pos = n
        while pos > 0:
            nl = buf.rfind(b"\n", 0, pos)
            if nl < 0:
                return -1
            i = nl - 1
            while i >= 0 and buf[i] in _WS:
                i -= 1
            j = nl + 1
            while j < n and buf[j] in _WS:
                j += 1
            if i >= 0 and buf[i] == 0x7D and j < n and buf[j] == 0x7B:  # `}` ... `{`
                return j
            pos = i + 1  # every newline in that whitespace run has the same neighbours
        return -1


class WindowedStage:
    """Decompressed chunks in, `Window`s out, in order: the stream is cut into windows at
    safe cuts (`WindowCutter`), and each window is prepared by `_start` (in a worker
    process, or a thread for the C fast path), at most `max_in_flight` at a time, so
    memory stays bounded. When the stream cannot be cut, the rest of it is prepared in
    the calling process."""

    def __init__(
        self,
        obj: ObjectRef,
        normalize: Normalizer,
        sink: Sink,
        max_record_bytes: int,
        max_in_flight: int,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        self._obj = obj
        self._max_record = max_record_bytes
        self._cutter = WindowCutter(window_bytes)
        self._pending: deque[Future[Window]] = deque()
        self._max_in_flight = max_in_flight
        self._args = (obj, normalize, sink)
        self._inline: RecordSplitter | None = None  # set when the stream cannot be cut

    def _start(self, base: int, data: bytes | memoryview) -> Future[Window]:
        raise NotImplementedError

    def _submit(self, stretches: Iterator[tuple[int, bytes | memoryview]]) -> None:
        for base, data in stretches:
            self._pending.append(self._start(base, data))

    def _ready(self, drain: bool) -> Iterator[Window]:
        pending = self._pending
        while pending and (drain or len(pending) >= self._max_in_flight or pending[0].done()):
            try:
                window = pending.popleft().result()
            except Exception as exc:  # a worker died or hit a bug: fail this call clearly
                raise AuditShipError(
                    f"{self._obj}: a record-preparation worker failed ({type(exc).__name__})"
                ) from exc
            yield window

    def feed(self, chunk: bytes) -> Iterator[Window]:
        if self._inline is not None:
            yield prepare(self._inline.feed(chunk), *self._args)
            return
        self._submit(self._cutter.feed(chunk))
        yield from self._ready(drain=False)
        if self._cutter.stuck:
            # No record boundary that is safe to cut at (e.g. the whole object is one
            # line): finish what the workers have, then go on in this process, starting
            # at the record start where the last window ended.
            yield from self._ready(drain=True)
            base, held = self._cutter.rest()
            self._inline = RecordSplitter(self._obj.name, self._max_record, base_offset=base)
            yield prepare(self._inline.feed(held), *self._args)

    def finish(self) -> Iterator[Window]:
        if self._inline is not None:
            yield prepare(self._inline.finish(), *self._args)
            return
        self._submit(self._cutter.finish())
        yield from self._ready(drain=True)

    def complete(self) -> Iterator[Window]:
        """The stream stops early (a read failed): prepare what is held up to a safe cut,
        so what was read is still delivered; the rest is read again by a resume."""
        if self._inline is None:
            self._submit(self._cutter.complete())
        yield from self._ready(drain=True)

    def close(self) -> None:
        for future in self._pending:
            future.cancel()


class PoolStage(WindowedStage):
    """Windows prepared by `workers` forked processes (the pure-Python path)."""

    def __init__(
        self,
        obj: ObjectRef,
        normalize: Normalizer,
        sink: Sink,
        max_record_bytes: int,
        workers: int,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        super().__init__(obj, normalize, sink, max_record_bytes, 2 * workers, window_bytes)
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init, initargs=(normalize, sink)
        )

    def _start(self, base: int, data: bytes | memoryview) -> Future[Window]:
        return self._pool.submit(prepare_stretch, self._obj, base, bytes(data), self._max_record)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

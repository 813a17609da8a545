"""Prepare: repaired records in, sink-ready `Item`s out, in object order.

`prepare` is the per-record work (normalize, then the sink's `prepare`, refusing records
larger than one request). Every stage cuts the decompressed stream into windows at safe
cuts (`WindowCutter`, where a window ends depends on the bytes only) and prepares each
window alone (`prepare_window_py`), so record positions are the same whichever stage runs:
`InlineStage` in this process, `PoolStage` in worker processes (the pure-Python path on a
multi-core machine: parsing, normalizing and serializing in Python hold the GIL), and
`fastpath.NativeStage` in threads (the C fast path, which hands what it is not sure of to
`prepare_window_py`'s code). The calling process keeps reading, batching, sending and all
of the accounting, in object order.

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

import multiprocessing
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

from auditship.delivery.batcher import Batcher
from auditship.errors import AuditShipError
from auditship.model import ObjectRef, Record, Reject, RejectKind, compact_json
from auditship.sinks.base import RecordRefused, Sink
from auditship.transforms.normalize import Normalizer
from auditship.transforms.repair import Parsed, RecordSplitter

# A safe cut (see WindowCutter): `}`, whitespace holding a newline, `{`.
SAFE_CUT = re.compile(rb"\}[ \t\r\n]*\n[ \t\r\n]*\{")
DEFAULT_WINDOW_BYTES = 2 * 1024 * 1024
RECORD = 0x72  # Window.kinds: a prepared record
OTHER = 0x6F  # Window.kinds: an entry of Window.others


class ItemKind(Enum):
    FILTERED = "filtered"  # dropped by the action filter: counted, never shipped
    REJECT = "reject"  # bytes that are not a record, or a record no request can carry


@dataclass(slots=True)
class Item:
    """A position that is not a prepared record; a REJECT carries its dead letter."""

    kind: ItemKind
    offset: int
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
    let the sink prepare it, and refuse what the batcher says no request can carry.
    Appends to `window` when given (the fast path's hand-overs), else to a new one.

    `found` is consumed lazily on purpose: holding a chunk's parsed records in a list keeps
    tens of thousands of containers alive, and the cyclic GC then rescans them over and
    over (measured: +50% CPU)."""
    window = Window() if window is None else window
    kinds, offsets, payloads, sizes, others = (
        window.kinds, window.offsets, window.payloads, window.sizes, window.others,
    )  # fmt: skip
    refusal = Batcher(sink.limits).refusal
    for f in found:
        if type(f) is Reject:
            kinds.append(OTHER)
            offsets.append(f.offset)
            payloads.append(None)
            sizes.append(0)
            others.append(Item(ItemKind.REJECT, f.offset, reject=f))
            continue
        offset, body = f  # type: ignore[misc]  # `type() is` does not narrow: a Parsed
        offsets.append(offset)
        try:
            normalized = normalize(body)
            if normalized is None:
                kinds.append(OTHER)
                payloads.append(None)
                sizes.append(0)
                others.append(Item(ItemKind.FILTERED, offset))
                continue
            body = normalized[0]
            prepared = sink.prepare(Record(-1, offset, body, normalized[1]), obj)
            too_large = refusal(prepared.size)
            if too_large is not None:
                raise RecordRefused(too_large, RejectKind.TOO_LARGE)
        except RecordRefused as exc:
            reason, kind = str(exc), exc.kind
        except Exception as exc:  # one record must never fail the object: it is a reject
            reason, kind = _unexpected(exc, sink), RejectKind.UNPREPARABLE
        else:
            kinds.append(RECORD)
            payloads.append(prepared.payload)
            sizes.append(prepared.size)
            continue
        kinds.append(OTHER)
        payloads.append(None)
        sizes.append(0)
        refused = Reject(obj.name, offset, reason, _record_json(body), stage="sink", kind=kind)
        others.append(Item(ItemKind.REJECT, offset, reject=refused))
    return window


def _unexpected(exc: Exception, sink: Sink) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"record could not be prepared for {sink.name}: {type(exc).__name__}: {text}"


def _record_json(body: Any) -> bytes:
    """The record's JSON for its dead letter (b"" in the one case no JSON can be written:
    an integer of more digits than Python converts to text)."""
    try:
        return compact_json(body)
    except (TypeError, ValueError):
        return b""


# Set in each worker by `_init`.
_normalizer: Normalizer | None = None
_sink: Sink | None = None


def _init(normalizer: Normalizer, sink: Sink) -> None:
    global _normalizer, _sink
    _normalizer, _sink = normalizer, sink


def prepare_window_py(
    obj: ObjectRef,
    base: int,
    data: bytes | memoryview,
    max_record_bytes: int,
    normalize: Normalizer,
    sink: Sink,
) -> Window:
    """Repair, normalize and prepare one window of the stream, alone: the window ends at a
    safe cut or at the end of the stream, so it is split as a whole stream is (`split_all`,
    never waiting for more bytes)."""
    splitter = RecordSplitter(obj.name, max_record_bytes, base_offset=base)
    return prepare(splitter.split_all(bytes(data)), obj, normalize, sink)


def prepare_stretch(obj: ObjectRef, base: int, data: bytes, max_record_bytes: int) -> Window:
    """`prepare_window_py` in a worker process, with the worker's normalizer and sink."""
    assert _normalizer is not None
    assert _sink is not None
    return prepare_window_py(obj, base, data, max_record_bytes, _normalizer, _sink)


class WindowCutter:
    """Accumulates decompressed chunks and hands out windows that end at safe cuts.

    Where a window ends depends on the stream's bytes only, never on how they were read:
    at the first safe cut whose `}` lies at or after `window_bytes - 1` bytes into the
    window. Record positions (which checkpoints count) then come out the same however an
    object is chunked, resumed or prepared (in C, in worker processes or in this process),
    since each window is prepared alone. When no such cut lies within `4 * window_bytes`
    of the window's start (one huge line), it stops cutting and sets `stuck`; `rest()` then
    hands over what it holds, which starts at a record start."""

    def __init__(self, window_bytes: int = DEFAULT_WINDOW_BYTES) -> None:
        self._window = window_bytes
        self._parts: list[bytes | memoryview] = []
        self._held = 0
        self._base = 0
        self.stuck = False

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes | memoryview]]:
        if not chunk:
            return
        self._parts.append(chunk)
        self._held += len(chunk)
        if not self.stuck:
            yield from self.complete()

    def _next_window(self) -> tuple[int, memoryview] | None:
        buf = self._join()
        limit = 4 * self._window
        found = SAFE_CUT.search(buf, self._window - 1, limit)
        if found is None:
            # No cut yet: wait for one, up to a limit that bounds memory.
            self.stuck = len(buf) >= limit
            return None
        cut = found.end() - 1
        view = memoryview(buf)
        self._parts = [view[cut:]] if cut < len(buf) else []  # a view: no copy of the rest
        self._held = len(buf) - cut
        base = self._base
        self._base += cut
        return base, view[:cut]

    def complete(self) -> Iterator[tuple[int, bytes | memoryview]]:
        """The windows the bytes held so far hold for sure (what `feed` hands out; also
        when the stream stops early: what follows is read again by a resume, and cut the
        same way then)."""
        while self._held >= self._window:
            window = self._next_window()
            if window is None:
                return
            yield window

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
        if len(parts) != 1 or type(parts[0]) is not bytes:
            parts[:] = [b"".join(parts)]
        return parts[0]  # type: ignore[return-value]  # the one part is bytes after the join


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
        self._window = window_bytes
        self._inline: RecordSplitter | None = None  # set when the stream cannot be cut
        self._inline_at = 0  # stream offset of the next byte the splitter gets
        self._inline_held = b""
        self._pool: Executor | None = None  # set by stages that prepare elsewhere

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
            yield from self._feed_inline(chunk)
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
            self._inline_at = base
            yield from self._feed_inline(held)

    def _feed_inline(self, chunk: bytes) -> Iterator[Window]:
        """Feed the splitter blocks that end at multiples of the window size in stream
        offsets, whatever the chunks: where it rejects an over-long stretch depends on what
        it holds, and that must depend on the bytes only, like window ends (found by
        review: a resume reading in other chunks numbered positions differently)."""
        held = self._inline_held + chunk if self._inline_held else chunk
        assert self._inline is not None
        while True:
            need = self._window - self._inline_at % self._window
            if len(held) < need:
                break
            block, held = held[:need], held[need:]
            self._inline_at += need
            yield prepare(self._inline.feed(block), *self._args)
        self._inline_held = held

    def finish(self) -> Iterator[Window]:
        if self._inline is not None:
            held, self._inline_held = self._inline_held, b""
            self._inline_at += len(held)
            yield prepare(self._inline.split_all(held), *self._args)
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
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class InlineStage(WindowedStage):
    """Windows prepared in this process as they are cut (the pure-Python path, one core)."""

    def __init__(
        self,
        obj: ObjectRef,
        normalize: Normalizer,
        sink: Sink,
        max_record_bytes: int,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
    ) -> None:
        super().__init__(obj, normalize, sink, max_record_bytes, 1, window_bytes)

    def _start(self, base: int, data: bytes | memoryview) -> Future[Window]:
        done: Future[Window] = Future()
        done.set_result(prepare_window_py(self._obj, base, data, self._max_record, *self._args[1:]))
        return done


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
        # Fork every worker now, while the caller has no other thread (the pool forks
        # on its first task: by then the reader, sender and lease threads would run).
        self._pool.submit(int).result()

    def _start(self, base: int, data: bytes | memoryview) -> Future[Window]:
        assert self._pool is not None
        return self._pool.submit(prepare_stretch, self._obj, base, bytes(data), self._max_record)

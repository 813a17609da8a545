"""Ship one object: read -> decode -> repair -> normalize -> batch -> sink, nothing lost.

Three threads, so waiting on the network never stalls the work (ISA-L releases the GIL
while it gunzips and gzips; orjson holds it, so parsing uses a second core only through
`prepare.PoolStage`):
- a reader thread fetches and decompresses into a small bounded queue;
- this thread repairs, normalizes and prepares records (the `prepare` stage, in process or
  in worker processes) and packs them into batches;
- a sender thread posts one batch at a time, owning the retry loop (exponential backoff
  with full jitter, `Retry-After` honoured, stopped in time by the deadline). Batches are
  delivered in object order, which is what makes the checkpoint a single number.

Accounting: every item found in the object (record or unparseable stretch) gets an index
in object order and ends up counted once as shipped, rejected (dead-lettered with its
reason), filtered (by the configured action filter) or skipped (handled by an earlier
run). When the call stops early, the checkpoint is the first index not yet handled.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import queue
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Protocol

import orjson

from auditship import fastpath
from auditship.deadletter import DeadLetterStore, DeadLetterWriter
from auditship.deadline import Deadline
from auditship.decode import DecodeFault, decode_stream
from auditship.errors import (
    AuditShipError,
    CredentialsRejectedError,
    PermanentSinkError,
    RetryableSinkError,
)
from auditship.fastpath import NativeStage
from auditship.ledger import MAX_LISTED_DEAD_LETTERS, Ledger, Progress
from auditship.model import ObjectRef, Reject, Summary
from auditship.normalize import Normalizer
from auditship.prepare import RECORD, InlineStage, Item, PoolStage, Window, WindowedStage
from auditship.sinks.base import Delivery, Prepared, Sink

log = logging.getLogger(__name__)

_QUEUE_CHUNKS = 4  # decompressed chunks buffered ahead of the parser (~1 MiB each)
_FAULTS_NAMED = 3  # decode faults named one by one in a summary's errors


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_attempts: int = 8  # per batch; the deadline usually ends retries first

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cap_seconds)
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


class Reader(Protocol):
    """What `ship_object` needs from a source (see `sources`)."""

    def read(self, obj: ObjectRef) -> Iterator[bytes]: ...


@dataclass
class ShipOptions:
    max_record_bytes: int = 8 * 1024 * 1024
    http_timeout_seconds: float = 30.0
    deadline_margin_seconds: float = 20.0
    retry: RetryPolicy = RetryPolicy()
    force: bool = False  # ignore the done-marker and checkpoint (operator replays)
    # Record preparation: the C fast path in `workers` threads when it can run
    # (fastpath.spec_for), else `workers` processes (>1) or this thread (1).
    workers: int = 1
    fast_path: bool = True


@dataclass(slots=True)
class _Batch:
    items: list[Prepared]
    offsets: list[int]
    size: int = 0

    @property
    def first_index(self) -> int:
        return self.items[0].record_index


class _Stop(Exception):
    """Internal: stop reading; the reason is already in the summary."""


_END = object()


def _read_ahead(chunks: Iterator[bytes], out: queue.Queue[Any], stop: threading.Event) -> None:
    def put(item: Any) -> bool:
        # Never block for good: the consumer may have stopped reading (sink failure).
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for chunk in chunks:
            if not put(chunk):
                return
        put(_END)
    except BaseException as exc:  # delivered to the consumer, which handles it
        put(exc)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class _Sender:
    """Sends batches in order on its own thread; results come back through `results`."""

    def __init__(
        self, sink: Sink, obj: ObjectRef, deadline: Deadline, options: ShipOptions
    ) -> None:
        self._sink = sink
        self._obj = obj
        self._deadline = deadline
        self._options = options
        self.inbox: queue.Queue[_Batch | None] = queue.Queue(maxsize=1)
        self.results: queue.Queue[tuple[_Batch, Delivery | Exception]] = queue.Queue()
        self.failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditship-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self.inbox.get()
            if batch is None:
                return
            if self.failed.is_set():  # an earlier batch failed for good: do not send later ones
                self.results.put((batch, _NotSent()))
                continue
            outcome = self._send(batch)
            # The result goes out before the flag: whoever sees the flag must find it.
            self.results.put((batch, outcome))
            if isinstance(outcome, CredentialsRejectedError | _GaveUp):
                self.failed.set()

    def _send(self, batch: _Batch) -> Delivery | Exception:
        margin = self._options.deadline_margin_seconds
        policy = self._options.retry
        attempt = 0
        while True:
            budget = self._deadline.remaining() - margin
            if budget < 1.0:
                return _GaveUp("no time left before the function deadline")
            try:
                return self._sink.send(
                    batch.items, self._obj, min(self._options.http_timeout_seconds, budget)
                )
            except RetryableSinkError as exc:
                attempt += 1
                delay = policy.delay(attempt, exc.retry_after)
                if attempt >= policy.max_attempts:
                    return _GaveUp(f"{exc} (gave up after {attempt} attempts)")
                if delay >= self._deadline.remaining() - margin - 1.0:
                    return _GaveUp(f"{exc} (no time left for another attempt)")
                log.warning("retrying batch in %.1fs after: %s", delay, exc)
                time.sleep(delay)
            except (PermanentSinkError, CredentialsRejectedError) as exc:
                return exc
            except Exception as exc:  # a sink bug must not hang the pipeline
                return _GaveUp(f"unexpected {type(exc).__name__} from {self._sink.name} sink")

    def close(self) -> None:
        self.inbox.put(None)
        self._thread.join()


class _GaveUp(Exception):
    pass


class _NotSent(Exception):
    pass


def ship_object(
    obj: ObjectRef,
    *,
    reader: Reader,
    sink: Sink,
    normalizer: Normalizer,
    dead_letters: DeadLetterStore,
    ledger: Ledger,
    deadline: Deadline,
    options: ShipOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Ship every record of `obj` through `sink`. Never raises for data or delivery
    problems: the summary says what happened (`complete` False means call again later)."""
    opts = options or ShipOptions()
    started = time.monotonic()
    summary = Summary(objects=1)
    if not opts.force and ledger.is_done(obj):
        summary.seconds = time.monotonic() - started
        summary.errors.append(f"{obj}: already shipped (ETag {obj.etag or 'unknown'}); skipped")
        return summary
    with _lease(ledger, obj, deadline) as held_until:
        if held_until is not None:
            summary.complete = False
            summary.seconds = time.monotonic() - started
            until = time.strftime("%H:%M:%SZ", time.gmtime(held_until))
            summary.errors.append(
                f"{obj}: another invocation is shipping this object (lease until {until}); "
                "a retry after that ships what is left"
            )
            return summary
        # Another invocation may have finished between the first check and the lease.
        if not opts.force and ledger.is_done(obj):
            summary.seconds = time.monotonic() - started
            summary.errors.append(f"{obj}: already shipped (ETag {obj.etag or 'unknown'}); skipped")
            return summary
        earlier = Progress() if opts.force else ledger.progress(obj)
        dlq = DeadLetterWriter(dead_letters, obj)
        # The pool (if any) forks before _Run starts its threads.
        stage = _stage_for(obj, normalizer, sink, opts)
        run = _Run(obj, sink, stage, dlq, summary, opts, deadline, earlier)
        try:
            run.execute(reader, progress)
        except Exception:
            # A bug, or out of memory: keep the earlier checkpoint, and record the dead
            # letters written past it that are still known, so a resume does not write them
            # again (past MAX_LISTED_DEAD_LETTERS some may be, as documented).
            with contextlib.suppress(Exception):
                dlq.flush()
                dead = run.already_dead_lettered.union(dlq.written)
                ledger.save_progress(obj, Progress(earlier.handled_through, frozenset(dead)))
            raise
        finally:
            run.shutdown()
            stage.close()
        try:
            dlq.flush()
        except AuditShipError as exc:
            summary.complete = False
            summary.errors.append(str(exc))
        if dlq.first_pending_index is not None:  # rejects not written: resume before them
            run.handled_through = min(run.handled_through, dlq.first_pending_index)
        if summary.complete:
            summary.seconds = time.monotonic() - started
            try:
                ledger.mark_done(obj, summary.to_json_dict())
            except AuditShipError as exc:
                # Everything was delivered; only the marker is missing, so a duplicate event
                # could ship again. Report it, but the data itself is safe.
                summary.errors.append(str(exc))
        else:
            # Dead letters already written past the checkpoint are not written again.
            dead = run.already_dead_lettered.union(dlq.written)
            try:
                ledger.save_progress(obj, Progress(run.handled_through, frozenset(dead)))
            except AuditShipError as exc:
                summary.errors.append(str(exc))
        summary.seconds = time.monotonic() - started
        return summary


def _stage_for(
    obj: ObjectRef, normalizer: Normalizer, sink: Sink, opts: ShipOptions
) -> InlineStage | WindowedStage:
    spec = fastpath.spec_for(normalizer, sink, opts.max_record_bytes) if opts.fast_path else None
    if spec is not None:
        return NativeStage(obj, normalizer, sink, opts.max_record_bytes, spec, opts.workers)
    if opts.workers > 1:
        return PoolStage(obj, normalizer, sink, opts.max_record_bytes, opts.workers)
    return InlineStage(obj, normalizer, sink, opts.max_record_bytes)


@contextlib.contextmanager
def _lease(ledger: Ledger, obj: ObjectRef, deadline: Deadline) -> Iterator[float | None]:
    """Hold the object's lease for as long as this call may run (plus a minute; an hour
    without a deadline). Yields None when held, else when the other holder's lease ends."""
    remaining = deadline.remaining()
    held_until = ledger.acquire(obj, 3600.0 if remaining == float("inf") else remaining + 60)
    try:
        yield held_until
    finally:
        if held_until is None:
            try:
                ledger.release(obj)
            except AuditShipError as exc:  # it expires by itself
                log.warning("%s", exc)


class _Run:
    """State of one `ship_object` call. Only the calling thread touches it."""

    def __init__(
        self,
        obj: ObjectRef,
        sink: Sink,
        stage: InlineStage | WindowedStage,
        dlq: DeadLetterWriter,
        summary: Summary,
        opts: ShipOptions,
        deadline: Deadline,
        earlier: Progress,
    ) -> None:
        self.obj = obj
        self.sink = sink
        self.stage = stage
        self.dlq = dlq
        self.summary = summary
        self.opts = opts
        self.deadline = deadline
        skip_below = earlier.handled_through
        self.skip_below = skip_below
        # Positions past the checkpoint that an earlier call already dead-lettered.
        self.already_dead_lettered = earlier.dead_lettered
        self.index = 0
        self.in_flight: list[_Batch] = []  # sent or queued, oldest first
        self.batch = _Batch([], [])
        self.handled_through = skip_below
        self.unhandled_from: int | None = None  # first index of a batch that was not delivered
        self.decode_faults = 0
        self.sender = _Sender(sink, obj, deadline, opts)
        self.stop = threading.Event()
        self.reader_thread: threading.Thread | None = None

    # -- the main loop -----------------------------------------------------------------
    def execute(self, reader: Reader, progress: Callable[[int], None] | None) -> None:
        chunks: queue.Queue[Any] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        decoded = decode_stream(reader.read(self.obj), self.obj.name)
        self.reader_thread = threading.Thread(
            target=_read_ahead, args=(decoded, chunks, self.stop), daemon=True
        )
        self.reader_thread.start()
        stage = self.stage
        summary = self.summary
        try:
            while True:
                chunk = chunks.get()
                if chunk is _END:
                    break
                if type(chunk) is DecodeFault:
                    self._decode_fault(chunk)
                    continue
                if isinstance(chunk, BaseException):
                    self._source_failed(chunk)
                    break
                summary.bytes_in += len(chunk)
                for window in stage.feed(chunk):
                    self._take_window(window)
                if progress is not None:
                    progress(summary.bytes_in)
            else:  # pragma: no cover
                pass
            if summary.complete:
                for window in stage.finish():
                    self._take_window(window)
                self._submit()
                self._wait_all()
        except _Stop:
            pass
        except AuditShipError as exc:  # e.g. a dead-letter write failed
            self._fail(str(exc))
        if summary.complete:
            self.handled_through = self.index
        else:
            with contextlib.suppress(_Stop, AuditShipError):
                self._wait_all()
            pending = [b.first_index for b in self.in_flight]
            if self.unhandled_from is not None:
                pending.append(self.unhandled_from)
            if self.batch.items:
                pending.append(self.batch.first_index)
            # Nothing pending: everything taken so far was handled.
            self.handled_through = max(self.skip_below, min(pending) if pending else self.index)

    def _decode_fault(self, fault: DecodeFault) -> None:
        """Bytes that could not be decompressed: what was decoded before them ends there
        (a record they cut is a reject of its own), they are dead-lettered with their
        range and reason (permanent: a retry reads the same bytes), and the records
        decoded after them follow as usual."""
        for window in self.stage.finish():
            self._take_window(window)
        error = fault.error
        reject = Reject(self.obj.name, error.offset, str(error), fault.raw, stage="decode")
        handled_before = self.index < self.skip_below or self.index in self.already_dead_lettered
        self._take(Item("reject", error.offset, reject=reject))
        if handled_before:
            return  # an earlier call dead-lettered and reported it
        # The summary goes into the done marker and the function's answer: name a few
        # faults there; every one of them is in the dead letters.
        self.decode_faults += 1
        if self.decode_faults <= _FAULTS_NAMED:
            self.summary.errors.append(str(error))
        elif self.decode_faults == _FAULTS_NAMED + 1:
            self.summary.errors.append(
                f"{self.obj}: more gzip damage after that; every fault is in the dead letters"
            )

    def _source_failed(self, exc: BaseException) -> None:
        if isinstance(exc, AuditShipError):
            message = str(exc)
        else:
            message = f"{self.obj}: reading failed ({type(exc).__name__})"
        self._fail(message)
        # Whatever was fully read is still worth delivering before stopping.
        for window in self.stage.complete():
            self._take_window(window)
        self._submit()

    def _take_window(self, window: Window) -> None:
        """Account for a window's items in object order (the hot loop: records inline)."""
        if not window.others and not self.already_dead_lettered and self.index >= self.skip_below:
            self._add_records(window.payloads, window.sizes, window.offsets)
            return
        others = iter(window.others)
        skip_below = self.skip_below
        done = self.already_dead_lettered
        add = self._add
        for kind, offset, payload, size in zip(
            window.kinds, window.offsets, window.payloads, window.sizes, strict=True
        ):
            if kind == RECORD and self.index >= skip_below and not (done and self.index in done):
                i = self.index
                self.index = i + 1
                self.summary.records += 1
                add(Prepared(i, payload, size), offset)
            elif kind == RECORD:
                self.index += 1
                self.summary.records += 1
                self.summary.skipped += 1
            else:
                self._take(next(others))

    def _take(self, item: Item) -> None:
        """Account for one non-record item in object order: skip, dead-letter or count."""
        i = self.index
        self.index = i + 1
        summary = self.summary
        summary.records += 1
        if i < self.skip_below or i in self.already_dead_lettered:
            summary.skipped += 1
            return
        kind = item.kind
        if kind == "filtered":
            summary.filtered += 1
        elif kind == "refused":
            self._dead_letter(Reject(self.obj.name, item.offset, item.reason, item.raw, i, "sink"))
        else:
            reject = item.reject
            assert reject is not None
            reject.index = i
            self._dead_letter(reject)

    def _add_records(self, payloads: list[Any], sizes: list[int], offsets: list[int]) -> None:
        """`_add` for a run of prepared records none of which is skipped, a batch's worth at
        a time: where each batch ends follows from the running total of sizes."""
        first = self.index
        n = len(payloads)
        limits = self.sink.limits
        sep = limits.separator_bytes
        # ends[k]: bytes of records 0..k of this run, each counted with one separator
        ends = list(accumulate(size + sep for size in sizes))
        start = 0
        while start < n:
            batch = self.batch
            room = limits.max_items - len(batch.items)
            # Records start..k fit while batch.size + (ends[k] - before) - first_sep fits.
            before = ends[start - 1] if start else 0
            budget = limits.max_bytes - batch.size + before + (0 if batch.items else sep)
            stop = min(bisect_right(ends, budget, start), start + max(room, 0), n)
            if stop == start:
                if not batch.items:  # one record larger than a request: prepare refused those
                    stop = start + 1
                else:
                    self._submit()
                    continue
            empty = not batch.items
            index = first + start
            batch.items.extend(
                map(Prepared, range(index, first + stop), payloads[start:stop], sizes[start:stop])
            )
            batch.offsets.extend(offsets[start:stop])
            batch.size += ends[stop - 1] - before - (sep if empty else 0)
            # Taken only once in a batch, as `_add` does: a `_submit` that stops the run
            # leaves the rest untaken, so no checkpoint can pass them.
            self.index = first + stop
            self.summary.records += stop - start
            start = stop
            if start < n:
                self._submit()

    def _add(self, prepared: Prepared, offset: int) -> None:
        limits = self.sink.limits
        batch = self.batch
        if batch.items and (
            batch.size + limits.separator_bytes + prepared.size > limits.max_bytes
            or len(batch.items) >= limits.max_items
        ):
            self._submit()
            batch = self.batch
        if batch.items:
            batch.size += limits.separator_bytes
        batch.items.append(prepared)
        batch.offsets.append(offset)
        batch.size += prepared.size

    def _dead_letter(self, reject: Reject) -> None:
        self.dlq.add(reject)
        self.summary.rejected += 1

    # -- batches -----------------------------------------------------------------------
    def _submit(self) -> None:
        batch = self.batch
        if not batch.items:
            return
        if self.sender.failed.is_set():
            self._collect(block=True)  # settles the failed batch, which marks the run failed
            if self.summary.complete:  # pragma: no cover - defensive: never report success
                self._fail(f"{self.obj}: a batch could not be delivered")
            raise _Stop
        if self.deadline.expired(self.opts.deadline_margin_seconds):
            self._fail(f"{self.obj}: stopped before the function deadline; call again to resume")
            raise _Stop
        self.batch = _Batch([], [])
        self.in_flight.append(batch)
        self.sender.inbox.put(batch)
        self.summary.batches += 1
        self.summary.bytes_out += batch.size
        self._collect(block=False)

    def _collect(self, block: bool) -> None:
        try:
            while self.in_flight:
                try:
                    batch, outcome = self.sender.results.get(block=block)
                except queue.Empty:
                    return
                assert batch is self.in_flight[0], "sender answers in order"
                self.in_flight.pop(0)
                self._settle(batch, outcome)
        finally:
            if len(self.dlq.written) > 2 * MAX_LISTED_DEAD_LETTERS:
                self._trim_written()

    def _trim_written(self) -> None:
        """Keep the dead-letter positions a progress marker can still list, so memory stays
        bounded with millions of rejects (found by review). The checkpoint will be one of
        the positions still pending now (or a later one), and the marker lists the lowest
        MAX_LISTED_DEAD_LETTERS positions at or past it: so keep, for each pending
        position, the lowest that many at or past it, and nothing below the lowest."""
        pending = {b.first_index for b in self.in_flight}
        if self.batch.items:
            pending.add(self.batch.first_index)
        for position in (self.unhandled_from, self.dlq.first_pending_index):
            if position is not None:
                pending.add(position)
        pending.add(self.index)
        written = self.dlq.written
        kept: set[int] = set()
        for low in pending:
            kept.update(heapq.nsmallest(MAX_LISTED_DEAD_LETTERS, (i for i in written if i >= low)))
        written[:] = sorted(kept)

    def _wait_all(self) -> None:
        self._collect(block=True)

    def _settle(self, batch: _Batch, outcome: Delivery | Exception) -> None:
        summary = self.summary
        if isinstance(outcome, Delivery):
            summary.shipped += outcome.accepted
            if outcome.refused:
                self._dead_letter_batch(batch, outcome.refused_reason, count=outcome.refused)
            return
        if isinstance(outcome, PermanentSinkError):
            self._dead_letter_batch(batch, str(outcome), count=len(batch.items))
            return
        self._mark_unhandled(batch)
        if isinstance(outcome, _NotSent):
            return
        if isinstance(outcome, CredentialsRejectedError):
            self.summary.credentials_rejected = True
        self._fail(str(outcome))
        raise _Stop

    def _dead_letter_batch(self, batch: _Batch, reason: str, count: int) -> None:
        try:
            for prepared, offset in zip(batch.items, batch.offsets, strict=True):
                self.dlq.add(
                    Reject(
                        self.obj.name,
                        offset,
                        reason,
                        _payload_bytes(prepared),
                        prepared.record_index,
                        "sink",
                    )
                )
        except BaseException:
            # A part write failed half-way through the batch: the writer guards what it was
            # given, and the batch stays unhandled so no checkpoint passes the rest of it.
            self._mark_unhandled(batch)
            raise
        self.summary.rejected += count

    def _mark_unhandled(self, batch: _Batch) -> None:
        if self.unhandled_from is None or batch.first_index < self.unhandled_from:
            self.unhandled_from = batch.first_index

    def _fail(self, message: str) -> None:
        self.summary.complete = False
        if message not in self.summary.errors:
            self.summary.errors.append(message)

    def shutdown(self) -> None:
        self.stop.set()
        self.sender.close()
        if self.reader_thread is not None:
            self.reader_thread.join(timeout=5)


def _payload_bytes(prepared: Prepared) -> bytes:
    """The record as a sink prepared it, for the dead letter: an NDJSON sink's line, or a
    PutLogs entry's `data` (the record's compact JSON), so a replay needs no unwrapping."""
    payload = prepared.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    data = getattr(payload, "data", None)
    if isinstance(data, str):
        return data.encode("utf-8")
    return orjson.dumps(payload, default=str)

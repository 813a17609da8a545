"""The pipeline: windows from any source -> batches -> the sink, every position accounted.

    source (windows of prepared records and rejects, in stream order)
      -> accounting (a position each; skip what an earlier run handled)
      -> batcher (where batches are cut) -> sender (one batch at a time, with retries)
      -> accounting (delivered, or dead-lettered with the reason)

`Pipeline.run` is the thin orchestrator: it takes windows in order, puts records into the
open batch where the batcher says, hands full batches to the sender, settles the answers
in order, and decides when to stop: at the deadline (minus its margin), or when a batch
fails in a way that ends the run (credentials refused, retries exhausted). It never
raises for data or delivery problems; `summary.complete` False means "run again to
resume", and `accounting.checkpoint()` says from where.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from auditship.deadline import Deadline
from auditship.delivery.batcher import Batcher
from auditship.delivery.sender import Batch, Failure, Sender, Sent
from auditship.errors import AuditShipError
from auditship.formats.options import FormatOptions
from auditship.metrics import newest_event_time
from auditship.model import ObjectRef, Reject, RejectKind
from auditship.retry import SINK_POLICY, RetryPolicy
from auditship.sinks.base import Prepared, Sink
from auditship.state.accounting import Accounting, RunTally
from auditship.state.ledger import Progress
from auditship.transforms.prepare import RECORD, Item, ItemKind, Window

log = logging.getLogger("auditship")

_DAMAGE_NAMED = 3  # decode faults named one by one in a summary's errors


@dataclass
class ShipOptions:
    max_record_bytes: int = 8 * 1024 * 1024
    http_timeout_seconds: float = 30.0
    deadline_margin_seconds: float = 20.0
    retry: RetryPolicy = field(default_factory=lambda: SINK_POLICY)
    force: bool = False  # ignore the done-marker and checkpoint (operator replays)
    tally: RunTally | None = None  # the run's, when its metrics are posted (metrics.py)
    # Record preparation: the C fast path in `workers` threads when it can run,
    # else `workers` processes (>1) or this thread (1); see sources.objects.stage_for.
    workers: int = 1
    fast_path: bool = True
    # Progress is saved this often while running: a crash repeats at most this much work.
    checkpoint_seconds: float = 10.0
    # Bus-stop files and database exports: their records' types and time zone.
    formats: FormatOptions = field(default_factory=FormatOptions)


# Saves a checkpoint while the run goes on; returns why the run must stop, or None.
Checkpoint = Callable[[Progress], str | None]


class _Stop(Exception):
    """Internal: stop taking windows; the reason is already in the summary."""


class Pipeline:
    def __init__(
        self,
        origin: ObjectRef,
        sink: Sink,
        accounting: Accounting,
        deadline: Deadline,
        options: ShipOptions,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self._origin = origin
        self._checkpoint = checkpoint
        self._checkpoint_seconds = options.checkpoint_seconds
        self._checkpointed = time.monotonic()
        self._sink = sink
        self._acc = accounting
        self._summary = accounting.summary
        self._tally = options.tally  # None (no metrics): nothing is looked at per batch
        accounting.report_to(options.tally)
        self._deadline = deadline
        self._margin = options.deadline_margin_seconds
        self._batcher = Batcher(sink.limits)
        self._batch = Batch()
        self._damage_seen = 0
        self._sender = Sender(
            sink,
            origin,
            deadline,
            timeout=options.http_timeout_seconds,
            margin=options.deadline_margin_seconds,
            policy=options.retry,
        )

    def run(self, windows: Iterable[Window]) -> None:
        """Take every window, then wait for every batch's answer (see the module doc)."""
        stopped = False
        try:
            for window in windows:
                self._take(window)
        except _Stop:
            stopped = True
        except AuditShipError as exc:  # the source failed, or a dead-letter write did
            self._fail(str(exc))
        if not stopped:
            try:
                self._submit()
            except _Stop:  # the deadline or a failed batch: said already
                pass
            except AuditShipError as exc:  # a dead-letter write before a checkpoint
                self._fail(str(exc))
        try:  # answers to batches already sent are awaited in any case (until the margin)
            self._settle(block=True)
        except _Stop:
            pass
        except AuditShipError as exc:
            self._fail(str(exc))
        if self._tally is not None:
            self._tally.unit_ended(self._summary.complete)

    def close(self) -> None:
        self._sender.close()

    # -- taking windows ------------------------------------------------------------------
    def _take(self, window: Window) -> None:
        acc = self._acc
        self._save_progress()
        if not window.others and acc.all_new:  # the hot path: records only, all new
            self._add(window.payloads, window.sizes, window.offsets)
            return
        others = iter(window.others)
        for kind, offset, payload, size in zip(
            window.kinds, window.offsets, window.payloads, window.sizes, strict=True
        ):
            if kind == RECORD:
                index = acc.take()
                if index is not None:
                    self._add_one(index, payload, size, offset)
            else:
                self._take_other(next(others))

    def _take_other(self, item: Item) -> None:
        index = self._acc.take()
        if index is None:
            return  # an earlier run handled (and reported) it
        if item.kind is ItemKind.FILTERED:
            self._acc.filtered()
            return
        reject = item.reject
        assert reject is not None
        self._acc.reject(reject, index)
        if reject.kind is RejectKind.DECODE_DAMAGE:
            self._name_damage(reject)

    def _name_damage(self, reject: Reject) -> None:
        """The summary goes into the done marker and the function's answer: name a few
        faults there; every one of them is in the dead letters."""
        self._damage_seen += 1
        if self._damage_seen <= _DAMAGE_NAMED:
            self._summary.errors.append(reject.reason)
        elif self._damage_seen == _DAMAGE_NAMED + 1:
            self._summary.errors.append(
                f"{self._origin}: more gzip damage after that; every fault is in the dead letters"
            )

    def _add(self, payloads: list[object], sizes: list[int], offsets: list[int]) -> None:
        """Records into the open batch, closing it where the batcher cuts. Positions are
        taken a batch at a time: a `_submit` that stops the run leaves the rest untaken,
        so no checkpoint can pass them."""
        cuts = self._batcher.plan(sizes)
        start = 0
        for stop in (*cuts, len(sizes)):
            if stop > start:
                first = self._acc.take_records(stop - start)
                self._extend(first, payloads[start:stop], sizes[start:stop], offsets[start:stop])
            if stop < len(sizes):
                self._submit()
            start = stop

    def _add_one(self, index: int, payload: object, size: int, offset: int) -> None:
        if self._batcher.plan((size,)):
            self._submit()
        self._acc.batched(index)
        self._extend(index, [payload], [size], [offset])

    def _extend(
        self, first: int, payloads: list[object], sizes: list[int], offsets: list[int]
    ) -> None:
        batch = self._batch
        if not batch.items:
            batch.first = first
        sep = self._sink.limits.separator_bytes
        batch.size += sum(sizes) + sep * (len(sizes) - (0 if batch.items else 1))
        batch.items.extend(map(Prepared, range(first, first + len(sizes)), payloads, sizes))
        batch.offsets.extend(offsets)

    # -- batches -------------------------------------------------------------------------
    def _submit(self) -> None:
        batch = self._batch
        if not batch.items:
            return
        # Before the open batch leaves: a stop raised here keeps it open, so the
        # checkpoint stays before it and before any record taken but not batched yet.
        self._save_progress()
        if self._sender.stopped:
            self._settle(block=True)  # settles the failed batch, which stops the run
            self._fail(f"{self._origin}: a batch could not be delivered")  # pragma: no cover
            raise _Stop  # pragma: no cover
        if self._deadline.expired(self._margin):
            self._fail(f"{self._origin}: {self._deadline.why()}")
            raise _Stop
        self._batch = Batch()  # the batcher started the next one where it cut
        self._acc.sent(batch.size)  # in flight from here: no checkpoint passes it unanswered
        if not self._sender.send(batch, self._margin / 2):
            self._fail(f"{self._origin}: waiting to send a batch: {self._deadline.why()}")
            raise _Stop
        self._settle(block=False)

    def _save_progress(self) -> None:
        """Every `checkpoint_seconds` (looked at per window and per batch), hand the
        checkpoint to whoever keeps it, after writing the dead letters held so far: a
        buffered letter holds the checkpoint back, and parts fill only every few MiB.
        Called only where every position taken is in the open batch, in flight, or
        settled (a window's start, a batch's submission), so a stop here loses nothing."""
        now = time.monotonic()
        if self._checkpoint is None or now - self._checkpointed < self._checkpoint_seconds:
            return
        self._checkpointed = now
        self._acc.flush_letters()
        stop = self._checkpoint(self._acc.checkpoint())
        if stop is not None:
            self._fail(stop)
            raise _Stop

    def _settle(self, block: bool) -> None:
        """Settle the answers that are in (when `block`, all of them, waiting until half
        the margin before the deadline; the sender's requests end at the margin), in order."""
        while self._acc.in_flight:
            sent = self._sender.result(self._margin / 2) if block else self._sender.ready()
            if sent is None:
                if block:
                    self._fail(f"{self._origin}: waiting for the sink: {self._deadline.why()}")
                    raise _Stop
                return
            self._settle_one(sent)

    def _settle_one(self, sent: Sent) -> None:
        acc = self._acc
        first = acc.settle()
        batch = sent.batch
        assert first == batch.first, "the sender answers in order"
        delivery = sent.delivery
        if delivery is not None:
            acc.delivered(delivery.accepted)
            if self._tally is not None and delivery.accepted:
                self._tally_delivered(batch)
            if delivery.refused:
                acc.refused_batch(
                    first, self._letters(batch, delivery.refused_reason), delivery.refused
                )
            return
        if sent.failure is Failure.REFUSED:
            acc.refused_batch(first, self._letters(batch, sent.message), len(batch.items))
            return
        acc.undelivered(first)
        if sent.failure is Failure.NOT_SENT:
            return
        if sent.failure is Failure.CREDENTIALS:
            self._summary.credentials_rejected = True
        self._fail(sent.message)
        raise _Stop

    def _tally_delivered(self, batch: Batch) -> None:
        """The batch's newest record time for the run's metrics. Metrics never fail the
        shipping: the batch is settled already, and a failure here would make a resume
        deliver it again."""
        assert self._tally is not None
        try:
            # A partly refused batch does not say which records were taken: all count.
            self._tally.delivered(newest_event_time(p.payload for p in batch.items))
        except Exception as exc:
            what = type(exc).__name__
            log.warning("metrics: the delivered batch's newest time is unknown (%s)", what)

    def _letters(self, batch: Batch, reason: str) -> list[Reject]:
        """The batch's records as dead letters: as the sink prepared them (`Sink.letter`),
        so a replay ships them again as they are."""
        name, letter = self._origin.name, self._sink.letter
        kind = RejectKind.SINK_REFUSED
        return [
            Reject(name, offset, reason, letter(p.payload), p.record_index, "sink", kind)
            for p, offset in zip(batch.items, batch.offsets, strict=True)
        ]

    def _fail(self, message: str) -> None:
        self._summary.complete = False
        if message not in self._summary.errors:
            self._summary.errors.append(message)

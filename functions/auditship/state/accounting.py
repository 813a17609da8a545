"""Accounting: the one owner of what happened to every position of a stream.

Every item a source yields (a record, or a stretch that is not one) gets a position (its
index in stream order) and ends up counted once: shipped, rejected (dead-lettered with its
reason), filtered (by the action filter) or skipped (handled by an earlier run), so for a
run that completes `records == shipped + rejected + filtered + skipped`. Nothing outside
this class writes those counts, the checkpoint or the dead-letter positions.

Checkpoint (`checkpoint()`): the first position not known to be handled. Positions move
through three states: taken into the open batch, in flight (handed to the sender), and
settled (delivered, or dead-lettered durably). The checkpoint is the lowest position that
is still open, in flight, undelivered, or held in a dead letter not yet written, else the
next position; never below where the earlier run stopped. A run resumed from it skips
nothing that was not handled, as long as every position taken is in the open batch, in
flight or settled when it is read (the pipeline reads it only at such points).

Dead-letter positions: rejects past the checkpoint that were already written durably are
listed in the progress marker (at most `MAX_LISTED_DEAD_LETTERS`), so a resumed run skips
them instead of writing them again. Memory stays bounded: only the positions a marker can
still list are kept (`_trim`).
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from datetime import datetime

from auditship.delivery.deadletter import DeadLetterWriter
from auditship.model import Reject, Summary
from auditship.state.ledger import MAX_LISTED_DEAD_LETTERS, Progress


class RunTally:
    """What a whole run (an invocation, an operator run) did beyond the sum of its
    summaries, for its metrics (metrics.py): the newest own time of a delivered record,
    the dead letters written durably, and the units (objects, windows) whose pipeline
    ended incomplete. Shared by every unit of the run; the collector's windows run in
    threads, so it is guarded by a lock (taken once per batch or part, not per record)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.newest_delivered: datetime | None = None
        self.letters_written = 0
        self.units_failed = 0

    def delivered(self, newest: datetime | None) -> None:
        """A batch was delivered; `newest` is the newest own time among its records."""
        if newest is None:
            return
        with self._lock:
            if self.newest_delivered is None or newest > self.newest_delivered:
                self.newest_delivered = newest

    def letters(self, count: int) -> None:
        with self._lock:
            self.letters_written += count

    def unit_ended(self, complete: bool) -> None:
        if not complete:
            with self._lock:
                self.units_failed += 1


class Accounting:
    def __init__(self, summary: Summary, earlier: Progress, letters: DeadLetterWriter) -> None:
        self.summary = summary
        self._tally: RunTally | None = None  # the run's, when its metrics are posted
        self._skip_below = earlier.handled_through
        self._earlier_letters = earlier.dead_lettered  # positions an earlier run wrote
        self._letters = letters
        self.next_index = 0  # the position the next item gets
        self._open_from: int | None = None  # first position of the open batch
        self._in_flight: deque[int] = deque()  # first positions of batches sent, in order
        self._undelivered_from: int | None = None  # lowest position of a failed batch
        self._unwritten: list[int] = []  # positions of rejects not yet written durably
        self._written: list[int] = []  # positions of rejects written durably (trimmed)

    # -- taking positions ----------------------------------------------------------------
    @property
    def all_new(self) -> bool:
        """True when no position from here on was handled by an earlier run (the hot path
        then takes whole runs of records with `take_records`)."""
        return not self._earlier_letters and self.next_index >= self._skip_below

    def take_records(self, count: int) -> int:
        """Take `count` positions for records going into the open batch (only when
        `all_new`); returns the first."""
        first = self.next_index
        self.next_index = first + count
        self.summary.records += count
        if self._open_from is None:
            self._open_from = first
        return first

    def take(self) -> int | None:
        """Take one position. Returns it when this run must handle it, or None when an
        earlier run did (counted as skipped)."""
        index = self.next_index
        self.next_index = index + 1
        self.summary.records += 1
        if index < self._skip_below or index in self._earlier_letters:
            self.summary.skipped += 1
            return None
        return index

    def batched(self, index: int) -> None:
        """The record at `index` (from `take`) went into the open batch."""
        if self._open_from is None:
            self._open_from = index

    def filtered(self) -> None:
        self.summary.filtered += 1

    # -- batches ---------------------------------------------------------------------------
    def sent(self, bytes_out: int) -> None:
        """The open batch was handed to the sender."""
        assert self._open_from is not None, "only a batch with records is sent"
        self._in_flight.append(self._open_from)
        self._open_from = None
        self.summary.batches += 1
        self.summary.bytes_out += bytes_out

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def settle(self) -> int:
        """The oldest batch in flight has an answer; returns its first position."""
        return self._in_flight.popleft()

    def delivered(self, accepted: int) -> None:
        self.summary.shipped += accepted

    def undelivered(self, first: int) -> None:
        """The batch starting at `first` was not delivered: the checkpoint stays before it."""
        if self._undelivered_from is None or first < self._undelivered_from:
            self._undelivered_from = first

    def report_to(self, tally: RunTally | None) -> None:
        """Also count the dead letters written into `tally` (the run's, for its metrics)."""
        self._tally = tally

    # -- dead letters ----------------------------------------------------------------------
    def reject(self, reject: Reject, index: int) -> None:
        """Dead-letter what is at `index` (from `take`), counted as rejected."""
        reject.index = index
        self.letter(reject)
        self.summary.rejected += 1

    def refused_batch(self, first: int, rejects: list[Reject], counted: int) -> None:
        """A sink refused (part of) the batch starting at `first`: every record of it is
        dead-lettered, `counted` of them as rejected (the rest were counted as shipped).
        If a write fails half-way, the batch stays undelivered so no checkpoint passes it."""
        try:
            for reject in rejects:
                self.letter(reject)
        except BaseException:
            self.undelivered(first)
            raise
        self.summary.rejected += counted

    def letter(self, reject: Reject) -> None:
        assert reject.index is not None
        self._unwritten.append(reject.index)
        self._written_now(self._letters.add(reject))

    def flush_letters(self) -> None:
        """Write what the dead-letter writer still holds (raises when that fails)."""
        self._written_now(self._letters.flush())

    def _written_now(self, positions: list[int]) -> None:
        if not positions:
            return
        if self._tally is not None:
            self._tally.letters(len(positions))  # a letter per position (`letter` asserts it)
        # A part holds everything the writer had: nothing is unwritten any more.
        self._unwritten.clear()
        self._written.extend(positions)
        if len(self._written) > 2 * MAX_LISTED_DEAD_LETTERS:
            self._trim()

    @property
    def letter_positions_held(self) -> int:
        """How many written dead-letter positions are held (bounded by `_trim`)."""
        return len(self._written)

    # -- checkpoints -----------------------------------------------------------------------
    def _pending(self) -> list[int]:
        pending = list(self._in_flight)
        for position in (self._open_from, self._undelivered_from):
            if position is not None:
                pending.append(position)
        if self._unwritten:
            pending.append(min(self._unwritten))
        return pending

    def checkpoint(self) -> Progress:
        """How far this run got, as a progress marker says it (see the module docstring)."""
        pending = self._pending()
        through = max(self._skip_below, min(pending) if pending else self.next_index)
        return Progress(through, frozenset(self._earlier_letters.union(self._written)))

    def with_letters(self, saved: Progress) -> Progress:
        """A checkpoint saved before, with the letters this run wrote durably since (after
        an unexpected error, when nothing else this run did can be trusted)."""
        letters = saved.dead_lettered.union(self._earlier_letters, self._written)
        return Progress(saved.handled_through, frozenset(letters))

    def _trim(self) -> None:
        """Keep the dead-letter positions a progress marker can still list. The checkpoint
        will be one of the positions pending now (or a later one), and the marker lists the
        lowest MAX_LISTED_DEAD_LETTERS positions at or past it: so keep, for each pending
        position, the lowest that many at or past it, and nothing below the lowest."""
        written = self._written
        kept: set[int] = set()
        for low in {*self._pending(), self.next_index}:
            kept.update(heapq.nsmallest(MAX_LISTED_DEAD_LETTERS, (i for i in written if i >= low)))
        written[:] = sorted(kept)

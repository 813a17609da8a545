"""Shipping jobs: one object, or all that an invocation names.

`ship_object` is the job around the pipeline for one object version: skip it when a done
marker says it was shipped, take its lease so a concurrent invocation does not ship it
too, resume from its progress marker, run the object source through `pipeline.Pipeline`,
then write the done marker (everything handled) or the progress marker (stopped early).
`ship_all` expands prefixes and ships each object in turn, summing the summaries.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from auditship.deadline import Deadline
from auditship.delivery.deadletter import DEAD_LETTER_PART, DeadLetterStore, DeadLetterWriter
from auditship.errors import AuditShipError, ConfigError, ObjectGoneError
from auditship.model import ObjectRef, Summary
from auditship.objectstore import SMALL_OBJECT_SECONDS
from auditship.pipeline import Pipeline, ShipOptions
from auditship.sinks.base import Sink
from auditship.sources.objects import ObjectWindows, Reader, stage_for
from auditship.state.accounting import Accounting
from auditship.state.ledger import (
    LEASE_SECONDS,
    LEDGER_OBJECT,
    LeaseLostError,
    Ledger,
    Progress,
)
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import Window

log = logging.getLogger(__name__)


@dataclass
class UnitWork:
    """What one unit of work runs through the pipeline (an object, an API window): its
    windows, how its checkpoints are stamped before they are saved (API sources add a
    fingerprint), what its done marker holds besides the summary, and how it ends."""

    windows: Iterable[Window]
    stamp: Callable[[Progress], Progress] = lambda progress: progress
    done_extra: Callable[[], dict[str, Any]] = dict
    close: Callable[[], None] = lambda: None
    finish: Callable[[Summary], None] = lambda summary: None


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

    def open_work(_earlier: Progress) -> UnitWork:
        # The stage may fork worker processes: before the pipeline starts its threads.
        stage = stage_for(
            obj, normalizer, sink,
            max_record_bytes=opts.max_record_bytes, workers=opts.workers,
            fast_path=opts.fast_path, formats=opts.formats,
        )  # fmt: skip
        margin = opts.deadline_margin_seconds
        windows = ObjectWindows(obj, reader, stage, progress, deadline, margin)

        def close() -> None:
            windows.close()
            stage.close()

        def finish(summary: Summary) -> None:
            summary.bytes_in = windows.bytes_read

        return UnitWork(windows, close=close, finish=finish)

    return ship_unit(
        obj,
        open_work,
        sink=sink,
        normalizer=normalizer,
        dead_letters=dead_letters,
        ledger=ledger,
        deadline=deadline,
        options=opts,
    )


def ship_unit(
    obj: ObjectRef,
    open_work: Callable[[Progress], UnitWork],
    *,
    sink: Sink,
    normalizer: Normalizer,
    dead_letters: DeadLetterStore,
    ledger: Ledger,
    deadline: Deadline,
    options: ShipOptions,
) -> Summary:
    """The job around the pipeline for one unit of work named by `obj` (see the module
    doc): skip it when done, take its lease, resume from its progress, run
    `open_work(earlier progress)` through the pipeline, write the done or progress marker."""
    opts = options
    started = time.monotonic()
    summary = Summary(objects=1)
    if not opts.force and ledger.is_done(obj):
        summary.errors.append(_already_shipped(obj))
        return summary
    held_until = ledger.acquire(obj, LEASE_SECONDS, force=opts.force)
    if held_until is not None:
        summary.complete = False
        until = time.strftime("%H:%M:%SZ", time.gmtime(held_until))
        summary.errors.append(
            f"{obj}: another invocation is shipping this object (lease until {until}, "
            "renewed while it runs); a retry after that ships what is left"
        )
        return summary
    holder = _Holder(ledger, obj)
    try:
        if not opts.force and ledger.is_done(obj):  # finished while we took the lease
            summary.errors.append(_already_shipped(obj))
        else:
            earlier = Progress() if opts.force else ledger.progress(obj)
            holder.last = earlier
            letters = DeadLetterWriter(dead_letters, obj, scrub=normalizer.scrub)
            accounting = Accounting(summary, earlier, letters)
            _run(obj, open_work(earlier), sink, accounting, deadline, opts, holder)
    finally:
        holder.release()
    summary.seconds = time.monotonic() - started
    return summary


def _already_shipped(obj: ObjectRef) -> str:
    return f"{obj}: already shipped (ETag {obj.etag or 'unknown'}); skipped"


def _run(
    obj: ObjectRef,
    work: UnitWork,
    sink: Sink,
    accounting: Accounting,
    deadline: Deadline,
    opts: ShipOptions,
    holder: _Holder,
) -> None:
    """The pipeline over the unit's windows, then the marker that records the outcome."""
    summary, ledger = accounting.summary, holder.ledger
    holder.start()
    try:
        checkpoint = lambda progress: holder.checkpoint(work.stamp(progress))  # noqa: E731
        pipeline = Pipeline(obj, sink, accounting, deadline, opts, checkpoint)
        try:
            pipeline.run(work.windows)
        finally:
            pipeline.close()
            work.close()
    except Exception:
        # A bug, or out of memory: keep the last checkpoint saved, with the dead letters
        # written past it, so a resume does not write them again.
        with contextlib.suppress(Exception):
            accounting.flush_letters()
            ledger.save_progress(obj, work.stamp(accounting.with_letters(holder.last)))
        raise
    work.finish(summary)
    try:
        accounting.flush_letters()
    except AuditShipError as exc:
        summary.complete = False
        summary.errors.append(str(exc))
    if holder.lost:  # the markers are the new holder's now
        return
    try:
        if summary.complete:
            # Everything was delivered; if only the marker fails, a duplicate event could
            # ship again: reported, but the data itself is safe.
            ledger.mark_done(obj, summary.to_json_dict() | work.done_extra())
        else:
            ledger.save_progress(obj, work.stamp(accounting.checkpoint()))
    except AuditShipError as exc:
        summary.errors.append(str(exc))


class _Holder:
    """This run's hold on an object: its lease, renewed on a thread of its own every
    quarter of `LEASE_SECONDS` (so a holder that dies leaves a lease that is stale soon),
    and its progress marker, saved while the pipeline runs (`checkpoint`)."""

    def __init__(self, ledger: Ledger, obj: ObjectRef) -> None:
        self.ledger = ledger
        self.last = Progress()  # the last progress saved (or found)
        self._obj = obj
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="auditship-lease", daemon=True)

    def start(self) -> None:
        """Start renewing (after the stage is built: a process pool forks then)."""
        self._thread.start()

    def _renew(self) -> None:
        while not self._done.wait(LEASE_SECONDS / 4):
            try:
                self.ledger.renew(self._obj, LEASE_SECONDS)
            except LeaseLostError as exc:
                log.error("%s", exc)
                self._lost.set()
                return
            except Exception as exc:  # it is tried again; the lease lasts four times longer
                log.warning("%s: lease not renewed (%s)", self._obj, exc)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def checkpoint(self, progress: Progress) -> str | None:
        """Save `progress`; returns why the run must stop (another run took over), or None.
        A marker that cannot be written now is logged: the next one may be."""
        if self._lost.is_set():
            return f"{self._obj}: another run took over this object's lease; stopped here"
        try:
            self.ledger.save_progress(self._obj, progress)
            self.last = progress
        except AuditShipError as exc:
            log.warning("%s: progress not saved (%s)", self._obj, exc)
        return None

    def release(self) -> None:
        self._done.set()
        # A renewal in progress ends within its own bounds (three short tries): wait for
        # it, or the release would use a version it is about to replace.
        if self._thread.is_alive():
            self._thread.join(timeout=4 * SMALL_OBJECT_SECONDS)
        if self.lost:
            return
        try:
            self.ledger.release(self._obj)
        except AuditShipError as exc:  # it expires by itself
            log.warning("%s", exc)


@dataclass
class Runtime:
    """Everything `ship_all` needs, wired by the handler or the operator command."""

    reader: Reader
    sink: Sink
    normalizer: Normalizer
    dead_letters: DeadLetterStore
    ledger: Ledger
    options: ShipOptions
    lister: Callable[[str, str, str], Iterator[ObjectRef]] | None = None
    # Our own outputs live in the same bucket; never ship them (it would loop).
    own_prefixes: tuple[str, ...] = field(default_factory=tuple)
    # The sources are dead-letter parts (`--dead-letters`): those are not skipped then.
    replaying_dead_letters: bool = False


def is_bookkeeping(name: str, runtime: Runtime) -> bool:
    """True for objects this project writes: under this run's own prefixes, and, whatever
    prefixes any function was configured with, every marker, lease and dead-letter part,
    known by its name (a replay of a whole bucket must not ship another function's)."""
    if any(name.startswith(p) for p in runtime.own_prefixes if p):
        return True
    if LEDGER_OBJECT.search(name):
        return True
    return not runtime.replaying_dead_letters and DEAD_LETTER_PART.search(name) is not None


def ship_all(
    objects: Iterable[ObjectRef],
    prefixes: Iterable[tuple[str, str, str]],
    runtime: Runtime,
    deadline: Deadline,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    total = Summary()
    todo: list[ObjectRef] = list(objects)
    for ns, bucket, prefix in prefixes:
        if runtime.lister is None:
            raise ConfigError("prefix replays need Object Storage access")
        todo.extend(runtime.lister(ns, bucket, prefix))
    for position, obj in enumerate(todo):
        if is_bookkeeping(obj.name, runtime):
            log.info("skipping %s: it is one of our own dead-letter or ledger objects", obj)
            continue
        if deadline.expired(runtime.options.deadline_margin_seconds):
            left = len(todo) - position
            total.complete = False
            total.errors.append(f"deadline reached with {left} object(s) not started")
            break
        try:
            # Always: an event for an object deleted since must end here, final, before a
            # lease or a marker is written for it.
            obj = runtime.reader.head(obj)
            summary = ship_object(
                obj,
                reader=runtime.reader,
                sink=runtime.sink,
                normalizer=runtime.normalizer,
                dead_letters=runtime.dead_letters,
                ledger=runtime.ledger,
                deadline=deadline,
                options=runtime.options,
                progress=progress,
            )
        except ObjectGoneError as exc:
            log.warning("%s", exc)
            summary = Summary(objects=1, missing=1, errors=[str(exc)])
        except AuditShipError as exc:
            summary = Summary(objects=1, complete=False, errors=[str(exc)])
        except Exception as exc:  # a bug or an unexpected SDK error: this object failed
            log.exception("unexpected error while shipping %s", obj)
            summary = Summary(
                objects=1, complete=False, errors=[f"{obj}: unexpected {type(exc).__name__}"]
            )
        total.add(summary)
        if summary.credentials_rejected:
            # Credentials are wrong for every object: stop instead of failing each one.
            break
    return total

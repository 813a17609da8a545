"""The collector of API sources (the OCI Audit API, Data Safe): windowed, checkpointed,
parallel. Built once; a source says only how to ask for a window and how to read a record
(`sources.api_records.ApiSource`).

    plan:  per region and compartment (a *key*), from its cursor (or `--since`) to the
           end (`--until`, or now minus a lag), cut into windows on a fixed grid
           (`sources.windows`); windows whose done marker exists are done already.
    run:   the windows left, `concurrency` at a time (oldest first, across keys); each is a
           unit of work like an object (`shipping.ship_unit`: lease, resume, pipeline,
           done marker), its pages asked in order and its records shipped as they come,
           API requests bounded by one shared `Throttle` (halved on 429).
    after: each key's cursor walks over its done windows (`state.cursors.advance`) and the
           book is saved, also while running, so a killed run loses at most the windows in
           progress (they resume from their progress markers).

A window that fails (after retries) fails alone: the others go on, the summary names it,
the cursor does not pass it, and the run is incomplete (exit 2; run again to resume).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from auditship.deadline import Deadline
from auditship.delivery.deadletter import DeadLetterStore
from auditship.errors import AuditShipError, ConfigError
from auditship.model import Summary
from auditship.objectstore import SMALL_OBJECT_SECONDS
from auditship.pipeline import ShipOptions
from auditship.shipping import UnitWork, ship_unit
from auditship.sinks.base import Sink
from auditship.sources.api_records import ApiSource, ResumeGuard, UnitRecords
from auditship.sources.records import RecordWindows
from auditship.sources.tenancy import Scope
from auditship.sources.throttle import Throttle
from auditship.sources.windows import (
    Unit,
    floor_minute,
    parse_unit_name,
    rfc3339,
    stamp,
    subtract,
    units_for,
)
from auditship.state.cursor_store import BookStore, StateLocation, book_ref
from auditship.state.cursors import (
    Cursor,
    CursorBook,
    DoneSpan,
    advance,
    backfilled,
)
from auditship.state.cursors import exact as _exact
from auditship.state.ledger import LEASE_SECONDS, LeaseLostError, Ledger, Progress
from auditship.transforms.normalize import Normalizer

log = logging.getLogger(__name__)

BOOK_SAVE_SECONDS = 30.0  # the cursor book is saved this often while windows finish


def _tag(shipped: set[str]) -> str:
    """Names a dedup set (empty included): windows asked again with it are other units
    than the done windows of the same bounds."""
    digest = hashlib.blake2b(digest_size=8)
    for ident in sorted(shipped):
        digest.update(ident.encode() + b"\n")
    return digest.hexdigest()


class CollectorBusyError(AuditShipError):
    """Another run of the same source holds the cursors' lease."""


@dataclass(frozen=True)
class CollectOptions:
    window: timedelta = timedelta(days=1)  # the grid windows are cut on
    overlap: timedelta = timedelta(minutes=10)  # re-asked at the next run, deduplicated
    lag: timedelta = timedelta(minutes=10)  # events show in the API minutes late
    concurrency: int = 16  # windows collected (and API requests made) at once
    retries: int = 8  # attempts per API request


@dataclass
class Plan:
    """What a run does: `units` to collect; per key, where the run starts, the ids
    already shipped there (the cursor's tail) and the windows already done."""

    units: list[Unit] = field(default_factory=list)
    starts: dict[str, datetime] = field(default_factory=dict)
    shipped: dict[str, frozenset[str]] = field(default_factory=dict)
    done: dict[str, list[DoneSpan]] = field(default_factory=lambda: defaultdict(list))
    backfills: dict[str, datetime] = field(default_factory=dict)  # keys asked before origin
    until: datetime | None = None
    skipped: int = 0  # windows in the asked ranges that were done already


@dataclass
class Collected:
    """A run's summary: the pipeline's counts summed over windows, and the collector's."""

    summary: Summary = field(default_factory=Summary)
    regions: int = 0
    compartments: int = 0
    windows_planned: int = 0
    windows_done_earlier: int = 0
    windows_collected: int = 0
    windows_failed: int = 0
    windows_not_started: int = 0
    pages: int = 0
    duplicates: int = 0
    outside_range: int = 0
    throttled: int = 0
    until: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        base = self.summary.to_json_dict()
        for unused in ("objects", "missing", "bytes"):
            base.pop(unused, None)
        errors = base.pop("errors")
        return (
            base
            | {
                "regions": self.regions,
                "compartments": self.compartments,
                "windows": {
                    "planned": self.windows_planned,
                    "done_earlier": self.windows_done_earlier,
                    "collected": self.windows_collected,
                    "failed": self.windows_failed,
                    "not_started": self.windows_not_started,
                },
                "pages": self.pages,
                "duplicates": self.duplicates,
                "outside_range": self.outside_range,
                "throttled": self.throttled,
                "until": self.until,
            }
            | self.extra
            | {"errors": errors}
        )


@dataclass
class _Outcome:
    """What a window's run leaves behind: counts, not its records or their fingerprints
    (a run of thousands of windows keeps every outcome until the end)."""

    unit: Unit
    summary: Summary | None  # None: not started (deadline, or the run was stopped)
    ids: frozenset[str] | None = None
    pages: int = 0
    duplicates: int = 0
    outside: int = 0
    order_changed: bool = False


class Collector:
    def __init__(
        self,
        source: ApiSource,
        scope: Scope,
        *,
        state: StateLocation,
        ledger: Ledger,
        book: BookStore,
        sink: Sink,
        normalizer: Normalizer,
        dead_letters: DeadLetterStore,
        deadline: Deadline,
        options: ShipOptions,
        collect: CollectOptions,
        throttle: Throttle,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._source = source
        self._scope = scope
        self._state = state
        self._ledger = ledger
        self._book_store = book
        self._sink = sink
        self._normalizer = normalizer
        self._letters = dead_letters
        self._deadline = deadline
        self._options = options
        self._collect = collect
        self._throttle = throttle
        self._progress = progress
        self._stop = threading.Event()
        self._holds_cursors = False  # True inside `with collector:` (the source's lease)
        self._lease_lost = threading.Event()
        self._book = CursorBook()
        self._book_ref = book_ref(state, source.name)

    def set_progress(self, progress: Callable[[int], None] | None) -> None:
        """Called with the number of windows finished (a progress bar)."""
        self._progress = progress

    # -- the lease on the source's cursors ---------------------------------------------------
    def __enter__(self) -> Collector:
        held = self._ledger.acquire(self._book_ref, LEASE_SECONDS, force=self._options.force)
        if held is not None:
            until = time.strftime("%H:%M:%SZ", time.gmtime(held))
            raise CollectorBusyError(
                f"another run of the {self._source.name} source is collecting (its lease on "
                f"{self._state} lasts until {until} and is renewed while it runs); try later"
            )
        self._holds_cursors = True
        self._stop.clear()
        self._lease_lost.clear()
        self._renewer = threading.Thread(target=self._renew, name="auditship-book", daemon=True)
        self._renewer.start()
        try:
            self._book = CursorBook.from_json(self._book_store.read())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._release()
            raise ConfigError(
                f"the cursors of the {self._source.name} source in {self._state} are not "
                f"readable ({exc}); move the file away to start over with --since"
            ) from None
        except BaseException:  # unreadable for now (Object Storage down): free the lease
            self._release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 4):
            try:
                self._ledger.renew(self._book_ref, LEASE_SECONDS)
            except LeaseLostError as exc:  # taken over (--force): its cursors, not ours
                log.error("%s; this run no longer writes the cursors", exc)
                self._lease_lost.set()
                return
            except AuditShipError as exc:
                log.warning("%s: lease not renewed (%s)", self._book_ref, exc)

    @property
    def deadline(self) -> Deadline:
        return self._deadline

    def _release(self) -> None:
        self._holds_cursors = False
        self._stop.set()
        renewer = getattr(self, "_renewer", None)
        if renewer is not None and renewer.is_alive():
            renewer.join(timeout=4 * SMALL_OBJECT_SECONDS)  # a renewal in progress ends first
        if self._lease_lost.is_set():
            return
        try:
            self._ledger.release(self._book_ref)
        except AuditShipError as exc:  # it expires by itself
            log.warning("%s", exc)

    # -- planning ----------------------------------------------------------------------------
    def plan(self, since: datetime | None, until: datetime | None, now: datetime) -> Plan:
        """Windows per key from its cursor (or `since`) to `until` (default: now minus the
        lag). Raises ConfigError when there is no `since` and no key has a cursor."""
        collect, scope, book = self._collect, self._scope, self._book
        end = until if until is not None else floor_minute(now - collect.lag)
        plan = Plan(until=end)
        floor = book.floor(scope.keys)
        if since is None and floor is None:
            raise ConfigError(
                f"no checkpoint yet for the {self._source.name} source in {self._state}: the "
                'first run needs a start (--since 30d, or "since" in the function\'s payload)'
            )
        for key in scope.keys:
            self._plan_key(plan, key, since, end, floor)
        plan.units.sort(key=lambda u: (u.start, u.key))
        self._save_book(plan, {})  # keys new to the book are kept from now on
        return plan

    def _plan_key(
        self, plan: Plan, key: str, since: datetime | None, end: datetime, floor: Cursor | None
    ) -> None:
        """One key's windows: its ranges (`_ranges`) less the windows already done. Short
        done windows (tails, whose ids are kept) are asked again instead, and their ids
        dropped: what became visible there late is collected, nothing is sent twice."""
        collect, book = self._collect, self._book
        done = [] if self._options.force else self._listed(key, since, floor)
        ranges = self._ranges(plan, key, since, end, floor)
        cursor = book.cursors.get(key)

        def overlaps(low: datetime, high: datetime) -> bool:
            return any(low < last and first < high for first, last in ranges)

        relevant = [span for span in done if overlaps(span.start, span.end)]
        tails = [span for span in relevant if span.ids is not None]
        shipped = set(plan.shipped.get(key, frozenset()))
        for tail in tails:
            shipped |= tail.ids or frozenset()
        plan.shipped[key] = frozenset(shipped)
        plan.done[key].extend(relevant)
        whole = [(span.start, span.end) for span in relevant if span.ids is None]
        plan.skipped += len(whole)
        asked_again = [(t.start, t.end) for t in tails]
        if cursor is not None and cursor.tail_from is not None:
            asked_again.append((cursor.tail_from, cursor.through))
        tag = _tag(shipped)
        region, compartment = key.split("/", 1)
        for first, last in subtract(ranges, whole):
            for unit in units_for(
                self._source.name, region, compartment, first, last,
                collect.window, collect.overlap,
            ):  # fmt: skip
                if any(a < unit.end and unit.start < b for a, b in asked_again):
                    unit = replace(unit, reask=tag)  # not the done window of the same bounds
                plan.units.append(unit)

    def _listed(self, key: str, since: datetime | None, floor: Cursor | None) -> list[DoneSpan]:
        """The done windows of `key` from where this run may ask on, in one listing that
        starts there (names sort by time), not from the key's first window; and first, the
        key's cursor walked over the done windows that continue it (windows an earlier run
        finished past a failed one, or a fan-out's parts finished)."""
        cursor = self._book.cursors.get(key) or floor
        window = max(self._collect.window, self._collect.overlap)
        earliest = [since] if since is not None else []
        if cursor is not None:
            earliest += [cursor.resume_at, cursor.through - window]
        if not earliest:
            return []
        under = f"{self._source.name}/{key}/"
        listed = self._ledger.done_versions(
            self._state.ref(""), under, start=stamp(floor_minute(min(earliest)) - window)
        )
        spans = [span for name, version in sorted(listed) if (span := self._span(name, version))]
        current = self._book.cursors.get(key)
        if current is not None:
            moved = advance(current.through, current, spans)
            if moved is not None and moved != current:
                log.info("%s: done windows continue the cursor to %s", key, rfc3339(moved.through))
                self._book.cursors[key] = moved
        return spans

    def _span(self, name: str, version: str) -> DoneSpan | None:
        """What a listed done window covers (its name, or its marker for windows with
        edges), with its ids when it is short."""
        parsed = parse_unit_name(name.split("/", 1)[1]) if "/" in name else None
        if parsed is None:
            return None
        start, end = parsed[2], parsed[3]
        short = end - start <= self._collect.overlap
        if version == "all" and not short:
            return DoneSpan(start, end)
        info = self._ledger.done_info(self._state.ref(name, version)) or {}
        covers = info.get("covers")
        if version != "all":
            if not (isinstance(covers, list) and len(covers) == 2):
                return None  # written before markers said what they cover: not walked over
            start, end = (datetime.fromisoformat(c.replace("Z", "+00:00")) for c in covers)
        ids = info.get("ids")
        kept = frozenset(str(i) for i in ids) if short and isinstance(ids, list) else None
        return DoneSpan(start, end, kept)

    def _ranges(
        self, plan: Plan, key: str, since: datetime | None, end: datetime, floor: Cursor | None
    ) -> list[tuple[datetime, datetime]]:
        """What to ask for one key: from its cursor on (with the cursor's tail ids to drop
        what was shipped), and, when `since` reaches back before where the key's
        collection began, that stretch too. A `since` past the cursor leaves a gap the
        cursor does not pass; `--force` asks for exactly `[since, end)` again."""
        book = self._book
        cursor = book.cursors.get(key)
        if cursor is None and since is None:
            assert floor is not None
            log.info("%s: new to this scope, collected from %s", key, rfc3339(floor.through))
            cursor = book.cursors[key] = floor
        if cursor is None or (since is not None and self._options.force):
            assert since is not None
            if cursor is None:  # the key is collected from here on
                book.cursors[key] = Cursor(since, since)
            plan.starts[key] = since
            return [(since, end)]
        plan.shipped[key] = cursor.tail_ids
        if since is not None and since > cursor.through:
            plan.starts[key] = since
            return [(since, end)]
        plan.starts[key] = cursor.resume_at
        if since is not None and since < cursor.origin:
            plan.backfills[key] = since
            return [(since, min(cursor.origin, end)), (cursor.resume_at, end)]
        return [(cursor.resume_at, end)]

    def _short(self, unit: Unit) -> bool:
        return unit.end - unit.start <= self._collect.overlap

    def _done_ids(self, unit: Unit) -> frozenset[str] | None:
        if not self._short(unit):
            return None
        info = self._ledger.done_info(self._state.ref(unit.name, unit.version)) or {}
        ids = info.get("ids")
        return frozenset(str(i) for i in ids) if isinstance(ids, list) else None

    # -- running -----------------------------------------------------------------------------
    def settle(self, plan: Plan) -> Collected:
        """Without collecting: walk the cursors over what is done (a fan-out's parts
        collect the rest), and say what the plan holds."""
        self._save_book(plan, {})
        return self._result(plan)

    def _result(self, plan: Plan) -> Collected:
        return Collected(
            regions=len(self._scope.regions),
            compartments=len(self._scope.compartments),
            windows_planned=len(plan.units) + plan.skipped,
            windows_done_earlier=plan.skipped,
            until=rfc3339(plan.until) if plan.until else "",
        )

    def run(self, plan: Plan) -> Collected:
        result = self._result(plan)
        # Only what the cursors need of each finished window (a run can have thousands).
        done_now: dict[str, list[DoneSpan]] = defaultdict(list)
        saved = time.monotonic()
        concurrency = self._collect.concurrency
        todo = iter(plan.units)
        with ThreadPoolExecutor(concurrency, "auditship-window") as pool:
            pending: set[Future[_Outcome]] = set()

            def fill() -> None:
                # A few windows queued beyond the workers, not all of them: memory stays
                # the same for a year of windows as for a day.
                while len(pending) < 2 * concurrency:
                    unit = next(todo, None)
                    if unit is None:
                        return
                    shipped = plan.shipped.get(unit.key, frozenset())
                    pending.add(pool.submit(self._unit, unit, shipped))

            fill()
            while pending:
                finished, pending = wait(pending, timeout=5.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    outcome = future.result()
                    self._count(result, outcome)
                    if outcome.summary is not None and outcome.summary.complete:
                        unit = outcome.unit
                        done_now[unit.key].append(DoneSpan(*unit.covers, outcome.ids))
                fill()
                if time.monotonic() - saved >= BOOK_SAVE_SECONDS:
                    saved = time.monotonic()
                    self._save_book(plan, done_now, quiet=True)
        self._save_book(plan, done_now)
        result.throttled = self._throttle.throttled_times
        return result

    def _count(self, result: Collected, outcome: _Outcome) -> None:
        summary = outcome.summary
        result.pages += outcome.pages
        result.duplicates += outcome.duplicates
        result.outside_range += outcome.outside
        if summary is None:
            result.windows_not_started += 1
            result.summary.complete = False
            return
        summary.objects = 1
        result.summary.add(summary)
        if summary.complete:
            result.windows_collected += 1
        else:
            result.windows_failed += 1
        if self._progress is not None:
            self._progress(result.windows_collected + result.windows_failed)

    def _unit(self, unit: Unit, shipped: frozenset[str]) -> _Outcome:
        margin = self._options.deadline_margin_seconds
        if self._stop.is_set() or self._deadline.expired(margin):
            return _Outcome(unit, None)
        try:
            outcome = self._ship(unit, shipped)
            if outcome.order_changed:
                log.warning("%s: the API's order changed since the last run; starting over", unit)
                outcome = self._ship(unit, shipped)
        except Exception as exc:  # a bug: this window failed, the others go on
            log.exception("unexpected error while collecting %s", unit)
            failed = Summary(complete=False, errors=[f"{unit}: unexpected {type(exc).__name__}"])
            return _Outcome(unit, failed)
        summary = outcome.summary
        if summary is not None and summary.credentials_rejected:
            self._stop.set()  # the sink refuses our credentials: for every window
        return outcome

    def _ship(self, unit: Unit, shipped: frozenset[str]) -> _Outcome:
        ref = self._state.ref(unit.name, unit.version)
        made: list[UnitRecords] = []
        margin = self._options.deadline_margin_seconds

        def open_work(earlier: Progress) -> UnitWork:
            guard = ResumeGuard(earlier)
            records = UnitRecords(
                self._source, unit, shipped=shipped, guard=guard,
                keep_ids=self._short(unit), deadline=self._deadline, margin=margin,
            )  # fmt: skip
            made.append(records)
            windows = RecordWindows(records, ref, self._normalizer, self._sink)

            def extra() -> dict[str, Any]:
                covers = {"covers": [_exact(moment) for moment in unit.covers]}
                return covers if records.ids is None else covers | {"ids": sorted(records.ids)}

            return UnitWork(windows, stamp=guard.stamp, done_extra=extra)

        summary = ship_unit(
            ref,
            open_work,
            sink=self._sink,
            normalizer=self._normalizer,
            dead_letters=self._letters,
            ledger=self._ledger,
            deadline=self._deadline,
            options=self._options,
        )
        records = made[-1] if made else None
        ids = None
        if summary.complete:
            if records is None:  # done by another run meanwhile
                ids = self._done_ids(unit)
            elif records.ids is not None:
                ids = frozenset(records.ids)
        if records is None:
            return _Outcome(unit, summary, ids)
        return _Outcome(
            unit, summary, ids, records.pages, records.duplicates, records.outside,
            records.guard.order_changed,
        )  # fmt: skip

    def _save_book(
        self, plan: Plan, done_now: dict[str, list[DoneSpan]], quiet: bool = False
    ) -> None:
        if not self._holds_cursors or self._lease_lost.is_set():
            return  # a fan-out part, or the lease was taken over: not our cursors to write
        spans: dict[str, list[DoneSpan]] = defaultdict(list)
        for done in (plan.done, done_now):
            for key, found in done.items():
                spans[key].extend(found)
        book = self._book
        for key, start in plan.starts.items():
            moved = advance(start, book.cursors.get(key), spans.get(key, ()))
            if moved is not None and key in plan.backfills:
                moved = backfilled(moved, plan.backfills[key], spans.get(key, ()))
            if moved is not None:
                book.cursors[key] = moved
        try:
            self._book_store.write(book.to_json())
        except AuditShipError as exc:
            if not quiet:
                raise
            log.warning("cursors not saved (%s); saved again later", exc)

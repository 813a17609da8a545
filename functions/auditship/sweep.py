"""The reconciliation sweep, without I/O: which listed objects to ship, and where they go.

Events can be lost (a rule disabled, a function redeployed, an invocation that was never
retried), so a sweep lists a prefix and ships every object that has no done marker for its
current ETag and is older than a grace period (younger ones are left to their own event).
`sources/sweep_listing.py` lists; `entrypoints/sweeping.py` wires the listings, the
shipping and the detached invocations to what is here.

Markers are looked up by a merge join of two listings, not a request per object: the
object listing and the ledger listing under the same prefix. A done marker's name holds
the ETag (`state.ledger.marker_name`), so the ledger listing answers "done?" exactly as
`Ledger.is_done` would. The two listings are in name order, but not in the same order:
the marker of `a` is `a@<etag>.done`, of `a.gz` is `a.gz@<etag>.done`, and `.` sorts
before `@`, so `a.gz`'s marker comes first although `a` is listed first. `in_marker_order`
puts the objects in their markers' order with a heap that only ever holds the objects whose
name is a prefix of the one just listed (at most one per character of a name).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from auditship.errors import AuditShipError, ConfigError, PayloadError, SourceError
from auditship.model import ObjectRef, Summary
from auditship.sources.address import parse_source
from auditship.state.ledger import marker_name

SWEEP_KEYS = frozenset({"sweep", "older_than", "start"})


@dataclass(frozen=True)
class SweepRequest:
    """Sweep the objects of `bucket` whose names start with `prefix` (literally: `audit`
    also covers `audit-old/`), from name `start` on when given (a continuation)."""

    namespace: str
    bucket: str
    prefix: str
    older_than: timedelta | None = None  # None: the configured SWEEP_OLDER_THAN
    start: str = ""

    def where(self) -> ObjectRef:
        return ObjectRef(self.prefix, self.namespace, self.bucket)

    def __str__(self) -> str:
        return f"oci://{self.namespace}/{self.bucket}/{self.prefix}"


def parse_older_than(text: str) -> timedelta:
    """A grace period such as `15m`, `1h`, `900s`; ValueError when it is not one."""
    from auditship.sources.windows import parse_duration

    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"{text!r}: the grace period must be longer than zero")
    return value


def duration_text(value: timedelta) -> str:
    """`value` as `parse_older_than` reads it back (whole seconds)."""
    return f"{int(value.total_seconds())}s"


def parse_sweep_target(address: str, older_than: str | None, start: str = "") -> SweepRequest:
    """`oci://<ns>/<bucket>/<prefix>` and an optional grace period; ValueError naming
    what is wrong."""
    if not address.startswith("oci://"):
        raise ValueError(f"{address!r}: a sweep takes oci://<namespace>/<bucket>/<prefix>")
    try:
        ref, _ = parse_source(address)
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    grace = None if older_than is None else parse_older_than(older_than)
    return SweepRequest(ref.namespace, ref.bucket, ref.name, grace, start)


def parse_sweep_request(doc: dict[str, Any]) -> SweepRequest:
    """The invocation payload `{"sweep": "oci://<ns>/<bucket>/<prefix>", "older_than":
    "15m"}` (`older_than` optional; `start` is added by a sweep that continues itself)."""
    unknown = sorted(set(doc) - SWEEP_KEYS)
    if unknown:
        raise PayloadError(f"a sweep takes sweep, older_than and start, not {', '.join(unknown)}")
    address, older_than, start = doc.get("sweep"), doc.get("older_than"), doc.get("start", "")
    if not isinstance(address, str) or not isinstance(start, str):
        raise PayloadError('"sweep" is oci://<namespace>/<bucket>/<prefix>; "start" a name')
    if older_than is not None and not isinstance(older_than, str):
        raise PayloadError('"older_than" is a duration such as "15m"')
    try:
        return parse_sweep_target(address, older_than, start)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Listed:
    """One object as the listing shows it. `changed` is the later of its creation and
    modification times (None when the listing has neither: not protected by the grace)."""

    name: str
    etag: str
    changed: datetime | None = None


class Verdict(StrEnum):
    """What a sweep does with a listed object; each object gets exactly one."""

    OWN = "own"  # a marker, lease, dead letter or state object of ours: never shipped
    DONE = "done"  # a done marker for its current ETag exists
    TOO_YOUNG = "too_young"  # within the grace period: its own event may be shipping it
    TO_SHIP = "to_ship"


def in_marker_order(
    objects: Iterable[Listed], ledger_prefix: str, is_own: Callable[[str], bool]
) -> Iterator[tuple[str | None, Listed]]:
    """(done marker name, object) for `objects` (in name order), in the order of the
    marker names; own objects at once, with None (they have no marker to look up).

    No object listed after X has a marker before `ledger_prefix + X` (its name starts with
    X, or sorts after X at a character of X), so every pending marker before that is
    final; the ones left pending are those of prefixes of X."""
    pending: list[tuple[str, int, Listed]] = []
    for position, obj in enumerate(objects):
        if is_own(obj.name):
            yield None, obj
            continue
        floor = ledger_prefix + obj.name
        while pending and pending[0][0] < floor:
            marker, _, earlier = heapq.heappop(pending)
            yield marker, earlier
        marker = marker_name(ledger_prefix, obj.name, obj.etag, "done")
        heapq.heappush(pending, (marker, position, obj))
    while pending:
        marker, _, earlier = heapq.heappop(pending)
        yield marker, earlier


def sweep_verdicts(
    objects: Iterable[Listed],
    ledger_names: Iterable[str],
    *,
    ledger_prefix: str,
    is_own: Callable[[str], bool],
    cutoff: datetime,
) -> Iterator[tuple[Listed, Verdict]]:
    """Every object of `objects` (name order) once, with its verdict: own, else done (its
    done marker is in `ledger_names`, the sorted names under the ledger prefix), else too
    young (changed after `cutoff`), else to ship. Both listings are read once, in step;
    the ledger listing only as far as the objects need, and from the first one that does."""
    markers = iter(ledger_names)
    current: str | None = None
    started = False
    for target, obj in in_marker_order(objects, ledger_prefix, is_own):
        if target is None:
            yield obj, Verdict.OWN
            continue
        if not started:
            current, started = next(markers, None), True
        while current is not None and current < target:
            current = next(markers, None)
        if current == target:
            yield obj, Verdict.DONE
        elif obj.changed is not None and obj.changed > cutoff:
            yield obj, Verdict.TOO_YOUNG
        else:
            yield obj, Verdict.TO_SHIP


def past_prefix(prefix: str) -> str | None:
    """The first name after every name that starts with `prefix` (where a listing
    resumes to step over it); None when no name sorts after them, or `prefix` is empty."""
    kept = prefix.rstrip(chr(0x10FFFF))
    if not kept:
        return None
    following = ord(kept[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters of a name
        following = 0xE000
    return kept[:-1] + chr(following)


def own_prefix_holding(prefix: str, own_prefixes: Iterable[str]) -> str | None:
    """The own prefix that the sweep prefix lies under (every object there is ours), if
    any."""
    return next((p for p in own_prefixes if p and prefix.startswith(p)), None)


@dataclass
class SweepCounts:
    """How many objects were listed, and how many got each verdict."""

    listed: int = 0
    verdicts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))

    def count(self, verdict: Verdict) -> None:
        self.listed += 1
        self.verdicts[verdict] += 1

    def to_json_dict(self) -> dict[str, int]:
        return {"listed": self.listed} | {str(v): n for v, n in self.verdicts.items()}


@dataclass
class Swept:
    """What a sweep found and what it did: the summary line of a sweep. `summary` sums
    what this invocation shipped itself, and carries the sweep's own failures."""

    request: SweepRequest
    older_than: timedelta
    counts: SweepCounts = field(default_factory=SweepCounts)
    summary: Summary = field(default_factory=Summary)
    shipped_inline: int = 0  # objects shipped by this run
    invocations: int = 0  # detached invocations started, one per group
    fanned_out: int = 0  # objects in them
    failed_invocations: int = 0  # groups not handed over (the next sweep finds them)
    skipped_prefixes: tuple[str, ...] = ()  # own prefixes the listing stepped over
    continued_from: str | None = None  # a detached sweep lists on from this name

    def fail(self, error: str) -> None:
        self.summary.complete = False
        self.summary.errors.append(error)

    def to_json_dict(self) -> dict[str, Any]:
        line = self.summary.to_json_dict()
        errors = line.pop("errors")
        sweep = {
            "prefix": str(self.request),
            "start": self.request.start or None,
            "older_than": duration_text(self.older_than),
            **self.counts.to_json_dict(),
            "skipped_prefixes": list(self.skipped_prefixes),
            "shipped_inline": self.shipped_inline,
            "fanned_out": {
                "invocations": self.invocations,
                "objects": self.fanned_out,
                "failed_invocations": self.failed_invocations,
            },
            "continued_from": self.continued_from,
        }
        return line | {"sweep": sweep, "errors": errors}


class Dispatcher:
    """Hands the objects to ship on, in groups of `group_size` (what one invocation is
    trusted to ship). Without `fan_out` (the operator command, which has no deadline) each
    group is shipped here as it fills. With it (a function), the first group waits: if the
    listing ends with no more than one group, and `finish` is told the time left allows,
    it is shipped here; otherwise every group goes to a detached invocation of its own as
    it fills, so a backlog of any size is shipped in parallel and memory holds one group."""

    def __init__(
        self,
        swept: Swept,
        group_size: int,
        ship: Callable[[list[ObjectRef]], Summary],
        fan_out: Callable[[list[ObjectRef]], None] | None,
    ) -> None:
        self._swept = swept
        self._size = max(1, group_size)
        self._ship = ship
        self._fan_out = fan_out
        self._held: list[ObjectRef] = []
        self._fanning = False
        # Stop: the sink refused our credentials, or the fan-out cannot work (no OCID).
        self.halted = False

    def add(self, obj: ObjectRef) -> None:
        self._held.append(obj)
        if self._fan_out is None:
            if len(self._held) >= self._size:
                self._ship_held()
        elif len(self._held) > self._size or (self._fanning and len(self._held) >= self._size):
            self._fanning = True
            group, self._held = self._held[: self._size], self._held[self._size :]
            self._send(group)

    def finish(self, inline_ok: bool) -> None:
        """Ship or send what is held; `inline_ok`: enough time is left to ship a group."""
        if not self._held or self.halted:
            return
        if self._fan_out is None or (inline_ok and not self._fanning):
            self._ship_held()
        else:
            group, self._held = self._held, []
            self._send(group)

    def _ship_held(self) -> None:
        group, self._held = self._held, []
        summary = self._ship(group)
        self._swept.summary.add(summary)
        self._swept.shipped_inline += len(group)
        self.halted = summary.credentials_rejected

    def _send(self, group: list[ObjectRef]) -> None:
        assert self._fan_out is not None
        try:
            self._fan_out(group)
        except AuditShipError as exc:
            # A configuration problem (no function OCID) fails every group alike.
            self.halted = isinstance(exc, ConfigError)
            self._swept.failed_invocations += 1
            self._swept.fail(
                f"{len(group)} object(s) from {group[0]} on were not handed to a detached "
                f"invocation ({exc}); the next sweep finds them"
            )
            return
        self._swept.invocations += 1
        self._swept.fanned_out += len(group)

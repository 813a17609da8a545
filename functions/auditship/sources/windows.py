"""Time windows for the API sources (pure: no I/O, no clock unless one is passed in).

An API source (the OCI Audit API, Data Safe) is collected in *units*: one region, one
compartment, one window of time. `plan_windows` cuts a stretch of time into windows:

- on a fixed UTC grid (multiples of `window` since the epoch), so a repeated or resumed
  run plans the same windows again and finds their done markers;
- minute-aligned, because ListEvents takes whole minutes only (seconds must be 0): the
  asked start is rounded down and the end up, and records outside the asked range are
  dropped client-side (`Unit.keep_from` / `keep_until`);
- with the last `overlap` of the stretch as a window of its own (the *tail*): the ids of
  its records are remembered, so the next run can start that much earlier, take the
  events that became visible late, and drop the ones already shipped.

`parse_instant` and `parse_duration` read the command line's `--since` / `--until`
(RFC 3339, or a duration back from now such as `36h`, `30d`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
STAMP = "%Y%m%dT%H%MZ"  # window bounds in unit names: fixed width, so names sort by time


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `36h`, `30d`, `2w`, or combinations (`1d12h`); ValueError otherwise."""
    raw = text.strip().lower()
    parts = _DURATION.findall(raw)
    if not raw or "".join(n + u for n, u in parts) != raw.replace(" ", ""):
        raise ValueError(f"{text!r} is not a duration such as 10m, 36h or 30d")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_instant(text: str, now: datetime) -> datetime:
    """An RFC 3339 time (a zone is required: `Z` or an offset), or a duration back from
    `now` (`30d` = 30 days ago). Returned in UTC."""
    raw = text.strip()
    if raw and raw[0].isdigit() and ("T" in raw or "-" in raw):
        try:
            moment = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not an RFC 3339 time (e.g. 2026-06-01T00:00:00Z)"
            ) from None
        if moment.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone: add Z for UTC")
        return moment.astimezone(UTC)
    try:
        return now - parse_duration(raw)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an RFC 3339 time (2026-06-01T00:00:00Z) nor a duration "
            "back from now (36h, 30d)"
        ) from None


def parse_moment(text: object) -> datetime | None:
    """A record's RFC 3339 time (UTC when it names no zone), or None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    floor = floor_minute(moment)
    return floor if floor == moment else floor + MINUTE


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP)


def unstamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    """`2026-12-01T00:00:00.000Z`: the form records and summaries use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime


def plan_windows(
    start: datetime, end: datetime, window: timedelta, overlap: timedelta
) -> list[Span]:
    """`[start, end)` cut into minute-aligned windows on the `window` grid, with the last
    `overlap` as a window of its own (see the module doc), never cut by the grid: its ids
    are what the next run drops, so it must be one window. Empty when `end <= start`."""
    if window < MINUTE or window % MINUTE:
        raise ValueError("a window is a whole number of minutes, at least one")
    if end <= start:
        return []
    first, last = floor_minute(start), ceil_minute(end)
    tail = last - -(-overlap // MINUTE) * MINUTE  # the overlap, in whole minutes
    stop = tail if first < tail < last else last
    cuts = {first, stop, last}
    grid = first + (window - (first - EPOCH) % window) % window
    while grid < stop:
        cuts.add(grid)
        grid += window
    ordered = sorted(cuts)
    return [Span(a, b) for a, b in itertools.pairwise(ordered)]


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of collection: a source's events of one compartment in one region, in one
    window. `keep_from` / `keep_until` drop records outside what was asked when the asked
    range did not fall on whole minutes (None: keep all the API returns)."""

    source: str
    region: str
    compartment: str
    start: datetime
    end: datetime
    keep_from: datetime | None = None
    keep_until: datetime | None = None
    # Set on a window re-asked in the overlap (it drops what the tail ids say was shipped):
    # it must not be taken for the earlier run's window of the same bounds, which is done.
    reask: str = ""

    @property
    def key(self) -> str:
        """What a checkpoint is kept per: the region and the compartment."""
        return f"{self.region}/{self.compartment}"

    @property
    def name(self) -> str:
        """Stable across runs: done markers, progress and dead letters are named by it."""
        return f"{self.source}/{self.key}/{stamp(self.start)}-{stamp(self.end)}"

    @property
    def version(self) -> str:
        """Tells apart units of the same window that keep different records."""
        if self.keep_from is None and self.keep_until is None and not self.reask:
            return "all"
        edges = "|".join(e.isoformat() if e else "" for e in (self.keep_from, self.keep_until))
        return "edge-" + hashlib.sha256(f"{edges}|{self.reask}".encode()).hexdigest()[:12]

    @property
    def covers(self) -> tuple[datetime, datetime]:
        """The stretch of time this unit collects: its window, less what its edges drop."""
        return (self.keep_from or self.start, self.keep_until or self.end)

    def keeps(self, moment: datetime | None) -> bool:
        if moment is None:
            return True
        if self.keep_from is not None and moment < self.keep_from:
            return False
        return self.keep_until is None or moment < self.keep_until

    def __str__(self) -> str:
        window = f"{rfc3339(self.start)} to {rfc3339(self.end)}"
        return f"{self.source} {self.compartment} in {self.region}, {window}"


def units_for(
    source: str,
    region: str,
    compartment: str,
    start: datetime,
    end: datetime,
    window: timedelta,
    overlap: timedelta,
    reask_before: datetime | None = None,
    reask: str = "",
) -> list[Unit]:
    """The units of one region and compartment over `[start, end)`, with the client-side
    edges where `start` or `end` are not whole minutes; units starting before
    `reask_before` (the overlap asked again) are tagged `reask`."""
    spans = plan_windows(start, end, window, overlap)
    units = []
    for span in spans:
        keep_from = start if span.start < start else None
        keep_until = end if span.end > end else None
        tag = reask if reask_before is not None and span.start < reask_before else ""
        units.append(
            Unit(source, region, compartment, span.start, span.end, keep_from, keep_until, tag)
        )
    return units


def subtract(
    ranges: list[tuple[datetime, datetime]], holes: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """What of `ranges` no hole covers, in order (the stretches a run still has to ask
    for, given the windows already done)."""
    pieces = []
    ordered = sorted(holes)
    for first, last in ranges:
        at = first
        for low, high in ordered:
            if high <= at or low >= last:
                continue
            if low > at:
                pieces.append((at, low))
            at = max(at, high)
            if at >= last:
                break
        if at < last:
            pieces.append((at, last))
    return pieces


def parse_unit_name(name: str) -> tuple[str, str, datetime, datetime] | None:
    """(region, compartment, start, end) of a `Unit.name` without the source, or None."""
    try:
        region, compartment, window = name.split("/")
        first, _, last = window.partition("-")
        return region, compartment, unstamp(first), unstamp(last)
    except ValueError:
        return None

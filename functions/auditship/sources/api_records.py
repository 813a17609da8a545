"""The records of one API unit (a region, a compartment, a window), in the API's order,
as the pipeline takes them (`(position, record)` pairs and `Reject`s, through
`sources.records.RecordWindows`).

On the way:
- events an earlier run shipped (their ids are the cursor's tail ids) are dropped and
  counted as `duplicates`; events outside the asked range (the unit's client-side edges)
  are dropped and counted as `outside`;
- an item that is not a JSON object is a reject (a dead letter with its reason);
- the ids of a short unit's events are kept (`ids`), for the cursor's tail.

Resuming a unit: a progress marker says "the first N records were handled". An object's
bytes are fixed by its ETag, but nothing documents that an API answers a past window in
the same order twice. So the marker also holds a fingerprint of *which* events the first
N were (`ResumeGuard`: an order-independent hash of their ids). A resumed run checks it
when it reaches record N; if the API's first N are other events, skipping them would lose
some, so the run stops (`order_changed`) and the collector starts the unit over: a few
events are sent twice, none is lost.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from auditship.deadline import Deadline
from auditship.errors import SourceError
from auditship.model import Reject, RejectKind, compact_json
from auditship.sources.windows import Unit
from auditship.state.cursors import MAX_TAIL_IDS
from auditship.state.ledger import Progress
from auditship.transforms.repair import Parsed

_MOD = 1 << 64


class ApiSource(Protocol):
    """What the collector needs of an API source."""

    name: str

    def pages(self, unit: Unit, deadline: Deadline, margin: float) -> Iterator[list[Any]]:
        """Every page of the unit's window, in order."""
        ...

    def identify(self, raw: dict[str, Any]) -> tuple[str | None, datetime | None]:
        """The record's id and the time the unit's edges are tested against."""
        ...

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The record as it is shipped."""
        ...


class ResumeMismatchError(SourceError):
    """The API's first N records are not the N an earlier run handled."""


def _hash(ident: str) -> int:
    return int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=8).digest(), "big")


class ResumeGuard:
    """The fingerprint of the records before each position (see the module doc)."""

    def __init__(self, earlier: Progress) -> None:
        self._expect_at = earlier.handled_through
        self._expect = earlier.fingerprint
        self._sum = 0
        self._seen = 0
        self._marks: deque[tuple[int, int]] = deque()  # (positions seen, their hash sum)
        self.order_changed = False

    @staticmethod
    def _text(count: int, total: int) -> str:
        return f"{count}:{total:016x}"

    def see(self, ident: str) -> None:
        """The record at the next position has this identity (its id, or its JSON)."""
        if self._seen == self._expect_at:
            self.verify()
        self._sum = (self._sum + _hash(ident)) % _MOD
        self._seen += 1
        self._marks.append((self._seen, self._sum))

    def verify(self) -> None:
        """At the earlier run's checkpoint (or the end): the same records before it?"""
        if self._expect_at == 0 or self._seen > self._expect_at:
            return
        if self._seen < self._expect_at or self._text(self._seen, self._sum) != self._expect:
            self.order_changed = True
            raise ResumeMismatchError(
                "the API answered this window with other records than the run that saved "
                "its progress: starting the window over (some records are sent again)"
            )

    def stamp(self, progress: Progress) -> Progress:
        """`progress` with the fingerprint of its first `handled_through` records. Dead-
        letter positions past it are dropped: a different order could put other records
        there (a resume may write such a dead letter twice, never lose a record)."""
        if self.order_changed:
            return Progress()
        count = progress.handled_through
        while self._marks and self._marks[0][0] < count:
            self._marks.popleft()
        if count == 0:
            return Progress()
        if count == self._expect_at:  # not past the earlier run's records: those, as it said
            fingerprint = self._expect
        elif self._marks and self._marks[0][0] == count:
            fingerprint = self._text(count, self._marks[0][1])
        else:  # not reached: the pipeline checkpoints only what the source yielded
            return Progress()
        return replace(progress, dead_lettered=frozenset(), fingerprint=fingerprint)


class UnitRecords:
    """Iterable of the unit's `Parsed` records and `Reject`s (see the module doc)."""

    def __init__(
        self,
        source: ApiSource,
        unit: Unit,
        *,
        shipped: frozenset[str],
        guard: ResumeGuard,
        keep_ids: bool,
        deadline: Deadline,
        margin: float,
    ) -> None:
        self._source = source
        self._unit = unit
        self._shipped = shipped
        self._deadline = deadline
        self._margin = margin
        self.guard = guard
        self.ids: set[str] | None = set() if keep_ids else None
        self.duplicates = 0
        self.outside = 0
        self.pages = 0

    def __iter__(self) -> Iterator[Parsed | Reject]:
        source, unit, guard = self._source, self._unit, self.guard
        offset = 0
        for page in source.pages(unit, self._deadline, self._margin):
            self.pages += 1
            for raw in page:
                offset += 1
                if not isinstance(raw, dict):
                    text = compact_json(raw)
                    guard.see(text.decode("utf-8", "replace"))
                    reason = f"{unit}: item {offset} is not a JSON object"
                    yield Reject(unit.name, offset, reason, text, kind=RejectKind.NOT_JSON)
                    continue
                ident, moment = source.identify(raw)
                if not unit.keeps(moment):
                    self.outside += 1
                    continue
                if ident is not None:
                    self._keep(ident)
                    if ident in self._shipped:
                        self.duplicates += 1
                        continue
                guard.see(ident if ident is not None else compact_json(raw).decode())
                yield offset, source.record(raw)
        guard.verify()

    def _keep(self, ident: str) -> None:
        if self.ids is None:
            return
        self.ids.add(ident)
        if len(self.ids) > MAX_TAIL_IDS:
            self.ids = None  # too many to keep: the next run starts at the window's end

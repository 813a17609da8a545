"""Checkpoints of the API sources: how far each region and compartment was collected.

A *cursor* says: every event the API returned for this key before `through` was delivered
or dead-lettered. When the last window before `through` was short enough (at most the
overlap), the ids of its records are kept too (`tail_ids`, from `tail_from`): the next run
starts at `tail_from` instead of `through`, so an event that became visible in the API
only after the previous run asked is still collected, and the ones already shipped are
dropped by id. Without tail ids a run starts at `through` (nothing is sent twice).

Cursors move only over windows that are done (`advance`, pure): windows run in parallel
and finish in any order, and a run that stopped halfway leaves done windows past a gap;
the next run skips those by their done markers and the cursor walks over them then.

All cursors of one source live in one small JSON document (`CursorBook`), read at the
start of a run and written at its end (and after each wave of windows), under a lease so
two runs do not overwrite each other's progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import orjson

MAX_TAIL_IDS = 20_000  # ids kept per key; a busier tail is not overlapped next time
BOOK_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    through: datetime
    origin: datetime  # from here to `through`, everything was collected
    tail_from: datetime | None = None
    tail_ids: frozenset[str] = frozenset()

    @property
    def resume_at(self) -> datetime:
        """Where the next run of this key starts."""
        return self.tail_from if self.tail_from is not None else self.through


@dataclass(frozen=True, slots=True)
class DoneSpan:
    """A window whose records were all delivered or dead-lettered; `ids` are its records'
    ids when they were kept (short windows), else None."""

    start: datetime
    end: datetime
    ids: frozenset[str] | None = None


def _walk(start: datetime, done: Iterable[DoneSpan]) -> tuple[datetime, DoneSpan | None]:
    """How far done windows reach from `start` without a gap, and the last of them."""
    through, last = start, None
    spans = sorted(done, key=lambda s: (s.start, s.end))
    moved = True
    while moved:
        moved = False
        for span in spans:
            if span.start <= through < span.end:
                through, last, moved = span.end, span, True
    return through, last


def advance(start: datetime, cursor: Cursor | None, done: Iterable[DoneSpan]) -> Cursor | None:
    """The cursor after a run that began at `start`: from the cursor (or from `start`,
    for a key without one), over every done window that continues it without a gap.
    A run that began after the cursor left a gap: the cursor stays (the next catch-up
    fills the gap). None when nothing can be said yet."""
    if cursor is not None and start > cursor.through:
        return cursor
    origin = cursor.origin if cursor is not None else start
    through, last = _walk(cursor.through if cursor is not None else start, done)
    if last is None:
        return cursor
    if last.ids is None:
        return Cursor(through, origin)
    return Cursor(through, origin, last.start, last.ids)


def backfilled(cursor: Cursor, since: datetime, done: Iterable[DoneSpan]) -> Cursor:
    """After a run that also collected `[since, cursor.origin)`: the cursor's origin moves
    back to `since` when those windows are all done."""
    if since >= cursor.origin:
        return cursor
    reached, _ = _walk(since, done)
    return replace(cursor, origin=since) if reached >= cursor.origin else cursor


def exact(moment: datetime) -> str:
    """To the microsecond: a cursor at an asked `--until` must read back exactly."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class CursorBook:
    """The cursors of one source, by key (`region/compartment`)."""

    cursors: dict[str, Cursor] = field(default_factory=dict)

    def floor(self, keys: Iterable[str]) -> Cursor | None:
        """For a key seen for the first time (a new compartment or region) in a scope whose
        other keys have cursors: the earliest of them, so the new key is collected from
        where the others were, without overlap. None when none of `keys` has a cursor."""
        known = [self.cursors[k] for k in keys if k in self.cursors]
        if not known:
            return None
        through = min(c.through for c in known)
        return Cursor(through, through)

    def to_json(self) -> bytes:
        keys = {}
        for key, cursor in sorted(self.cursors.items()):
            entry: dict[str, object] = {
                "through": exact(cursor.through),
                "origin": exact(cursor.origin),
            }
            if cursor.tail_from is not None:
                entry["tail_from"] = exact(cursor.tail_from)
                entry["tail_ids"] = sorted(cursor.tail_ids)
            keys[key] = entry
        return orjson.dumps({"version": BOOK_VERSION, "cursors": keys})

    @classmethod
    def from_json(cls, raw: bytes | None) -> CursorBook:
        """An unreadable book is an error, not an empty one: starting over would send
        months again."""
        if raw is None:
            return cls()
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("version") != BOOK_VERSION:
            raise ValueError("not a cursor book of this release")
        book = cls()
        cursors = doc.get("cursors")
        if not isinstance(cursors, dict):
            raise ValueError("its cursors are not an object")
        for key, entry in cursors.items():
            if not isinstance(entry, dict):
                raise ValueError(f"the cursor of {key} is not an object")
            through, origin = _instant(entry["through"]), _instant(entry["origin"])
            tail_from = entry.get("tail_from")
            if tail_from is None:
                book.cursors[key] = Cursor(through, origin)
            else:
                ids = frozenset(str(i) for i in entry.get("tail_ids", ()))
                book.cursors[key] = Cursor(through, origin, _instant(tail_from), ids)
        return book


def _instant(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a time")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment

"""Cursors alone (`state.cursors`): how far a key was collected, moved only over done
windows. Pure: no I/O, no clock. Property-based over plans of windows done in any order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from auditship.sources.windows import units_for
from auditship.state.cursors import BOOK_VERSION, Cursor, CursorBook, DoneSpan, advance, backfilled
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)

id_sets = st.frozensets(st.sampled_from("abcdefgh"), max_size=4)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[DoneSpan], list[bool]]:
    """Contiguous windows from T0 (each with the ids it kept, or None), and which of them
    are done."""
    lengths = draw(st.lists(st.integers(1, 120), min_size=1, max_size=8))
    spans, at = [], T0
    for minutes in lengths:
        ids = draw(st.one_of(st.none(), id_sets))
        spans.append(DoneSpan(at, at + minutes * MINUTE, ids))
        at += minutes * MINUTE
    done = draw(st.lists(st.booleans(), min_size=len(spans), max_size=len(spans)))
    return spans, done


def moment_in(draw: st.DrawFn, spans: list[DoneSpan]) -> datetime:
    """A moment from the first window's start to the last one's end: often a window's
    start, sometimes inside one (another run's grid, or a `since` with seconds)."""
    end = spans[-1].end
    bounds = [s.start for s in spans] + [end]
    inside = st.integers(0, (end - T0) // SECOND).map(lambda s: T0 + s * SECOND)
    return draw(st.one_of(st.sampled_from(bounds), inside))


def finished(draw: st.DrawFn, spans: list[DoneSpan], done: list[bool]) -> list[DoneSpan]:
    """The done windows, in the order they happened to finish."""
    return list(draw(st.permutations([s for s, d in zip(spans, done, strict=True) if d])))


def expected_walk(spans: list[DoneSpan], done: list[bool], start: datetime) -> DoneSpan | None:
    """The last window of the done run of windows from the one holding `start`."""
    last = None
    for span, is_done in zip(spans, done, strict=True):
        if span.end <= start:
            continue
        if not is_done:
            break
        last = span
    return last


@given(plans(), st.data())
def test_a_new_key_moves_to_the_end_of_the_done_windows_from_the_runs_start(
    plan: tuple[list[DoneSpan], list[bool]], data: st.DataObject
) -> None:
    spans, done = plan
    start = moment_in(data.draw, spans)  # a window's start, or a `since` inside one
    moved = advance(start, None, finished(data.draw, spans, done))
    last = expected_walk(spans, done, start)
    if last is None:  # the first window is not done: nothing to say yet
        assert moved is None
        return
    assert moved is not None
    assert moved.through == last.end
    assert moved.origin == start
    if last.ids is None:
        assert moved.tail_from is None
        assert moved.tail_ids == frozenset()
        assert moved.resume_at == moved.through
    else:
        assert moved.tail_from == last.start
        assert moved.tail_ids == last.ids
        assert moved.resume_at == last.start


@given(plans(), st.data())
def test_a_cursor_moves_over_the_done_windows_that_continue_it_and_no_further(
    plan: tuple[list[DoneSpan], list[bool]], data: st.DataObject
) -> None:
    spans, done = plan
    # GIVEN a cursor somewhere in the plan (with or without a tail of its own) ...
    through = moment_in(data.draw, spans)
    origin = through - data.draw(st.integers(0, 10_000)) * MINUTE
    tail = data.draw(st.one_of(st.none(), st.tuples(st.just(through - 10 * MINUTE), id_sets)))
    cursor = Cursor(through, origin, *(tail or (None, frozenset())))
    # ... and a run that started at or before it (at its tail, or further back)
    start = data.draw(st.sampled_from([through, cursor.resume_at, spans[0].start]))
    moved = advance(start, cursor, finished(data.draw, spans, done))
    last = expected_walk(spans, done, through)
    if last is None:  # the window holding the cursor is not done
        assert moved == cursor
        return
    assert moved is not None
    # THEN it reaches the end of the done run of windows from it, never past a missing one
    assert moved.through == last.end
    assert moved.origin == origin
    missing = [s for s, d in zip(spans, done, strict=True) if not d]
    assert all(not (m.start < moved.through and m.end > through) for m in missing)
    if last.ids is None:
        assert (moved.tail_from, moved.tail_ids, moved.resume_at) == (None, frozenset(), last.end)
    else:
        assert (moved.tail_from, moved.tail_ids, moved.resume_at) == (
            last.start,
            last.ids,
            last.start,
        )


@given(plans(), st.data())
def test_a_run_that_started_after_the_cursor_leaves_it_where_it_was(
    plan: tuple[list[DoneSpan], list[bool]], data: st.DataObject
) -> None:
    spans = plan[0]
    start = moment_in(data.draw, spans)
    back = data.draw(st.integers(1, 10_000)) * timedelta(seconds=1)
    cursor = Cursor(start - back, start - 2 * back, start - back - MINUTE, frozenset({"x"}))
    # Even with every window done: the stretch between the cursor and the run is a gap.
    assert advance(start, cursor, spans) == cursor


def test_windows_done_out_of_order_are_walked_over_once_the_gap_is_done() -> None:
    spans = [DoneSpan(T0 + i * 60 * MINUTE, T0 + (i + 1) * 60 * MINUTE) for i in range(4)]
    tail = DoneSpan(spans[-1].end, spans[-1].end + 10 * MINUTE, frozenset({"a", "b"}))
    cursor = Cursor(T0, T0 - timedelta(days=1))
    # The first run finished windows 0, 2, 3 and the tail; window 1 failed.
    first = advance(T0, cursor, [tail, spans[3], spans[0], spans[2]])
    assert first == Cursor(spans[0].end, cursor.origin)
    # The next run (from the cursor) finds the others done and collects window 1.
    second = advance(first.resume_at, first, [spans[2], tail, spans[1], spans[3]])
    assert second == Cursor(tail.end, cursor.origin, tail.start, frozenset({"a", "b"}))
    assert second.resume_at == tail.start


@given(plans(), st.data())
def test_the_origin_moves_back_only_when_the_backfill_is_all_done(
    plan: tuple[list[DoneSpan], list[bool]], data: st.DataObject
) -> None:
    spans, done = plan
    origin = moment_in(data.draw, spans)
    since = moment_in(data.draw, spans)
    cursor = Cursor(origin + 60 * MINUTE, origin, origin + 50 * MINUTE, frozenset({"t"}))
    moved = backfilled(cursor, since, finished(data.draw, spans, done))
    covered = all(d for s, d in zip(spans, done, strict=True) if s.end > since and s.start < origin)
    if since < origin and covered:
        assert moved == Cursor(cursor.through, since, cursor.tail_from, cursor.tail_ids)
    else:
        assert moved == cursor


def test_a_backfill_with_a_missing_window_keeps_the_origin() -> None:
    spans = [DoneSpan(T0 + i * 60 * MINUTE, T0 + (i + 1) * 60 * MINUTE) for i in range(3)]
    cursor = Cursor(T0 + timedelta(days=2), spans[-1].end)
    assert backfilled(cursor, T0, [spans[0], spans[2]]) == cursor
    assert backfilled(cursor, T0, [spans[2], spans[0], spans[1]]).origin == T0
    # A `since` inside the first window: covered by it.
    assert backfilled(cursor, T0 + 30 * MINUTE, spans).origin == T0 + 30 * MINUTE
    # A `since` at or after the origin changes nothing.
    assert backfilled(cursor, cursor.origin, []) == cursor


def test_a_cursor_does_not_pass_what_the_last_unit_dropped_at_until() -> None:
    # GIVEN a backfill of a new key to an --until off the minute, with no overlap kept
    # (COLLECT_OVERLAP=0m; or a tail busier than MAX_TAIL_IDS, whose ids are not kept)
    since, until = T0, T0 + timedelta(hours=1, minutes=10, seconds=30)
    units = units_for("audit", "r", "c", since, until, timedelta(hours=1), timedelta(0))
    assert units[-1].keep_until == until  # events of [01:10:30, 01:11) are dropped
    # WHEN every unit is done, recorded as the collector records it (what it covers)
    done = [DoneSpan(*unit.covers, None) for unit in units]
    moved = advance(since, Cursor(since, since), done)
    # THEN the next catch-up asks again from `until` at the latest
    assert moved is not None
    assert moved.resume_at <= until


# -- the book ---------------------------------------------------------------------------------

# Times as the book keeps them: milliseconds, UTC.
MS = timedelta(milliseconds=1)
ms_moments = st.integers(0, 90 * 366 * 86_400_000).map(
    lambda ms: datetime(2001, 1, 1, tzinfo=UTC) + ms * MS
)


@st.composite
def cursors(draw: st.DrawFn) -> Cursor:
    through, origin = draw(ms_moments), draw(ms_moments)
    if draw(st.booleans()):
        return Cursor(through, origin)
    ids = draw(st.frozensets(st.text(max_size=12), max_size=6))
    return Cursor(through, origin, draw(ms_moments), ids)


keys = st.sampled_from(["us-ashburn-1", "eu-frankfurt-1", "ap-tokyo-1"]).flatmap(
    lambda region: st.sampled_from([f"{region}/ocid1.compartment.oc1..{c}" for c in "abcdefg"])
)


@given(st.dictionaries(keys, cursors(), max_size=6))
def test_a_book_reads_back_what_was_written(book_cursors: dict[str, Cursor]) -> None:
    book = CursorBook(dict(book_cursors))
    raw = book.to_json()
    again = CursorBook.from_json(raw)
    assert again.cursors == book_cursors
    for key, cursor in again.cursors.items():
        assert cursor.origin == book_cursors[key].origin
        assert cursor.tail_ids == book_cursors[key].tail_ids
        assert cursor.through.utcoffset() == timedelta(0)
    assert again.to_json() == raw  # written the same way: sorted keys and ids


def test_no_book_is_an_empty_book() -> None:
    assert CursorBook.from_json(None).cursors == {}


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"\x00\xff", b'{"version": 1, "cursors": {}', b"{'version': 1}"]
)
def test_a_book_that_is_not_json_is_an_error_not_an_empty_book(raw: bytes) -> None:
    # orjson's decode error is a ValueError
    with pytest.raises(orjson.JSONDecodeError):
        CursorBook.from_json(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'"cursors"',
        b"null",
        b"{}",
        b'{"cursors": {}}',
        b'{"version": 2, "cursors": {}}',
        b'{"version": "1", "cursors": {}}',
        b'{"version": 0, "cursors": {}}',
    ],
)
def test_a_book_of_another_release_or_no_book_at_all_is_an_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a cursor book of this release"):
        CursorBook.from_json(raw)


# What the collector turns into "the cursors ... are not readable" (collector.py, where the
# book is read): ValueError, KeyError and TypeError.
READABLE_ERRORS = (ValueError, KeyError, TypeError)


def entry(**fields: object) -> bytes:
    return orjson.dumps({"version": BOOK_VERSION, "cursors": {"r/c": fields}})


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps({"version": BOOK_VERSION}),
        orjson.dumps({"version": BOOK_VERSION, "cursors": {"r/c": 5}}),
        entry(origin="2026-01-01T00:00:00.000Z"),
        entry(through="yesterday", origin="2026-01-01T00:00:00.000Z"),
        entry(through=5, origin="2026-01-01T00:00:00.000Z"),
        entry(
            through="2026-01-01T00:00:00.000Z",
            origin="2026-01-01T00:00:00.000Z",
            tail_from="soon",
        ),
    ],
)
def test_a_damaged_book_of_this_release_is_an_error(raw: bytes) -> None:
    with pytest.raises(READABLE_ERRORS):
        CursorBook.from_json(raw)


@pytest.mark.parametrize("cursors_value", [[], None, "r/c"])
def test_a_book_whose_cursors_are_not_an_object_is_an_error_the_collector_reports(
    cursors_value: object,
) -> None:
    raw = orjson.dumps({"version": BOOK_VERSION, "cursors": cursors_value})
    with pytest.raises(READABLE_ERRORS):
        CursorBook.from_json(raw)


def test_a_book_with_times_without_a_zone_is_an_error() -> None:
    raw = entry(through="2026-01-01T00:00:00", origin="2026-01-01T00:00:00")
    with pytest.raises(READABLE_ERRORS):
        CursorBook.from_json(raw)


def test_a_new_key_starts_where_the_least_advanced_known_key_is() -> None:
    a = Cursor(T0 + 60 * MINUTE, T0, T0 + 50 * MINUTE, frozenset({"x"}))
    b = Cursor(T0 + 30 * MINUTE, T0 - timedelta(days=3))
    book = CursorBook({"r/a": a, "r/b": b, "other/z": Cursor(T0, T0)})
    # Only the keys of the scope count, and the new key has no tail and no past.
    assert book.floor(["r/a", "r/b", "r/new"]) == Cursor(b.through, b.through)
    assert book.floor(["r/a", "r/new"]) == Cursor(a.through, a.through)
    assert book.floor(["r/new", "x/y"]) is None
    assert book.floor([]) is None


@given(st.dictionaries(keys, ms_moments.map(lambda t: Cursor(t, t)), min_size=1), st.data())
def test_the_floor_is_the_earliest_cursor_of_the_scope(
    book_cursors: dict[str, Cursor], data: st.DataObject
) -> None:
    scope = data.draw(st.lists(st.sampled_from(sorted(book_cursors)), min_size=1, unique=True))
    floor = CursorBook(book_cursors).floor([*scope, "new/key"])
    assert floor is not None
    earliest = min(book_cursors[k].through for k in scope)
    assert floor == Cursor(earliest, earliest)
    assert floor.resume_at == earliest

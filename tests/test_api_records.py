"""The records of one API unit (`sources.api_records`): what is yielded, dropped and kept,
and the resume fingerprint. The API's answer is a small in-memory source (pages given by
the test), standing in for the Audit API's pages; nothing of ours is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from auditship.deadline import Deadline
from auditship.model import Reject, RejectKind, compact_json
from auditship.sources import api_records
from auditship.sources.api_records import ResumeGuard, ResumeMismatchError, UnitRecords
from auditship.sources.windows import Unit
from auditship.state.ledger import Progress
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
# The asked range: [10:00:15, 10:00:45) of the window [10:00, 10:01).
EDGED = Unit("test", "r1", "c1", T0, T0 + 60 * SECOND, T0 + 15 * SECOND, T0 + 45 * SECOND)
WHOLE = Unit("test", "r1", "c1", T0, T0 + 60 * SECOND)


class PagedSource:
    """An API source whose answer is the given pages: events are `{"id", "at"}` objects
    (`at`: seconds after T0), as an API page's JSON holds them."""

    name = "test"

    def __init__(self, pages: list[list[Any]]) -> None:
        self._pages = pages
        self.asked: list[Unit] = []

    def pages(self, unit: Unit, deadline: Deadline, margin: float) -> Iterator[list[Any]]:
        self.asked.append(unit)
        return iter([list(page) for page in self._pages])

    def identify(self, raw: dict[str, Any]) -> tuple[str | None, datetime | None]:
        ident, at = raw.get("id"), raw.get("at")
        moment = T0 + at * SECOND if isinstance(at, int | float) else None
        return (ident if isinstance(ident, str) else None), moment

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {"shipped": raw}


def records_of(
    pages: list[list[Any]],
    unit: Unit = WHOLE,
    *,
    shipped: frozenset[str] = frozenset(),
    keep_ids: bool = True,
    earlier: Progress | None = None,
) -> UnitRecords:
    return UnitRecords(
        PagedSource(pages), unit, shipped=shipped, guard=ResumeGuard(earlier or Progress()),
        keep_ids=keep_ids, deadline=Deadline.unlimited(), margin=0.0,
    )  # fmt: skip


def event(ident: str | None, at: float = 30) -> dict[str, Any]:
    return {"id": ident, "at": at} if ident is not None else {"at": at}


# -- UnitRecords --------------------------------------------------------------------------------


def test_kept_events_rejects_duplicates_and_events_outside_the_edges() -> None:
    pages: list[list[Any]] = [
        [event("a"), "not an object", event("b", 15)],
        [],
        [
            event("early", 14.999),  # before keep_from
            event("dup"),  # shipped by an earlier run
            [1, 2],
            event("late", 45),  # keep_until is not kept
            event(None),  # no id: kept, not remembered
            {"id": "c"},  # no time: kept
        ],
    ]
    records = records_of(pages, EDGED, shipped=frozenset({"dup", "never-seen"}))
    got = list(records)
    # THEN events are yielded with their position in the API's answer, as shipped
    assert got == [
        (1, {"shipped": event("a")}),
        Reject(EDGED.name, 2, f"{EDGED}: item 2 is not a JSON object", b'"not an object"'),
        (3, {"shipped": event("b", 15)}),
        Reject(EDGED.name, 6, f"{EDGED}: item 6 is not a JSON object", b"[1,2]"),
        (8, {"shipped": event(None)}),
        (9, {"shipped": {"id": "c"}}),
    ]
    assert all(r.kind is RejectKind.NOT_JSON for r in got if isinstance(r, Reject))
    assert (records.duplicates, records.outside, records.pages) == (1, 2, 3)
    # AND the ids kept for the cursor's tail are the kept events' and the duplicates'
    assert records.ids == {"a", "b", "dup", "c"}


def test_ids_are_not_kept_for_a_long_window() -> None:
    records = records_of([[event("a"), event("b")]], keep_ids=False)
    assert [r[0] for r in records if not isinstance(r, Reject)] == [1, 2]
    assert records.ids is None


def test_a_window_with_more_ids_than_a_tail_keeps_keeps_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api_records, "MAX_TAIL_IDS", 3)
    # Repeats and duplicates count once each; events outside the edges not at all.
    three = [event("a"), event("a"), event("b"), event("x", 50), event("c")]
    records = records_of([three], EDGED, shipped=frozenset({"b"}))
    assert len(list(records)) == 3
    assert records.ids == {"a", "b", "c"}
    # One more: the set is dropped (the next run starts at the window's end) ...
    records = records_of([[*three, event("d"), event("e")]], EDGED, shipped=frozenset({"b"}))
    assert len(list(records)) == 5  # ... and every event is still yielded
    assert records.ids is None
    # A duplicate counts too.
    records = records_of([[*three, event("d")]], EDGED, shipped=frozenset({"b", "d"}))
    list(records)
    assert records.ids is None
    assert records.duplicates == 2


# An item of a page: an event (id from a small pool, so some repeat; time around the
# edges, or none), or something that is not a JSON object.
items = st.one_of(
    st.builds(
        lambda i, at: {"id": i, "at": at} if i is not None else {"at": at},
        st.one_of(st.none(), st.sampled_from("abcdefghij")),
        st.one_of(st.none(), st.integers(0, 59)),
    ),
    st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
)


@given(
    st.lists(st.lists(items, max_size=8), max_size=5),
    st.frozensets(st.sampled_from("abcdefghij")),
    st.sampled_from([EDGED, WHOLE]),
    st.booleans(),
)
def test_every_item_is_yielded_rejected_or_counted_as_dropped(
    pages: list[list[Any]], shipped: frozenset[str], unit: Unit, keep_ids: bool
) -> None:
    records = records_of(pages, unit, shipped=shipped, keep_ids=keep_ids)
    got = list(records)
    flat = [item for page in pages for item in page]
    # Model of the module doc: every position, in the API's order
    expected: list[Any] = []
    outside = duplicates = 0
    ids: set[str] = set()
    for position, item in enumerate(flat, start=1):
        if not isinstance(item, dict):
            expected.append(("reject", position, compact_json(item)))
            continue
        at = item.get("at")
        if at is not None and not (unit.keeps(T0 + at * SECOND)):
            outside += 1
            continue
        if "id" in item:
            ids.add(item["id"])
            if item["id"] in shipped:
                duplicates += 1
                continue
        expected.append((position, {"shipped": item}))
    actual = [("reject", r.offset, r.raw) if isinstance(r, Reject) else r for r in got]
    assert actual == expected
    assert (records.outside, records.duplicates, records.pages) == (outside, duplicates, len(pages))
    assert records.ids == (ids if keep_ids else None)


# -- ResumeGuard ----------------------------------------------------------------------------

idents = st.lists(st.text(max_size=6), min_size=1, max_size=30)


def first_pass(ids: list[str], checkpoint: int) -> Progress:
    """A run that saw `ids` and saved its progress at `checkpoint` (with dead letters past
    it, as the accounting lists them)."""
    guard = ResumeGuard(Progress())
    for ident in ids:
        guard.see(ident)
    guard.verify()
    letters = frozenset({checkpoint, checkpoint + 2})
    return guard.stamp(Progress(checkpoint, letters))


@given(idents, st.data())
def test_a_resume_that_sees_the_same_first_records_in_any_order_goes_on(
    ids: list[str], data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, len(ids)))
    saved = first_pass(ids, n)
    # THEN the progress holds a fingerprint, and no dead-letter positions
    assert saved.handled_through == n
    assert saved.fingerprint
    assert saved.dead_lettered == frozenset()
    # WHEN a resumed run sees the same first N in another order, then anything
    again = ResumeGuard(saved)
    assert again.stamp(Progress(n)) == saved  # nothing seen yet: the earlier fingerprint
    for ident in data.draw(st.permutations(ids[:n])):
        again.see(ident)
    again.verify()
    for ident in data.draw(st.lists(st.text(max_size=6), max_size=5)):
        again.see(ident)
    again.verify()
    assert not again.order_changed
    # AND its own progress at N says the same
    assert again.stamp(Progress(n)).fingerprint == saved.fingerprint


@given(idents, st.data())
def test_a_resume_that_sees_other_first_records_stops_and_starts_over(
    ids: list[str], data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, len(ids)))
    saved = first_pass(ids, n)
    # GIVEN the same first N but one, in any order, and then the rest
    changed = list(data.draw(st.permutations(ids[:n])))
    i = data.draw(st.integers(0, n - 1))
    changed[i] = data.draw(st.text(max_size=6).filter(lambda t: t != changed[i]))
    again = ResumeGuard(saved)
    with pytest.raises(ResumeMismatchError):
        for ident in changed + ids[n:]:
            again.see(ident)
        again.verify()
    # THEN the unit is started over: no progress is saved for it
    assert again.order_changed
    assert again.stamp(Progress(n)) == Progress()
    assert again.stamp(Progress(n + 1, frozenset({n + 3}))) == Progress()


@given(idents, st.data())
def test_a_resume_that_sees_fewer_records_than_were_handled_fails_at_the_end(
    ids: list[str], data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, len(ids)))
    saved = first_pass(ids, n)
    fewer = data.draw(st.integers(0, n - 1))
    again = ResumeGuard(saved)
    for ident in ids[:fewer]:
        again.see(ident)
    with pytest.raises(ResumeMismatchError):
        again.verify()
    assert again.order_changed
    assert again.stamp(Progress(fewer)) == Progress()


@given(idents, st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_each_checkpoint_gets_the_fingerprint_of_its_own_first_records(
    ids: list[str], checkpoints: list[int]
) -> None:
    guard = ResumeGuard(Progress())
    for ident in ids:
        guard.see(ident)
    for count in sorted(checkpoints):
        stamped = guard.stamp(Progress(count, frozenset({count + 1})))
        if count == 0 or count > len(ids):  # nothing to resume from, or not reached
            assert stamped == Progress()
            continue
        assert stamped == Progress(count, frozenset(), stamped.fingerprint)
        # The fingerprint is the one a run that saw only those records would save.
        assert first_pass(ids[:count], count).fingerprint == stamped.fingerprint


def test_a_guard_without_earlier_progress_never_stops() -> None:
    guard = ResumeGuard(Progress())
    guard.verify()
    for ident in ["a", "b", "a"]:
        guard.see(ident)
    guard.verify()
    assert not guard.order_changed


def test_progress_without_a_fingerprint_is_not_trusted_past_its_checkpoint() -> None:
    # e.g. a marker whose fingerprint could not be read: the unit is started over.
    guard = ResumeGuard(Progress(2))
    guard.see("a")
    guard.see("b")
    with pytest.raises(ResumeMismatchError):
        guard.see("c")
    assert guard.order_changed


def test_a_resumed_unit_whose_api_answer_changed_raises_while_iterating() -> None:
    page = [event("a"), "junk", event("b"), event("c")]
    first = records_of([page])
    assert len(list(first)) == 4
    saved = first.guard.stamp(Progress(3))
    # The same three first items in another order (across pages): the resume goes on.
    same = records_of([[event("b")], [event("a"), "junk", event("c")]], earlier=saved)
    assert len(list(same)) == 4
    assert not same.guard.order_changed
    # Another event among the first three: the unit is started over.
    other = records_of([[event("b"), event("x"), "junk", event("c")]], earlier=saved)
    with pytest.raises(ResumeMismatchError):
        list(other)
    assert other.guard.order_changed
    assert other.guard.stamp(Progress(3)) == Progress()
    # An answer now shorter than what was handled: found at the end.
    short = records_of([[event("a"), "junk"]], earlier=saved)
    with pytest.raises(ResumeMismatchError):
        list(short)

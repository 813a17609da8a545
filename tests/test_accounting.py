"""Accounting alone, with an in-memory dead-letter store: counts, checkpoints and the
dead-letter positions a progress marker lists. No HTTP, no threads."""

from __future__ import annotations

import pytest
from auditship.delivery.deadletter import DeadLetterWriter
from auditship.errors import SourceError
from auditship.model import ObjectRef, Reject, RejectKind, Summary
from auditship.state.accounting import Accounting
from auditship.state.ledger import Progress
from hypothesis import given
from hypothesis import strategies as st

OBJ = ObjectRef("audit/object.log.gz", "ns", "bucket", "etag")


class MemoryStore:
    """A dead-letter store in memory that can be told to fail its next writes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.fail_next = 0

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise SourceError(f"{obj}: writing dead letter {key} failed with HTTP 503")
        self.parts.append(body)
        return key


def accounting(earlier: Progress | None = None, part_bytes: int = 1 << 20) -> tuple[
    Accounting, MemoryStore
]:  # fmt: skip
    store = MemoryStore()
    writer = DeadLetterWriter(store, OBJ, part_bytes=part_bytes)
    return Accounting(Summary(objects=1), earlier or Progress(), writer), store


def junk(offset: int) -> Reject:
    return Reject(OBJ.name, offset, "not JSON", b"{oops", kind=RejectKind.NOT_JSON)


def test_a_delivered_run_checkpoints_past_everything() -> None:
    acc, _ = accounting()
    first = acc.take_records(3)
    acc.sent(100)
    assert acc.checkpoint().handled_through == 0  # in flight
    assert acc.settle() == first
    acc.delivered(3)
    assert acc.checkpoint() == Progress(3, frozenset())
    assert (acc.summary.records, acc.summary.shipped) == (3, 3)


def test_the_open_batch_and_an_undelivered_batch_hold_the_checkpoint() -> None:
    acc, _ = accounting()
    acc.take_records(2)
    acc.sent(10)
    acc.take_records(2)  # open, not sent
    assert acc.checkpoint().handled_through == 0
    acc.delivered(2)
    acc.settle()
    assert acc.checkpoint().handled_through == 2
    acc.sent(10)
    acc.undelivered(acc.settle())
    acc.take_records(1)
    assert acc.checkpoint().handled_through == 2


def test_what_an_earlier_run_handled_is_skipped() -> None:
    acc, _ = accounting(Progress(2, frozenset({3})))
    assert not acc.all_new
    got = [acc.take() for _ in range(5)]
    assert got == [None, None, 2, None, 4]
    assert acc.summary.skipped == 3
    assert acc.checkpoint().handled_through == 5
    assert acc.checkpoint().dead_lettered == frozenset({3})


def test_an_unwritten_letter_holds_the_checkpoint_until_it_is_written() -> None:
    acc, store = accounting()
    acc.take_records(1)
    acc.sent(5)
    acc.settle()
    acc.delivered(1)
    index = acc.take()
    assert index == 1
    acc.reject(junk(40), index)
    acc.take_records(1)
    acc.sent(5)
    acc.settle()
    acc.delivered(1)
    assert acc.checkpoint().handled_through == 1  # the letter is only buffered
    store.fail_next = 1
    with pytest.raises(SourceError):
        acc.flush_letters()
    assert acc.checkpoint().handled_through == 1
    acc.flush_letters()
    assert acc.checkpoint() == Progress(3, frozenset({1}))
    assert acc.summary.rejected == 1


def test_a_refused_batch_whose_letters_fail_stays_undelivered() -> None:
    acc, store = accounting(part_bytes=1)  # every letter is a part of its own
    first = acc.take_records(3)
    acc.sent(30)
    assert acc.settle() == first
    letters = [Reject(OBJ.name, i, "413", b"{}", first + i, "sink") for i in range(3)]
    store.fail_next = 1
    acc.delivered(0)
    with pytest.raises(SourceError):
        acc.refused_batch(first, letters, 3)
    assert acc.checkpoint().handled_through == first


# One step of a run: records delivered, refused, filtered, junk, or a batch that fails.
steps = st.lists(
    st.sampled_from(["deliver", "refuse", "filter", "junk", "fail"]), min_size=1, max_size=40
)


@given(steps, st.integers(0, 10))
def test_every_position_is_counted_once_and_the_checkpoint_never_passes_an_unhandled_one(
    plan: list[str], skip_below: int
) -> None:
    acc, _ = accounting(Progress(skip_below, frozenset()), part_bytes=64)
    handled: set[int] = set(range(skip_below))
    for step in plan:
        if step in ("filter", "junk"):
            index = acc.take()
            if index is None:
                continue
            if step == "filter":
                acc.filtered()
            else:
                acc.reject(junk(index), index)
            handled.add(index)
            continue
        index = acc.take()
        if index is None:
            continue
        acc.batched(index)
        acc.sent(10)
        first = acc.settle()
        assert first == index
        if step == "deliver":
            acc.delivered(1)
            handled.add(index)
        elif step == "refuse":
            acc.refused_batch(first, [Reject(OBJ.name, 0, "400", b"{}", first, "sink")], 1)
            handled.add(index)
        else:
            acc.undelivered(first)
        checkpoint = acc.checkpoint().handled_through
        assert set(range(checkpoint)) <= handled | set(range(skip_below))
    acc.flush_letters()
    s = acc.summary
    assert s.records == len(plan)
    failed = plan.count("fail") - sum(
        1 for i, p in enumerate(plan) if p == "fail" and i < skip_below
    )
    assert s.records == s.shipped + s.rejected + s.filtered + s.skipped + failed
    if "fail" not in plan[skip_below:]:
        assert acc.checkpoint().handled_through == max(len(plan), skip_below)


def test_a_marker_that_numbers_positions_another_way_is_not_resumed() -> None:
    """Positions changed (byte-order marks, joined junk): a marker of an older release
    resumed by this one could skip a record. It is started over instead (duplicates, never
    loss); this release's own markers resume."""
    from auditship.state.ledger import parse_progress, progress_json

    assert parse_progress(b'{"handled_through": 40, "dead_lettered": [41]}') == Progress()
    assert parse_progress(b'{"numbering": 1, "handled_through": 40}') == Progress()
    mine = Progress(40, frozenset({41}))
    assert parse_progress(progress_json(mine)) == mine

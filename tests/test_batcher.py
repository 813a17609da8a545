"""The batcher alone: no HTTP, no threads. Property-based over sizes and limits."""

from __future__ import annotations

import itertools

from auditship.delivery.batcher import Batcher, BatchLimits
from hypothesis import given
from hypothesis import strategies as st

limits_strategy = st.builds(
    BatchLimits,
    max_bytes=st.integers(1, 400),
    max_items=st.integers(1, 12),
    separator_bytes=st.integers(0, 3),
    max_item_bytes=st.one_of(st.none(), st.integers(1, 400)),
)


def batches_of(limits: BatchLimits, runs: list[list[int]]) -> list[list[int]]:
    """Feed `runs` of sizes one `plan` call each, as the pipeline does with windows, and
    cut the record stream where the batcher says (the last batch is left open)."""
    batcher = Batcher(limits)
    batches: list[list[int]] = [[]]
    for sizes in runs:
        start = 0
        for cut in batcher.plan(sizes):
            batches[-1].extend(sizes[start:cut])
            batches.append([])
            start = cut
        batches[-1].extend(sizes[start:])
    return [b for b in batches if b]


def weight(batch: list[int], sep: int) -> int:
    return sum(batch) + sep * (len(batch) - 1)


@given(limits_strategy, st.lists(st.lists(st.integers(0, 120), max_size=30), max_size=8))
def test_batches_keep_order_hold_every_record_and_stay_within_the_limits(
    limits: BatchLimits, runs: list[list[int]]
) -> None:
    # GIVEN records that all fit a request (the caller refuses the others first)
    runs = [[s for s in sizes if Batcher(limits).refusal(s) is None] for sizes in runs]
    batches = batches_of(limits, runs)
    # THEN every record is in exactly one batch, in order
    assert [s for b in batches for s in b] == [s for sizes in runs for s in sizes]
    for batch in batches:
        assert len(batch) <= limits.max_items
        assert weight(batch, limits.separator_bytes) <= limits.max_bytes
    # AND a batch was closed only when the next record would not fit (greedy)
    for batch, following in itertools.pairwise(batches):
        fits_bytes = weight([*batch, following[0]], limits.separator_bytes) <= limits.max_bytes
        assert len(batch) == limits.max_items or not fits_bytes


@given(limits_strategy, st.lists(st.integers(0, 120), max_size=40), st.data())
def test_where_a_window_ends_does_not_change_the_batches(
    limits: BatchLimits, sizes: list[int], data: st.DataObject
) -> None:
    sizes = [s for s in sizes if Batcher(limits).refusal(s) is None]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(sizes)), max_size=5)))
    runs = [sizes[a:b] for a, b in zip([0, *cuts], [*cuts, len(sizes)], strict=True)]
    assert batches_of(limits, runs) == batches_of(limits, [sizes])


@given(limits_strategy, st.integers(0, 1000))
def test_refusal_names_the_limit_a_record_breaks(limits: BatchLimits, size: int) -> None:
    reason = Batcher(limits).refusal(size)
    assert (reason is None) == (size <= limits.largest_item)
    if reason is not None:
        assert str(size) in reason


def test_a_record_over_the_request_size_given_anyway_goes_alone() -> None:
    limits = BatchLimits(max_bytes=10, max_items=5, separator_bytes=1)
    assert batches_of(limits, [[3, 50, 3]]) == [[3], [50], [3]]


def test_close_starts_a_new_batch() -> None:
    batcher = Batcher(BatchLimits(max_bytes=10, max_items=5))
    assert batcher.plan([6]) == []
    batcher.close()
    assert batcher.plan([6]) == []  # a new batch: fits
    assert batcher.plan([6]) == [0]

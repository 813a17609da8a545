"""The batcher: where batches are cut, and which records are refused for their size.

Pure (no I/O, no clock): given each prepared record's size in order and the sink's
`BatchLimits`, it packs records greedily into the open batch and says where a batch must be
closed. Contract, for every call sequence:
- a batch holds at most `max_items` records and at most `max_bytes` bytes, counting each
  record's size plus `separator_bytes` between two records;
- records keep their order, each lands in exactly one batch, and a batch is closed only
  when the next record would not fit (greedy: batches are as full as the limits allow);
- a record that can never fit (`refusal(size)` says why: larger than `max_item_bytes` or
  than a whole request) must be refused by the caller before it reaches `plan`, and is
  dead-lettered, never dropped and never truncated. Given one anyway, `plan` puts it in a
  batch of its own.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Bounds of one request. `max_bytes` counts the records' sizes plus `separator_bytes`
    per record after the first; `max_items` counts records; `max_item_bytes` bounds one
    record (e.g. Logz.io's 500,000 bytes per line), `item_name` names it in refusals."""

    max_bytes: int
    max_items: int
    separator_bytes: int = 0
    max_item_bytes: int | None = None
    item_name: str = "record"

    @property
    def largest_item(self) -> int:
        """The largest size a record may have and still be sent."""
        if self.max_item_bytes is None:
            return self.max_bytes
        return min(self.max_item_bytes, self.max_bytes)


class Batcher:
    """Tracks the open batch's size and count; `plan` adds records and returns the cuts."""

    __slots__ = ("count", "limits", "size")

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self.count = 0  # records in the open batch
        self.size = 0  # its bytes, separators included

    def refusal(self, size: int) -> str | None:
        """Why a record of `size` bytes can never be sent, or None when it can."""
        limits = self.limits
        if limits.max_item_bytes is not None and size > limits.max_item_bytes:
            return (
                f"{limits.item_name} is {size} bytes; at most {limits.max_item_bytes} bytes "
                f"per {limits.item_name} are accepted"
            )
        if size > limits.max_bytes:
            return (
                f"{limits.item_name} is {size} bytes; one request carries at most "
                f"{limits.max_bytes}"
            )
        return None

    def plan(self, sizes: Sequence[int]) -> list[int]:
        """Add records of these sizes to the open batch, in order. Returns the positions
        `k` in `sizes` before which the open batch must be closed (the batch then holds
        everything added since the previous cut); after the call the open batch holds the
        records after the last cut."""
        limits = self.limits
        sep = limits.separator_bytes
        # ends[k]: bytes of records 0..k, each counted with one separator
        ends = list(accumulate(size + sep for size in sizes))
        cuts: list[int] = []
        start, n = 0, len(sizes)
        while start < n:
            before = ends[start - 1] if start else 0
            room = limits.max_items - self.count
            # Records start..k fit while size + (ends[k] - before) - first separator fits.
            budget = limits.max_bytes - self.size + before + (0 if self.count else sep)
            stop = min(bisect_right(ends, budget, start), start + max(room, 0), n)
            if stop == start:
                if self.count:  # full: close it, and go on in a new one
                    cuts.append(start)
                    self.count = self.size = 0
                    continue
                stop = start + 1  # one record larger than a request: alone (see contract)
            self.size += ends[stop - 1] - before - (0 if self.count else sep)
            self.count += stop - start
            start = stop
        return cuts

    def close(self) -> None:
        """The open batch was sent as it is: start a new one."""
        self.count = self.size = 0

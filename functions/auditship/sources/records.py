"""Records from anywhere (an API page, a parsed file of another format): the door into the
pipeline for sources that parse their own records.

`RecordWindows` takes, in order, what such a source found — `(position, record)` pairs
(`position` is whatever the source uses to name where a record came from: an offset, a
row number, an index into a page) and `Reject`s — and hands them to `pipeline.Pipeline` as
`Window`s, normalized and prepared for the sink by the same `transforms.prepare.prepare`
the object source uses. Batching, sending, dead letters and checkpoints are the pipeline's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from auditship.model import ObjectRef, Reject
from auditship.sinks.base import Sink
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import Window, prepare
from auditship.transforms.repair import Parsed

WINDOW_RECORDS = 1000  # records prepared at a time (memory: one window's records)


class RecordWindows:
    def __init__(
        self,
        found: Iterable[Parsed | Reject],
        origin: ObjectRef,
        normalizer: Normalizer,
        sink: Sink,
        window_records: int = WINDOW_RECORDS,
    ) -> None:
        self._found = iter(found)
        self._origin = origin
        self._normalizer = normalizer
        self._sink = sink
        self._window = window_records

    def __iter__(self) -> Iterator[Window]:
        while piece := list(islice(self._found, self._window)):
            yield prepare(piece, self._origin, self._normalizer, self._sink)

"""A source that parses its own records feeds the same pipeline: batching, sending, dead
letters and the checkpoint come with it, untouched (what a new source has to write is a
producer)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from auditship.deadline import Deadline
from auditship.delivery.batcher import BatchLimits
from auditship.delivery.deadletter import DeadLetterWriter, LocalDeadLetterStore
from auditship.errors import SourceError
from auditship.model import ObjectRef, Reject, RejectKind, Summary
from auditship.pipeline import Pipeline, ShipOptions
from auditship.sinks.base import Delivery
from auditship.sinks.logzio import LogzioSink
from auditship.sources.records import RecordWindows
from auditship.state.accounting import Accounting
from auditship.state.ledger import Progress
from auditship.transforms.normalize import Normalizer
from auditship.transforms.prepare import OTHER, RECORD, Item, ItemKind, Window
from conftest import TOKEN
from fakes import FakeLogzioListener
from hypothesis import given, settings
from hypothesis import strategies as st

ORIGIN = ObjectRef("audit-api/us-ashburn-1/ocid1.compartment.oc1..c/2026-11-01T00:00Z")


def page(n: int) -> list[tuple[int, dict[str, object]] | Reject]:
    items: list[tuple[int, dict[str, object]] | Reject] = [
        (i, {"eventId": f"e{i}", "eventTime": "2026-11-01T00:00:00Z", "type": "t"})
        for i in range(n)
    ]
    items.insert(5, Reject(ORIGIN.name, 5, "not an audit event", b"{}", kind=RejectKind.NOT_JSON))
    return items


def test_records_from_an_api_page_go_through_the_pipeline(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=2048)
    summary = Summary(objects=1)
    letters = DeadLetterWriter(LocalDeadLetterStore(str(tmp_path)), ORIGIN)
    accounting = Accounting(summary, Progress(), letters)
    pipeline = Pipeline(ORIGIN, sink, accounting, Deadline.unlimited(), ShipOptions())
    try:
        pipeline.run(RecordWindows(page(300), ORIGIN, Normalizer(), sink, window_records=64))
    finally:
        pipeline.close()
        sink.close()
    accounting.flush_letters()
    assert summary.complete
    assert (summary.records, summary.shipped, summary.rejected) == (301, 300, 1)
    assert summary.batches > 1
    assert [r["eventId"] for r in listener.accepted] == [f"e{i}" for i in range(300)]
    assert all(r["@timestamp"] == "2026-11-01T00:00:00Z" for r in listener.accepted)
    assert accounting.checkpoint().handled_through == 301


def run_pipeline(
    windows: Any, sink: LogzioSink, tmp_path: Path, options: ShipOptions, checkpoint: Any = None
) -> tuple[Summary, Accounting]:
    summary = Summary(objects=1)
    letters = DeadLetterWriter(LocalDeadLetterStore(str(tmp_path)), ORIGIN)
    accounting = Accounting(summary, Progress(), letters)
    pipeline = Pipeline(ORIGIN, sink, accounting, Deadline.unlimited(), options, checkpoint)
    try:
        pipeline.run(windows)
    finally:
        pipeline.close()
    return summary, accounting


def test_a_buffered_dead_letter_does_not_hold_the_saved_checkpoint_back(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    """Found in review: parts are written every 4 MiB, and an unwritten letter holds the
    checkpoint at its position, so a crash repeated far more than CHECKPOINT_SECONDS."""
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=2048)
    saved: list[int] = []

    def checkpoint(progress: Progress) -> str | None:
        saved.append(progress.handled_through)
        return None

    windows = RecordWindows(page(300), ORIGIN, Normalizer(), sink, window_records=32)
    options = ShipOptions(checkpoint_seconds=0.0)
    summary, _ = run_pipeline(windows, sink, tmp_path, options, checkpoint)
    sink.close()
    assert summary.complete
    assert max(saved) > 200, saved  # past the reject at position 5, while running


def test_a_lost_lease_stops_a_run_that_sends_no_batch(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    """Found in review: a lost lease was noticed only when a batch was sent."""
    sink = LogzioSink(listener.url, TOKEN)
    junk = [Reject(ORIGIN.name, i, "junk", b"x", kind=RejectKind.NOT_JSON) for i in range(500)]
    windows = RecordWindows(junk, ORIGIN, Normalizer(), sink, window_records=10)
    options = ShipOptions(checkpoint_seconds=0.0)
    summary, _ = run_pipeline(windows, sink, tmp_path, options, lambda _p: "lease taken over")
    sink.close()
    assert not summary.complete
    assert summary.errors == ["lease taken over"]
    assert summary.records < 500


def test_answers_in_flight_are_awaited_when_the_source_fails_at_the_deadline(
    tmp_path: Path,
) -> None:
    """Found in review: when the source raised within the deadline margin, the open batch
    could not be sent and the wait for answers already asked for was skipped, so batches
    the sink accepted were not counted, and the next run sent them again."""

    def late_failing_source(sink: LogzioSink) -> Any:
        yield from RecordWindows(page(40), ORIGIN, Normalizer(), sink, window_records=100)
        time.sleep(3.2)  # the first answers took 0.5 s: now within the margin, not past half
        raise SourceError("reading: stopped before the function deadline")

    with FakeLogzioListener(tokens={TOKEN}) as slow:
        slow.script([("timeout", 0.5)])  # the first answer comes late, and is a yes
        sink = LogzioSink(slow.url, TOKEN, max_batch_bytes=1024)
        summary = Summary(objects=1)
        letters = DeadLetterWriter(LocalDeadLetterStore(str(tmp_path)), ORIGIN)
        accounting = Accounting(summary, Progress(), letters)
        options = ShipOptions(deadline_margin_seconds=3.0)
        pipeline = Pipeline(ORIGIN, sink, accounting, Deadline.after(6.0), options)
        try:
            pipeline.run(late_failing_source(sink))
        finally:
            pipeline.close()
            sink.close()
    assert not summary.complete
    assert summary.shipped == len(slow.accepted) > 0, (len(slow.accepted), summary.errors)
    accounting.flush_letters()
    assert accounting.checkpoint().handled_through == summary.shipped + 1  # and the reject


class MemorySink:
    """A sink in memory that takes everything, two records a request."""

    name = "memory"
    limits = BatchLimits(max_bytes=10**6, max_items=2)

    def __init__(self) -> None:
        self.got: list[bytes] = []

    def prepare(self, record: Any, obj: ObjectRef) -> Any:
        raise NotImplementedError  # the windows below are prepared already

    def send(self, batch: list[Any], obj: ObjectRef, timeout: float) -> Delivery:
        self.got += [p.payload for p in batch]
        return Delivery(accepted=len(batch))

    def letter(self, payload: Any) -> bytes:
        return bytes(payload)

    def close(self) -> None:
        pass


@settings(max_examples=200)
@given(
    layout=st.lists(st.booleans(), min_size=1, max_size=30),  # True: a record, False: junk
    windows=st.integers(1, 4),
    stop_at=st.integers(1, 12),
)
def test_a_stop_asked_by_a_checkpoint_never_passes_a_record_it_did_not_send(
    tmp_path_factory: Any, layout: list[bool], windows: int, stop_at: int
) -> None:
    """Found in review: a lost lease (a checkpoint that says stop) in the middle of a
    window left a record taken but in no batch, and the final checkpoint passed it."""
    made: list[Window] = [Window() for _ in range(windows)]
    for position, is_record in enumerate(layout):
        window = made[position * windows // len(layout)]
        window.offsets.append(position)
        if is_record:
            window.kinds.append(RECORD)
            window.payloads.append(b"r%d" % position)
            window.sizes.append(2)
        else:
            window.kinds.append(OTHER)
            window.payloads.append(None)
            window.sizes.append(0)
            reject = Reject(ORIGIN.name, position, "junk", b"x")
            window.others.append(Item(ItemKind.REJECT, position, reject))
    calls = [0]

    def checkpoint(_progress: Progress) -> str | None:
        calls[0] += 1
        return "lease lost" if calls[0] >= stop_at else None

    sink = MemorySink()
    store = LocalDeadLetterStore(str(tmp_path_factory.mktemp("dlq")))
    accounting = Accounting(Summary(objects=1), Progress(), DeadLetterWriter(store, ORIGIN))
    options = ShipOptions(checkpoint_seconds=0.0)
    pipeline = Pipeline(ORIGIN, sink, accounting, Deadline.unlimited(), options, checkpoint)
    pipeline.run(made)
    pipeline.close()
    accounting.flush_letters()
    through = accounting.checkpoint().handled_through
    for position in range(through):
        assert not layout[position] or b"r%d" % position in sink.got, (position, through)

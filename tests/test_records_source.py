"""A source that parses its own records feeds the same pipeline: batching, sending, dead
letters and the checkpoint come with it, untouched (what a new source has to write is a
producer)."""

from __future__ import annotations

from pathlib import Path

from auditship.deadline import Deadline
from auditship.delivery.deadletter import DeadLetterWriter, LocalDeadLetterStore
from auditship.model import ObjectRef, Reject, RejectKind, Summary
from auditship.pipeline import Pipeline, ShipOptions
from auditship.sinks.logzio import LogzioSink
from auditship.sources.records import RecordWindows
from auditship.state.accounting import Accounting
from auditship.state.ledger import Progress
from auditship.transforms.normalize import Normalizer
from conftest import TOKEN
from fakes import FakeLogzioListener

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

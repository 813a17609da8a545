"""Time is bounded, always: a sink or a store that answers slowly (a byte every so often,
a body that never ends) cannot hold a request past its time limit, nor a run past its
deadline; the run stops in time with its progress saved, and a re-run finishes the job
without re-sending what was delivered."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import oci
import pytest
from auditship.deadline import Deadline
from auditship.delivery.deadletter import ObjectStorageDeadLetterStore
from auditship.errors import RetryableSinkError, SourceError
from auditship.model import ObjectRef, Record
from auditship.pipeline import ShipOptions
from auditship.retry import RetryPolicy
from auditship.shipping import ship_object
from auditship.sinks.logzio import LogzioSink
from auditship.sinks.oci_logging import OciLoggingSink
from auditship.sources.object_storage import ObjectStorageReader
from auditship.state.ledger import ObjectStorageLedger, Progress
from auditship.transforms.normalize import Normalizer
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion
from fakes.oci_auth import make_client
from test_pipeline import put_object

OBJ = ObjectRef("audit/x.log.gz", NAMESPACE, BUCKET)
LOG_ID = "ocid1.log.oc1.iad.amaaaaaatestlog"
# Generous on purpose: what is checked is that the call ends at all, near its limit,
# where before it went on for as long as the server kept trickling.
SLACK = 5.0


def test_a_trickling_logzio_answer_is_cut_at_the_request_limit(
    listener: FakeLogzioListener,
) -> None:
    listener.script([("trickle", 0.2)])  # 200, then a byte every 0.2 s, forever
    sink = LogzioSink(listener.url, TOKEN)
    started = time.monotonic()
    with pytest.raises(RetryableSinkError, match="timed out") as info:
        sink.send([sink.prepare(Record(0, 0, {"id": "1"}), OBJ)], OBJ, timeout=1.0)
    assert time.monotonic() - started < 1.0 + SLACK
    assert TOKEN not in str(info.value)
    sink.close()


def test_a_trickling_putlogs_answer_is_cut_at_the_request_limit() -> None:
    with FakeLoggingIngestion({LOG_ID}) as fake:
        fake.script([("trickle", 0.2)])
        client = make_client(oci.loggingingestion.LoggingClient, fake.url)
        sink = OciLoggingSink(client, LOG_ID)
        started = time.monotonic()
        with pytest.raises(RetryableSinkError, match="timeout"):
            sink.send([sink.prepare(Record(0, 0, {"id": "1"}), OBJ)], OBJ, timeout=1.0)
        assert time.monotonic() - started < 1.0 + SLACK


def test_a_hanging_object_read_is_cut_and_resumed(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    obj, _ = put_object(object_storage, tmp_path, 50)
    data = object_storage.get(NAMESPACE, BUCKET, obj.name)
    object_storage.script([("timeout", 30.0)])  # the first GET hangs (per-read timeout: 60 s)
    reader = ObjectStorageReader(os_client, timeout=1.0)
    started = time.monotonic()
    assert b"".join(reader.read(obj)) == data
    assert time.monotonic() - started < 1.0 + SLACK


def test_a_run_against_a_trickling_sink_stops_by_its_deadline_with_progress_saved(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener, tmp_path: Path
) -> None:
    # GIVEN a sink that takes two batches, then trickles every answer
    obj, recs = put_object(object_storage, tmp_path, 300)
    listener.script(["ok", "ok", *[("trickle", 0.2)] * 3])
    deadline, margin = 8.0, 3.0
    started = time.monotonic()
    summary = ship(obj, os_client, listener, Deadline.after(deadline), margin)
    # THEN the run ends before its deadline, says it is incomplete, and keeps its progress
    assert time.monotonic() - started < deadline
    assert not summary.complete
    assert summary.shipped >= 1
    delivered = [r["id"] for r in listener.accepted]
    # AND a re-run ships the rest once (after what is left of the trickling answers)
    rest = ship(obj, os_client, listener, Deadline.unlimited(), 0.0)
    assert rest.complete, rest.errors
    assert rest.skipped == len(delivered)
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs]


def ship(
    obj: ObjectRef, client: Any, listener: FakeLogzioListener, deadline: Deadline, margin: float
) -> Any:
    reader = ObjectStorageReader(client, chunk_bytes=16 * 1024)
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=16 * 1024)
    try:
        return ship_object(
            reader.head(obj),
            reader=reader,
            sink=sink,
            normalizer=Normalizer(),
            dead_letters=ObjectStorageDeadLetterStore(client, "dead-letter/"),
            ledger=ObjectStorageLedger(client, "shipped/"),
            deadline=deadline,
            options=ShipOptions(
                retry=RetryPolicy(0.05, 0.1, max_attempts=50),
                deadline_margin_seconds=margin,
                http_timeout_seconds=2.0,
            ),
        )
    finally:
        sink.close()


def in_thread(call: Any, seconds: float) -> tuple[bool, list[Any]]:
    """Run `call` on a thread; (still running after `seconds`, what it returned/raised)."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return thread.is_alive(), out


def test_a_trickling_object_body_is_cut_per_chunk(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    """Found in review: the per-chunk limit watched no connection (the streamed answer's
    was taken before the block), so a trickling body held the read forever."""
    obj, _ = put_object(object_storage, tmp_path, 50)
    object_storage.script([("trickle", 0.2)] * 2)  # headers at once, then a byte a 0.2 s
    reader = ObjectStorageReader(os_client, timeout=1.0, chunk_bytes=16 * 1024)
    running, _ = in_thread(lambda: list(reader.read(obj)), 2 * 1.0 + SLACK)
    assert not running


def test_a_trickling_marker_body_is_cut(
    object_storage: FakeObjectStorage,
    os_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found in review: small objects' bodies were read after their time limit ended."""
    monkeypatch.setattr("auditship.objectstore.SMALL_OBJECT_SECONDS", 1.0)
    obj, _ = put_object(object_storage, tmp_path, 5)
    ledger = ObjectStorageLedger(os_client, "ledger/")
    ledger.save_progress(obj, Progress(3))
    object_storage.script([("trickle", 0.2)] * 3)
    running, out = in_thread(lambda: ledger.progress(obj), 3 * 1.0 + SLACK)
    assert not running
    assert isinstance(out[0], SourceError)


def test_closing_the_sender_leaves_no_thread_behind_a_slow_request() -> None:
    """Found in review: with a batch queued behind a slow request, close() could not queue
    its stop, and the thread then waited for work forever."""
    from auditship.delivery.sender import Batch, Sender
    from auditship.retry import RetryPolicy

    class SlowSink:
        name = "slow"

        def send(self, batch: Any, obj: ObjectRef, timeout: float) -> Any:
            time.sleep(1.0)
            from auditship.sinks.base import Delivery

            return Delivery(accepted=len(batch))

    sender = Sender(SlowSink(), OBJ, Deadline.unlimited(), timeout=5, margin=0,
                    policy=RetryPolicy())  # type: ignore[arg-type]  # fmt: skip
    assert sender.send(Batch(0, [object()]), 0)  # taken: being sent
    time.sleep(0.1)
    assert sender.send(Batch(1, [object()]), 0)  # queued behind it
    sender.close()
    time.sleep(1.0 + SLACK / 2)
    assert not sender._thread.is_alive()

"""OciLoggingSink against the fake PutLogs service, through the real oci LoggingClient.

Everything goes over loopback HTTP with a real signer; the fake checks the wire JSON
strictly, so an accepted request is a well-formed one.

Run as a script for a throughput measurement:
    .venv/bin/python tests/test_oci_logging_sink.py [records]
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT / "functions", _ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from auditship.errors import (  # noqa: E402
    CredentialsRejectedError,
    PermanentSinkError,
    RetryableSinkError,
    SinkError,
)
from auditship.model import ObjectRef, Record  # noqa: E402
from auditship.sinks.base import Prepared, RecordRefused  # noqa: E402
from auditship.sinks.oci_logging import (  # noqa: E402
    DEFAULT_MAX_ENTRIES,
    ENVELOPE_BYTES,
    OciLoggingSink,
)
from fakes.logging_ingestion import FakeLoggingIngestion  # noqa: E402
from fakes.oci_auth import make_client, sdk_config  # noqa: E402

pytestmark = pytest.mark.timeout(60)

LOG_ID = "ocid1.log.oc1.iad.amaaaaaatestlog"
OBJ = ObjectRef(
    name="ocid1.serviceconnector.oc1.iad.amaaaa/20240501T120000Z_20240501T120700Z.0.log.gz",
    namespace="testns",
    bucket="audit-bucket",
)
VNIC = "com.oraclecloud.virtualNetwork.UpdateVnic"
GET_INSTANCE = "com.oraclecloud.ComputeApi.GetInstance"


def logging_client(url: str, **kwargs: Any) -> oci.loggingingestion.LoggingClient:
    return make_client(oci.loggingingestion.LoggingClient, url, **kwargs)


def audit_record(index: int, *, rtype: str = VNIC, own_id: bool = True, pad: int = 0) -> Record:
    """An `_Audit`-shaped record (CloudEvents 1.0) with its own id, type and time."""
    when = f"2024-05-01T12:{index // 60 % 60:02d}:{index % 60:02d}.{index % 1000:03d}Z"
    body: dict[str, Any] = {
        "data": {
            "compartmentName": "prod-network",
            "eventName": rtype.rsplit(".", 1)[-1],
            "identity": {"principalName": "svc-automation", "ipAddress": "203.0.113.7"},
            "message": 'UpdateVnic "primary" succeeded \\ ok — ünïcode\n',
            "request": {"action": "PUT", "path": f"/20160918/vnics/{index}"},
            "response": {"status": "200", "payload": {"pad": "x" * pad}},
        },
        "dataschema": "2.0",
        "source": "primary-vnic",
        "specversion": "1.0",
        "time": when,
        "type": rtype,
    }
    if own_id:
        body["id"] = str(uuid.UUID(int=index + 1))
    return Record(index=index, offset=index * 100, body=body, event_time=when)


def pack(sink: OciLoggingSink, prepared: list[Prepared]) -> list[list[Prepared]]:
    """Greedy packing exactly as `sinks.base` states the contract (mirrors the pipeline)."""
    limits = sink.limits
    batches: list[list[Prepared]] = []
    batch: list[Prepared] = []
    used = 0
    for item in prepared:
        cost = item.size + (limits.separator_bytes if batch else 0)
        if batch and (used + cost > limits.max_bytes or len(batch) >= limits.max_items):
            batches.append(batch)
            batch, used, cost = [], 0, item.size
        batch.append(item)
        used += cost
    if batch:
        batches.append(batch)
    return batches


def secret_free(exc: BaseException) -> None:
    """Neither the message nor anything chained to it carries key or signature material."""
    pem = sdk_config()["key_content"]
    key_line = pem.splitlines()[1]
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    for needle in (key_line, "PRIVATE KEY", "Signature", "keyId", "authorization"):
        assert needle not in text, needle
    assert sdk_config()["fingerprint"] not in str(exc)


@pytest.fixture
def fake() -> Iterator[FakeLoggingIngestion]:
    with FakeLoggingIngestion({LOG_ID}, hang_seconds=1.0) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def sink(fake: FakeLoggingIngestion) -> Iterator[OciLoggingSink]:
    s = OciLoggingSink(logging_client(fake.url), LOG_ID)
    yield s
    s.close()


# -- wire format ----------------------------------------------------------------------------


def test_entries_carry_the_records_json_id_time_and_origin(
    fake: FakeLoggingIngestion, sink: OciLoggingSink
) -> None:
    # GIVEN records of two types, one without its own id and one without a time
    records = [audit_record(i, rtype=VNIC if i % 2 else GET_INSTANCE) for i in range(6)]
    records.append(audit_record(6, own_id=False))
    records.append(Record(7, 700, {"id": "no-time", "type": VNIC, "n": 1}, None))
    # WHEN they are prepared and sent as one batch
    delivery = sink.send([sink.prepare(r, OBJ) for r in records], OBJ, timeout=10)
    # THEN one request carried them all, grouped by type in order of first appearance
    assert delivery.accepted == len(records)
    assert [r.status for r in fake.requests] == [200]
    doc = json.loads(fake.requests[0].body)
    assert [b["type"] for b in doc["logEntryBatches"]] == [GET_INSTANCE, VNIC]
    stored = fake.entries(LOG_ID)
    expected_order = [r for r in records if r.body["type"] == GET_INSTANCE] + [
        r for r in records if r.body["type"] == VNIC
    ]
    for entry, record in zip(stored, expected_order, strict=True):
        assert json.loads(entry.data) == record.body  # the record stays JSON, not stripped
        assert entry.data == orjson.dumps(record.body).decode()  # compact
        assert entry.time == record.event_time
        assert entry.source == "oci-audit-ship"
        assert entry.type == record.body["type"]
        assert entry.subject == str(OBJ)
        if "id" in record.body:
            assert entry.id == record.body["id"]
        else:
            assert uuid.UUID(entry.id).version == 5
    by_type = {b["type"]: b for b in doc["logEntryBatches"]}
    # the batch default is the earliest entry time of that batch
    assert by_type[GET_INSTANCE]["defaultlogentrytime"] == records[0].event_time
    assert by_type[VNIC]["defaultlogentrytime"] == records[1].event_time
    no_time = next(e for e in by_type[VNIC]["entries"] if e["id"] == "no-time")
    assert "time" not in no_time  # inherits defaultlogentrytime


def test_body_is_what_the_sdk_would_send_from_models(sink: OciLoggingSink) -> None:
    records = [audit_record(i, rtype=[VNIC, GET_INSTANCE, "t3"][i % 3]) for i in range(9)]
    records.append(Record(9, 0, {"type": "t3", "big": 2**70, "s": "\ud800"}, None))
    batch = [sink.prepare(r, OBJ) for r in records]
    fast = sink.build_body(batch, OBJ)
    details = sink.to_put_logs_details(batch, OBJ)
    assert isinstance(details, oci.loggingingestion.models.PutLogsDetails)
    sanitized = sink._client.base_client.sanitize_for_serialization(details)
    # Same keys in the same order with the same values: byte-identical when both are
    # dumped compactly (the SDK's own json.dumps only adds spaces and \\u escapes).
    assert json.dumps(sanitized, separators=(",", ":"), ensure_ascii=False).encode() == fast
    assert json.loads(json.dumps(sanitized)) == json.loads(fast)
    assert len(fast) <= ENVELOPE_BYTES + sum(p.size for p in batch) + len(batch) - 1


def test_payload_dead_letters_as_a_log_entry_document(sink: OciLoggingSink) -> None:
    # The pipeline dead-letters a refused batch with orjson.dumps(payload): that must be
    # the LogEntry document, with the record's own JSON in `data`.
    record = audit_record(3)
    payload = sink.prepare(record, OBJ).payload
    doc = orjson.loads(orjson.dumps(payload))
    assert doc == {"data": orjson.dumps(record.body).decode(), "id": record.body["id"],
                   "time": record.event_time}  # fmt: skip
    assert json.loads(doc["data"]) == record.body


def test_times_are_normalized_to_utc_milliseconds(
    fake: FakeLoggingIngestion, sink: OciLoggingSink
) -> None:
    odd = [
        ("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00.000Z"),
        ("not a time", None),
    ]
    records = [Record(i, 0, {"id": f"t{i}", "n": i}, raw) for i, (raw, _) in enumerate(odd)]
    sink.send([sink.prepare(r, OBJ) for r in records], OBJ, timeout=10)
    assert [e.time for e in fake.entries(LOG_ID)] == [want for _, want in odd]


def test_ids_are_stable_across_two_sends(fake: FakeLoggingIngestion, sink: OciLoggingSink) -> None:
    records = [audit_record(i, own_id=i % 2 == 0) for i in range(10)]
    for _ in range(2):
        copies = [Record(r.index, r.offset, json.loads(json.dumps(r.body)), r.event_time)
                  for r in records]  # fmt: skip
        sink.send([sink.prepare(r, OBJ) for r in copies], OBJ, timeout=10)
    ids = [e.id for e in fake.entries(LOG_ID)]
    assert ids[:10] == ids[10:]
    assert len(set(ids[:10])) == 10
    assert ids[0] == records[0].body["id"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(st.text().filter(lambda k: k != "id"), json_values, max_size=6)


@pytest.fixture(scope="module")
def offline_sink() -> OciLoggingSink:
    """A sink whose client points nowhere: for `prepare`-only tests."""
    return OciLoggingSink(logging_client("http://127.0.0.1:9"), LOG_ID)


@given(body=bodies)
@settings(max_examples=150, deadline=None)
def test_same_body_gives_same_id(offline_sink: OciLoggingSink, body: dict[str, Any]) -> None:
    sink = offline_sink
    first = sink.prepare(Record(0, 0, body), OBJ).payload.id
    again = sink.prepare(Record(5, 99, json.loads(json.dumps(body))), OBJ).payload.id
    assert first == again
    assert str(uuid.UUID(first)) == first


@given(a=bodies, b=bodies)
@settings(max_examples=150, deadline=None)
def test_different_bodies_give_different_ids(
    offline_sink: OciLoggingSink, a: dict[str, Any], b: dict[str, Any]
) -> None:
    first = offline_sink.prepare(Record(0, 0, a), OBJ).payload
    second = offline_sink.prepare(Record(0, 0, b), OBJ).payload
    if orjson.loads(first.entry_json)["data"] != orjson.loads(second.entry_json)["data"]:
        assert first.id != second.id


# -- limits -----------------------------------------------------------------------------


def test_oversize_entry_is_refused_by_prepare(sink: OciLoggingSink) -> None:
    record = audit_record(0, pad=1_000_000)
    with pytest.raises(RecordRefused) as info:
        sink.prepare(record, OBJ)
    message = str(info.value)
    assert str(sink.max_entry_bytes) in message
    size = int(message.split(" bytes")[0].rsplit(" ", 1)[-1])
    assert size > 1_000_000


def test_entry_just_under_the_limit_is_accepted(
    fake: FakeLoggingIngestion, sink: OciLoggingSink
) -> None:
    # Quotes double in size when escaped: the limit is on the serialized entry.
    base = len(sink.prepare(audit_record(0, pad=0), OBJ).payload.entry_json)
    fits = audit_record(0, pad=sink.max_entry_bytes - base)
    assert len(sink.prepare(fits, OBJ).payload.entry_json) == sink.max_entry_bytes
    assert sink.send([sink.prepare(fits, OBJ)], OBJ, timeout=10).accepted == 1
    with pytest.raises(RecordRefused):
        sink.prepare(audit_record(0, pad=sink.max_entry_bytes - base + 1), OBJ)
    quoted = Record(1, 0, {"q": '"' * (sink.max_entry_bytes // 2)})
    with pytest.raises(RecordRefused):
        sink.prepare(quoted, OBJ)


def test_constructor_rejects_limits_that_cannot_hold_one_entry() -> None:
    client = logging_client("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="max_request_bytes"):
        OciLoggingSink(client, LOG_ID, max_request_bytes=1_000_000)
    sink = OciLoggingSink(client, LOG_ID)
    assert sink.name == "oci-logging"
    assert sink.limits.max_items == DEFAULT_MAX_ENTRIES == 500
    assert sink.limits.max_bytes == 4 * 1024 * 1024 - ENVELOPE_BYTES
    assert sink.max_entry_bytes < 1_000_000


SMALL_REQUEST = 48 * 1024
SMALL_ENTRIES = 12
SMALL_ENTRY = 12 * 1024
FILLERS = ["plain text ", 'q"uote\\s ', "ünï€😀 ", "\x01\x1f\t\n"]


@pytest.fixture(scope="module")
def tight() -> Iterator[tuple[FakeLoggingIngestion, OciLoggingSink]]:
    with FakeLoggingIngestion(
        {LOG_ID},
        max_request_bytes=SMALL_REQUEST,
        max_entries=SMALL_ENTRIES,
        max_entry_bytes=SMALL_ENTRY,
    ) as server:
        sink = OciLoggingSink(
            logging_client(server.url),
            LOG_ID,
            max_request_bytes=SMALL_REQUEST,
            max_entries=SMALL_ENTRIES,
            max_entry_bytes=SMALL_ENTRY - 64,
            source='src "quoted"',
        )
        yield server, sink
        sink.close()
    assert server.errors == []


@given(
    specs=st.lists(
        st.tuples(
            st.integers(0, 4000),
            st.sampled_from(FILLERS),
            st.sampled_from([VNIC, GET_INSTANCE, "t", 'ünï"type\\' * 5, None]),
            st.booleans(),
        ),
        min_size=1,
        max_size=50,
    ),
    name=st.text(min_size=1, max_size=200),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_batches_packed_to_limits_are_accepted(
    tight: tuple[FakeLoggingIngestion, OciLoggingSink],
    specs: list[tuple[int, str, str | None, bool]],
    name: str,
) -> None:
    fake, sink = tight
    fake.clear()
    obj = ObjectRef(name=name, namespace="ns", bucket="b")
    prepared: list[Prepared] = []
    refused = 0
    for i, (reps, filler, rtype, with_time) in enumerate(specs):
        body: dict[str, Any] = {"msg": filler * reps, "i": i}
        if rtype is not None:
            body["type"] = rtype
        when = f"2024-05-01T12:00:{i % 60:02d}.000Z" if with_time else None
        try:
            prepared.append(sink.prepare(Record(i, 0, body, when), obj))
        except RecordRefused:
            refused += 1
    for batch in pack(sink, prepared):
        assert sink.send(batch, obj, timeout=10).accepted == len(batch)
    assert all(r.status == 200 for r in fake.requests)
    assert max((r.body_length for r in fake.requests), default=0) <= SMALL_REQUEST
    # Every prepared entry arrived once (grouping by type may reorder across types).
    assert sorted(e.id for e in fake.entries(LOG_ID)) == sorted(p.payload.id for p in prepared)


def test_byte_bound_requests_are_reasonably_full() -> None:
    # Each size is charged the cost of opening its own LogEntryBatch (a safe upper bound,
    # since grouping happens in `send`); for ~2 KB records that wastes about a tenth.
    with FakeLoggingIngestion({LOG_ID}, max_request_bytes=SMALL_REQUEST) as fake:
        sink = OciLoggingSink(
            logging_client(fake.url),
            LOG_ID,
            max_request_bytes=SMALL_REQUEST,
            max_entry_bytes=8000,
        )
        prepared = [sink.prepare(audit_record(i, pad=1500), OBJ) for i in range(60)]
        for batch in pack(sink, prepared)[:-1]:
            sink.send(batch, OBJ, timeout=10)
        sizes = [r.body_length for r in fake.requests]
    assert len(sizes) >= 2
    assert all(0.85 * SMALL_REQUEST < size <= SMALL_REQUEST for size in sizes), sizes


# -- failures ---------------------------------------------------------------------------


def send_one(sink: OciLoggingSink, timeout: float = 5.0) -> None:
    sink.send([sink.prepare(audit_record(0), OBJ)], OBJ, timeout=timeout)


def test_429_is_retryable_with_retry_after(
    fake: FakeLoggingIngestion, sink: OciLoggingSink
) -> None:
    fake.script([(429, {"retry-after": "2"}), 429])
    with pytest.raises(RetryableSinkError) as first:
        send_one(sink)
    assert first.value.retry_after == 2.0
    assert "429" in str(first.value)
    with pytest.raises(RetryableSinkError) as second:
        send_one(sink)
    assert second.value.retry_after is None
    assert fake.entries(LOG_ID) == []
    send_one(sink)
    assert len(fake.entries(LOG_ID)) == 1
    secret_free(first.value)


@pytest.mark.parametrize("action", [500, 502, 503, 504, "reset"])
def test_server_errors_and_resets_are_retryable(
    fake: FakeLoggingIngestion, sink: OciLoggingSink, action: int | str
) -> None:
    fake.script([action])
    with pytest.raises(RetryableSinkError) as info:
        send_one(sink)
    assert info.value.retry_after is None
    secret_free(info.value)
    send_one(sink)  # the connection pool recovers
    assert len(fake.entries(LOG_ID)) == 1


def test_timeout_is_retryable_and_bounded_by_the_send_timeout(
    fake: FakeLoggingIngestion, sink: OciLoggingSink
) -> None:
    fake.script(["timeout"])  # the fake hangs 1 s, then processes the request anyway
    saved = sink._client.base_client.timeout
    started = time.monotonic()
    with pytest.raises(RetryableSinkError) as info:
        send_one(sink, timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert "timeout" in str(info.value)
    assert sink._client.base_client.timeout == saved
    secret_free(info.value)
    # The request the client gave up on still lands: a retry duplicates it, with the same id.
    assert fake.wait_for_requests(1)
    send_one(sink)
    time.sleep(1.0)
    ids = [e.id for e in fake.entries(LOG_ID)]
    assert len(ids) == 2
    assert len(set(ids)) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_reject_credentials(
    fake: FakeLoggingIngestion, sink: OciLoggingSink, status: int
) -> None:
    fake.script([status])
    with pytest.raises(CredentialsRejectedError) as info:
        send_one(sink)
    assert str(status) in str(info.value)
    secret_free(info.value)


def test_unsigned_request_is_401(fake: FakeLoggingIngestion) -> None:
    class NoSigner(oci.signer.AbstractBaseSigner):
        def __call__(self, request: Any, enforce_content_headers: bool = True) -> Any:
            return request

    client = logging_client(fake.url, signer=NoSigner())
    with pytest.raises(CredentialsRejectedError, match="NotAuthenticated"):
        send_one(OciLoggingSink(client, LOG_ID))


def test_unknown_log_is_404_credentials_rejected(fake: FakeLoggingIngestion) -> None:
    sink = OciLoggingSink(logging_client(fake.url), "ocid1.log.oc1.iad.amaaaaaaother")
    with pytest.raises(CredentialsRejectedError) as info:
        send_one(sink)
    assert "404 NotAuthorizedOrNotFound" in str(info.value)
    secret_free(info.value)


def test_bad_request_is_permanent(fake: FakeLoggingIngestion, sink: OciLoggingSink) -> None:
    fake.script([400])
    with pytest.raises(PermanentSinkError) as scripted:
        send_one(sink)
    assert "400 InvalidParameter" in str(scripted.value)
    secret_free(scripted.value)
    # A fake with tighter limits than the sink's refuses for real, naming the limit.
    with FakeLoggingIngestion({LOG_ID}, max_entries=2) as strict:
        strict_sink = OciLoggingSink(logging_client(strict.url), LOG_ID)
        batch = [strict_sink.prepare(audit_record(i), OBJ) for i in range(3)]
        with pytest.raises(PermanentSinkError, match=r"LimitExceeded.*at most 2"):
            strict_sink.send(batch, OBJ, timeout=5)
    with FakeLoggingIngestion({LOG_ID}, max_request_bytes=2048) as small:
        small_sink = OciLoggingSink(logging_client(small.url), LOG_ID)
        with pytest.raises(PermanentSinkError, match="413"):
            small_sink.send([small_sink.prepare(audit_record(0, pad=3000), OBJ)], OBJ, timeout=5)


def test_sdk_retries_are_off_even_if_the_client_has_a_strategy(
    fake: FakeLoggingIngestion,
) -> None:
    client = logging_client(fake.url, retry_strategy=oci.retry.DEFAULT_RETRY_STRATEGY)
    fake.script([503, "ok"])
    with pytest.raises(RetryableSinkError):
        send_one(OciLoggingSink(client, LOG_ID))
    assert len(fake.requests) == 1


def test_open_circuit_breaker_is_retryable(fake: FakeLoggingIngestion) -> None:
    strategy = oci.circuit_breaker.CircuitBreakerStrategy(
        failure_threshold=2, recovery_timeout=30, name=f"test-{uuid.uuid4()}"
    )
    sink = OciLoggingSink(logging_client(fake.url, circuit_breaker_strategy=strategy), LOG_ID)
    fake.script([500, 500])
    for _ in range(2):
        with pytest.raises(RetryableSinkError):
            send_one(sink)
    with pytest.raises(RetryableSinkError, match="circuit breaker") as info:
        send_one(sink)
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 30
    assert len(fake.requests) == 2  # the third attempt never left the client


def test_empty_batch_sends_nothing(fake: FakeLoggingIngestion, sink: OciLoggingSink) -> None:
    assert sink.send([], OBJ, timeout=5).accepted == 0
    assert fake.requests == []


def test_every_failure_is_a_sink_error(fake: FakeLoggingIngestion, sink: OciLoggingSink) -> None:
    fake.script([400, 401, 404, 409, 429, 500, "reset"])
    for _ in range(7):
        with pytest.raises(SinkError) as info:
            send_one(sink)
        secret_free(info.value)


# -- throughput (run this file as a script) ---------------------------------------------------


def _benchmark(count: int) -> None:
    """prepare + greedy pack + send for ~2 KB `_Audit`-shaped records, fake in-process."""
    records = [audit_record(i, rtype=[VNIC, GET_INSTANCE][i % 2], pad=1500) for i in range(count)]
    raw = sum(len(orjson.dumps(r.body)) for r in records)
    with FakeLoggingIngestion({LOG_ID}, keep_bodies=False) as server:
        sink = OciLoggingSink(logging_client(server.url), LOG_ID)
        best = best_prepare = float("inf")
        for _ in range(3):
            server.clear()
            started = time.perf_counter()
            prepared = [sink.prepare(r, OBJ) for r in records]
            best_prepare = min(best_prepare, time.perf_counter() - started)
            for batch in pack(sink, prepared):
                sink.send(batch, OBJ, timeout=30)
            best = min(best, time.perf_counter() - started)
        assert len(server.entries(LOG_ID)) == count
        requests = len(server.requests)
    print(
        f"{count} records of {raw / count:.0f} B in {requests} requests: "
        f"{count / best:,.0f} records/s, {raw / best / 1e6:.1f} MB/s of record JSON "
        f"(best of 3; prepare alone {best_prepare / count * 1e6:.1f} us/record)"
    )


if __name__ == "__main__":
    _benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)

"""LogzioSink against a real loopback listener that answers as Logz.io documents."""

from __future__ import annotations

import gzip

import orjson
import pytest
import requests
from auditship.delivery.batcher import Batcher
from auditship.errors import CredentialsRejectedError, PermanentSinkError, RetryableSinkError
from auditship.model import ObjectRef, Record
from auditship.sinks.base import Prepared
from auditship.sinks.logzio import LogzioSink
from conftest import TOKEN
from fakes import FakeLogzioListener

OBJ = ObjectRef("audit/x.log.gz", "ns", "bucket", "etag-1")


def sink_for(listener: FakeLogzioListener, token: str = TOKEN, **kw: object) -> LogzioSink:
    return LogzioSink(listener.url, token, **kw)  # type: ignore[arg-type]


def prepared(sink: LogzioSink, n: int) -> list[Prepared]:
    return [
        sink.prepare(Record(i, i * 10, {"id": str(i), "type": "com.oraclecloud.X"}, "t"), OBJ)
        for i in range(n)
    ]


def test_prepare_adds_only_documented_keys() -> None:
    sink = LogzioSink("http://127.0.0.1:9", "tok", log_type="my-type")
    body = {"id": "1", "type": "com.oraclecloud.ComputeApi.LaunchInstance", "data": {"x": 1}}
    p = sink.prepare(Record(0, 0, body, "2026-01-01T00:00:00.000Z"), OBJ)
    line = orjson.loads(p.payload)
    assert line == {
        "id": "1",
        "type": "my-type",
        "eventType": "com.oraclecloud.ComputeApi.LaunchInstance",
        "data": {"x": 1},
        "@timestamp": "2026-01-01T00:00:00.000Z",
    }
    assert p.size == len(p.payload)
    assert b"\n" not in p.payload


def test_a_line_over_the_listener_limit_is_refused_by_the_batcher() -> None:
    sink = LogzioSink("http://127.0.0.1:9", "tok", max_line_bytes=1000)
    line = sink.prepare(Record(0, 0, {"big": "x" * 2000}, None), OBJ)
    reason = Batcher(sink.limits).refusal(line.size)
    assert reason is not None
    assert "at most 1000 bytes per line" in reason
    assert Batcher(sink.limits).refusal(1000) is None


def test_gzip_ndjson_batch_is_accepted_over_one_connection(listener: FakeLogzioListener) -> None:
    sink = sink_for(listener, log_type="oci-audit")
    for _ in range(3):
        delivery = sink.send(prepared(sink, 50), OBJ, timeout=5)
        assert delivery.accepted == 50
    assert len(listener.accepted) == 150
    assert all(r.compressed for r in listener.requests)
    assert listener.requests[0].type == "oci-audit"
    assert listener.connections == 1  # one persistent session


def test_partial_400_is_counted_not_retried(listener: FakeLogzioListener) -> None:
    sink = sink_for(listener)
    batch = prepared(sink, 3)
    batch[1] = Prepared(1, b"not json", 8)
    delivery = sink.send(batch, OBJ, timeout=5)
    assert (delivery.accepted, delivery.refused) == (2, 1)
    assert "malformedLines=1" in delivery.refused_reason
    assert len(listener.requests) == 1


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_bad_token_fails_fast_without_leaking_it(listener: FakeLogzioListener, token: str) -> None:
    sink = sink_for(listener, token=token)
    with pytest.raises(CredentialsRejectedError) as info:
        sink.send(prepared(sink, 1), OBJ, timeout=5)
    assert "401" in str(info.value)
    if token:
        assert token not in str(info.value)
        assert token not in repr(sink)


def test_429_carries_retry_after(listener: FakeLogzioListener) -> None:
    listener.script([(429, {"Retry-After": "7"})])
    sink = sink_for(listener)
    with pytest.raises(RetryableSinkError) as info:
        sink.send(prepared(sink, 1), OBJ, timeout=5)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("action", [500, 502, 503, "reset"])
def test_server_errors_and_resets_are_retryable(
    listener: FakeLogzioListener, action: object
) -> None:
    listener.script([action])  # type: ignore[list-item]
    sink = sink_for(listener)
    with pytest.raises(RetryableSinkError) as info:
        sink.send(prepared(sink, 1), OBJ, timeout=5)
    assert TOKEN not in str(info.value)
    assert sink.send(prepared(sink, 1), OBJ, timeout=5).accepted == 1


def test_timeout_is_retryable_and_token_free(listener: FakeLogzioListener) -> None:
    listener.script([("timeout", 2.0)])
    sink = sink_for(listener)
    with pytest.raises(RetryableSinkError, match="timed out") as info:
        sink.send(prepared(sink, 1), OBJ, timeout=0.5)
    assert TOKEN not in str(info.value)


def test_connection_refused_message_has_no_token() -> None:
    with FakeLogzioListener() as dead:
        url = dead.url
    sink = LogzioSink(url, "very-secret-token")
    with pytest.raises(RetryableSinkError) as info:
        sink.send([Prepared(0, b"{}", 2)], OBJ, timeout=2)
    assert "very-secret-token" not in str(info.value)
    # requests itself would have put the token in its message:
    with pytest.raises(requests.ConnectionError) as raw:
        requests.post(url, params={"token": "very-secret-token"}, timeout=2)
    assert "very-secret-token" in str(raw.value)


def test_413_is_permanent() -> None:
    with FakeLogzioListener(tokens={TOKEN}, max_body_bytes=100) as small:
        sink = sink_for(small)
        with pytest.raises(PermanentSinkError, match="413"):
            sink.send(prepared(sink, 20), OBJ, timeout=5)


def test_body_is_real_gzip_of_ndjson(listener: FakeLogzioListener) -> None:
    sink = sink_for(listener)
    batch = prepared(sink, 2)
    body = b"\n".join(p.payload for p in batch)
    sink.send(batch, OBJ, timeout=5)
    assert listener.requests[0].uncompressed_length == len(body)
    assert gzip.decompress(gzip.compress(body)) == body

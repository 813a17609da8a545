"""Tests proving the HTTP test doubles in tests/fakes behave as their docstrings state."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator

import oci
import pytest
import requests
import urllib3
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.oci_auth import make_client, object_storage_client, sdk_config

TOKEN = "test-token"
NS = "testns"
BUCKET = "audit-bucket"
SCH_NAME = "ocid1.serviceconnector.oc1.iad.amaaaa/20260408T102655Z_20260408T103355Z.0.log.gz"

pytestmark = pytest.mark.timeout(30)


def ndjson(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


# --------------------------------------------------------------------------------------------
# Logz.io listener
# --------------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[FakeLogzioListener]:
    with FakeLogzioListener() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def ship_url(listener: FakeLogzioListener, token: str | None = TOKEN, type_: str = "oci") -> str:
    query = f"type={type_}" if token is None else f"token={token}&type={type_}"
    return f"{listener.url}/?{query}"


def test_listener_accepts_ndjson_over_one_keepalive_connection(
    listener: FakeLogzioListener, session: requests.Session
) -> None:
    for i in range(3):
        resp = session.post(ship_url(listener), data=ndjson({"i": i, "n": 0}, {"i": i, "n": 1}))
        assert resp.status_code == 200
        assert resp.content == b""
    assert listener.accepted == [{"i": i, "n": n} for i in range(3) for n in range(2)]
    assert listener.connections == 1
    assert [r.status for r in listener.requests] == [200, 200, 200]
    first = listener.requests[0]
    assert (first.method, first.path, first.type) == ("POST", "/", "oci")
    assert (first.line_count, first.compressed) == (2, False)
    assert TOKEN not in repr(listener.requests)  # the token is never stored


def test_listener_gunzips_and_accepts_chunked_bodies(
    listener: FakeLogzioListener, session: requests.Session
) -> None:
    raw = ndjson(*({"seq": i, "msg": "x" * 50} for i in range(100)))
    body = gzip.compress(raw)
    resp = session.post(ship_url(listener), data=body, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 200
    rec = listener.requests[-1]
    assert rec.compressed
    assert rec.body_length == len(body) < rec.uncompressed_length == len(raw)
    assert [r["seq"] for r in listener.accepted] == list(range(100))

    resp = session.post(ship_url(listener), data=iter([b'{"a": 1}\n', b'{"a": 2}']))  # chunked
    assert resp.status_code == 200
    assert listener.accepted[-2:] == [{"a": 1}, {"a": 2}]


def test_listener_400_counts_bad_lines_and_keeps_good_ones(
    listener: FakeLogzioListener, session: requests.Session
) -> None:
    lines = [
        b'{"ok": 1}',
        b"",  # empty
        b"not json",  # malformed
        b"[1, 2]",  # JSON but not an object -> malformed
        json.dumps({"big": "x" * 500_001}).encode(),  # oversized
        b"   ",  # whitespace only -> empty
        b'{"ok": 2}',
    ]
    body = gzip.compress(b"\n".join(lines) + b"\n")  # the single trailing newline is ignored
    resp = session.post(ship_url(listener), data=body, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 400
    assert resp.json() == {
        "malformedLines": 2,
        "successfulLines": 2,
        "oversizedLines": 1,
        "emptyLogLines": 2,
    }
    assert listener.accepted == [{"ok": 1}, {"ok": 2}]
    assert listener.requests[-1].line_count == 7


def test_listener_line_limit_is_exclusive_and_configurable(session: requests.Session) -> None:
    with FakeLogzioListener(max_line_bytes=20) as fake:
        exactly = json.dumps({"k": "x" * 11}).encode()
        assert len(exactly) == 20
        ok = session.post(ship_url(fake), data=exactly)
        too_big = session.post(ship_url(fake), data=json.dumps({"k": "x" * 12}))
    assert ok.status_code == 200
    assert too_big.status_code == 400
    assert too_big.json()["oversizedLines"] == 1


@pytest.mark.parametrize(
    ("token", "status", "text"),
    [
        (None, 401, "Logging token is missing"),
        ("", 401, "Logging token is missing"),
        ("wrong", 401, "Logging token is not valid"),
    ],
)
def test_listener_rejects_bad_tokens(
    listener: FakeLogzioListener,
    session: requests.Session,
    token: str | None,
    status: int,
    text: str,
) -> None:
    resp = session.post(ship_url(listener, token=token), data=ndjson({"a": 1}))
    assert (resp.status_code, resp.text) == (status, text)
    assert listener.accepted == []


def test_listener_custom_tokens_and_403(session: requests.Session) -> None:
    with FakeLogzioListener({"t1", "t2"}, auth_failure_status=403) as fake:
        assert session.post(ship_url(fake, token="t2"), data=b'{"a":1}').status_code == 200
        resp = session.post(ship_url(fake, token=TOKEN), data=b'{"a":1}')
    assert (resp.status_code, resp.text) == (403, "Logging token is not valid")


def test_listener_413_default_limit_uncompressed(
    listener: FakeLogzioListener, session: requests.Session
) -> None:
    line = json.dumps({"m": "x" * 1000}).encode() + b"\n"
    body = line * (10_485_760 // len(line) + 1)
    assert len(body) > 10_485_760
    compressed = gzip.compress(body, compresslevel=1)
    resp = session.post(ship_url(listener), data=compressed, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 413
    assert listener.accepted == []
    # Still usable on the same connection afterwards.
    assert session.post(ship_url(listener), data=b'{"a":1}').status_code == 200
    assert listener.connections == 1


def test_listener_413_limit_on_compressed(session: requests.Session) -> None:
    raw = ndjson(*({"i": i} for i in range(200)))
    body = gzip.compress(raw)
    headers = {"Content-Encoding": "gzip"}
    assert len(body) < 1000 < len(raw)
    with FakeLogzioListener(max_body_bytes=1000, limit_on="compressed") as fake:
        assert session.post(ship_url(fake), data=body, headers=headers).status_code == 200
        assert session.post(ship_url(fake), data=raw).status_code == 413
    with FakeLogzioListener(max_body_bytes=1000) as fake:  # default: measured after gunzip
        assert session.post(ship_url(fake), data=body, headers=headers).status_code == 413


def test_listener_scripted_429_with_retry_after_then_normal(
    listener: FakeLogzioListener, session: requests.Session
) -> None:
    listener.script([(429, {"Retry-After": "1"}), (503, "busy"), 500, "ok"])
    statuses = []
    for i in range(5):
        resp = session.post(ship_url(listener), data=ndjson({"i": i}))
        statuses.append(resp.status_code)
        if i == 0:
            assert resp.headers["Retry-After"] == "1"
        if i == 1:
            assert resp.text == "busy"
    assert statuses == [429, 503, 500, 200, 200]
    assert listener.accepted == [{"i": 3}, {"i": 4}]  # scripted errors record nothing
    assert [r.action for r in listener.requests] == ["429", "503", "500", "ok", "ok"]
    assert listener.connections == 1  # bodies were drained; keep-alive survived
    assert listener.pending_script == 0


def test_listener_scripted_reset(listener: FakeLogzioListener, session: requests.Session) -> None:
    listener.script(["reset"])
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(ship_url(listener), data=ndjson({"a": 1}))
    assert session.post(ship_url(listener), data=ndjson({"a": 2})).status_code == 200
    assert listener.accepted == [{"a": 2}]
    assert listener.requests[0].status is None
    assert listener.connections == 2


def test_listener_scripted_timeout_then_processed_anyway(session: requests.Session) -> None:
    with FakeLogzioListener(hang_seconds=0.8) as fake:
        fake.script(["timeout"])
        started = time.monotonic()
        with pytest.raises(requests.exceptions.Timeout):
            session.post(ship_url(fake), data=ndjson({"a": 1}), timeout=0.2)
        assert time.monotonic() - started < 0.7
        assert fake.wait_for_requests(1, timeout=5)
        # The server finished the hung request after the client gave up: a retry duplicates it.
        assert fake.accepted == [{"a": 1}]
        assert fake.requests[0].action == "timeout"
        assert fake.errors == []


def test_listener_timeout_with_hang_status(session: requests.Session) -> None:
    with FakeLogzioListener(hang_seconds=0.1, hang_status=500) as fake:
        fake.script([("timeout", 0.2)])
        resp = session.post(ship_url(fake), data=ndjson({"a": 1}), timeout=5)
    assert resp.status_code == 500
    assert fake.accepted == []


def test_listener_stop_is_fast_with_open_and_hanging_connections(
    session: requests.Session,
) -> None:
    fake = FakeLogzioListener(hang_seconds=60).start()
    assert session.post(ship_url(fake), data=b'{"a":1}').status_code == 200  # idle keep-alive
    fake.script(["timeout"])
    outcome: list[object] = []

    def hung_post() -> None:
        try:
            outcome.append(requests.post(ship_url(fake), data=b'{"b":1}', timeout=30))
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=hung_post)
    worker.start()
    assert fake.wait_for_requests(1)
    time.sleep(0.2)  # let the second request reach its hang
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    worker.join(5)
    assert not worker.is_alive()
    assert len(outcome) == 1
    fake.stop()  # idempotent


# --------------------------------------------------------------------------------------------
# Object Storage + the real oci SDK
# --------------------------------------------------------------------------------------------


@pytest.fixture
def storage() -> Iterator[FakeObjectStorage]:
    with FakeObjectStorage() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def client(storage: FakeObjectStorage) -> oci.object_storage.ObjectStorageClient:
    return object_storage_client(storage.url)


def test_get_object_full_and_ranged(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    data = bytes(range(256)) * 4
    etag = storage.put(NS, BUCKET, SCH_NAME, data)

    full = client.get_object(NS, BUCKET, SCH_NAME)
    assert full.status == 200
    assert full.data.content == data
    assert full.headers["etag"] == etag
    assert full.headers["content-length"] == str(len(data))
    assert full.headers["opc-request-id"]
    assert full.headers["last-modified"].endswith("GMT")

    part = client.get_object(NS, BUCKET, SCH_NAME, range="bytes=0-9")
    assert part.status == 206
    assert part.data.content == data[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(data)}"
    assert part.headers["content-length"] == "10"
    assert part.headers["etag"] == etag

    tail = client.get_object(NS, BUCKET, SCH_NAME, range="bytes=1000-")
    assert (tail.status, tail.data.content) == (206, data[1000:])
    suffix = client.get_object(NS, BUCKET, SCH_NAME, range="bytes=-5")
    assert suffix.data.content == data[-5:]

    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.get_object(NS, BUCKET, SCH_NAME, range=f"bytes={len(data)}-")
    assert (err.value.status, err.value.code) == (416, "InvalidRange")

    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.get_object(NS, BUCKET, SCH_NAME, if_match="other-etag")
    assert (err.value.status, err.value.code) == (412, "IfMatchFailed")

    # The SDK strictly encodes object names ('/' -> %2F); the fake decodes them.
    assert storage.requests[0].path == "/n/testns/b/audit-bucket/o/" + SCH_NAME.replace("/", "%2F")
    assert storage.requests[0].object_name == SCH_NAME
    assert storage.requests[1].range == "bytes=0-9"
    assert storage.requests[0].headers["authorization"].startswith("Signature ")


def test_object_names_with_special_characters(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    names = ["a b/c%d?e#f+g.log.gz", "x/../y", "./dot", "ünï/cödé"]
    storage.create_bucket(NS, BUCKET)
    for name in names:
        client.put_object(NS, BUCKET, name, name.encode())
    assert storage.names(NS, BUCKET) == sorted(names)
    for name in names:
        assert storage.get(NS, BUCKET, name) == name.encode()
        assert client.get_object(NS, BUCKET, name).data.content == name.encode()


def test_head_object(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    etag = storage.put(NS, BUCKET, "obj", b"12345", content_type="application/gzip")
    resp = client.head_object(NS, BUCKET, "obj")
    assert resp.status == 200
    assert resp.headers["content-length"] == "5"
    assert resp.headers["etag"] == etag
    assert resp.headers["content-type"] == "application/gzip"
    assert resp.headers["opc-content-md5"] == storage.stat(NS, BUCKET, "obj").md5
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.head_object(NS, BUCKET, "missing")
    assert err.value.status == 404
    assert err.value.code is None  # HEAD error responses carry no body


def test_put_object_conditional(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    storage.create_bucket(NS, BUCKET)
    first = client.put_object(NS, BUCKET, "marker", b"v1", if_none_match="*")
    assert first.status == 200
    etag1 = first.headers["etag"]
    assert storage.get(NS, BUCKET, "marker") == b"v1"
    assert storage.requests[-1].headers.get("expect") == "100-continue"

    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.put_object(NS, BUCKET, "marker", b"v2", if_none_match="*")
    assert (err.value.status, err.value.code) == (412, "IfNoneMatchFailed")
    assert storage.get(NS, BUCKET, "marker") == b"v1"

    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.put_object(NS, BUCKET, "marker", b"v2", if_match="stale")
    assert (err.value.status, err.value.code) == (412, "IfMatchFailed")

    second = client.put_object(
        NS, BUCKET, "marker", b"v2", if_match=etag1, opc_meta={"source": "test"}
    )
    assert second.headers["etag"] != etag1
    assert storage.get(NS, BUCKET, "marker") == b"v2"
    assert client.head_object(NS, BUCKET, "marker").headers["opc-meta-source"] == "test"

    assert client.delete_object(NS, BUCKET, "marker").status == 204
    assert storage.get(NS, BUCKET, "marker") is None


def test_list_objects_prefix_fields_and_pagination(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    wanted = [f"conn/2026040{i}T000000Z_x.0.log.gz" for i in range(5)]
    for name in [*reversed(wanted), "other/a", "conn-not/x"]:
        storage.put(NS, BUCKET, name, name.encode())

    default = client.list_objects(NS, BUCKET, prefix="conn/").data
    assert [o.name for o in default.objects] == wanted
    assert default.objects[0].size is None  # only 'name' unless fields= asks for more
    assert default.next_start_with is None

    seen: list[oci.object_storage.models.ObjectSummary] = []
    start = None
    pages = 0
    while True:
        kwargs = {"start": start} if start else {}
        page = client.list_objects(
            NS, BUCKET, prefix="conn/", limit=2, fields="name,size,etag,timeCreated,md5", **kwargs
        ).data
        pages += 1
        seen.extend(page.objects)
        if page.next_start_with is None:
            break
        start = page.next_start_with
    assert pages == 3
    assert [o.name for o in seen] == wanted
    assert seen[0].size == len(wanted[0])
    assert seen[0].etag == storage.stat(NS, BUCKET, wanted[0]).etag
    assert seen[0].md5 == storage.stat(NS, BUCKET, wanted[0]).md5
    assert seen[0].time_created.tzinfo is not None

    everything = oci.pagination.list_call_get_all_results(
        client.list_objects, NS, BUCKET, limit=3
    ).data
    assert [o.name for o in everything.objects] == storage.names(NS, BUCKET)

    delimited = client.list_objects(NS, BUCKET, delimiter="/").data
    assert delimited.prefixes == ["conn-not/", "conn/", "other/"]
    assert [o.name for o in delimited.objects] == []


def test_missing_object_and_bucket_raise_service_error(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    storage.create_bucket(NS, BUCKET)
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.get_object(NS, BUCKET, "nope")
    assert (err.value.status, err.value.code) == (404, "ObjectNotFound")
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.list_objects(NS, "no-such-bucket")
    assert (err.value.status, err.value.code) == (404, "BucketNotFound")
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.put_object(NS, "no-such-bucket", "x", b"x")
    assert err.value.code == "BucketNotFound"


def test_scripted_faults_reach_the_sdk(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    storage.put(NS, BUCKET, "obj", b"payload")
    storage.script([503, (429, {"Retry-After": "2"}), "reset", 500])
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.get_object(NS, BUCKET, "obj")
    assert (err.value.status, err.value.code) == (503, "ServiceUnavailable")
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.head_object(NS, BUCKET, "obj")
    assert err.value.status == 429
    assert err.value.headers["retry-after"] == "2"
    with pytest.raises(oci.exceptions.RequestException):  # vendored requests' ConnectionError
        client.list_objects(NS, BUCKET)
    with pytest.raises(oci.exceptions.ServiceError) as err:
        client.put_object(NS, BUCKET, "obj2", b"x")
    assert err.value.status == 500
    assert storage.get(NS, BUCKET, "obj2") is None
    assert client.get_object(NS, BUCKET, "obj").data.content == b"payload"
    assert [r.status for r in storage.requests] == [503, 429, None, 500, 200]


def test_scripted_truncate_and_ranged_resume(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    data = bytes(range(256)) * 400
    etag = storage.put(NS, BUCKET, "big", data)
    storage.script([("truncate", 1000)])
    resp = client.get_object(NS, BUCKET, "big")
    assert resp.headers["content-length"] == str(len(data))
    got = bytearray()

    def drain() -> None:
        for chunk in resp.data.raw.stream(4096, decode_content=False):
            got.extend(chunk)

    with pytest.raises(urllib3.exceptions.ProtocolError):
        drain()
    assert len(got) == 1000
    rest = client.get_object(NS, BUCKET, "big", range=f"bytes={len(got)}-", if_match=etag)
    assert rest.status == 206
    assert bytes(got) + rest.data.content == data


def test_requests_without_authorization_are_rejected(storage: FakeObjectStorage) -> None:
    storage.put(NS, BUCKET, "obj", b"x")
    resp = requests.get(f"{storage.url}/n/{NS}/b/{BUCKET}/o/obj", timeout=5)
    assert resp.status_code == 401
    assert resp.json()["code"] == "NotAuthenticated"


def test_get_namespace_and_other_clients_build(
    storage: FakeObjectStorage, client: oci.object_storage.ObjectStorageClient
) -> None:
    assert client.get_namespace().data == NS
    oci.config.validate_config(sdk_config())
    logging_client = make_client(oci.loggingingestion.LoggingClient, storage.url)
    assert logging_client.base_client.endpoint == storage.url + "/20200831"

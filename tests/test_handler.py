"""Both functions driven through fdk's own test fixtures, with resource-principal auth, the
real oci SDK against loopback Object Storage / Vault / Logging endpoints and a loopback
Logz.io listener."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import BUCKET, NAMESPACE, ROOT, SAMPLE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion
from fakes.vault_secrets import FakeVaultSecrets
from fdk import fixtures

SECRET_OCID = "ocid1.vaultsecret.oc1..logziotoken"
LOG_ID = "ocid1.log.oc1..auditcopy"
OBJECT = "audit/ocid1.serviceconnector.oc1..abc/20261101T000000Z_20261101T000700Z.0.log.gz"


def load_function(folder: str) -> ModuleType:
    path = ROOT / "functions" / folder / "func.py"
    spec = importlib.util.spec_from_file_location(f"func_{folder.replace('-', '_')}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(handler: Any, payload: Any, seconds: float = 60) -> tuple[int, Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    deadline = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    call = asyncio.run(fixtures.setup_fn_call(handler, content=io.BytesIO(body), deadline=deadline))
    content, status, _headers = asyncio.run(call)
    try:
        return status, json.loads(content)
    except (TypeError, ValueError):
        return status, content


def create_event(etag: str, name: str = OBJECT) -> dict[str, Any]:
    return {
        "eventType": "com.oraclecloud.objectstorage.createobject",
        "cloudEventsVersion": "0.1",
        "eventTypeVersion": "2.0",
        "source": "ObjectStorage",
        "eventTime": "2026-11-01T00:07:01.000Z",
        "contentType": "application/json",
        "data": {
            "compartmentId": "ocid1.compartment.oc1..c",
            "resourceName": name,
            "resourceId": f"/n/{NAMESPACE}/b/{BUCKET}/o/{name}",
            "additionalDetails": {"bucketName": BUCKET, "namespace": NAMESPACE, "eTag": etag},
        },
        "eventID": "3e47d127-19de-6eb8-eb67-0c1ab961fcbc",
    }


@pytest.fixture
def vault() -> Iterator[FakeVaultSecrets]:
    with FakeVaultSecrets() as fake:
        fake.set_secret(SECRET_OCID, TOKEN)
        yield fake


@pytest.fixture
def logzio_env(
    monkeypatch: pytest.MonkeyPatch,
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    vault: FakeVaultSecrets,
) -> None:
    monkeypatch.setenv("OCI_OBJECTSTORAGE_ENDPOINT", object_storage.url)
    monkeypatch.setenv("OCI_SECRETS_ENDPOINT", vault.url)
    monkeypatch.setenv("LOGZIO_URL", listener.url)
    monkeypatch.setenv("LOGZIO_TOKEN_SECRET_OCID", SECRET_OCID)
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "5")


@pytest.mark.usefixtures("logzio_env")
def test_object_create_event_ships_once_and_a_duplicate_ships_nothing(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener, vault: FakeVaultSecrets
) -> None:
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    handler = load_function("logzio-shipper").handler
    status, summary = invoke(handler, create_event(etag))
    assert status == 200, summary
    assert summary["complete"] is True
    assert summary["records"] == summary["shipped"] == len(listener.accepted) == 200
    assert summary["rejected"] == 0
    assert TOKEN not in json.dumps(summary)
    # the Events service delivers the same event again
    status, again = invoke(handler, create_event(etag))
    assert status == 200
    assert again["shipped"] == 0
    assert len(listener.accepted) == 200
    assert vault.reads == 1  # token cached per container
    # a replay with force ships again
    status, forced = invoke(
        handler, {"object": f"oci://{NAMESPACE}/{BUCKET}/{OBJECT}", "force": True}
    )
    assert status == 200
    assert forced["shipped"] == 200


@pytest.mark.usefixtures("logzio_env")
def test_prefix_replay_skips_our_own_outputs(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener
) -> None:
    for i in range(3):
        object_storage.put(NAMESPACE, BUCKET, f"audit/c/{i}.log.gz", SAMPLE.read_bytes())
    object_storage.put(NAMESPACE, BUCKET, "audit/c/bad.log.gz", gzip.compress(b'{"a":1}{bad}'))
    handler = load_function("logzio-shipper").handler
    status, summary = invoke(handler, {"prefix": f"oci://{NAMESPACE}/{BUCKET}/audit/c/"})
    assert status == 200, summary
    assert summary["objects"] == 4
    assert summary["shipped"] == 601
    assert summary["rejected"] == 1
    # dead letters and markers were written under their own prefixes; replaying the whole
    # bucket must not ship them as audit records
    status, whole = invoke(
        handler, {"prefix": f"oci://{NAMESPACE}/{BUCKET}/", "force": True}, seconds=120
    )
    assert status == 200, whole
    assert whole["objects"] == 4


@pytest.mark.usefixtures("logzio_env")
def test_an_event_for_a_deleted_object_is_final_and_leaves_nothing_behind(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener
) -> None:
    # GIVEN an object deleted (say by a lifecycle rule) before its event was handled
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    object_storage.delete(NAMESPACE, BUCKET, OBJECT)
    handler = load_function("logzio-shipper").handler
    # WHEN the event arrives, and again
    for _ in range(2):
        status, summary = invoke(handler, create_event(etag))
        # THEN it is a clear, final outcome: not a failed invocation the platform retries
        assert status == 200, summary
        assert summary["missing"] == 1
        assert summary["complete"] is True
        assert "no such object" in summary["errors"][0]
    # AND no lease, progress marker or dead letter was written for it
    assert object_storage.names(NAMESPACE, BUCKET) == []
    assert listener.accepted == []


@pytest.mark.usefixtures("logzio_env")
def test_a_404_that_is_not_a_deleted_object_fails_loudly(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener
) -> None:
    # GIVEN an event naming a bucket these credentials cannot list (here: it does not
    # exist; OCI answers 404 alike for objects it will not show)
    event = create_event("etag-1")
    event["data"]["additionalDetails"]["bucketName"] = "not-ours"
    handler = load_function("logzio-shipper").handler
    status, _ = invoke(handler, event)
    # THEN the invocation fails (a lost grant must not pass for deleted objects)
    assert status != 200


@pytest.mark.usefixtures("logzio_env")
def test_a_whole_bucket_replay_never_ships_another_functions_bookkeeping(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN this function keeps its ledger under shipped/logzio/, and the bucket also holds
    # the PutLogs function's markers, lease and dead letters under prefixes of its own
    monkeypatch.setenv("LEDGER_PREFIX", "shipped/logzio/")
    object_storage.put(NAMESPACE, BUCKET, "audit/c/0.log.gz", SAMPLE.read_bytes())
    other = "shipped/oci-logging/audit/c/0.log.gz@0x8DE1AB"
    object_storage.put(NAMESPACE, BUCKET, f"{other}.done", b'{"objects":1,"records":200}')
    object_storage.put(NAMESPACE, BUCKET, f"{other}.progress", b'{"handled_through":7}')
    object_storage.put(NAMESPACE, BUCKET, f"{other}.lease", b'{"holder":"x","expires":0}')
    letter = {"object": "audit/c/0.log.gz", "offset": 0, "stage": "sink", "raw": '{"a":1}'}
    object_storage.put(
        NAMESPACE, BUCKET,
        "logging-dead-letter/audit/c/0.log.gz/20261201T000000Z-0123abcd-0000.ndjson",
        json.dumps(letter).encode(),
    )  # fmt: skip
    handler = load_function("logzio-shipper").handler
    # WHEN the whole bucket is replayed, twice (the second run meets our own markers too)
    for _ in range(2):
        status, summary = invoke(
            handler, {"prefix": f"oci://{NAMESPACE}/{BUCKET}/", "force": True}, seconds=120
        )
        # THEN only the audit object is shipped
        assert status == 200, summary
        assert summary["objects"] == 1
        assert summary["records"] == summary["shipped"] == 200
    assert all("handled_through" not in r and "holder" not in r for r in listener.accepted)


@pytest.mark.usefixtures("logzio_env")
def test_listener_outage_fails_the_invocation_and_a_retry_resumes(
    object_storage: FakeObjectStorage, listener: FakeLogzioListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGZIO_MAX_BATCH_BYTES", "65536")
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    handler = load_function("logzio-shipper").handler
    listener.script(["ok", *[503] * 200])
    status, body = invoke(handler, create_event(etag), seconds=8)
    assert status == 502  # fdk's error answer: the Events service / operator sees a failure
    assert "complete" in str(body)
    first = len(listener.accepted)
    assert 0 < first < 200
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        monkeypatch.setenv("LOGZIO_URL", healthy.url)
        status, summary = invoke(handler, create_event(etag))
        assert status == 200, summary
        assert summary["skipped"] == first
        ids = [r["id"] for r in listener.accepted[:first]] + [r["id"] for r in healthy.accepted]
    assert len(ids) == len(set(ids)) == 200


@pytest.mark.usefixtures("logzio_env")
def test_bad_payload_is_a_clear_error() -> None:
    handler = load_function("logzio-shipper").handler
    status, body = invoke(handler, b"not json")
    assert status == 502
    assert "payload is not JSON" in str(body)
    status, body = invoke(handler, {"eventType": "com.oraclecloud.objectstorage.deleteobject"})
    assert status == 502
    assert "unsupported event type" in str(body)


@pytest.mark.usefixtures("resource_principal")
def test_missing_token_configuration_names_the_keys(
    monkeypatch: pytest.MonkeyPatch, object_storage: FakeObjectStorage
) -> None:
    monkeypatch.setenv("OCI_OBJECTSTORAGE_ENDPOINT", object_storage.url)
    monkeypatch.delenv("LOGZIO_TOKEN_SECRET_OCID", raising=False)
    monkeypatch.delenv("LOGZIO_TOKEN", raising=False)
    handler = load_function("logzio-shipper").handler
    status, body = invoke(handler, {"object": f"oci://{NAMESPACE}/{BUCKET}/x"})
    assert status == 502
    assert "LOGZIO_TOKEN_SECRET_OCID" in str(body)


def test_logging_function_reingests_every_record_with_stable_ids(
    monkeypatch: pytest.MonkeyPatch,
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
) -> None:
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    with FakeLoggingIngestion({LOG_ID}) as ingestion:
        monkeypatch.setenv("OCI_OBJECTSTORAGE_ENDPOINT", object_storage.url)
        monkeypatch.setenv("OCI_LOGGING_INGESTION_ENDPOINT", ingestion.url)
        monkeypatch.setenv("OCI_LOG_ID", LOG_ID)
        monkeypatch.setenv("LEDGER_PREFIX", "shipped/oci-logging/")
        handler = load_function("oci-logging-shipper").handler
        ingestion.script([429, 500])
        status, summary = invoke(handler, create_event(etag))
        assert status == 200, summary
        entries = ingestion.entries(LOG_ID)
        assert len(entries) == summary["shipped"] == 200
        records = [json.loads(e.data) for e in entries]
        assert [e.id for e in entries] == [r["id"] for r in records]
        assert all(e.time == r["time"] for e, r in zip(entries, records, strict=True))
        assert {e.subject for e in entries} == {f"oci://{NAMESPACE}/{BUCKET}/{OBJECT}"}
        assert all(r["data"]["identity"]["credentials"] == "[REDACTED]" for r in records)
        # duplicate event: nothing more
        status, again = invoke(handler, create_event(etag))
        assert again["shipped"] == 0
        assert len(ingestion.entries(LOG_ID)) == 200


def test_sample_is_what_the_tests_assume() -> None:
    data = gzip.decompress(Path(SAMPLE).read_bytes())
    assert data.count(b'"specversion":"1.0"') == 200


@pytest.mark.usefixtures("logzio_env")
def test_a_rotated_token_takes_effect_in_a_warm_container(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    vault: FakeVaultSecrets,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import auditship.oci_clients

    monkeypatch.setattr(auditship.oci_clients, "_SECRET_TTL_SECONDS", 0)
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    handler = load_function("logzio-shipper").handler
    status, _ = invoke(handler, create_event(etag))
    assert status == 200
    # GIVEN the token is rotated in Vault and the old one revoked (same function config)
    vault.set_secret(SECRET_OCID, "rotated-token")
    listener.tokens = frozenset({"rotated-token"})
    # WHEN the same (warm) function ships again
    status, summary = invoke(
        handler, {"object": f"oci://{NAMESPACE}/{BUCKET}/{OBJECT}", "force": True}
    )
    # THEN the new token is used
    assert status == 200, summary
    assert len(listener.accepted) == 400

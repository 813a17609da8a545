"""Oracle audit files end to end: the operator command ships a bus-stop file, a CSV export
and a SQLcl JSON export to the loopback Logz.io listener and Logging Ingestion, and the
logzio-shipper function ships a large gzip bus-stop file from the bucket (fdk fixtures)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from auditship.deadline import Deadline
from auditship.delivery.deadletter import ObjectStorageDeadLetterStore
from auditship.model import ObjectRef
from auditship.pipeline import ShipOptions
from auditship.retry import RetryPolicy
from auditship.shipping import ship_object
from auditship.sinks.logzio import LogzioSink
from auditship.sources.object_storage import ObjectStorageReader
from auditship.state.ledger import ObjectStorageLedger
from auditship.transforms.normalize import Normalizer
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.logging_ingestion import FakeLoggingIngestion
from test_cli import ship
from test_handler import create_event, invoke, load_function

FIELDS = "#Fields:Date Time Initiator EventType EventStatus MessageText ECID\n"
REMARK = '#Remark Values:ComponentType="JPS"\n'
CSV = (
    '"ID#","OS_USERNAME","USERNAME","TIMESTAMP","ACTION","ACTION_NAME","RULE_SET_NAME",'
    '"RETURNCODE","EXTENDED_TIMESTAMP","COMMENT_TEXT"\n'
    '101,"oracle","SCOTT","2026-11-30 09:15:02",10004,"Realm Violation Audit",'
    '"Allow Sessions",1031,"2026-11-30 09:15:02.123456 +01:00","line one\nline two, ""quoted"""\n'
    '102,"oracle",,"2026-11-30 09:16:00",10005,,,0,"2026-11-30 09:16:00.000000 +01:00",\n'
    '103,"oracle"\n'
)
JSON = (
    '{"results":[{"columns":[{"name":"SESSIONID","type":"NUMBER"},{"name":"ENTRY_ID",'
    '"type":"NUMBER"},{"name":"STATEMENT_ID","type":"NUMBER"},{"name":"EVENT_TIMESTAMP_UTC",'
    '"type":"TIMESTAMP"},{"name":"DBUSERNAME","type":"VARCHAR2"},{"name":"DV_ACTION_NAME",'
    '"type":"VARCHAR2"},{"name":"DV_RULE_SET_NAME","type":"VARCHAR2"},{"name":"DV_RETURN_CODE",'
    '"type":"NUMBER"}],"items":\n[\n'
    '{"sessionid":11,"entry_id":1,"statement_id":1,"event_timestamp_utc":"2026-11-30 08:00:00.5",'
    '"dbusername":"SCOTT","dv_action_name":"Realm Violation Audit","dv_rule_set_name":'
    '"Allow Sessions","dv_return_code":1031}\n'
    ',{"sessionid":11,"entry_id":2,"statement_id":2,"event_timestamp_utc":"2026-11-30 08:00:01",'
    '"dbusername":"SCOTT","dv_action_name":null,"dv_rule_set_name":null,"dv_return_code":null}\n'
    "]}]}\n"
)


def busstop_file(lines: int, bad_every: int = 0) -> bytes:
    rows = [FIELDS, REMARK]
    for i in range(lines):
        if bad_every and i % bad_every == bad_every - 1:
            rows.append(f'2026-11-30 10:{i // 60 % 60:02}:{i % 60:02}.000 "only" "four"\n')
            continue
        message = f'"Login of user{i} \\"quoted\\" with spaces"'
        rows.append(f"2026-11-30  10:{i // 60 % 60:02}:{i % 60:02}.{i % 1000:03} user{i} "
                    f'"Authentication" true {message} -\n')  # fmt: skip
    return "".join(rows).encode()


def lines_of(listener: FakeLogzioListener) -> list[dict[str, Any]]:
    return list(listener.accepted)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "prod1").mkdir()
    paths = {
        "busstop": tmp_path / "audit-JPS.log",
        "csv": tmp_path / "prod1" / "audit_trail.csv",
        "json": tmp_path / "prod1" / "unified.json.gz",
    }
    paths["busstop"].write_bytes(busstop_file(5, bad_every=5).replace(b"\n", b"\r\n"))
    paths["csv"].write_text(CSV)
    paths["json"].write_bytes(gzip.compress(JSON.encode()))
    return paths


def test_each_format_reaches_logzio_with_its_type_time_and_rejects(
    files: dict[str, Path], listener: FakeLogzioListener, tmp_path: Path
) -> None:
    code, _, summary, err = ship(
        *(str(p) for p in files.values()), "--to", "logzio",
        env={"LOGZIO_URL": listener.url, "LOGZIO_TOKEN": TOKEN}, cwd=tmp_path,
    )  # fmt: skip
    assert code == 1, err  # the bad lines were dead-lettered
    assert summary is not None
    assert (summary["records"], summary["shipped"], summary["rejected"]) == (10, 8, 2)
    got = lines_of(listener)
    fmw = [r for r in got if r["type"] == "oracle-fmw-audit"]
    db = [r for r in got if r["type"] == "oracle-db-audit"]
    assert len(fmw) == 4
    assert len(db) == 4
    assert fmw[0] == {
        "Date": "2026-11-30",
        "Time": "10:00:00.000",
        "Initiator": "user0",
        "EventType": "Authentication",
        "EventStatus": "true",
        "MessageText": 'Login of user0 "quoted" with spaces',
        "ComponentType": "JPS",
        "@timestamp": "2026-11-30T10:00:00.000Z",
        "type": "oracle-fmw-audit",
    }
    realm = next(r for r in db if r.get("ID#") == "101")
    assert realm["@timestamp"] == "2026-11-30T08:15:02.123456Z"
    assert realm["COMMENT_TEXT"] == 'line one\nline two, "quoted"'
    assert realm["databaseVault"] == {
        "action": "Realm Violation Audit",
        "actionCode": "10004",
        "ruleSet": "Allow Sessions",
        "returnCode": "1031",
        "comment": 'line one\nline two, "quoted"',
    }
    unified = [r for r in db if "SESSIONID" in r]
    assert [r["@timestamp"] for r in unified] == ["2026-11-30T08:00:00.5Z", "2026-11-30T08:00:01Z"]
    assert unified[0]["databaseVault"]["ruleSet"] == "Allow Sessions"  # as Data Safe names it
    assert "databaseVault" not in unified[1]
    assert unified[0]["DV_RETURN_CODE"] == 1031  # JSON keeps its types
    # exactly the bad lines, with their line numbers, in the local dead letters
    letters = [
        json.loads(line)
        for path in sorted((tmp_path / "dead-letter").glob("*"))
        for line in path.read_text().splitlines()
    ]
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(reasons) == 2
    assert "line 7 " in reasons[0]  # two header lines, then the fifth record line
    assert "2 values for the 10 columns" in reasons[1]


def test_each_format_reaches_oci_logging_with_stable_ids(
    files: dict[str, Path], object_storage: FakeObjectStorage, oci_config_file: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    log_id = "ocid1.log.oc1..formats"
    with FakeLoggingIngestion({log_id}) as ingestion:
        args = [
            str(files["csv"]), str(files["json"]), "--to", "oci-logging", "--log-id", log_id,
            "--config-file", str(oci_config_file), "--logging-endpoint", ingestion.url,
        ]  # fmt: skip
        code, _, summary, err = ship(*args, cwd=tmp_path)
        assert code == 1, err
        assert summary is not None
        assert summary["rejected"] == 1  # row 103 of the CSV export
        entries = ingestion.entries(log_id)
        assert {e.type for e in entries} == {"oracle-db-audit"}
        assert sorted(e.id for e in entries) == [
            "prod1/101",
            "prod1/102",
            "prod1/11.1.1",
            "prod1/11.2.2",
        ]
        by_id = {e.id: e for e in entries}
        assert by_id["prod1/11.1.1"].time is not None
        assert by_id["prod1/11.1.1"].time.startswith("2026-11-30T08:00:00.5")
        # a re-export of the same rows makes the same entries, not new ones
        code, _, _, err = ship(*args, "--force", cwd=tmp_path)
        assert code == 1, err
        assert len(ingestion.entries(log_id)) == 8
        assert sorted({e.id for e in ingestion.entries(log_id)}) == sorted(by_id)


@pytest.mark.usefixtures("resource_principal")
def test_a_large_gzip_busstop_file_through_the_function(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCI_OBJECTSTORAGE_ENDPOINT", object_storage.url)
    monkeypatch.setenv("LOGZIO_URL", listener.url)
    monkeypatch.setenv("LOGZIO_TOKEN", TOKEN)
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "5")
    lines = 60_000
    data = gzip.compress(busstop_file(lines, bad_every=10_000), compresslevel=1)
    name = "fmw/wls1/AdminServer/JPS/audit.log.gz"
    etag = object_storage.put(NAMESPACE, BUCKET, name, data)
    handler = load_function("logzio-shipper").handler
    status, summary = invoke(handler, create_event(etag, name), seconds=240)
    assert status == 200  # every line delivered or dead-lettered: the call succeeded
    body = summary
    assert (body["records"], body["shipped"], body["rejected"]) == (lines, lines - 6, 6)
    assert body["complete"] is True
    assert len(listener.accepted) == lines - 6
    assert {r["type"] for r in listener.accepted} == {"oracle-fmw-audit"}
    letters = [n for n in object_storage.names(NAMESPACE, BUCKET) if n.startswith("dead-letter/")]
    assert letters
    # the event again: the done marker says it is shipped
    status, again = invoke(handler, create_event(etag, name))
    assert again["shipped"] == 0


@pytest.mark.parametrize("kind", ["busstop", "csv", "json"])
def test_an_outage_mid_file_resumes_with_exactly_the_rest(
    kind: str, object_storage: FakeObjectStorage, os_client: Any
) -> None:
    """A format file's positions are the same on every run (another chunk size here), so
    a resume after a failed delivery ships exactly what was not delivered."""
    rows = 3000
    if kind == "busstop":
        data, key = busstop_file(rows, bad_every=700), "Initiator"
    elif kind == "csv":
        body = "".join(f'{i},"oracle","u{i}","2026-11-30 09:15:02",1,,,0,,\n' for i in range(rows))
        data, key = (CSV.split("\n", 1)[0] + "\n" + body).encode(), "USERNAME"
    else:
        items = ",".join(
            json.dumps({"sessionid": i, "entry_id": 1, "statement_id": 1, "dbusername": f"u{i}"})
            + "\n"
            for i in range(rows)
        )
        data, key = (
            JSON.split("[\n", 1)[0].encode() + b"[\n" + items.encode() + b"]}]}\n",
            "DBUSERNAME",
        )
    name = f"dbaudit/prod1/export-{kind}.gz" if kind != "busstop" else "fmw/h/JPS/audit.log.gz"
    object_storage.put(NAMESPACE, BUCKET, name, gzip.compress(data))

    def ship_to(listener: FakeLogzioListener, chunk: int, retry: RetryPolicy) -> Any:
        reader = ObjectStorageReader(os_client, chunk_bytes=chunk)
        obj = reader.head(ObjectRef(name, NAMESPACE, BUCKET))
        sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=32 * 1024)
        try:
            return ship_object(
                obj, reader=reader, sink=sink, normalizer=Normalizer(),
                dead_letters=ObjectStorageDeadLetterStore(os_client, "dead-letter/"),
                ledger=ObjectStorageLedger(os_client, "shipped/"),
                deadline=Deadline.unlimited(),
                options=ShipOptions(retry=retry, deadline_margin_seconds=0.0),
            )  # fmt: skip
        finally:
            sink.close()

    with FakeLogzioListener(tokens={TOKEN}) as failing:
        failing.script(["ok", "ok", "ok", *[503] * 50])
        first = ship_to(failing, 4096, RetryPolicy(0.001, 0.002, max_attempts=2))
        delivered = [r[key] for r in failing.accepted]
    assert not first.complete
    assert 0 < len(delivered) < rows
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = ship_to(healthy, 65536, RetryPolicy(0.001, 0.002, max_attempts=2))
        rest = [r[key] for r in healthy.accepted]
    assert second.complete
    everything = delivered + rest
    assert len(everything) == len(set(everything))  # nothing twice
    assert first.rejected + second.rejected == (4 if kind == "busstop" else 0)
    assert len(everything) + first.rejected + second.rejected == rows

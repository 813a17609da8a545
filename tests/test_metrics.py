"""Metrics in OCI Monitoring (auditship.metrics): the PostMetricData body a run builds, the
newest delivered time the pipeline keeps, and, end to end through the real SDK against a
loopback telemetry-ingestion (fakes.monitoring), the posts of an operator run and of
function invocations: their values, a post on failure, and a dead or slow endpoint that
neither fails the shipping nor holds it past its bound."""

from __future__ import annotations

import functools
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from auditship import metrics
from auditship.deadline import Deadline
from auditship.delivery.deadletter import LocalDeadLetterStore
from auditship.entrypoints import cli
from auditship.metrics import Dimensions, Posted, RunFigures, RunMetrics, newest_event_time
from auditship.model import ObjectRef, Record, Summary
from auditship.pipeline import ShipOptions
from auditship.shipping import ship_object
from auditship.sinks.logzio import LogzioSink
from auditship.sinks.oci_logging import OciLoggingSink
from auditship.sinks.stdout import StdoutSink
from auditship.sources.local import LocalReader
from auditship.state.accounting import RunTally
from auditship.state.ledger import LocalLedger
from auditship.transforms import fastpath
from auditship.transforms.normalize import Normalizer
from conftest import BUCKET, NAMESPACE, SAMPLE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage, OciError
from fakes.monitoring import FakeMonitoring
from fakes.oci_auth import make_client
from hypothesis import given
from hypothesis import strategies as st
from test_audit_collector import DAY0, World, seed_first_day, world  # noqa: F401 - fixture
from test_audit_collector_function import Stage, stage  # noqa: F401 - the fixture
from test_handler import (  # noqa: F401 - fixtures
    OBJECT,
    create_event,
    invoke,
    load_function,
    logzio_env,
    vault,
)

COMPARTMENT = "ocid1.compartment.oc1..metrics"


def fake_accepts(body: dict[str, Any], now: datetime) -> None:
    """The loopback service's own checks, without a request: nothing refused."""
    stored, failed = FakeMonitoring(clock=lambda: now).accept(json.dumps(body).encode())
    assert not failed
    assert len(stored) == len(body["metricData"])


def values_of(body: dict[str, Any]) -> dict[str, float]:
    return {m["name"]: m["datapoints"][0]["value"] for m in body["metricData"]}


# -- the pure part --------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
counts = st.integers(min_value=0, max_value=2**53)
dimension_text = st.text(min_size=0, max_size=700)


@given(
    figures=st.builds(
        RunFigures, counts, counts, counts, st.integers(0, 10**6), st.none() | moments
    ),
    dims=st.builds(Dimensions, dimension_text, dimension_text, st.sampled_from(["", "audit"])),
    now=moments,
    namespace=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,40}", fullmatch=True).filter(
        lambda n: not n.lower().startswith(("oci_", "oracle_"))
    ),
)
def test_the_body_is_what_the_service_takes_and_says_what_the_run_did(
    figures: RunFigures, dims: Dimensions, now: datetime, namespace: str
) -> None:
    body = metrics.post_body(
        figures, dims, namespace=namespace, compartment_id=COMPARTMENT, now=now
    )
    fake_accepts(body, now)
    got = values_of(body)
    failed_name = "RunsFailed" if dims.source else "ObjectsFailed"
    expected = {
        "RecordsShipped": figures.shipped,
        "RecordsRejected": figures.rejected,
        "DeadLettersWritten": figures.dead_letters,
        failed_name: figures.failed,
    }
    if figures.newest_delivered is not None:
        lag = (now - figures.newest_delivered).total_seconds()
        expected["DeliveryLagSeconds"] = round(max(0.0, lag), 3)
    assert got == expected
    for metric in body["metricData"]:
        assert metric["namespace"] == namespace
        assert metric["compartmentId"] == COMPARTMENT
        assert set(metric["dimensions"]) == ({"function", "sink", "source"} if dims.source
                                             else {"function", "sink"})  # fmt: skip
        assert metric["datapoints"][0]["timestamp"].endswith("Z")
    assert body["batchAtomicity"] == "NON_ATOMIC"


@pytest.mark.parametrize("namespace", ["oci_audit_ship", "OCI_x", "oracle_audit", "9lives",
                                       "audit-ship", "", "audit ship"])  # fmt: skip
def test_a_namespace_the_service_refuses_is_not_sent(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        metrics.post_body(
            RunFigures(), Dimensions("f", "logzio"), namespace=namespace,
            compartment_id=COMPARTMENT, now=datetime.now(UTC),
        )  # fmt: skip
    # and the loopback service would refuse it too (every metric: a 400)
    body = metrics.post_body(
        RunFigures(), Dimensions("f", "logzio"), namespace="auditship",
        compartment_id=COMPARTMENT, now=datetime.now(UTC),
    )  # fmt: skip
    for metric in body["metricData"]:
        metric["namespace"] = namespace
    with pytest.raises(Exception, match="namespace"):
        FakeMonitoring().accept(json.dumps(body).encode())


def test_the_default_namespace_is_one_the_service_takes() -> None:
    from auditship.config import Settings

    assert Settings().metrics_namespace == "auditship"
    metrics.check_namespace(Settings().metrics_namespace)


def test_what_a_run_counts_as_failed() -> None:
    tally = RunTally()
    objects, api = Dimensions("f", "logzio"), Dimensions("f", "logzio", "audit")
    done, stopped = Summary(objects=3, shipped=5), Summary(objects=3, complete=False)
    assert RunFigures.of(done, tally, objects).failed == 0
    assert RunFigures.of(stopped, tally, objects).failed == 1  # failed before a pipeline
    tally.unit_ended(False)
    tally.unit_ended(False)
    tally.unit_ended(True)
    assert RunFigures.of(stopped, tally, objects).failed == 2  # two objects' pipelines
    assert RunFigures.of(stopped, tally, api).failed == 1  # a run, once
    assert RunFigures.of(done, tally, api).failed == 0
    assert RunFigures.of(None, tally, objects).failed == 1  # no summary: the run failed
    assert RunFigures.of(None, tally, objects).shipped == 0


def _one_metric(now: datetime, **changes: Any) -> dict[str, Any]:
    metric = metrics.post_body(
        RunFigures(shipped=1), Dimensions("f", "logzio"), namespace="auditship",
        compartment_id=COMPARTMENT, now=now,
    )["metricData"][0]  # fmt: skip
    metric.update(changes)
    return metric


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"namespace": "oci_audit_ship"}, "reserved prefix"),
        ({"namespace": "oracle_x"}, "reserved prefix"),
        ({"namespace": "_x"}, "invalid namespace"),
        ({"name": "Records Shipped"}, "invalid metric name"),
        ({"compartmentId": "not-an-ocid"}, "invalid compartmentId"),
        ({"dimensions": {}}, "0 dimensions"),
        ({"dimensions": {f"k{i}": "v" for i in range(21)}}, "21 dimensions"),
        ({"dimensions": {"a key": "v"}}, "invalid dimension key"),
        ({"dimensions": {"k" * 257: "v"}}, "invalid dimension key"),
        ({"dimensions": {"k": ""}}, "empty dimension"),
        ({"dimensions": {"k": "v" * 513}}, "longer than 512"),
        ({"datapoints": []}, "at least one datapoint"),
        ({"datapoints": [{"timestamp": "yesterday", "value": 1}]}, "not RFC 3339"),
        ({"datapoints": [{"timestamp": "PAST", "value": 1}]}, "two hours"),
        ({"datapoints": [{"timestamp": "FUTURE", "value": 1}]}, "10 minutes"),
        ({"datapoints": [{"timestamp": "NOW", "value": "1"}]}, "not a number"),
        ({"datapoints": [{"timestamp": "NOW", "value": 1, "count": 0}]}, "greater than zero"),
        ({"unit": "bytes"}, "unknown fields"),
    ],
)
def test_the_loopback_service_refuses_what_the_sdk_documents_as_invalid(
    change: dict[str, Any], why: str
) -> None:
    now = datetime.now(UTC)
    stamps = {
        "PAST": now - timedelta(hours=2, seconds=1),
        "FUTURE": now + timedelta(minutes=10, seconds=1),
        "NOW": now,
    }
    for point in change.get("datapoints", []):
        if point["timestamp"] in stamps:
            point["timestamp"] = canonical(stamps[point["timestamp"]])
    fake = FakeMonitoring(clock=lambda: now)
    good, bad = _one_metric(now), _one_metric(now, **change)
    # NON_ATOMIC: the valid metric is stored, the other named in failedMetrics
    stored, failed = fake.accept(json.dumps({"metricData": [good, bad]}).encode())
    assert stored == [good]
    assert [f["metricData"] for f in failed] == [bad]
    assert why in failed[0]["message"]
    # ATOMIC, or nothing valid: the whole request is a 400
    for body in ({"metricData": [good, bad], "batchAtomicity": "ATOMIC"}, {"metricData": [bad]}):
        with pytest.raises(OciError, match=why) as refused:
            fake.accept(json.dumps(body).encode())
        assert (refused.value.status, refused.value.code) == (400, "InvalidParameter")


def test_the_loopback_service_limits_streams_and_body_size() -> None:
    now = datetime.now(UTC)
    fake = FakeMonitoring(clock=lambda: now)
    many = [_one_metric(now, name=f"M{i}") for i in range(51)]
    with pytest.raises(OciError, match="at most 50") as refused:
        fake.accept(json.dumps({"metricData": many}).encode())
    assert refused.value.code == "LimitExceeded"
    assert len(fake.accept(json.dumps({"metricData": many[:50]}).encode())[0]) == 50
    with pytest.raises(OciError, match="exceeds") as refused:
        FakeMonitoring(max_body_bytes=100).accept(json.dumps({"metricData": many}).encode())
    assert refused.value.status == 413


def test_a_partly_refused_post_says_so(monitoring: FakeMonitoring) -> None:
    # NON_ATOMIC through the real SDK: the service refuses one metric, stores the others
    monitoring.refuse = lambda m: "not today" if m["name"] == "RecordsRejected" else None
    outcome = run_metrics(monitoring.url).post(Summary(shipped=1))
    assert (outcome.status, outcome.metrics, outcome.refused) == (Posted.PARTLY, 4, 1)
    assert outcome.reason == "not today"
    assert "RecordsRejected" not in monitoring.values()
    # and when nothing is valid, a 400 that is not tried again
    monitoring.clear()
    monitoring.clock = lambda: datetime.now(UTC) + timedelta(hours=3)  # every stamp too old
    assert run_metrics(monitoring.url).post(Summary()).status is Posted.FAILED
    assert [r.status for r in monitoring.requests] == [400]


# -- the newest delivered time --------------------------------------------------------------


def logzio_lines(times: list[str | None], fast: bool) -> list[bytes]:
    """The lines the Logz.io sink (or the C fast path) makes of records with these times."""
    sink = LogzioSink("http://127.0.0.1:9", TOKEN)
    records = [{"id": str(i), "data": {"n": i}} | ({"time": t} if t else {})
               for i, t in enumerate(times)]  # fmt: skip
    if fast and fastpath.AVAILABLE:
        data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        normalizer = Normalizer()
        spec = fastpath.spec_for(normalizer, sink, 1 << 20)
        assert spec is not None
        window = fastpath.prepare_window(data, 0, ObjectRef("o"), normalizer, sink, 1 << 20, spec)
        return [bytes(p) for p in window.payloads]
    return [
        sink.prepare(Record(i, 0, r, r.get("time")), ObjectRef("o")).payload
        for i, r in enumerate(records)
    ]


def canonical(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


layouts = st.sampled_from(["canonical", "offset", "seconds", "micro", "naive"])


def written(moment: datetime, layout: str) -> str:
    if layout == "canonical":
        return canonical(moment)
    if layout == "offset":
        return moment.astimezone(timedelta_zone(moment)).isoformat(timespec="milliseconds")
    if layout == "seconds":
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if layout == "micro":
        return moment.isoformat(timespec="microseconds")
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds")  # read as UTC


def timedelta_zone(moment: datetime) -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=(moment.minute % 27) - 13))


def shown(moment: datetime, layout: str) -> datetime:
    """`moment` as precise as `layout` writes it."""
    if layout == "seconds":
        return moment.replace(microsecond=0)
    if layout == "micro":
        return moment
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@given(
    st.lists(st.tuples(moments, layouts | st.none()), min_size=1, max_size=40),
    st.booleans(),
)
def test_the_newest_time_of_a_logzio_batch_is_the_newest_record_time(
    stamped: list[tuple[datetime, str | None]], fast: bool
) -> None:
    times = [written(m, layout) if layout else None for m, layout in stamped]
    expected = max((shown(m, lay) for m, lay in stamped if lay), default=None)
    assert newest_event_time(logzio_lines(times, fast)) == expected


def test_a_batch_of_canonical_times_is_compared_as_text() -> None:
    # The usual batch: every line ends with its canonical @timestamp; newest is found
    # without parsing each; a line in another layout sends the batch the slow way.
    base = datetime(2026, 11, 1, tzinfo=UTC)
    stamps = [base + timedelta(seconds=s) for s in (5, 900, 3, 899)]
    lines = logzio_lines([canonical(m) for m in stamps], fast=True)
    assert all(line.endswith(b'Z"}') for line in lines)
    assert newest_event_time(lines) == base + timedelta(seconds=900)
    later = (base + timedelta(hours=1)).isoformat()  # +00:00, sorts differently as text
    assert newest_event_time([*lines, *logzio_lines([later], fast=False)]) == base + timedelta(
        hours=1
    )
    assert newest_event_time(logzio_lines([None, "yesterday"], fast=False)) is None
    assert newest_event_time([]) is None


@functools.cache
def putlogs_sink() -> OciLoggingSink:
    import oci

    client = make_client(oci.loggingingestion.LoggingClient, "http://127.0.0.1:9")
    return OciLoggingSink(client, "ocid1.log.oc1..metrics")


@given(st.lists(st.tuples(moments, layouts | st.none()), min_size=1, max_size=30))
def test_the_newest_time_of_a_putlogs_batch_is_the_newest_entry_time(
    stamped: list[tuple[datetime, str | None]],
) -> None:
    sink = putlogs_sink()
    payloads = [
        sink.prepare(Record(i, 0, {"id": str(i)}, written(m, lay) if lay else None),
                     ObjectRef("o")).payload
        for i, (m, lay) in enumerate(stamped)
    ]  # fmt: skip
    # The sink keeps milliseconds of UTC times (LogEntry `time`)
    kept = [shown(m, lay) for m, lay in stamped if lay]
    expected = max((k.replace(microsecond=k.microsecond // 1000 * 1000) for k in kept),
                   default=None)  # fmt: skip
    assert newest_event_time(payloads) == expected


def test_a_run_tally_keeps_the_newest_time_letters_and_failed_units(tmp_path: Path) -> None:
    # GIVEN two objects with records of known times, one with a line that is not JSON
    first = [{"id": "a", "time": "2026-11-01T00:00:01.000Z"},
             {"id": "b", "time": "2026-11-01T00:09:00.500Z"}]  # fmt: skip
    second = [{"id": "c", "time": "2026-11-01T00:05:00.000Z"}]
    paths = []
    for name, records, junk in (("one.log.gz", first, b"{not json}\n"), ("two.log", second, b"")):
        path = tmp_path / name
        body = b"".join(json.dumps(r).encode() + b"\n" for r in records) + junk
        path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
        paths.append(path)
    tally = RunTally()
    sink = StdoutSink(open(tmp_path / "out", "wb"))  # noqa: SIM115 - closed by the sink
    total = Summary()
    # WHEN both are shipped with the same tally (as one invocation ships them)
    for path in paths:
        total.add(
            ship_object(
                ObjectRef(str(path)), reader=LocalReader(), sink=sink, normalizer=Normalizer(),
                dead_letters=LocalDeadLetterStore(str(tmp_path / "dlq")),
                ledger=LocalLedger(str(tmp_path / "state")), deadline=Deadline.unlimited(),
                options=ShipOptions(tally=tally, deadline_margin_seconds=0),
            )
        )  # fmt: skip
    sink.close()
    # THEN the newest delivered time is across both, and the letter was counted
    assert (total.shipped, total.rejected) == (3, 1)
    assert tally.newest_delivered == datetime(2026, 11, 1, 0, 9, 0, 500000, tzinfo=UTC)
    assert tally.letters_written == 1
    assert tally.units_failed == 0
    # and without a tally nothing is counted (metrics off: the hot path is as it was)
    assert ShipOptions().tally is None


# -- posting --------------------------------------------------------------------------------


@pytest.fixture
def monitoring() -> Any:
    with FakeMonitoring(hang_seconds=30) as fake:
        yield fake
    assert not fake.errors, fake.errors


class _Clients:
    """What RunMetrics asks for: an object with `.monitoring` (the real SDK client)."""

    def __init__(self, url: str) -> None:
        import oci
        from auditship.oci_clients import MONITORING_TIMEOUT
        from auditship.timeouts import watch_client

        self.monitoring = watch_client(
            make_client(oci.monitoring.MonitoringClient, url, timeout=MONITORING_TIMEOUT)
        )


def run_metrics(url: str, **settings: str) -> RunMetrics:
    from auditship.config import Settings

    config = {"METRICS_COMPARTMENT_OCID": COMPARTMENT, **settings}
    clients = _Clients(url)
    return RunMetrics(
        Settings.from_mapping(config),
        lambda: clients,  # type: ignore[arg-type,return-value]
        Dimensions("logzio-shipper", "logzio"),
    )


def test_a_post_is_one_request_with_every_metric(monitoring: FakeMonitoring) -> None:
    run = run_metrics(monitoring.url)
    assert run.tally is not None
    run.tally.delivered(datetime.now(UTC) - timedelta(minutes=3))
    outcome = run.post(Summary(objects=1, shipped=7, rejected=2))
    assert outcome.status is Posted.POSTED, outcome
    assert len(monitoring.requests) == 1
    got = monitoring.values()
    assert {k: v for k, v in got.items() if k != "DeliveryLagSeconds"} == {
        "RecordsShipped": 7, "RecordsRejected": 2, "DeadLettersWritten": 0, "ObjectsFailed": 0,
    }  # fmt: skip
    assert 180 <= got["DeliveryLagSeconds"] < 190
    [point] = monitoring.points("RecordsShipped")
    assert point.dimensions == {"function": "logzio-shipper", "sink": "logzio"}
    assert point.namespace == "auditship"
    # once per run, even when the way out calls it again
    assert run.post(Summary()).status is Posted.SKIPPED
    assert len(monitoring.requests) == 1


def test_metrics_off_posts_nothing_and_tallies_nothing(monitoring: FakeMonitoring) -> None:
    from auditship.config import Settings

    run = RunMetrics(Settings(), lambda: None, Dimensions("f", "stdout"))
    assert run.tally is None
    assert run.post(Summary()).status is Posted.OFF
    assert not monitoring.requests


def test_one_quick_retry_after_a_throttle(monitoring: FakeMonitoring) -> None:
    monitoring.script([(429, {"retry-after": "30"})])
    started = time.monotonic()
    outcome = run_metrics(monitoring.url).post(Summary(shipped=1))
    assert outcome.status is Posted.POSTED
    assert [r.status for r in monitoring.requests] == [429, 200]
    assert time.monotonic() - started < 2  # not the 30 s the service asked for


def test_a_refused_post_is_not_tried_again(monitoring: FakeMonitoring) -> None:
    monitoring.script([(400, "refused")])
    outcome = run_metrics(monitoring.url).post(Summary(shipped=1))
    assert outcome.status is Posted.FAILED
    assert "400" in outcome.reason
    assert len(monitoring.requests) == 1
    # a missing grant says where to look
    monitoring.script([404])
    outcome = run_metrics(monitoring.url).post(Summary(shipped=1))
    assert outcome.reason.startswith("HTTP 404 NotAuthorizedOrNotFound: check the `use metrics`")


@pytest.mark.parametrize("action", ["timeout", ("trickle", 0.2), "reset"])
def test_a_slow_or_dead_endpoint_costs_at_most_the_bound(
    monitoring: FakeMonitoring, action: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "METRICS_SECONDS", 2.0)  # the bound, shorter for the test
    monkeypatch.setattr(metrics, "ATTEMPT_SECONDS", 1.2)
    monitoring.script([action, action])
    started = time.monotonic()
    outcome = run_metrics(monitoring.url).post(Summary(shipped=1))
    assert outcome.status is Posted.FAILED
    assert time.monotonic() - started < metrics.METRICS_SECONDS + 1.0


def test_no_post_when_the_deadline_is_too_close(monitoring: FakeMonitoring) -> None:
    outcome = run_metrics(monitoring.url).post(Summary(), Deadline.after(0.5))
    assert outcome.status is Posted.SKIPPED
    assert not monitoring.requests
    # and a post takes no longer than the deadline leaves (less a reserve)
    monitoring.script(["timeout", "timeout"])
    started = time.monotonic()
    run_metrics(monitoring.url).post(Summary(), Deadline.after(3.0))
    assert time.monotonic() - started < 3.0


def test_the_function_name_comes_from_the_fn_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    class Ctx:
        def FnName(self) -> str | None:  # fdk's name
            return None

    monkeypatch.delenv("FN_FN_NAME", raising=False)
    assert metrics.function_name(Ctx(), "logzio-shipper") == "logzio-shipper"
    monkeypatch.setenv("FN_FN_NAME", "audit-to-logzio")
    assert metrics.function_name(Ctx(), "logzio-shipper") == "audit-to-logzio"
    assert metrics.function_name(object(), "x") == "audit-to-logzio"


def test_the_monitoring_client_posts_to_telemetry_ingestion(
    resource_principal: dict[str, str],
) -> None:
    from auditship.config import Settings
    from auditship.oci_clients import OciClients

    clients = OciClients(Settings(metrics_compartment_ocid=COMPARTMENT))
    endpoint = clients.monitoring.base_client.endpoint
    assert endpoint == "https://telemetry-ingestion.us-ashburn-1.oraclecloud.com/20180401"
    override = OciClients(Settings(monitoring_endpoint="http://127.0.0.1:9"))
    assert override.monitoring.base_client.endpoint == "http://127.0.0.1:9/20180401"


# -- end to end: an operator run --------------------------------------------------------------


def newest_accepted(listener: FakeLogzioListener) -> datetime:
    return max(datetime.fromisoformat(r["@timestamp"]) for r in listener.accepted)


def assert_lag(posted: float, newest: datetime) -> None:
    """DeliveryLagSeconds is now minus the newest delivered time, measured at the post."""
    assert 0 <= (datetime.now(UTC) - newest).total_seconds() - posted < 30


def operator_args(tmp_path: Path, config: Path, monitoring: FakeMonitoring) -> list[str]:
    return [
        "--metrics-compartment", COMPARTMENT, "--monitoring-endpoint", monitoring.url,
        "--config-file", str(config), "--dead-letter-dir", str(tmp_path / "dlq"),
        "--state-dir", str(tmp_path / "state"), "--progress", "never",
    ]  # fmt: skip


def test_an_operator_run_posts_what_it_shipped_and_rejected(
    tmp_path: Path,
    oci_config_file: Path,
    monitoring: FakeMonitoring,
    listener: FakeLogzioListener,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a file of records from the last minutes, with one line that is not JSON
    now = datetime.now(UTC)
    times = [now - timedelta(minutes=m) for m in (9, 4, 7)]
    path = tmp_path / "export.json"
    lines = [json.dumps({"id": str(i), "time": canonical(t)}).encode() for i, t in enumerate(times)]
    path.write_bytes(b"\n".join([lines[0], b'{"broken": }', *lines[1:]]) + b"\n")
    # WHEN it is shipped to Logz.io with --metrics-compartment
    code = cli.run(
        [str(path), "--to", "logzio", "--logzio-url", listener.url, "--logzio-token", TOKEN,
         *operator_args(tmp_path, oci_config_file, monitoring)],
        env={},
    )  # fmt: skip
    # THEN the run is as without metrics (exit 1: something was dead-lettered) ...
    assert code == cli.EXIT_REJECTED
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (summary["shipped"], summary["rejected"]) == (3, 1)
    # ... and one request posted its metrics, signed with the config file's key
    assert len(monitoring.requests) == 1
    assert monitoring.requests[0].status == 200  # signed: the fake answers 401 otherwise
    got = monitoring.values()
    assert {k: v for k, v in got.items() if k != "DeliveryLagSeconds"} == {
        "RecordsShipped": 3, "RecordsRejected": 1, "DeadLettersWritten": 1, "ObjectsFailed": 0,
    }  # fmt: skip
    assert_lag(got["DeliveryLagSeconds"], now.replace(microsecond=now.microsecond // 1000 * 1000)
               - timedelta(minutes=4))  # fmt: skip
    for name in got:
        [point] = monitoring.points(name)
        assert point.dimensions == {"function": "cli", "sink": "logzio"}
        assert (point.namespace, point.compartment_id) == ("auditship", COMPARTMENT)


def test_an_operator_run_that_fails_posts_that_it_failed(
    tmp_path: Path, oci_config_file: Path, monitoring: FakeMonitoring
) -> None:
    # GIVEN a listener that refuses the token: nothing is delivered
    path = tmp_path / "export.json"
    path.write_bytes(b'{"id": "1", "time": "2026-11-01T00:00:00.000Z"}\n')
    with FakeLogzioListener(tokens={"right"}) as strict:
        code = cli.run(
            [str(path), "--to", "logzio", "--logzio-url", strict.url, "--logzio-token", "wrong",
             "--metrics-namespace", "audit_ship_test",
             *operator_args(tmp_path, oci_config_file, monitoring)],
            env={},
        )  # fmt: skip
    assert code == cli.EXIT_INCOMPLETE
    # no DeliveryLagSeconds: nothing was delivered
    assert monitoring.values() == {
        "RecordsShipped": 0,
        "RecordsRejected": 0,
        "DeadLettersWritten": 0,
        "ObjectsFailed": 1,
    }
    assert monitoring.points("ObjectsFailed")[0].namespace == "audit_ship_test"


def test_without_a_metrics_compartment_an_operator_run_posts_nothing(
    tmp_path: Path, monitoring: FakeMonitoring, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(b'{"id": "1", "time": "2026-11-01T00:00:00.000Z"}\n')
    code = cli.run(
        [str(path), "--monitoring-endpoint", monitoring.url, "--dead-letter-dir",
         str(tmp_path / "dlq"), "--state-dir", str(tmp_path / "state")],
        env={},
    )  # fmt: skip
    assert code == cli.EXIT_OK
    assert not monitoring.requests


def test_a_broken_metrics_endpoint_never_changes_the_exit_code(
    tmp_path: Path,
    oci_config_file: Path,
    monitoring: FakeMonitoring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitoring.script([500, 503])
    path = tmp_path / "export.json"
    path.write_bytes(b'{"id": "1", "time": "2026-11-01T00:00:00.000Z"}\n')
    code = cli.run([str(path), *operator_args(tmp_path, oci_config_file, monitoring)], env={})
    assert code == cli.EXIT_OK
    assert [r.status for r in monitoring.requests] == [500, 503]  # one quick retry, no more
    assert "metrics not posted (HTTP 503 ServiceUnavailable)" in caplog.text


def test_an_operator_api_collector_run_posts_runs_with_its_source(
    world: World,  # noqa: F811 - the fixture imported above
    monitoring: FakeMonitoring,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = seed_first_day(world)
    until = DAY0 + timedelta(days=1)
    code, summary = world.collect(
        capsys, "--since", DAY0.isoformat(), "--until", until.isoformat(),
        "--metrics-compartment", COMPARTMENT, "--monitoring-endpoint", monitoring.url,
    )  # fmt: skip
    assert code == 0, summary
    got = monitoring.values()
    assert {k: v for k, v in got.items() if k != "DeliveryLagSeconds"} == {
        "RecordsShipped": len(ids), "RecordsRejected": 0, "DeadLettersWritten": 0,
        "RunsFailed": 0,
    }  # fmt: skip
    assert_lag(got["DeliveryLagSeconds"], newest_accepted(world.listener))
    [point] = monitoring.points("RunsFailed")
    assert point.dimensions == {"function": "cli", "sink": "logzio", "source": "audit"}


# -- end to end: function invocations --------------------------------------------------------


@pytest.fixture
def metrics_env(monkeypatch: pytest.MonkeyPatch, monitoring: FakeMonitoring) -> FakeMonitoring:
    monkeypatch.setenv("METRICS_COMPARTMENT_OCID", COMPARTMENT)
    monkeypatch.setenv("OCI_MONITORING_ENDPOINT", monitoring.url)
    monkeypatch.delenv("FN_FN_NAME", raising=False)
    return monitoring


@pytest.mark.usefixtures("logzio_env")
def test_an_invocation_posts_its_metrics_named_by_the_fn_runtime(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    metrics_env: FakeMonitoring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the shipper deployed as "audit-to-logzio", and an object with a broken record
    monkeypatch.setenv("FN_FN_NAME", "audit-to-logzio")
    body = SAMPLE.read_bytes() + gzip.compress(b'{"cut": \n')
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, body)
    handler = load_function("logzio-shipper").handler
    # WHEN its Object-Create event is handled
    status, summary = invoke(handler, create_event(etag))
    # THEN the invocation is as without metrics, and posted one request
    assert status == 200, summary
    assert (summary["shipped"], summary["rejected"]) == (200, 1)
    assert len(metrics_env.requests) == 1
    got = metrics_env.values()
    assert {k: v for k, v in got.items() if k != "DeliveryLagSeconds"} == {
        "RecordsShipped": 200, "RecordsRejected": 1, "DeadLettersWritten": 1,
        "ObjectsFailed": 0,
    }  # fmt: skip
    assert_lag(got["DeliveryLagSeconds"], newest_accepted(listener))
    [point] = metrics_env.points("RecordsShipped")
    assert point.dimensions == {"function": "audit-to-logzio", "sink": "logzio"}


@pytest.mark.usefixtures("logzio_env")
def test_a_failed_invocation_posts_that_it_failed(metrics_env: FakeMonitoring) -> None:
    handler = load_function("logzio-shipper").handler
    status, _ = invoke(handler, b"not an event")
    assert status == 502
    assert metrics_env.values() == {"RecordsShipped": 0, "RecordsRejected": 0,
                                    "DeadLettersWritten": 0, "ObjectsFailed": 1}  # fmt: skip
    [point] = metrics_env.points("ObjectsFailed")
    assert point.dimensions == {"function": "logzio-shipper", "sink": "logzio"}


@pytest.mark.usefixtures("logzio_env")
def test_a_hanging_monitoring_endpoint_neither_fails_nor_holds_the_invocation(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    metrics_env: FakeMonitoring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "METRICS_SECONDS", 2.0)  # the bound, shorter for the test
    metrics_env.script(["timeout", "timeout"])  # each hangs 30 s
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    handler = load_function("logzio-shipper").handler
    started = time.monotonic()
    status, summary = invoke(handler, create_event(etag))
    assert status == 200, summary
    assert summary["shipped"] == len(listener.accepted) == 200
    assert time.monotonic() - started < 2.0 + 8.0  # the bound, and the shipping itself
    assert not metrics_env.metrics  # nothing arrived in time


@pytest.mark.usefixtures("logzio_env")
def test_a_dead_monitoring_endpoint_neither_fails_nor_holds_the_invocation(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeMonitoring() as gone:
        url = gone.url  # a port nobody listens on once it stops
    monkeypatch.setenv("METRICS_COMPARTMENT_OCID", COMPARTMENT)
    monkeypatch.setenv("OCI_MONITORING_ENDPOINT", url)
    etag = object_storage.put(NAMESPACE, BUCKET, OBJECT, SAMPLE.read_bytes())
    started = time.monotonic()
    status, summary = invoke(load_function("logzio-shipper").handler, create_event(etag))
    assert status == 200, summary
    assert summary["shipped"] == 200
    assert time.monotonic() - started < metrics.METRICS_SECONDS + 8.0


def test_a_collector_invocation_posts_runs_with_its_source(
    stage: Stage,  # noqa: F811 - the fixture imported above
    metrics_env: FakeMonitoring,
) -> None:
    # A scheduled run with no checkpoint yet fails: that is posted too
    status, _ = invoke(stage.handler, {})
    assert status == 502
    assert metrics_env.values()["RunsFailed"] == 1
    metrics_env.clear()
    # A backfill collects every seeded event
    ids = stage.seed(days=1)
    status, summary = invoke(stage.handler, {"audit": {"since": "2d", "until": "30m"}})
    assert status == 200, summary
    got = metrics_env.values()
    assert {k: v for k, v in got.items() if k != "DeliveryLagSeconds"} == {
        "RecordsShipped": len(ids), "RecordsRejected": 0, "DeadLettersWritten": 0,
        "RunsFailed": 0,
    }  # fmt: skip
    assert_lag(got["DeliveryLagSeconds"], newest_accepted(stage.listener))
    [point] = metrics_env.points("RunsFailed")
    assert point.dimensions == {"function": "audit-collector", "sink": "logzio",
                                "source": "audit"}  # fmt: skip


def test_a_time_out_of_range_is_no_newest_time_not_a_failure() -> None:
    """`0001-01-01T00:00:00+01:00` overflows when moved to UTC; it made a settled batch fail
    and, resumed, be sent again on every retry (review of 2026-12-01)."""
    from auditship.metrics import newest_event_time

    lines = [b'{"a":1,"@timestamp":"0001-01-01T00:00:00+01:00"}']
    assert newest_event_time(lines) is None
    lines.append(b'{"a":2,"@timestamp":"2026-11-30T10:00:00Z"}')
    newest = newest_event_time(lines)
    assert newest is not None
    assert newest.isoformat() == "2026-11-30T10:00:00+00:00"

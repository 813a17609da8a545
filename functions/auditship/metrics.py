"""Custom metrics in OCI Monitoring: what one run posts, and posting it.

Every function invocation (when `METRICS_COMPARTMENT_OCID` is configured) and every
operator run given `--metrics-compartment` posts ONE PostMetricData request when it ends,
also when it failed. Each metric has one datapoint (value at the time of posting) and the
dimensions `function` (the function's name; `cli` for the operator command) and `sink`
(logzio, oci-logging, stdout), plus `source` (audit, datasafe) for the API collectors:

    RecordsShipped       records delivered (`Summary.shipped`)
    RecordsRejected      records dead-lettered as rejected (`Summary.rejected`)
    DeadLettersWritten   dead letters written durably (`RunTally.letters_written`; the
                         records of a batch a sink partly refused are all dead-lettered,
                         so this can exceed RecordsRejected)
    ObjectsFailed        object runs: objects the run did not finish: those whose pipeline
                         ended incomplete, and at least 1 when the run is incomplete
                         (a failure before any pipeline ran, objects not started at the
                         deadline: counted once, not per object)
    RunsFailed           API collector runs, instead of ObjectsFailed: 1 when the run did
                         not complete, else 0
    DeliveryLagSeconds   now minus the newest delivered record's own time (its
                         `@timestamp` / LogEntry `time`); not posted when nothing was
                         delivered; 0 when that time is in the future

The pure part (`RunFigures`, `Dimensions`, `post_body`, `newest_event_time`) builds the
request; `RunMetrics.post` sends it with the SDK's `MonitoringClient.post_metric_data`,
within `METRICS_SECONDS` (and what the run's deadline leaves), with one quick retry and
no SDK retries. A metrics failure is logged (status and code, never credentials) and
never fails the run.

PostMetricData as the SDK documents it (oci-python-sdk 2.189.0, `oci/monitoring/`):
- Endpoint: "The endpoints for this operation differ from other Monitoring operations.
  Replace the string `telemetry` with `telemetry-ingestion`" (monitoring_client.py,
  `post_metric_data`); the client's default is `https://telemetry.{region}.{domain}`,
  so `OciClients.monitoring` points at telemetry-ingestion (or OCI_MONITORING_ENDPOINT).
- Namespace: "starts with an alphabetical character and includes only alphanumeric
  characters and underscores. Custom metrics can't use the following reserved prefixes:
  `oci_` and `oracle_`" (models/metric_data_details.py). Hence the default `auditship`,
  not issue 14's `oci_audit_ship`, which the service would refuse.
- Name: "starts with an alphabetical character and includes only alphanumeric
  characters, dots, underscores, hyphens, and dollar signs" (same file).
- Dimensions (required): "A valid dimension key includes only printable ASCII, excluding
  spaces. The character limit for a dimension key is 256. A valid dimension value
  includes only Unicode characters. The character limit for a dimension value is 512.
  Empty strings are not allowed for keys or values" (same file).
- Datapoints: "At least one data point is required per call"; a timestamp "must be near
  current time (less than two hours in the past and less than 10 minutes in the
  future)" (models/datapoint.py; RFC 3339); `count` "Default is 1. Value must be greater
  than zero."
- Per call: "Dimensions per metric group. Maximum: 20. Minimum: 1. Unique metric streams.
  Maximum: 50. Transactions Per Second (TPS) per-tenancy limit for this operation: 50"
  (`post_metric_data`). A run posts 6 streams with 2 or 3 dimensions, in one request.
- `batchAtomicity` NON_ATOMIC (the default): "at least one metric object in the request
  must pass input validation, and any objects that failed validation are identified in
  the returned summary" (`failedMetricsCount`, `failedMetrics`;
  models/post_metric_data_details.py, models/post_metric_data_response_details.py).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.errors import AuditShipError
from auditship.model import Summary
from auditship.retry import RetriesExhaustedError, RetryPolicy, call_with_retry
from auditship.state.accounting import RunTally
from auditship.timeouts import bounded

if TYPE_CHECKING:
    from auditship.oci_clients import OciClients

log = logging.getLogger(__name__)

METRICS_SECONDS = 5.0  # the whole post, both tries: it must not hold the run up
ATTEMPT_SECONDS = 3.0  # one request, connect to answer (timeouts.bounded)
RETRY_PAUSE_SECONDS = 0.25  # before the one retry (a 429 or 5xx, a network error)
_RETRY = RetryPolicy(RETRY_PAUSE_SECONDS, RETRY_PAUSE_SECONDS, max_attempts=2)
DEADLINE_RESERVE_SECONDS = 1.0  # left for the function to answer after the post
MIN_ATTEMPT_SECONDS = 0.5  # less than this left: not tried

# The function configuration a post needs, read on their own (`settings_for_metrics`).
METRICS_KEYS = ("METRICS_COMPARTMENT_OCID", "METRICS_NAMESPACE", "OCI_MONITORING_ENDPOINT")
CLI_FUNCTION = "cli"  # the `function` dimension of the operator command

RECORDS_SHIPPED = "RecordsShipped"
RECORDS_REJECTED = "RecordsRejected"
DEAD_LETTERS_WRITTEN = "DeadLettersWritten"
OBJECTS_FAILED = "ObjectsFailed"
RUNS_FAILED = "RunsFailed"
DELIVERY_LAG_SECONDS = "DeliveryLagSeconds"

NAMESPACE_RULE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_NAMESPACE_PREFIXES = ("oci_", "oracle_")
MAX_DIMENSION_VALUE = 512


# -- the newest delivered time ------------------------------------------------------------

_TIME_KEY = b'"@timestamp":"'
# Logz.io (and stdout) lines end with `"@timestamp":"<the record's time>"}`: the sinks
# (LogzioSink.prepare, native/fastprep.c) add the key last unless the record had one.
# With OCI's canonical times that tail is 40 bytes, and one layout sorts as text by time.
_CANONICAL_TAIL = 40
_CANONICAL_TAILS = re.compile(rb'(?:"@timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}\n)*')
_CANONICAL_TIMES = re.compile(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n)*")


def newest_event_time(payloads: Iterable[object]) -> datetime | None:
    """The newest own time among a batch's prepared records (`Prepared.payload`), in
    UTC, or None when none has one. NDJSON lines (Logz.io, stdout): the line's last
    `"@timestamp":"..."` (the key the sink writes last; a record that had a top-level
    `@timestamp` of its own keeps it in its place, and a nested key of that name after
    it would be read instead); PutLogs entries (`LogEntryPayload`): their `time`.
    Called once per delivered batch, only when metrics are posted: a batch whose times
    all have OCI's canonical layout (the usual case) is compared as text in C, one time
    parsed; any other is parsed record by record. Times that do not parse are skipped;
    a time without a zone is taken as UTC."""
    items = list(payloads)
    if not items:
        return None
    if isinstance(items[0], bytes | bytearray):  # one sink's batch: all lines
        return _newest_in_lines(cast(list[bytes], items))
    times = [t for t in (getattr(item, "time", None) for item in items) if isinstance(t, str)]
    if times and _CANONICAL_TIMES.fullmatch("\n".join(times) + "\n"):
        return _instant(max(times))
    return _newest_of(times)


def _newest_in_lines(lines: list[bytes]) -> datetime | None:
    tails = [line[-_CANONICAL_TAIL:] for line in lines]
    if _CANONICAL_TAILS.fullmatch(b"\n".join(tails) + b"\n"):
        return _instant(max(tails)[len(_TIME_KEY) : -2].decode("ascii"))
    texts: list[str] = []
    for line in lines:
        start = line.rfind(_TIME_KEY)
        if start < 0:
            continue  # a record without a time of its own
        start += len(_TIME_KEY)
        end = line.find(b'"', start)
        if end > start:
            texts.append(line[start:end].decode("utf-8", "replace"))
    return _newest_of(texts)


def _newest_of(texts: Iterable[str]) -> datetime | None:
    moments = [m for m in map(_instant, texts) if m is not None]
    return max(moments) if moments else None


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)  # RFC 3339, "Z" included (Python 3.11)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 east of UTC overflows: not a usable time
        return None


# -- the pure part: what a run posts ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dimensions:
    """Which series a run's metrics go to. `source` is set for the API collectors (their
    runs count RunsFailed; object runs count ObjectsFailed)."""

    function: str
    sink: str
    source: str = ""

    def as_wire(self) -> dict[str, str]:
        wire = {"function": _dimension_value(self.function), "sink": _dimension_value(self.sink)}
        if self.source:
            wire["source"] = _dimension_value(self.source)
        return wire

    @property
    def failed_metric(self) -> str:
        return RUNS_FAILED if self.source else OBJECTS_FAILED


def _dimension_value(text: str) -> str:
    """A value the service takes: not empty, at most 512 characters."""
    text = text.strip()
    return text[:MAX_DIMENSION_VALUE] if text else "unknown"


@dataclass(frozen=True, slots=True)
class RunFigures:
    """What one run did, as its metrics say it (see the module docstring)."""

    shipped: int = 0
    rejected: int = 0
    dead_letters: int = 0
    failed: int = 0
    newest_delivered: datetime | None = None

    @classmethod
    def of(cls, summary: Summary | None, tally: RunTally, dimensions: Dimensions) -> RunFigures:
        """`summary` None: the run failed before it could say what it did."""
        if summary is None:
            failed = 1
        elif dimensions.source:
            failed = 0 if summary.complete else 1
        else:
            failed = max(tally.units_failed, 0 if summary.complete else 1)
        return cls(
            shipped=summary.shipped if summary is not None else 0,
            rejected=summary.rejected if summary is not None else 0,
            dead_letters=tally.letters_written,
            failed=failed,
            newest_delivered=tally.newest_delivered,
        )


def post_body(
    figures: RunFigures,
    dimensions: Dimensions,
    *,
    namespace: str,
    compartment_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The PostMetricData request body (wire JSON), one datapoint per metric at `now`.
    Raises ValueError for a namespace the service refuses (see the module docstring)."""
    check_namespace(namespace)
    values: dict[str, float] = {
        RECORDS_SHIPPED: figures.shipped,
        RECORDS_REJECTED: figures.rejected,
        DEAD_LETTERS_WRITTEN: figures.dead_letters,
        dimensions.failed_metric: figures.failed,
    }
    if figures.newest_delivered is not None:
        lag = (now - figures.newest_delivered).total_seconds()
        values[DELIVERY_LAG_SECONDS] = round(max(0.0, lag), 3)
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    wire_dimensions = dimensions.as_wire()
    return {
        "metricData": [
            {
                "namespace": namespace,
                "compartmentId": compartment_id,
                "name": name,
                "dimensions": dict(wire_dimensions),
                "datapoints": [{"timestamp": stamp, "value": float(value)}],
            }
            for name, value in values.items()
        ],
        "batchAtomicity": "NON_ATOMIC",
    }


def check_namespace(namespace: str) -> None:
    if not NAMESPACE_RULE.fullmatch(namespace):
        raise ValueError(
            f"metrics namespace {namespace!r}: letters, digits and underscores, "
            "starting with a letter"
        )
    if namespace.lower().startswith(RESERVED_NAMESPACE_PREFIXES):
        raise ValueError(f"metrics namespace {namespace!r}: the oci_ and oracle_ prefixes "
                         "are reserved for Oracle's own metrics")  # fmt: skip


# -- the I/O part: posting ----------------------------------------------------------------


class Posted(StrEnum):
    OFF = "off"  # no metrics compartment configured
    POSTED = "posted"  # every metric was taken
    PARTLY = "partly"  # the service refused some metrics (failedMetrics)
    SKIPPED = "skipped"  # not tried: no time left, or nothing valid to send
    FAILED = "failed"  # the request failed (logged)


@dataclass(frozen=True, slots=True)
class PostOutcome:
    status: Posted
    metrics: int = 0  # metric objects sent
    refused: int = 0  # of those, refused by the service (failedMetricsCount)
    reason: str = ""  # why it was not posted (no secrets)


class _Retryable(Exception):
    """A try worth one more: throttled, a server error, the network."""


class MonitoringClients:
    """The OCI clients a function posts its metrics with: built once per container and
    metrics configuration (the SDK leaks memory when signers are built per call), from
    the metrics keys alone, so a run whose other settings are broken still reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._clients: OciClients | None = None

    def get(self, settings: Settings, auth: str) -> OciClients:
        from auditship.oci_clients import OciClients

        key = (settings.metrics_compartment_ocid, settings.monitoring_endpoint, auth)
        with self._lock:
            if self._clients is None or key != self._key:
                self._clients = OciClients(settings, auth=auth)
                self._key = key
            return self._clients


class RunMetrics:
    """One run's metrics: `tally` goes into its ShipOptions (None when metrics are off,
    so the pipeline looks at nothing extra), and `post` sends them once, at the end."""

    def __init__(
        self,
        settings: Settings | None,
        clients: Callable[[], OciClients | None],
        dimensions: Dimensions,
    ) -> None:
        on = settings is not None and bool(settings.metrics_compartment_ocid)
        self._settings = settings if on else None
        self._clients = clients
        self.dimensions = dimensions
        self.tally: RunTally | None = RunTally() if on else None
        self._posted = False

    @property
    def enabled(self) -> bool:
        return self._settings is not None

    def post(self, summary: Summary | None, deadline: Deadline | None = None) -> PostOutcome:
        """Post the run's metrics (`summary` None: the run failed before it said what it
        did) within METRICS_SECONDS and what `deadline` leaves. Never raises for a
        metrics problem: it is logged, and the run goes on as it would have."""
        settings, tally = self._settings, self.tally
        if settings is None or tally is None:
            return PostOutcome(Posted.OFF)
        if self._posted:  # once per run, even if called again on the way out
            return PostOutcome(Posted.SKIPPED, reason="posted already")
        self._posted = True
        try:
            body = post_body(
                RunFigures.of(summary, tally, self.dimensions),
                self.dimensions,
                namespace=settings.metrics_namespace,
                compartment_id=settings.metrics_compartment_ocid,
                now=datetime.now(UTC),
            )
        except ValueError as exc:
            log.warning("metrics not posted: %s", exc)
            return PostOutcome(Posted.SKIPPED, reason=str(exc))
        budget = METRICS_SECONDS
        if deadline is not None:
            budget = min(budget, deadline.remaining() - DEADLINE_RESERVE_SECONDS)
        if budget < MIN_ATTEMPT_SECONDS:
            log.warning("metrics not posted: the invocation's deadline is too close")
            return PostOutcome(Posted.SKIPPED, reason="deadline")
        outcome = _post(self._clients, body, time.monotonic() + budget)
        if outcome.status is Posted.POSTED:
            log.info("metrics posted to namespace %s (%d)", settings.metrics_namespace,
                     outcome.metrics)  # fmt: skip
        return outcome


def _post(
    clients: Callable[[], OciClients | None], body: dict[str, Any], until: float
) -> PostOutcome:
    count = len(body["metricData"])
    try:
        made = clients()
        if made is None:
            raise AuditShipError("no OCI credentials for metrics")
        client = made.monitoring
        details = _sdk_details(body)
    except Exception as exc:  # a broken config file, no resource principal: say which
        reason = str(exc) if isinstance(exc, AuditShipError) else type(exc).__name__
        log.warning("metrics not posted: %s", reason)
        return PostOutcome(Posted.FAILED, count, reason=reason)
    try:  # the project's one retry: a throttled or failed try once more, within `until`
        response = call_with_retry(
            lambda budget: _attempt(client, details, min(ATTEMPT_SECONDS, budget)),
            retry_on=(_Retryable,), deadline=Deadline.after(until - time.monotonic()),
            policy=_RETRY, what="posting metrics",
        )  # fmt: skip
    except AuditShipError as exc:  # refused (another try would be too), or tries ran out
        reason = str(exc.last) if isinstance(exc, RetriesExhaustedError) and exc.last else str(exc)
        log.warning("metrics not posted (%s); shipping is not affected", reason)
        return PostOutcome(Posted.FAILED, count, reason=reason)
    refused = int(getattr(response.data, "failed_metrics_count", 0) or 0)
    if refused:
        first = (getattr(response.data, "failed_metrics", None) or [None])[0]
        why = str(getattr(first, "message", "") or "")[:300]
        log.warning("metrics: the service refused %d of %d: %s", refused, count, why)
        return PostOutcome(Posted.PARTLY, count, refused, why)
    return PostOutcome(Posted.POSTED, count)


def _attempt(client: Any, details: Any, seconds: float) -> Any:
    import oci

    with bounded(seconds) as watch:
        try:
            return client.post_metric_data(details)
        except oci.exceptions.ServiceError as exc:
            what = f"HTTP {exc.status} {exc.code}"
            if exc.status == 429 or exc.status >= 500:
                raise _Retryable(what) from None
            if exc.status in (401, 403, 404):
                what += ": check the `use metrics` grant on this compartment and namespace"
            raise AuditShipError(what) from None
        except Exception as exc:  # the network, or the time limit shut the connection
            raise _Retryable("timed out" if watch.fired else type(exc).__name__) from None


def _sdk_details(body: dict[str, Any]) -> Any:
    """The wire body as the SDK's PostMetricDataDetails."""
    from oci.monitoring import models

    return models.PostMetricDataDetails(
        metric_data=[
            models.MetricDataDetails(
                namespace=metric["namespace"],
                compartment_id=metric["compartmentId"],
                name=metric["name"],
                dimensions=metric["dimensions"],
                datapoints=[
                    models.Datapoint(
                        timestamp=datetime.fromisoformat(point["timestamp"]),
                        value=point["value"],
                    )
                    for point in metric["datapoints"]
                ],
            )
            for metric in body["metricData"]
        ],
        batch_atomicity=body["batchAtomicity"],
    )


# -- how the entry points start a run's metrics -------------------------------------------


def function_name(ctx: Any, default: str) -> str:
    """The function's name for the `function` dimension: fdk's `InvokeContext.FnName()`,
    which fdk fills from the FN_FN_NAME variable the Fn runtime sets (fdk 0.1.128:
    fdk/constants.py `FN_NAME = "FN_FN_NAME"`, fdk/context.py `context_from_format`);
    that variable when the context has none; else `default`."""
    name = None
    method = getattr(ctx, "FnName", None)
    if callable(method):
        name = method()
    name = str(name or os.environ.get("FN_FN_NAME") or "").strip()
    return name or default


def settings_for_metrics(config: Mapping[str, str]) -> Settings | None:
    """The metrics settings of a function's configuration, read alone (a run failing on
    another key still posts), or None when metrics are off or their keys are invalid."""
    wanted = {key: config[key] for key in METRICS_KEYS if key in config}
    if not wanted.get("METRICS_COMPARTMENT_OCID", "").strip():
        return None
    try:
        return Settings.from_mapping(wanted)
    except AuditShipError as exc:
        log.warning("metrics not posted: %s", exc)
        return None


def for_function(
    ctx: Any,
    config: Mapping[str, str],
    clients: MonitoringClients,
    *,
    sink: str,
    default_name: str,
    source: str = "",
) -> RunMetrics:
    """A function invocation's metrics (off unless METRICS_COMPARTMENT_OCID is set)."""
    settings = settings_for_metrics(config)
    auth = config.get("OCI_AUTH", "resource_principal")

    def made() -> OciClients | None:
        return None if settings is None else clients.get(settings, auth)

    dimensions = Dimensions(function_name(ctx, default_name), sink or "unknown", source)
    return RunMetrics(settings, made, dimensions)


def for_operator(
    settings: Settings,
    clients: Callable[[], OciClients | None],
    *,
    sink: str,
    source: str = "",
) -> RunMetrics:
    """An operator run's metrics (off unless --metrics-compartment is given)."""
    return RunMetrics(settings, clients, Dimensions(CLI_FUNCTION, sink, source))

"""Fake OCI Monitoring telemetry-ingestion (PostMetricData), a real HTTP/1.1 server on 127.0.0.1.

The real `oci.monitoring.MonitoringClient` talks to it with `service_endpoint=fake.url`. It
implements `POST /20180401/metrics`, checking in this order:

* unknown path or method -> 404 NotFound;
* no `authorization` header -> 401 NotAuthenticated (the signature itself is not verified);
* a body longer than `max_body_bytes` -> 413 RequestEntityTooLarge (the SDK does not document
  a byte limit; the default, 1 MB, is this fake's assumption);
* a body that is not the PostMetricDataDetails shape -> 400 InvalidParameter: an object with
  `metricData` (a non-empty list of objects) and optional `batchAtomicity` (ATOMIC |
  NON_ATOMIC); no unknown fields;
* more than `max_streams` (50) unique metric streams (namespace, name, compartment,
  dimensions) in one request -> 400 LimitExceeded ("Unique metric streams. Maximum: 50");

then each metric object is checked as the SDK documents MetricDataDetails and Datapoint
(oci/monitoring/models/metric_data_details.py, datapoint.py; quoted in auditship.metrics):

* `namespace`: starts with a letter, then letters, digits and underscores; the `oci_` and
  `oracle_` prefixes are reserved;
* `name`: starts with a letter, then letters, digits, dots, underscores, hyphens, `$`;
* `compartmentId`: an OCID (`ocid1.compartment.` or `ocid1.tenancy.`);
* `dimensions`: 1 to 20 pairs; keys printable ASCII without spaces, at most 256 characters;
  values at most 512 characters; no empty key or value;
* `datapoints`: at least one; each with an RFC 3339 `timestamp` less than two hours in the
  past and less than ten minutes in the future (by this machine's clock), a numeric
  `value` (not NaN or infinite) and an optional `count` greater than zero;
* `resourceGroup` and `metadata` optional; no unknown fields.

A metric object that fails is refused with a message. NON_ATOMIC (the default): "at least
one metric object in the request must pass input validation" -> 400 InvalidParameter when
none does; otherwise 200 `{"failedMetricsCount": n, "failedMetrics": [{"message",
"metricData"}]}` and the others are stored. ATOMIC: any failure -> 400 InvalidParameter and
nothing is stored.

Scripted actions (`script([...])`, see `fakes`), consumed one per request before the checks:
`429`, `(429, {"retry-after": "1"})`, `500`, `"reset"`, `"timeout"` (hang `hang_seconds`, then
handle normally; with `hang_status` answer that instead), `("trickle", s)`, `"ok"`. Errors are
OCI's JSON `{"code": ..., "message": ...}`; every answer carries `opc-request-id`.

`refuse` (a callable, default None) refuses more metric objects, to stand for a partial
refusal.

Records: `requests` (MetricsRequest per request, the authorization header never stored),
`metrics` (every stored metric object, wire JSON, in arrival order); `points(name)`: the
stored datapoints of a metric with their dimensions.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from . import (
    OCI_ERROR_CODES,
    FakeHandler,
    FakeHTTPServer,
    OciError,
    ScriptedResponse,
    not_authenticated,
)

__all__ = ["FakeMonitoring", "MetricsRequest", "OciError", "StoredPoint"]

POST_PATH = "/20180401/metrics"
DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_STREAMS = 50
MAX_DIMENSIONS = 20
MAX_DIMENSION_KEY = 256
MAX_DIMENSION_VALUE = 512
PAST_LIMIT = timedelta(hours=2)
FUTURE_LIMIT = timedelta(minutes=10)

NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_PREFIXES = ("oci_", "oracle_")
METRIC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._$-]*")
DIMENSION_KEY = re.compile(r"[!-~]+")  # printable ASCII without the space
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
OCID = re.compile(r"ocid1\.(compartment|tenancy)\.[a-z0-9-]*\.[a-z0-9-]*\.[A-Za-z0-9._-]+")

_CODES = OCI_ERROR_CODES


@dataclass
class MetricsRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False)
    status: int | None = None  #: None when the connection was reset
    code: str | None = None
    action: str = "ok"
    failed: int = 0  #: metric objects refused in a 200 answer


@dataclass(frozen=True)
class StoredPoint:
    """One stored datapoint with its metric's identity."""

    namespace: str
    name: str
    compartment_id: str
    dimensions: dict[str, str]
    timestamp: str
    value: float
    count: int


def _invalid(message: str) -> OciError:
    return OciError(400, "InvalidParameter", message)


class _MonitoringHandler(FakeHandler):
    owner: FakeMonitoring  # type: ignore[assignment]

    def do_POST(self) -> None:
        owner = self.owner
        body = self.read_body()
        action = owner._next_action()
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = MetricsRequest(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            body,
            action=action.describe(),
        )
        if self._scripted(action, rec, request_id):
            return
        try:
            if self.command != "POST" or self.path.split("?", 1)[0] != POST_PATH:
                raise OciError(404, "NotFound", "Unknown resource")
            if not self.headers.get("authorization"):
                raise not_authenticated()
            stored, failed = owner.accept(body)
        except OciError as exc:
            self._error(rec, request_id, exc.status, exc.message, code=exc.code)
            return
        rec.status, rec.failed = 200, len(failed)
        owner._record(rec, stored)
        answer = {"failedMetricsCount": len(failed), "failedMetrics": failed}
        self.send_simple(
            200,
            json.dumps(answer).encode(),
            content_type="application/json",
            headers={"opc-request-id": request_id},
        )

    do_GET = do_POST
    do_PUT = do_POST
    do_DELETE = do_POST

    def _scripted(self, action: ScriptedResponse, rec: MetricsRequest, request_id: str) -> bool:
        """Carry out a scripted action; True when it answered (or dropped) the request."""
        if action.kind == "trickle":
            self.trickle(action)
            return True
        if action.kind == "reset":
            self.owner._record(rec, [])
            self.reset_connection()
            return True
        if action.kind == "status":
            assert action.status is not None
            self._error(
                rec, request_id, action.status, "Scripted failure", action.headers, action.body
            )
            return True
        if action.kind == "timeout":
            self.hang(action)
            if self.owner.hang_status is not None:
                self._error(rec, request_id, self.owner.hang_status, "Scripted failure")
                return True
        return False

    def _error(
        self,
        rec: MetricsRequest,
        request_id: str,
        status: int,
        message: str,
        headers: Any = None,
        body: bytes | None = None,
        code: str | None = None,
    ) -> None:
        rec.status = status
        rec.code = code or _CODES.get(status, "Error")
        self.owner._record(rec, [])
        self.send_oci_error(status, rec.code, message, request_id, headers, body)


class FakeMonitoring(FakeHTTPServer):
    """Fake PostMetricData endpoint (telemetry-ingestion). See the module docstring.

    Args:
        max_body_bytes / max_streams: the request limits enforced.
        clock: what "now" is for the timestamp window (default: this machine's UTC time).
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _MonitoringHandler

    def __init__(
        self,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_streams: int = MAX_STREAMS,
        clock: Any = None,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        self.max_body_bytes = max_body_bytes
        self.max_streams = max_streams
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests: list[MetricsRequest] = []
        self.metrics: list[dict[str, Any]] = []
        #: an extra check (tests): a message to refuse a valid metric object with, or None
        self.refuse: Callable[[dict[str, Any]], str | None] | None = None

    # -- public helpers ------------------------------------------------------------------------
    def points(self, name: str) -> list[StoredPoint]:
        """Every stored datapoint of metric `name`, in arrival order."""
        with self._lock:
            metrics = [m for m in self.metrics if m["name"] == name]
        return [
            StoredPoint(
                m["namespace"],
                m["name"],
                m["compartmentId"],
                dict(m["dimensions"]),
                p["timestamp"],
                float(p["value"]),
                int(p.get("count", 1)),
            )
            for m in metrics
            for p in m["datapoints"]
        ]

    def values(self) -> dict[str, float]:
        """The last stored value of each metric name (a run posts one datapoint each)."""
        with self._lock:
            return {m["name"]: float(m["datapoints"][-1]["value"]) for m in self.metrics}

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        return self._wait(lambda: len(self.requests) >= n, timeout)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.metrics.clear()

    def accept(self, body: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Check a PostMetricData body as the service would: (metric objects stored,
        `failedMetrics` entries), or OciError for the whole request."""
        if len(body) > self.max_body_bytes:
            raise OciError(
                413,
                "RequestEntityTooLarge",
                f"Request body of {len(body)} bytes exceeds {self.max_body_bytes} bytes",
            )
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise _invalid(f"Body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise _invalid("The body must be a JSON object")
        unknown = set(doc) - {"metricData", "batchAtomicity"}
        if unknown:
            raise _invalid(f"Unknown fields {sorted(unknown)}")
        atomicity = doc.get("batchAtomicity", "NON_ATOMIC")
        if atomicity not in ("ATOMIC", "NON_ATOMIC"):
            raise _invalid("batchAtomicity must be ATOMIC or NON_ATOMIC")
        metrics = doc.get("metricData")
        if not isinstance(metrics, list) or not metrics:
            raise _invalid("metricData must be a non-empty list")
        if not all(isinstance(m, dict) for m in metrics):
            raise _invalid("every metricData item must be an object")
        streams = {_stream(m) for m in metrics}
        if len(streams) > self.max_streams:
            raise OciError(
                400,
                "LimitExceeded",
                f"{len(streams)} unique metric streams in one request; at most {self.max_streams}",
            )
        now = self.clock()
        stored, failed = [], []
        for metric in metrics:
            problem = self.check_metric(metric, now)
            if problem is None:
                stored.append(metric)
            else:
                failed.append({"message": problem, "metricData": metric})
        if failed and (atomicity == "ATOMIC" or not stored):
            raise _invalid("; ".join(f["message"] for f in failed[:5]))
        return stored, failed

    def check_metric(self, metric: dict[str, Any], now: datetime) -> str | None:
        """Why the service would refuse this metric object, or None."""
        fields = {"namespace", "resourceGroup", "compartmentId", "name", "dimensions",
                  "metadata", "datapoints"}  # fmt: skip
        unknown = set(metric) - fields
        if unknown:
            return f"unknown fields {sorted(unknown)}"
        namespace, name = metric.get("namespace"), metric.get("name")
        if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
            return f"invalid namespace {namespace!r}"
        if namespace.lower().startswith(RESERVED_PREFIXES):
            return f"namespace {namespace!r} uses a reserved prefix (oci_, oracle_)"
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            return f"invalid metric name {name!r}"
        compartment = metric.get("compartmentId")
        if not isinstance(compartment, str) or not OCID.fullmatch(compartment):
            return f"invalid compartmentId {compartment!r}"
        problem = _dimensions_problem(metric.get("dimensions"))
        if problem is None:
            problem = _datapoints_problem(metric.get("datapoints"), now)
        if problem is None and not _string_map(metric.get("metadata", {})):
            problem = "metadata must map strings to strings"
        if problem is None and self.refuse is not None:
            problem = self.refuse(metric)
        return problem

    # -- internals -----------------------------------------------------------------------------
    def _record(self, rec: MetricsRequest, stored: list[dict[str, Any]]) -> None:
        with self._lock:
            self.requests.append(rec)
            self.metrics.extend(stored)
        self._notify()


def _stream(metric: dict[str, Any]) -> tuple[Any, ...]:
    dims = metric.get("dimensions")
    key = tuple(sorted(dims.items())) if isinstance(dims, dict) else ()
    return (metric.get("namespace"), metric.get("name"), metric.get("compartmentId"), key)


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _dimensions_problem(dims: Any) -> str | None:
    if not _string_map(dims):
        return "dimensions must map strings to strings"
    if not 1 <= len(dims) <= MAX_DIMENSIONS:
        return f"{len(dims)} dimensions; from 1 to {MAX_DIMENSIONS}"
    for key, value in dims.items():
        if not key or not value:
            return "empty dimension keys and values are not allowed"
        if len(key) > MAX_DIMENSION_KEY or not DIMENSION_KEY.fullmatch(key):
            return f"invalid dimension key {key!r}"
        if len(value) > MAX_DIMENSION_VALUE:
            return f"dimension {key!r}: value longer than {MAX_DIMENSION_VALUE} characters"
    return None


def _datapoints_problem(points: Any, now: datetime) -> str | None:
    if not isinstance(points, list) or not points:
        return "at least one datapoint is required"
    for point in points:
        if not isinstance(point, dict) or set(point) - {"timestamp", "value", "count"}:
            return "a datapoint has timestamp, value and count"
        stamp = point.get("timestamp")
        if not isinstance(stamp, str) or not RFC3339.fullmatch(stamp):
            return f"timestamp {stamp!r} is not RFC 3339"
        when = datetime.fromisoformat(stamp)
        if not now - PAST_LIMIT < when < now + FUTURE_LIMIT:
            return (
                f"timestamp {stamp} must be less than two hours in the past and less than "
                "10 minutes in the future"
            )
        value = point.get("value")
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            return f"value {value!r} is not a number"
        count = point.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            return f"count {count!r} must be greater than zero"
    return None

"""Sink: an OCI Logging custom log, through the Logging Ingestion `PutLogs` API.

Contract (see `sinks.base`):

- `prepare` turns one record into one PutLogs entry: `data` is the record's compact JSON
  (the record stays JSON), `time` is the record's own event time, `id` is the record's own
  top-level `id` or, without one, a UUID derived from the JSON, so re-sending the same
  object produces the same ids. A record whose serialized entry is over
  `max_entry_bytes` raises `RecordRefused` (the service takes entries under 1 MB).
- `Prepared.size` is an upper bound on the bytes the entry adds to the request body (the
  entry's exact JSON plus the worst-case cost of opening a new `LogEntryBatch` for it), so a
  batch packed within `limits` never produces a body over `max_request_bytes`.
- `send` makes exactly one `put_logs` call, with the SDK's retries switched off, grouping
  entries into one `LogEntryBatch` per record type in order of first appearance and
  keeping record order within each group. Failures are classified, never retried here:
  429/5xx/timeouts/connection errors -> `RetryableSinkError` (with the server's
  Retry-After), 401/403/404 -> `CredentialsRejectedError`, other 4xx -> `PermanentSinkError`.
- Messages carry status codes, OCI error codes, request ids and counts, never signer or key
  material or headers.

Wire format: the body is serialized here with orjson and handed to the real SDK client as
bytes (`BaseClient.call_api` sends `str`/`bytes` bodies as they are, still signed with
`x-content-sha256`). It is the same JSON document the SDK builds from `PutLogsDetails`
models (same keys, same order, same values; compact separators and raw UTF-8 instead of
`\\uXXXX` escapes); `to_put_logs_details` builds the model form for comparison. Building
thousands of model objects and running `sanitize_for_serialization` over them costs more
than the HTTP request itself (see the test module's benchmark note).
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import oci
import orjson
from circuitbreaker import CircuitBreakerError

from auditship.errors import (
    CredentialsRejectedError,
    PermanentSinkError,
    RetryableSinkError,
)
from auditship.model import ObjectRef, Record, RejectKind, compact_json
from auditship.retry import is_transient_status, retry_after_in
from auditship.sinks.base import BatchLimits, Delivery, Prepared, RecordRefused, copy_with
from auditship.timeouts import bounded, watch_client

# The service documents "each entry should be less than 1 MB" without saying whether MB is
# 10**6 or 2**20 or exactly what is measured; we measure the whole serialized entry
# (escaped data + id + time, a superset of `data`) against the decimal megabyte, less a
# margin for whatever framing the service counts that we do not.
ENTRY_LIMIT_BYTES = 1_000_000
DEFAULT_MAX_ENTRY_BYTES = ENTRY_LIMIT_BYTES - 1_024

# The request size limit is undocumented. Oracle's own fluentd plugin flushes at >= 9 MiB,
# which suggests a ~10 MB ceiling; 4 MiB leaves a wide margin, keeps one request's memory
# and upload time small inside a function, and is still far above what `DEFAULT_MAX_ENTRIES`
# typical audit records (1-4 KB) fill, so it costs no throughput.
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024

# The per-request entry limit is undocumented too. Careful peers use 1,000 (DataDog's OCI
# forwarder, adibirzu's Data Safe shipper); 500 still amortizes the per-request cost
# (signing, TLS round trip) and keeps a function under ~110 MB peak RSS: each entry is held
# as record JSON and entry JSON, and up to three requests are alive at once (measured with
# scripts/bench.py-style runs on a 256 MB object: 1,000 -> 141 MB, 500 -> 109 MB).
DEFAULT_MAX_ENTRIES = 500

DEFAULT_SOURCE = "oci-audit-ship"
DEFAULT_TYPE = "com.oraclecloud.audit"

# Namespace for ids derived from content; fixed forever so ids stay stable across releases.
ID_NAMESPACE = uuid.UUID("5b0c6f2e-8a4e-5d3a-9c1e-6f0d2b7a4c11")

_ENVELOPE_HEAD = b'{"specversion":"1.0","logEntryBatches":['
_ENVELOPE_TAIL = b"]}"
ENVELOPE_BYTES = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)
# Fixed bytes of one LogEntryBatch around its entries and string values, plus the comma
# that separates it from the previous batch.
_BATCH_FIXED_BYTES = len(
    b'{"entries":[],"source":,"type":,"subject":,"defaultlogentrytime":}'
) + len(b",")
_RFC3339_MS_JSON_BYTES = len(b'"2024-01-01T00:00:00.000Z"')
_CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_SERVICE_MESSAGE_MAX = 300


@dataclass(frozen=True)
class LogEntryPayload:
    """One PutLogs entry (`Prepared.payload`), already serialized for the wire.

    The dataclass fields are the LogEntry's own (`data`: the record's compact JSON, `id`,
    `time`: canonical RFC 3339 UTC milliseconds or None to inherit the batch's
    `defaultlogentrytime`), so `orjson.dumps(payload)` gives the same `{"data", "id",
    "time"}` document as the SDK's LogEntry.
    `type` (the LogEntryBatch it belongs to) and `entry_json` (the exact wire JSON of the
    entry object) are extra slots, not fields, so they stay out of that document.
    """

    __slots__ = ("data", "entry_json", "id", "time", "type")
    data: str
    id: str
    time: str | None

    def __init__(self, data: str, id: str, time: str | None, type: str) -> None:
        entry: dict[str, str] = {"data": data, "id": id}
        if time is not None:
            entry["time"] = time
        set_ = object.__setattr__
        set_(self, "data", data)
        set_(self, "id", id)
        set_(self, "time", time)
        set_(self, "type", type)
        set_(self, "entry_json", orjson.dumps(entry))

    if TYPE_CHECKING:
        type: str
        entry_json: bytes

    def __reduce__(self) -> tuple[Any, ...]:
        # Frozen with hand-written slots: rebuild through __init__ when unpickled (results
        # come back from record-preparation worker processes).
        return (LogEntryPayload, (self.data, self.id, self.time, self.type))


class OciLoggingSink:
    """Writes records to one OCI Logging custom log with `LoggingClient.put_logs`.

    The client should be dedicated to this sink: `send` sets `client.base_client.timeout`
    for each call (the SDK has no per-operation timeout). Build it with
    `circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy()`: the SDK's
    default circuit breaker is shared process-wide and opens after 10 consecutive 429/5xx,
    refusing calls for 30 s without trying; the pipeline's own backoff is the policy. If it
    does open, `send` reports it as retryable with the breaker's remaining time.
    """

    name = "oci-logging"

    def __init__(
        self,
        client: oci.loggingingestion.LoggingClient,
        log_id: str,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        source: str = DEFAULT_SOURCE,
        default_type: str = DEFAULT_TYPE,
    ) -> None:
        if not log_id or not log_id.strip():
            raise ValueError("log_id must be a non-empty log OCID")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if not source or not default_type:
            raise ValueError("source and default_type must be non-empty")
        # One entry of the largest accepted size must fit in a request with its batch
        # framing, or such a record could be prepared but never sent.
        worst_framing = ENVELOPE_BYTES + _BATCH_FIXED_BYTES + 2 * 1024
        if max_entry_bytes < 64 or max_request_bytes < max_entry_bytes + worst_framing:
            raise ValueError(
                f"max_request_bytes ({max_request_bytes}) must exceed max_entry_bytes "
                f"({max_entry_bytes}) by at least {worst_framing} bytes of framing"
            )
        self._client = watch_client(client)
        self.log_id = log_id
        self.max_request_bytes = max_request_bytes
        self.max_entries = max_entries
        self.max_entry_bytes = max_entry_bytes
        self.source = source
        self.default_type = default_type
        self._source_json = orjson.dumps(source)
        # `max_bytes` leaves room for the request envelope; each item's size already
        # includes the cost of the LogEntryBatch it might open, and the comma between
        # entries is the separator.
        self.limits = BatchLimits(
            max_bytes=max_request_bytes - ENVELOPE_BYTES,
            max_items=max_entries,
            separator_bytes=1,
        )

    def with_type(self, log_type: str) -> OciLoggingSink:
        """Records without a `type` of their own go into LogEntryBatches of `log_type`."""
        return copy_with(self, default_type=log_type)

    # -- prepare ------------------------------------------------------------------------

    def prepare(self, record: Record, obj: ObjectRef) -> Prepared:
        """Serialize `record` as one PutLogs entry; raise `RecordRefused` if too large."""
        body = record.body
        data = _compact_json(body, record)
        own_id = body.get("id")
        if isinstance(own_id, str) and own_id.strip():
            entry_id = own_id
        else:
            entry_id = str(uuid.uuid5(ID_NAMESPACE, data))
        rtype = body.get("type")
        if not isinstance(rtype, str) or not rtype.strip():
            rtype = self.default_type
        payload = LogEntryPayload(data, entry_id, _canonical_time(record.event_time), rtype)
        entry_json = payload.entry_json
        if len(entry_json) > self.max_entry_bytes:
            raise RecordRefused(
                f"PutLogs entry is {len(entry_json)} bytes serialized; the limit is "
                f"{self.max_entry_bytes} bytes (service: each entry under "
                f"{ENTRY_LIMIT_BYTES} bytes)",
                RejectKind.TOO_LARGE,
            )
        size = len(entry_json) + _batch_overhead(self._source_json, rtype, str(obj))
        if size > self.limits.max_bytes:
            # Only reachable with an enormous type or object name: it could never be sent.
            raise RecordRefused(
                f"PutLogs entry with its batch framing is {size} bytes; a request may carry "
                f"at most {self.limits.max_bytes} bytes of batches",
                RejectKind.TOO_LARGE,
            )
        return Prepared(
            record_index=record.index,
            payload=payload,
            size=size,
        )

    # -- send ---------------------------------------------------------------------------

    def build_body(self, batch: list[Prepared], obj: ObjectRef) -> bytes:
        """The exact request body `send` posts for `batch` (JSON, UTF-8)."""
        subject_json = orjson.dumps(str(obj))
        # One list of pieces and a single join: concatenating per batch would copy the
        # multi-MiB body several times.
        parts: list[bytes] = [_ENVELOPE_HEAD]
        for n, (rtype, entries) in enumerate(_group_by_type(batch).items()):
            times = [e.time for e in entries if e.time is not None]
            # Canonical times compare correctly as strings.
            default_time = min(times) if times else _now_rfc3339()
            parts.append(b'{"entries":[' if n == 0 else b',{"entries":[')
            first = True
            for e in entries:
                if not first:
                    parts.append(b",")
                parts.append(e.entry_json)
                first = False
            parts.append(
                b'],"source":'
                + self._source_json
                + b',"type":'
                + orjson.dumps(rtype)
                + b',"subject":'
                + subject_json
                + b',"defaultlogentrytime":"'
                + default_time.encode("ascii")
                + b'"}'
            )
        parts.append(_ENVELOPE_TAIL)
        return b"".join(parts)

    def to_put_logs_details(
        self, batch: list[Prepared], obj: ObjectRef
    ) -> oci.loggingingestion.models.PutLogsDetails:
        """The same request as SDK model objects (slower; for comparison and debugging).

        Times are passed as the canonical strings: given `datetime`s the SDK would write
        microseconds (or no fraction at all when they are zero) instead of milliseconds.
        `sanitize_for_serialization` of the result, dumped compactly, equals `build_body`.
        """
        models = oci.loggingingestion.models
        batches = []
        for rtype, entries in _group_by_type(batch).items():
            times = [e.time for e in entries if e.time is not None]
            batches.append(
                models.LogEntryBatch(
                    entries=[models.LogEntry(data=e.data, id=e.id, time=e.time) for e in entries],
                    source=self.source,
                    type=rtype,
                    subject=str(obj),
                    defaultlogentrytime=min(times) if times else _now_rfc3339(),
                )
            )
        return models.PutLogsDetails(specversion="1.0", log_entry_batches=batches)

    def send(self, batch: list[Prepared], obj: ObjectRef, timeout: float) -> Delivery:
        """One PutLogs attempt for `batch`, bounded by `timeout` seconds in all (connect,
        send and the whole answer: `timeouts.bounded`)."""
        if not batch:
            return Delivery(accepted=0)
        body = self.build_body(batch, obj)
        seconds = max(float(timeout), 0.05)
        # No per-call client timeout: `bounded` cuts the whole request at `seconds`, so
        # senders of several windows can share this client (and run at once).
        try:
            with bounded(seconds) as watch:  # the whole request, answer included
                self._client.put_logs(
                    self.log_id,
                    body,
                    # The pipeline's deadline-bounded loop (backoff, jitter, Retry-After,
                    # dead letter) is the retry strategy. SDK retries would sleep and
                    # re-send past the function's deadline and hide the Retry-After.
                    retry_strategy=oci.retry.NoneRetryStrategy(),
                )
        except oci.exceptions.ServiceError as exc:
            raise _classify_service_error(exc, len(batch), obj) from exc
        except CircuitBreakerError as exc:
            remaining = getattr(getattr(exc, "_circuit_breaker", None), "open_remaining", None)
            raise RetryableSinkError(
                f"PutLogs for {obj}: SDK circuit breaker open after repeated 429/5xx; "
                f"{len(batch)} entries not sent",
                retry_after=float(remaining) if isinstance(remaining, int | float) else None,
            ) from None
        except (oci.exceptions.RequestException, oci.exceptions.ConnectTimeout) as exc:
            # Timeouts, resets, refused connections: the request may or may not have
            # been accepted; a retry re-sends the same ids.
            kind = "timeout (no complete answer)" if watch.fired else _transport_kind(exc)
            raise RetryableSinkError(
                f"PutLogs for {obj}: {kind} after up to {seconds:.1f}s; "
                f"{len(batch)} entries, {len(body)} bytes"
            ) from exc
        return Delivery(accepted=len(batch))

    def letter(self, payload: Any) -> bytes:
        """A refused entry's `data` (the record's compact JSON), so a replay needs no
        unwrapping."""
        entry: LogEntryPayload = payload
        return entry.data.encode("utf-8", "surrogatepass")

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into record-preparation workers, which only call `prepare`: the SDK
        # client (signer, session) stays in this process.
        state = self.__dict__.copy()
        state["_client"] = None
        return state

    def close(self) -> None:
        """Release pooled connections; the sink is not used afterwards."""
        session = getattr(self._client.base_client, "session", None)
        if session is not None:
            session.close()


# -- helpers ----------------------------------------------------------------------------


def _compact_json(body: dict[str, Any], record: Record) -> str:
    try:
        return compact_json(body).decode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise RecordRefused(
            f"record {record.index} cannot be serialized as JSON: {type(exc).__name__}"
        ) from None


def _group_by_type(batch: list[Prepared]) -> dict[str, list[LogEntryPayload]]:
    groups: dict[str, list[LogEntryPayload]] = {}
    for item in batch:
        payload: LogEntryPayload = item.payload
        groups.setdefault(payload.type, []).append(payload)
    return groups


@functools.lru_cache(maxsize=4096)
def _batch_overhead(source_json: bytes, rtype: str, subject: str) -> int:
    """Bytes one LogEntryBatch costs besides its entries (and the comma before it)."""
    return (
        _BATCH_FIXED_BYTES
        + len(source_json)
        + len(orjson.dumps(rtype))
        + len(orjson.dumps(subject))
        + _RFC3339_MS_JSON_BYTES
    )


def _canonical_time(value: str | None) -> str | None:
    """RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.123Z`), or None if absent or
    unparseable (the entry then takes its batch's default time)."""
    if value is None:
        return None
    if _CANONICAL_TIME.fullmatch(value):
        return value
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _format_time(parsed.astimezone(UTC))
    except (ValueError, OverflowError):  # e.g. year 1 at +01:00 is before year 1 in UTC
        return None


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _now_rfc3339() -> str:
    return _format_time(datetime.now(UTC))


def _classify_service_error(
    exc: oci.exceptions.ServiceError, count: int, obj: ObjectRef
) -> Exception:
    status = int(exc.status)
    what = (
        f"PutLogs for {obj}: HTTP {status} {exc.code or ''}".rstrip()
        + f" (opc-request-id {exc.request_id or 'none'})"
    )
    detail = _safe_service_message(exc.message)
    if status in (401, 403, 404):
        # NotAuthenticated, NotAuthorizedOrNotFound on the log: nothing will get through.
        return CredentialsRejectedError(f"{what}: log not writable with these credentials")
    if is_transient_status(status):
        return RetryableSinkError(
            f"{what}: {count} entries not accepted{detail}",
            retry_after=retry_after_in(exc.headers),
        )
    return PermanentSinkError(f"{what}: {count} entries refused{detail}")


def _safe_service_message(message: object) -> str:
    """The service's own error text, shortened; dropped if it echoes anything auth-like."""
    if not isinstance(message, str) or not message:
        return ""
    lowered = message.lower()
    if any(word in lowered for word in ("signature", "authorization", "keyid", "private key")):
        return ""
    text = " ".join(message.split())
    if len(text) > _SERVICE_MESSAGE_MAX:
        text = text[:_SERVICE_MESSAGE_MAX] + "..."
    return f": {text}"


def _transport_kind(exc: Exception) -> str:
    """A short, secret-free name for a transport failure (the SDK's text includes URLs)."""
    if isinstance(exc, oci.exceptions.ConnectTimeout):
        return "connect timeout"
    cause = exc.args[0] if exc.args else None
    name = type(cause).__name__ if isinstance(cause, BaseException) else ""
    if "Timeout" in name:
        return "read timeout"
    if "Connection" in name:
        return "connection error"
    return "transport error"

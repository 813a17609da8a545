"""Fake OCI Logging Ingestion (PutLogs), a real HTTP/1.1 server on 127.0.0.1.

The real `oci.loggingingestion.LoggingClient` talks to it with `service_endpoint=fake.url`.
It implements `POST /20200831/logs/{logId}/actions/push`, checking in this order:

* no `authorization` header -> 401 NotAuthenticated (the signature itself is not verified);
* a log id not given to the constructor -> 404 NotAuthorizedOrNotFound;
* body longer than `max_request_bytes` (default 10 MiB) -> 413 RequestEntityTooLarge. The real
  limit is undocumented (docs/platform.md section 4); OCI front ends answer an oversized body
  with 413 (the SDK has a branch for 413/RequestEntityTooLarge), so the fake does too;
* a body that is not exactly the PutLogs wire shape -> 400 InvalidParameter, naming the field:
  `specversion` == "1.0"; `logEntryBatches` a non-empty list; each batch with a non-empty
  `entries` list, non-empty string `source` and `type`, optional string `subject`, RFC 3339
  `defaultlogentrytime`; each entry with a non-empty string `id`, a string `data` and an
  optional RFC 3339 `time`; no unknown fields anywhere;
* an entry whose `data` is `max_entry_bytes` (default 1,000,000) UTF-8 bytes or more -> 400
  InvalidParameter ("each entry should be less than 1 MB");
* more than `max_entries` entries in one request (default 10,000) -> 400 LimitExceeded;
* otherwise 200 with an empty body; every entry is recorded with its batch's
  source/type/subject/defaultlogentrytime (`entries(log_id)`).

A request is all or nothing: nothing is recorded from a refused request.

Scripted actions (`script([...])`, see `fakes`), consumed one per request before the checks:
`429`, `(429, {"retry-after": "2"})`, `500`, `"reset"`, `"timeout"` (hang `hang_seconds`, then
handle normally, so a client that gave up and retries sends a duplicate, as with the real
service), `"ok"`. Scripted statuses without a body answer OCI's error JSON
`{"code": ..., "message": ...}`; every answer carries `opc-request-id`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import OCI_ERROR_CODES, FakeHandler, FakeHTTPServer, OciError, not_authenticated

__all__ = ["FakeLoggingIngestion", "PutLogsRequest", "StoredEntry"]

PUSH_PATH = re.compile(r"^/20200831/logs/([^/?]+)/actions/push$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
DEFAULT_MAX_REQUEST_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_ENTRY_BYTES = 1_000_000

_CODES = OCI_ERROR_CODES


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One accepted entry with its batch's fields."""

    id: str
    data: str
    time: str | None
    source: str
    type: str
    subject: str | None
    defaultlogentrytime: str


@dataclass
class PutLogsRequest:
    """One request as the fake saw it (the authorization header is never stored)."""

    method: str
    path: str
    log_id: str | None
    headers: dict[str, str]
    body_length: int
    body: bytes = field(default=b"", repr=False)  #: kept unless `keep_bodies=False`
    status: int | None = None  #: None when the connection was reset
    action: str = "ok"
    entries: int = 0  #: entries accepted from this request
    code: str | None = None  #: OCI error code answered, if any


def _require(condition: object, message: str) -> None:
    if not condition:
        raise OciError(400, "InvalidParameter", message)


class _IngestionHandler(FakeHandler):
    owner: FakeLoggingIngestion  # type: ignore[assignment]

    def do_POST(self) -> None:
        owner = self.owner
        body = self.read_body()
        action = owner._next_action()
        match = PUSH_PATH.match(self.path)
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = PutLogsRequest(
            method=self.command,
            path=self.path,
            log_id=match.group(1) if match else None,
            headers={k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            body_length=len(body),
            body=body if owner.keep_bodies else b"",
            action=action.describe(),
        )
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec, None, [])
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            self._answer_error(
                rec, action.status, request_id, "Scripted failure", action.headers, action.body
            )
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                self._answer_error(rec, owner.hang_status, request_id, "Scripted failure")
                return
        try:
            if match is None:
                raise OciError(404, "NotFound", "Unknown resource")
            if "authorization" not in {k.lower() for k in self.headers}:
                raise not_authenticated()
            if rec.log_id not in owner.log_ids:
                raise OciError(
                    404,
                    "NotAuthorizedOrNotFound",
                    "Authorization failed or requested resource not found.",
                )
            doc = owner.validate(body)
        except OciError as exc:
            self._answer_error(rec, exc.status, request_id, exc.message, code=exc.code)
            return
        stored = [
            StoredEntry(
                id=entry["id"],
                data=entry["data"],
                time=entry.get("time"),
                source=batch["source"],
                type=batch["type"],
                subject=batch.get("subject"),
                defaultlogentrytime=batch["defaultlogentrytime"],
            )
            for batch in doc["logEntryBatches"]
            for entry in batch["entries"]
        ]
        rec.status = 200
        rec.entries = len(stored)
        owner._record(rec, rec.log_id, stored)
        self.send_simple(200, b"", headers={"opc-request-id": request_id})

    def do_GET(self) -> None:
        self.read_body()
        self.send_simple(
            404,
            json.dumps({"code": "NotFound", "message": "Unknown resource"}).encode(),
            content_type="application/json",
        )

    do_PUT = do_GET
    do_DELETE = do_GET

    def _answer_error(
        self,
        rec: PutLogsRequest,
        status: int,
        request_id: str,
        message: str,
        headers: Any = None,
        body: bytes | None = None,
        code: str | None = None,
    ) -> None:
        rec.status = status
        rec.code = code or _CODES.get(status, "Error")
        self.owner._record(rec, None, [])
        self.send_oci_error(status, rec.code, message, request_id, headers, body)


class FakeLoggingIngestion(FakeHTTPServer):
    """Fake PutLogs endpoint. See the module docstring for the contract.

    Args:
        log_ids: the custom logs that exist and that any signed caller may write.
        max_request_bytes / max_entries / max_entry_bytes: the limits enforced.
        keep_bodies: store each request's raw body in `requests` (turn off for benchmarks).
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.

    Attributes: `url`, `requests` (PutLogsRequest per request), `connections`, `errors`.
    Methods: `start()`, `stop()`, context manager, `script([...])`, `entries(log_id)`,
    `clear()`, `validate(body)`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _IngestionHandler

    def __init__(
        self,
        log_ids: set[str] | frozenset[str] | list[str] | tuple[str, ...] = (),
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        keep_bodies: bool = True,
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        self.log_ids = frozenset(log_ids)
        self.max_request_bytes = max_request_bytes
        self.max_entries = max_entries
        self.max_entry_bytes = max_entry_bytes
        self.keep_bodies = keep_bodies
        self.requests: list[PutLogsRequest] = []
        self._entries: dict[str, list[StoredEntry]] = {}

    # -- public helpers ------------------------------------------------------------------------
    def entries(self, log_id: str) -> list[StoredEntry]:
        """Entries accepted for `log_id`, in arrival order."""
        with self._lock:
            return list(self._entries.get(log_id, []))

    def clear(self) -> None:
        """Forget recorded requests and entries (the script and counters are kept)."""
        with self._lock:
            self.requests.clear()
            self._entries.clear()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` requests were recorded."""
        return self._wait(lambda: len(self.requests) >= n, timeout)

    def validate(self, body: bytes) -> dict[str, Any]:
        """Parse and check a PutLogs body; raise `OciError` as the service would."""
        if len(body) > self.max_request_bytes:
            raise OciError(
                413,
                "RequestEntityTooLarge",
                f"Request body of {len(body)} bytes exceeds {self.max_request_bytes} bytes",
            )
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise OciError(400, "InvalidParameter", f"Body is not valid JSON: {exc}") from None
        _require(isinstance(doc, dict), "The body must be a JSON object")
        unknown = set(doc) - {"specversion", "logEntryBatches"}
        _require(not unknown, f"Unknown fields {sorted(unknown)}")
        _require(doc.get("specversion") == "1.0", 'specversion must be "1.0"')
        batches = doc.get("logEntryBatches")
        _require(isinstance(batches, list) and batches, "logEntryBatches must be a non-empty list")
        total = 0
        for b, batch in enumerate(batches):
            where = f"logEntryBatches[{b}]"
            _require(isinstance(batch, dict), f"{where} must be an object")
            unknown = set(batch) - {"entries", "source", "type", "subject", "defaultlogentrytime"}
            _require(not unknown, f"{where}: unknown fields {sorted(unknown)}")
            for name in ("source", "type"):
                value = batch.get(name)
                _require(isinstance(value, str) and value, f"{where}.{name} must be a string")
            subject = batch.get("subject")
            _require(subject is None or isinstance(subject, str), f"{where}.subject: not a string")
            default_time = batch.get("defaultlogentrytime")
            _require(
                isinstance(default_time, str) and RFC3339.match(default_time),
                f"{where}.defaultlogentrytime must be an RFC3339 date-time",
            )
            entries = batch.get("entries")
            _require(
                isinstance(entries, list) and entries, f"{where}.entries must be a non-empty list"
            )
            for e, entry in enumerate(entries):
                at = f"{where}.entries[{e}]"
                _require(isinstance(entry, dict), f"{at} must be an object")
                unknown = set(entry) - {"data", "id", "time"}
                _require(not unknown, f"{at}: unknown fields {sorted(unknown)}")
                _require(isinstance(entry.get("id"), str) and entry["id"], f"{at}.id is required")
                data = entry.get("data")
                _require(isinstance(data, str), f"{at}.data must be a string")
                size = len(data.encode("utf-8", "surrogatepass"))
                _require(
                    size < self.max_entry_bytes,
                    f"{at}.data is {size} bytes; each entry must be less than "
                    f"{self.max_entry_bytes} bytes",
                )
                when = entry.get("time")
                _require(
                    when is None or (isinstance(when, str) and RFC3339.match(when)),
                    f"{at}.time must be an RFC3339 date-time",
                )
            total += len(entries)
        if total > self.max_entries:
            raise OciError(
                400, "LimitExceeded", f"{total} entries in one request; at most {self.max_entries}"
            )
        return doc

    # -- internals -----------------------------------------------------------------------------
    def _record(self, rec: PutLogsRequest, log_id: str | None, stored: list[StoredEntry]) -> None:
        with self._lock:
            self.requests.append(rec)
            if log_id is not None:
                self._entries.setdefault(log_id, []).extend(stored)
        self._notify()

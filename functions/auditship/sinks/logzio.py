"""Logz.io bulk HTTP listener sink.

- Each record becomes one NDJSON line: the normalized record plus `@timestamp` (the
  record's own time), `type` (the configured Logz.io log type; Logz.io lets a record's own
  `type` override the URL's, so it has to be in the record) and `eventType` (the record's
  original CloudEvents `type`, e.g. com.oraclecloud.ComputeApi.LaunchInstance, when the
  record has no `eventType` of its own - the Audit API shape already uses that name).
- A line longer than the listener's 500,000-byte limit is refused by the batcher (the
  sink's `limits.max_item_bytes`) and dead-lettered whole (Logz.io would drop it);
  nothing is truncated.
- One request per batch, gzip-compressed (`Content-Encoding: gzip`), through one
  persistent `requests.Session`. Batches are bounded in uncompressed bytes so the limit
  holds whether Logz.io measures before or after compression.
- Status handling follows the listener's documented answers: 200 all accepted; 400 with
  line counts is a partial acceptance (reported, never retried blindly); 401/403 means the
  token is wrong (fail fast); 413 is permanent for that body; 429 and 5xx are retryable,
  honouring Retry-After; timeouts and connection errors are retryable.

The token travels only in the query string of the request. Error messages are built here
from the host name and status code: requests' own exceptions include the full URL, and
with it the token, so they are never formatted into a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from auditship.errors import (
    CredentialsRejectedError,
    PermanentSinkError,
    RetryableSinkError,
    SourceError,
)
from auditship.model import ObjectRef, Record, RejectKind, compact_json, nesting_depth
from auditship.retry import retry_after_in
from auditship.sinks.base import BatchLimits, Delivery, Prepared, RecordRefused, copy_with
from auditship.timeouts import bounded, watch_session

try:  # pragma: no cover - platform dependent
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover
    import gzip as _gzip  # type: ignore[no-redef]  # the same API, where isal has no wheel

log = logging.getLogger(__name__)

MAX_DEPTH = 254  # what orjson writes (and the C fast path hands over past)

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class LogzioSink:
    name = "logzio"

    def __init__(
        self,
        url: str,
        token: str | Callable[[], str],
        *,
        log_type: str = "oci-audit",
        max_batch_bytes: int = 3 * 1024 * 1024,
        max_line_bytes: int = 500_000,
        compress_level: int = 1,
        session: requests.Session | None = None,
    ) -> None:
        self._url = url.rstrip("/") + "/"
        self._host = urlsplit(url).netloc or url
        # A callable is asked before every request (the Vault secret, cached for a few
        # minutes by its reader), so a rotated token takes effect in a warm container.
        self._token = token
        self._type = log_type
        self._level = compress_level
        self._session = session or requests.Session()
        watch_session(self._session)
        self.limits = BatchLimits(
            max_bytes=max_batch_bytes,
            max_items=1_000_000,
            separator_bytes=1,
            max_item_bytes=max_line_bytes,
            item_name="line",
        )

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into record-preparation workers, which only call `prepare`: no token or
        # HTTP session in the pickle (forked workers still share the parent's memory).
        state = self.__dict__.copy()
        state["_token"] = ""
        state["_session"] = None
        return state

    def __repr__(self) -> str:  # never show the token
        return f"LogzioSink(host={self._host!r}, type={self._type!r})"

    def with_type(self, log_type: str) -> LogzioSink:
        return copy_with(self, _type=log_type)

    def fast_spec(self) -> str:
        """The log type, for the C fast path, which repeats `prepare` (fastpath.py)."""
        return self._type

    def prepare(self, record: Record, obj: ObjectRef) -> Prepared:
        body: dict[str, Any] = record.body
        original_type = body.get("type")
        if original_type is not None and "eventType" not in body:
            body["eventType"] = original_type
        body["type"] = self._type
        if record.event_time is not None:
            body["@timestamp"] = record.event_time
        try:
            line = orjson.dumps(body)
        except orjson.JSONEncodeError:
            line = _line_orjson_cannot_write(body)
        return Prepared(record.index, line, len(line))

    def letter(self, payload: Any) -> bytes:
        return bytes(payload)

    def _current_token(self) -> str:
        if not callable(self._token):
            return self._token
        try:
            return self._token()
        except SourceError as exc:  # Vault unreachable for now: worth another attempt
            raise RetryableSinkError(f"reading the Logz.io token: {exc}") from None

    def send(self, batch: list[Prepared], obj: ObjectRef, timeout: float) -> Delivery:
        params = {"token": self._current_token(), "type": self._type}
        body = b"\n".join([p.payload for p in batch])
        data = _gzip.compress(body, self._level)
        try:
            with bounded(timeout) as watch:  # the whole request, answer included
                resp = self._session.post(
                    self._url,
                    params=params,
                    data=data,
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                    timeout=(min(10.0, timeout), timeout),
                )
        except requests.Timeout:
            raise RetryableSinkError(f"Logz.io listener {self._host}: timed out") from None
        except requests.RequestException as exc:
            if watch.fired:
                raise RetryableSinkError(
                    f"Logz.io listener {self._host}: timed out "
                    f"(no complete answer in {timeout:.1f}s)"
                ) from None
            raise RetryableSinkError(
                f"Logz.io listener {self._host}: {type(exc).__name__} (connection failed)"
            ) from None
        status = resp.status_code
        if status == 200:
            return Delivery(accepted=len(batch))
        if status == 400:
            return self._partial(resp, len(batch))
        if status in (401, 403):
            raise CredentialsRejectedError(
                f"Logz.io listener {self._host} rejected the shipping token (HTTP {status})"
            )
        if status in _RETRYABLE_STATUS:
            raise RetryableSinkError(
                f"Logz.io listener {self._host}: HTTP {status}",
                retry_after=retry_after_in(resp.headers),
            )
        if status == 413:
            raise PermanentSinkError(
                f"Logz.io listener {self._host}: HTTP 413, body of {len(body)} bytes "
                f"({len(data)} compressed) is too large"
            )
        raise PermanentSinkError(f"Logz.io listener {self._host}: HTTP {status}")

    def _partial(self, resp: requests.Response, sent: int) -> Delivery:
        try:
            counts = resp.json()
            successful = int(counts.get("successfulLines", 0))
            detail = ", ".join(
                f"{k}={int(counts.get(k, 0))}"
                for k in ("malformedLines", "oversizedLines", "emptyLogLines", "successfulLines")
            )
        except (ValueError, TypeError, AttributeError):
            successful, detail = 0, "no line counts in the answer"
        successful = max(0, min(successful, sent))
        return Delivery(
            accepted=successful,
            refused=sent - successful,
            refused_reason=(
                f"Logz.io answered 400 for this batch ({detail}); the listener does not say "
                "which lines it refused, so the whole batch is dead-lettered and replaying it "
                f"may repeat the {successful} lines it accepted"
            ),
        )

    def close(self) -> None:
        self._session.close()


def _line_orjson_cannot_write(body: dict[str, Any]) -> bytes:
    """Integers beyond 64 bits are written with their exact digits; a record nested past
    MAX_DEPTH levels is refused (Elasticsearch would not index it either)."""
    if nesting_depth(body) > MAX_DEPTH:
        raise RecordRefused(f"record is nested deeper than {MAX_DEPTH} levels", RejectKind.TOO_DEEP)
    try:
        return compact_json(body)
    except (TypeError, ValueError) as exc:
        raise RecordRefused(
            f"record cannot be written as one JSON line: {exc}", RejectKind.UNWRITABLE
        ) from None

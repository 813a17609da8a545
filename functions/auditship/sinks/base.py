"""The contract every sink implements.

The pipeline asks a sink to `prepare` each record (serialize it the way the sink wants it
and measure it), packs prepared items into batches within the sink's `limits` (the
batcher, `delivery.batcher`, also refuses records no request can carry), and hands each
batch to `send`, in stream order, one at a time.

- `prepare` raises `RecordRefused` (with a `RejectKind`) for a record the sink can never
  accept; the pipeline dead-letters it with that reason.
- `send` returns a `Delivery` when the request was answered. A partial refusal (e.g.
  Logz.io's 400 with line counts) is a Delivery with `refused > 0`; the pipeline
  dead-letters the batch's records with `refused_reason` so nothing is lost silently.
- `send` raises `RetryableSinkError` for a failure worth retrying; the pipeline owns the
  retry loop (`retry.call_with_retry`: backoff, jitter, `retry_after`, the deadline), so
  a sink makes one attempt, within the `timeout` it is given.
- `send` raises `PermanentSinkError` when retrying the same batch cannot help, and
  `CredentialsRejectedError` when nothing will get through (stops the call).
- `letter(payload)` is how a prepared record is kept in a dead letter: bytes that a
  replay (`--dead-letters`) can ship again as one record.
- `with_type(log_type)` is the same sink typing records `log_type` (Logz.io's `type`,
  PutLogs' LogEntryBatch type): records of bus-stop files and database exports.
- Nothing a sink raises or returns may contain a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from auditship.delivery.batcher import BatchLimits
from auditship.model import ObjectRef, Record, RejectKind

__all__ = ["BatchLimits", "Delivery", "Prepared", "RecordRefused", "Sink"]


class RecordRefused(Exception):
    """`prepare` cannot turn this record into something the sink accepts."""

    def __init__(self, reason: str, kind: RejectKind = RejectKind.UNWRITABLE) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(slots=True)
class Prepared:
    """A record serialized for one sink. `payload` is the sink's own type (bytes for
    NDJSON sinks, a LogEntry for PutLogs); `size` is what counts against `max_bytes`."""

    record_index: int
    payload: Any
    size: int


@dataclass(frozen=True, slots=True)
class Delivery:
    accepted: int
    refused: int = 0
    refused_reason: str = ""


class Sink(Protocol):
    name: str
    limits: BatchLimits

    def prepare(self, record: Record, obj: ObjectRef) -> Prepared: ...

    def send(self, batch: list[Prepared], obj: ObjectRef, timeout: float) -> Delivery: ...

    def letter(self, payload: Any) -> bytes: ...

    def with_type(self, log_type: str) -> Sink:
        """This sink, typing the records it prepares `log_type` (records of another
        format in the same run); it shares this sink's connections and is never closed."""
        ...

    def close(self) -> None: ...


S = TypeVar("S")


def copy_with(sink: S, **changes: Any) -> S:
    """A shallow copy of `sink` with some attributes changed (for `with_type`): not
    `copy.copy`, which would go through a sink's `__getstate__` (which drops secrets)."""
    clone = object.__new__(type(sink))
    clone.__dict__.update(sink.__dict__)
    clone.__dict__.update(changes)
    return clone

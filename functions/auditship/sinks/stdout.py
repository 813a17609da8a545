"""Writes the normalized records as NDJSON to a binary stream (stdout by default).

The lines are exactly what the Logz.io sink would post, so `--to stdout` previews a
shipment. Always accepts; used by the operator command and the bundled sample.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from auditship.config import LOGZIO_MAX_LINE_BYTES
from auditship.model import ObjectRef, Record
from auditship.sinks.base import BatchLimits, Delivery, Prepared, copy_with
from auditship.sinks.logzio import LogzioSink


class StdoutSink:
    name = "stdout"

    def __init__(self, stream: BinaryIO | None = None, log_type: str = "oci-audit") -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        # Same line format as Logz.io; the token is never used.
        self._format = LogzioSink("http://unused.invalid", "", log_type=log_type)
        self.limits = BatchLimits(
            max_bytes=1024 * 1024,
            max_items=10_000,
            separator_bytes=1,
            max_item_bytes=LOGZIO_MAX_LINE_BYTES,
            item_name="line",
        )

    def prepare(self, record: Record, obj: ObjectRef) -> Prepared:
        return self._format.prepare(record, obj)

    def send(self, batch: list[Prepared], obj: ObjectRef, timeout: float) -> Delivery:
        self._stream.write(b"".join([p.payload + b"\n" for p in batch]))
        return Delivery(accepted=len(batch))

    def with_type(self, log_type: str) -> StdoutSink:
        return copy_with(self, _format=self._format.with_type(log_type))

    def letter(self, payload: Any) -> bytes:
        return bytes(payload)

    def close(self) -> None:
        self._stream.flush()
        self._format.close()

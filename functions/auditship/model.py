"""Plain data passed between the stages. No behaviour beyond small derived values."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One object to ship: an Object Storage object or a local file.

    `namespace`/`bucket` are empty for local files; `etag` is empty when unknown.
    """

    name: str
    namespace: str = ""
    bucket: str = ""
    etag: str = ""

    @property
    def is_local(self) -> bool:
        return not self.bucket

    def __str__(self) -> str:
        if self.is_local:
            return self.name
        return f"oci://{self.namespace}/{self.bucket}/{self.name}"


@dataclass(slots=True)
class Record:
    """One audit record after repair and normalization.

    `index` counts records (and rejects) from 0 in object order; it is stable for the same
    object bytes, which is what checkpoints and PutLogs ids rely on. `offset` is the byte
    offset of the record's first byte in the decompressed stream. `event_time` is the
    record's own time as an RFC 3339 string (UTC, millisecond precision), or None.
    """

    index: int
    offset: int
    body: dict[str, Any]
    event_time: str | None = None


@dataclass(slots=True)
class Reject:
    """Something that could not be delivered, with why. Goes to the dead letter.

    `raw` holds the bytes as read (for a parse failure) or the serialized record (for a
    record a sink refused). `index` is the position in object order where known.
    """

    object_name: str
    offset: int
    reason: str
    raw: bytes = b""
    index: int | None = None
    stage: str = "repair"

    def to_json_dict(self) -> dict[str, Any]:
        try:
            text: str | None = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        out: dict[str, Any] = {
            "object": self.object_name,
            "offset": self.offset,
            "index": self.index,
            "stage": self.stage,
            "reason": self.reason,
        }
        if text is not None:
            out["raw"] = text
        else:
            out["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        return out


@dataclass(slots=True)
class Summary:
    """What happened to one object (or, summed, to one invocation)."""

    objects: int = 0
    records: int = 0
    shipped: int = 0
    rejected: int = 0
    filtered: int = 0
    skipped: int = 0  # already delivered by an earlier run (checkpoint or done-marker)
    batches: int = 0
    bytes_in: int = 0  # decompressed bytes read
    bytes_out: int = 0  # bytes handed to the sink (before transport compression)
    seconds: float = 0.0
    complete: bool = True
    credentials_rejected: bool = False  # the sink refused our credentials: stop the call
    errors: list[str] = field(default_factory=list)

    def add(self, other: Summary) -> None:
        for name in (
            "objects", "records", "shipped", "rejected", "filtered", "skipped",
            "batches", "bytes_in", "bytes_out",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds
        self.complete = self.complete and other.complete
        self.credentials_rejected = self.credentials_rejected or other.credentials_rejected
        self.errors.extend(other.errors)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "records": self.records,
            "shipped": self.shipped,
            "rejected": self.rejected,
            "filtered": self.filtered,
            "skipped": self.skipped,
            "batches": self.batches,
            "bytes": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 3),
            "complete": self.complete,
            "errors": self.errors,
        }


def compact_json(value: Any) -> bytes:
    """`value` as compact JSON. orjson refuses integers beyond 64 bits, lone surrogates
    (both of which the stdlib parser produces) and nesting past 255 levels; the stdlib
    encoder then writes them exactly, as ASCII with \\u escapes. NaN and Infinity are not
    JSON: ValueError. Deeper than Python's recursion limit: RecursionError."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()

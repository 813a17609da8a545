"""Plain data passed between the stages. No behaviour beyond small derived values."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from enum import StrEnum
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


class RejectKind(StrEnum):
    """Why something was rejected, for code (the `reason` beside it is for people)."""

    NOT_JSON = "not-json"  # bytes that are not a JSON object
    CUT_OFF = "cut-off"  # the stream ends inside a record
    DOUBTFUL = "doubtful"  # an empty object right after junk: most likely cut from a string
    TOO_LARGE = "too-large"  # a stretch, line, entry or record over a limit
    TOO_DEEP = "too-deep"  # nested deeper than a sink takes
    UNWRITABLE = "unwritable"  # a value the sink's format cannot hold
    UNPREPARABLE = "unpreparable"  # preparing the record failed unexpectedly (a bug)
    SINK_REFUSED = "sink-refused"  # the sink answered that it will not take it (400, 413)
    DECODE_DAMAGE = "decode-damage"  # compressed bytes that could not be decoded
    BAD_ROW = "bad-row"  # a line or row of a text format that does not fit its header


@dataclass(slots=True)
class Reject:
    """Something that could not be delivered, with why. Goes to the dead letter.

    `kind` is what code branches on; `reason` explains it to people. `raw` holds the bytes
    as read (for a parse failure) or the serialized record (for a record a sink refused).
    `index` is the position in object order where known. `stage` says where it was
    rejected: "decode", "repair" (bytes that are not a record) or "sink" (a whole record
    the sink cannot take: the only letters a replay ships again).
    """

    object_name: str
    offset: int
    reason: str
    raw: bytes = b""
    index: int | None = None
    stage: str = "repair"
    kind: RejectKind = RejectKind.NOT_JSON
    length: int | None = None  # bytes of the stream it covers, when `raw` holds fewer

    @property
    def covered(self) -> int:
        return len(self.raw) if self.length is None else self.length

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
            "kind": str(self.kind),
            "length": self.covered,
            "reason": self.reason,
        }
        if text is not None and not _mostly_control(self.raw):
            out["raw"] = text
        else:  # not UTF-8, or binary that JSON escapes would blow up six times (\\u0000)
            out["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        return out


_CONTROL = bytes(c for c in range(0x20) if c not in b"\t\n\r")


def _mostly_control(raw: bytes) -> bool:
    """More than a tenth control characters (zero bytes, say)."""
    return 10 * (len(raw) - len(raw.translate(None, _CONTROL))) > len(raw)


@dataclass(slots=True)
class Summary:
    """What happened to one object (or, summed, to one invocation)."""

    objects: int = 0
    records: int = 0
    shipped: int = 0
    rejected: int = 0
    filtered: int = 0
    skipped: int = 0  # already delivered by an earlier run (checkpoint or done-marker)
    missing: int = 0  # objects named that no longer exist (nothing to ship, not retried)
    batches: int = 0
    bytes_in: int = 0  # decompressed bytes read
    bytes_out: int = 0  # bytes handed to the sink (before transport compression)
    seconds: float = 0.0
    complete: bool = True
    credentials_rejected: bool = False  # the sink refused our credentials: stop the call
    errors: list[str] = field(default_factory=list)

    def add(self, other: Summary) -> None:
        for name in (
            "objects", "records", "shipped", "rejected", "filtered", "skipped", "missing",
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
            "missing": self.missing,
            "batches": self.batches,
            "bytes": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": round(self.seconds, 3),
            "complete": self.complete,
            "errors": self.errors,
        }


def compact_json(value: Any) -> bytes:
    """`value` as compact JSON. orjson refuses integers beyond 64 bits, lone surrogates
    (both of which the stdlib parser produces) and nesting past 255 levels; those are
    written exactly by the stdlib's C encoder (ASCII with \\u escapes), or, nested too
    deep for it, by `_compact_json_any_depth` (the same bytes, at any depth). NaN and
    Infinity are not JSON: ValueError; other types: TypeError."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        pass
    try:
        # An order of magnitude faster than the any-depth writer (records from an API page
        # with one big integer each take this path every time).
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")
    except RecursionError:
        return _compact_json_any_depth(value).encode("ascii")


def nesting_depth(value: Any) -> int:
    """How many arrays and objects deep `value` goes, without recursion. Only containers
    are pushed (leaves are looked at, not queued): records are mostly leaves."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 1)]
    push = todo.append
    while todo:
        item, depth = todo.pop()
        if depth > deepest:
            deepest = depth
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                push((child, depth + 1))
    return deepest


_encode_string = json.encoder.encode_basestring_ascii


def _compact_json_any_depth(value: Any) -> str:
    """The stdlib encoder's output (compact, ASCII) without recursion, so no depth is too
    deep and no process-wide recursion limit has to change (threads prepare records)."""
    parts: list[str] = []
    # A stack of values still to write and literal text, in reverse order.
    todo: list[tuple[bool, Any]] = [(False, value)]
    while todo:
        is_text, item = todo.pop()
        if is_text:
            parts.append(item)
        elif isinstance(item, str):
            parts.append(_encode_string(item))
        elif item is None or isinstance(item, bool):
            parts.append("null" if item is None else ("true" if item else "false"))
        elif isinstance(item, int):
            parts.append(int.__repr__(item))
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ValueError(f"{item!r} is not JSON")
            parts.append(float.__repr__(item))
        elif isinstance(item, dict):
            parts.append("{")
            todo.append((True, "}"))
            entries = list(item.items())
            for n in range(len(entries) - 1, -1, -1):
                key, member = entries[n]
                if not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__}")
                todo.append((False, member))
                todo.append((True, ("," if n else "") + _encode_string(key) + ":"))
        elif isinstance(item, list | tuple):
            parts.append("[")
            todo.append((True, "]"))
            for n in range(len(item) - 1, -1, -1):
                todo.append((False, item[n]))
                if n:
                    todo.append((True, ","))
        else:
            raise TypeError(f"{type(item).__name__} is not JSON serializable")
    return "".join(parts)

"""Dead letters: every record that cannot be delivered, with its reason, kept durably.

Rejects are buffered as NDJSON (one `Reject.to_json_dict()` per line) and written in parts
of at most `part_bytes`, so memory stays bounded however many records fail. A part is
written before the pipeline counts its records as handled; a failed write fails the call.

Layout: `<prefix><object name>/<run id>-<part>.ndjson` (Object Storage: in the same bucket
as the object; local: under a folder, with `/` in the object name kept as sub-folders).
"""

from __future__ import annotations

import base64
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from auditship.errors import SourceError
from auditship.model import ObjectRef, Reject
from auditship.sources import put_small_object

log = logging.getLogger(__name__)


class DeadLetterStore(Protocol):
    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        """Store `body` under `key` for `obj`; return where it went (for the summary)."""
        ...


class LocalDeadLetterStore:
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        base = os.path.basename(obj.name) or "object"
        path = os.path.join(self.folder, f"{base}.{key}")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
        return path


class ObjectStorageDeadLetterStore:
    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self.prefix = prefix

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        name = f"{self.prefix}{obj.name}/{key}"
        put_small_object(
            self._client, obj, name, body, "application/x-ndjson", f"writing dead letter {name}"
        )
        return f"oci://{obj.namespace}/{obj.bucket}/{name}"


class DeadLetterWriter:
    """Collects rejects for one object and writes them in parts."""

    def __init__(self, store: DeadLetterStore, obj: ObjectRef, part_bytes: int = 4 << 20):
        self._store = store
        self._obj = obj
        self._part_bytes = part_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._part = 0
        self._run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        self.count = 0  # rejects written durably
        self.written: list[int] = []  # their object-order indices (where known)
        self._indices: list[int] = []  # indices of the rejects in `_lines`
        # Lowest object-order index among rejects not yet written: a checkpoint must not
        # move past it, or a failed write would lose them.
        self.first_pending_index: int | None = None
        self.locations: list[str] = []

    @property
    def pending(self) -> int:
        return len(self._lines)

    def add(self, reject: Reject) -> None:
        if reject.index is not None and (
            self.first_pending_index is None or reject.index < self.first_pending_index
        ):
            self.first_pending_index = reject.index
        line = orjson.dumps(reject.to_json_dict())
        self._lines.append(line)
        if reject.index is not None:
            self._indices.append(reject.index)
        self._size += len(line) + 1
        if self._size >= self._part_bytes:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        body = b"\n".join(self._lines) + b"\n"
        key = f"{self._run}-{self._part:04d}.ndjson"
        self.locations.append(self._store.put(self._obj, key, body))
        self._part += 1
        self.count += len(self._lines)
        self.written.extend(self._indices)
        self._indices = []
        self._lines = []
        self._size = 0
        self.first_pending_index = None


class Reader(Protocol):
    def read(self, obj: ObjectRef) -> Iterator[bytes]: ...


class DeadLetterReplayReader:
    """Reads dead-letter parts through another reader and yields the records they hold, one
    per line, so the usual pipeline ships them again (`ship.py --dead-letters`).

    Only letters of records a sink refused or could not take (`stage` "sink": complete JSON
    records) are replayed: each is its own line, so no letter can run into the next. Letters
    of bytes that were not JSON (`repair`) or could not be decompressed (`decode`) would be
    rejected again, or worse, be glued to their neighbours into something else: they are
    counted (`not_replayed`), logged, and stay in their part, which is never deleted. A line
    that is not a dead letter at all, or one longer than `MAX_LETTER_BYTES`, is a
    `SourceError`: the wrong file was given."""

    def __init__(self, inner: Reader) -> None:
        self._inner = inner
        self.not_replayed = 0

    def head(self, obj: ObjectRef) -> ObjectRef:
        head = getattr(self._inner, "head", None)
        return head(obj) if head is not None else obj

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        tail = b""
        number = 0
        skipped = 0
        try:
            for chunk in self._inner.read(obj):
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                if len(tail) > MAX_LETTER_BYTES:
                    raise SourceError(f"{obj}: line {number + 1} is not a dead letter (too long)")
                out = []
                for line in lines:
                    number += 1
                    record = _replayable(line, obj, number) if line.strip() else b""
                    if record:
                        out.append(record)
                    elif line.strip():
                        skipped += 1
                if out:
                    yield b"".join(out)
            if tail.strip():
                record = _replayable(tail, obj, number + 1)
                if record:
                    yield record
                else:
                    skipped += 1
        finally:  # counted even when the pipeline stops reading early
            self.not_replayed += skipped
            if skipped:
                log.warning(
                    "%s: %d letters not replayed (bytes that were not JSON or could not be "
                    "decompressed); they stay in this part",
                    obj,
                    skipped,
                )


# A letter holds at most 1 MiB of raw bytes (base64: 1.4 MiB) or one record of at most
# MAX_RECORD_BYTES (64 MiB at most), escaped.
MAX_LETTER_BYTES = 256 * 1024 * 1024


def _replayable(line: bytes, obj: ObjectRef, number: int) -> bytes:
    """The record a sink letter holds, as one line; b"" for letters not replayed."""
    try:
        letter = orjson.loads(line)
        if "object" not in letter or ("raw" not in letter and "raw_base64" not in letter):
            raise ValueError("not a dead letter")
        if letter.get("stage") != "sink":
            return b""
        raw = letter.get("raw")
        data = (
            raw.encode("utf-8", "surrogatepass")
            if isinstance(raw, str)
            else base64.b64decode(letter["raw_base64"], validate=True)
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(f"{obj}: line {number} is not a dead letter") from None
    if not data.strip() or b"\n" in data or b"\r" in data:
        return b""  # not one record on one line: leave it where it is
    return data + b"\n"

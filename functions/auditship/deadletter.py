"""Dead letters: every record that cannot be delivered, with its reason, kept durably.

Rejects are buffered as NDJSON (one `Reject.to_json_dict()` per line) and written in parts
of at most `part_bytes`, so memory stays bounded however many records fail. A part is
written before the pipeline counts its records as handled; a failed write fails the call.

Layout: `<prefix><object name>/<run id>-<part>.ndjson` (Object Storage: in the same bucket
as the object; local: under a folder, with `/` in the object name kept as sub-folders).
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from auditship.errors import SourceError
from auditship.model import ObjectRef, Reject
from auditship.sources import put_small_object


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
    """Reads dead-letter parts through another reader and yields the bytes they hold, one
    letter per line, so the usual pipeline ships them again (`ship.py --dead-letters`).

    Each letter gives its `raw` text, or its `raw_base64` bytes, followed by a newline: a
    record refused by a sink is a record again; bytes that were not JSON, or could not be
    decompressed, are rejected again, with the reason saying so. Nothing is left out. A
    line that is not a dead letter at all is a `SourceError`: the wrong file was given."""

    def __init__(self, inner: Reader) -> None:
        self._inner = inner

    def head(self, obj: ObjectRef) -> ObjectRef:
        head = getattr(self._inner, "head", None)
        return head(obj) if head is not None else obj

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        tail = b""
        number = 0
        for chunk in self._inner.read(obj):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            out = []
            for line in lines:
                number += 1
                if line.strip():
                    out.append(_letter_bytes(line, obj, number))
            if out:
                yield b"".join(out)
        if tail.strip():
            yield _letter_bytes(tail, obj, number + 1)


def _letter_bytes(line: bytes, obj: ObjectRef, number: int) -> bytes:
    try:
        letter = orjson.loads(line)
        raw = letter.get("raw")
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogatepass") + b"\n"
        return base64.b64decode(letter["raw_base64"], validate=True) + b"\n"
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        raise SourceError(f"{obj}: line {number} is not a dead letter") from None

"""Dead letters: every record that cannot be delivered, with its reason, kept durably.

Rejects are buffered as NDJSON (one `Reject.to_json_dict()` per line) and written in parts
of at most `part_bytes`, so memory stays bounded however many records fail. A part is
written before accounting counts its records as handled (`add` and `flush` return the
positions they made durable); a failed write fails the call.

Layout: Object Storage: `<prefix><object name>/<run id>-<part>.ndjson`, in the same bucket
as the object; local files: `<folder>/<file name>.<run id>-<part>.ndjson`.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from auditship.model import ObjectRef, Reject, RejectKind
from auditship.objectstore import put_small_object
from auditship.timeouts import watch_client

# The name of every dead-letter part (`<run>-<part>.ndjson`, see DeadLetterWriter), whatever
# prefix a function was configured with.
DEAD_LETTER_PART = re.compile(r"(?:\A|[/.])\d{8}T\d{6}Z-[0-9a-f]{8}-\d{4}\.ndjson\Z")


class DeadLetterStore(Protocol):
    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        """Store `body` under `key` for `obj`; return where it went (for the summary)."""
        ...


class LocalDeadLetterStore:
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        base = "stdin" if obj.name == "-" else (os.path.basename(obj.name) or "object")
        path = os.path.join(self.folder, f"{base}.{key}")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
        return path


class ObjectStorageDeadLetterStore:
    def __init__(self, client: Any, prefix: str) -> None:
        self._client = watch_client(client)
        self.prefix = prefix

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        name = f"{self.prefix}{obj.name}/{key}"
        put_small_object(
            self._client, obj, name, body, "application/x-ndjson", f"writing dead letter {name}"
        )
        return f"oci://{obj.namespace}/{obj.bucket}/{name}"


class DeadLetterWriter:
    """Collects rejects for one object and writes them in parts."""

    def __init__(
        self,
        store: DeadLetterStore,
        obj: ObjectRef,
        part_bytes: int = 4 << 20,
        scrub: Callable[[bytes], bytes] | None = None,
    ):
        self._store = store
        # Bytes that are not a record missed redaction: scrub what can be found in them.
        self._scrub = scrub
        self._obj = obj
        self._part_bytes = part_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._part = 0
        self._run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        self._indices: list[int] = []  # positions of the rejects in `_lines`

    def add(self, reject: Reject) -> list[int]:
        """Buffer `reject`; when a part is full, write it. Returns the positions made
        durable by this call (empty while buffering)."""
        if self._scrub is not None and (
            reject.stage != "sink" or reject.kind is RejectKind.UNPREPARABLE
        ):
            reject.raw = self._scrub(reject.raw)
        line = orjson.dumps(reject.to_json_dict())
        self._lines.append(line)
        if reject.index is not None:
            self._indices.append(reject.index)
        self._size += len(line) + 1
        if self._size >= self._part_bytes:
            return self.flush()
        return []

    def flush(self) -> list[int]:
        """Write what is buffered as one part; returns the positions it held. A failed
        write raises and keeps the buffer, so nothing is counted as written."""
        if not self._lines:
            return []
        body = b"\n".join(self._lines) + b"\n"
        key = f"{self._run}-{self._part:04d}.ndjson"
        self._store.put(self._obj, key, body)
        written = self._indices
        self._part += 1
        self._indices = []
        self._lines = []
        self._size = 0
        return written

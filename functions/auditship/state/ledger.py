"""Ledger: what has already been shipped, so a second event or a replay sends nothing twice.

Two small JSON objects per source object version, in the same bucket:
- `<prefix><object name>@<etag>.done`: written once every record of that version was
  delivered or dead-lettered. A later event for the same object and ETag ships nothing.
- `<prefix><object name>@<etag>.progress`: `{"handled_through": N, "dead_lettered": [...]}`
  written when a call stops early (deadline, sink outage). Records 0..N-1 in object order
  were delivered or dead-lettered; a re-run skips them and resumes at record N. The
  positions listed in `dead_lettered` (at most `MAX_LISTED_DEAD_LETTERS`, all >= N) were
  dead-lettered past N before the call stopped: a re-run skips those too, so a dead letter
  is not written twice (and not replayed twice).

- `<prefix><object name>@<etag>.lease`: `{"holder": ..., "expires": epoch}`, taken with a
  conditional PUT (`if-none-match: *`, or `if-match` on an expired lease) before shipping,
  so two invocations for the same object at the same moment (a duplicate event) do not both
  ship it; the loser reports "in progress elsewhere" as a failure, and its retry finds the
  done marker. Released by overwriting with an expired lease (functions may not delete).

Keys use the ETag because Object Storage overwrites keep the name: a new version under
the same name is a new object to ship.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from auditship.model import ObjectRef
from auditship.objectstore import get_small_object, get_small_object_with_etag, put_small_object
from auditship.timeouts import watch_client

MAX_LISTED_DEAD_LETTERS = 10_000  # past that, a re-run may write some dead letters again
# The name of every marker and lease, whatever prefix a function was configured with.
LEDGER_OBJECT = re.compile(r"@[A-Za-z0-9._-]+\.(?:done|progress|lease)\Z")


@dataclass(frozen=True)
class Progress:
    """How far an earlier call got: see the module docstring."""

    handled_through: int = 0
    dead_lettered: frozenset[int] = field(default_factory=frozenset)


class Ledger(Protocol):
    def is_done(self, obj: ObjectRef) -> bool: ...
    def progress(self, obj: ObjectRef) -> Progress: ...
    def save_progress(self, obj: ObjectRef, progress: Progress) -> None: ...
    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None: ...
    def acquire(self, obj: ObjectRef, seconds: float) -> float | None:
        """Take the object's lease for `seconds`; None when taken, else the epoch time at
        which the current holder's lease expires."""
        ...

    def release(self, obj: ObjectRef) -> None: ...


class NullLedger:
    """For local files: nothing is remembered; every run ships everything."""

    def is_done(self, obj: ObjectRef) -> bool:
        return False

    def progress(self, obj: ObjectRef) -> Progress:
        return Progress()

    def save_progress(self, obj: ObjectRef, progress: Progress) -> None:
        return None

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        return None

    def acquire(self, obj: ObjectRef, seconds: float) -> float | None:
        return None

    def release(self, obj: ObjectRef) -> None:
        return None


def _safe_etag(etag: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in etag) or "no-etag"


class ObjectStorageLedger:
    def __init__(self, client: Any, prefix: str) -> None:
        self._client = watch_client(client)
        self.prefix = prefix
        self._holder = uuid.uuid4().hex  # who holds a lease: for people reading the bucket

    def _key(self, obj: ObjectRef, suffix: str) -> str:
        return f"{self.prefix}{obj.name}@{_safe_etag(obj.etag)}.{suffix}"

    def _get(self, obj: ObjectRef, key: str) -> bytes | None:
        return get_small_object(self._client, obj, key, f"reading ledger {key}")

    def _put(self, obj: ObjectRef, key: str, body: bytes) -> None:
        put_small_object(self._client, obj, key, body, "application/json", f"writing ledger {key}")

    def is_done(self, obj: ObjectRef) -> bool:
        return self._get(obj, self._key(obj, "done")) is not None

    def progress(self, obj: ObjectRef) -> Progress:
        raw = self._get(obj, self._key(obj, "progress"))
        if raw is None:
            return Progress()
        try:
            doc = orjson.loads(raw)
            value = doc.get("handled_through", 0)
            through = value if isinstance(value, int) and value > 0 else 0
            listed = doc.get("dead_lettered") or []
            done = frozenset(i for i in listed if isinstance(i, int) and i >= through)
            return Progress(through, done)
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return Progress()  # unreadable checkpoint: start over (may repeat, never loses)

    def save_progress(self, obj: ObjectRef, progress: Progress) -> None:
        listed = sorted(i for i in progress.dead_lettered if i >= progress.handled_through)
        body = {
            "handled_through": progress.handled_through,
            "dead_lettered": listed[:MAX_LISTED_DEAD_LETTERS],
        }
        self._put(obj, self._key(obj, "progress"), orjson.dumps(body))

    def mark_done(self, obj: ObjectRef, summary: dict[str, Any]) -> None:
        self._put(obj, self._key(obj, "done"), orjson.dumps(summary))

    def acquire(self, obj: ObjectRef, seconds: float) -> float | None:
        import oci

        key = self._key(obj, "lease")
        body = orjson.dumps({"holder": self._holder, "expires": time.time() + seconds})
        what = f"taking lease {key}"
        try:  # nobody has ever held it
            put_small_object(self._client, obj, key, body, "application/json", what,
                             if_none_match="*")  # fmt: skip
            return None
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise
        current = get_small_object_with_etag(self._client, obj, key, f"reading lease {key}")
        if current is None:  # released and deleted in between: try once more from scratch
            return self.acquire(obj, seconds) if seconds > 0 else None
        raw, etag = current
        try:
            expires = float(orjson.loads(raw).get("expires", 0))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            expires = 0.0  # unreadable lease: treat as expired
        if expires > time.time():
            return expires
        try:  # expired: take it over, unless someone else just did
            put_small_object(self._client, obj, key, body, "application/json", what,
                             if_match=etag)  # fmt: skip
        except oci.exceptions.ServiceError as exc:
            if exc.status != 412:
                raise
            return time.time() + seconds
        return None

    def release(self, obj: ObjectRef) -> None:
        key = self._key(obj, "lease")
        body = orjson.dumps({"holder": self._holder, "expires": 0})
        put_small_object(self._client, obj, key, body, "application/json", f"releasing {key}")

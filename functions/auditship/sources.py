"""Sources: where an object's bytes come from, as a stream of chunks.

`ObjectStorageReader` streams one GET through the real OCI SDK. If the connection breaks
mid-object it resumes with a ranged GET from the last byte received, pinned to the
object's ETag (`if-match`) so a replaced object is never stitched together from two
versions. `LocalReader` reads files for the operator command and tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from auditship.errors import SourceError
from auditship.model import ObjectRef

CHUNK_BYTES = 1024 * 1024
_RESUME_ATTEMPTS = 5


class LocalReader:
    def head(self, obj: ObjectRef) -> ObjectRef:
        if not os.path.isfile(obj.name):
            raise SourceError(f"{obj.name}: no such file")
        return obj

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        try:
            f = open(obj.name, "rb")  # noqa: SIM115 - closed in finally, generator lifetime
        except OSError as exc:
            raise SourceError(f"{obj.name}: cannot open ({exc.strerror})") from None
        try:
            while chunk := f.read(CHUNK_BYTES):
                yield chunk
        finally:
            f.close()


class ObjectStorageReader:
    """Reads objects with an `oci.object_storage.ObjectStorageClient` (any auth)."""

    def __init__(self, client: Any, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._client = client
        self._chunk = chunk_bytes

    def head(self, obj: ObjectRef) -> ObjectRef:
        import oci

        try:
            resp = self._client.head_object(obj.namespace, obj.bucket, obj.name)
        except oci.exceptions.ServiceError as exc:
            raise SourceError(f"{obj}: HEAD failed with HTTP {exc.status} {exc.code}") from None
        except Exception as exc:  # network errors from requests/urllib3
            raise SourceError(f"{obj}: HEAD failed ({type(exc).__name__})") from None
        etag = resp.headers.get("etag", "") or resp.headers.get("ETag", "")
        return replace(obj, etag=obj.etag or etag)

    def list(self, namespace: str, bucket: str, prefix: str) -> Iterator[ObjectRef]:
        import oci

        start = None
        while True:
            try:
                resp = self._client.list_objects(
                    namespace, bucket, prefix=prefix, start=start, fields="name,etag,size"
                )
            except oci.exceptions.ServiceError as exc:
                raise SourceError(
                    f"oci://{namespace}/{bucket}/{prefix}: LIST failed with HTTP {exc.status} "
                    f"{exc.code}"
                ) from None
            for o in resp.data.objects:
                yield ObjectRef(o.name, namespace, bucket, o.etag or "")
            start = resp.data.next_start_with
            if not start:
                return

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        import oci

        position = 0
        failures = 0
        while True:
            kwargs: dict[str, Any] = {}
            if obj.etag:
                kwargs["if_match"] = obj.etag
            if position:
                kwargs["range"] = f"bytes={position}-"
            try:
                resp = self._client.get_object(obj.namespace, obj.bucket, obj.name, **kwargs)
                for chunk in resp.data.raw.stream(self._chunk, decode_content=False):
                    if chunk:
                        position += len(chunk)
                        failures = 0
                        yield chunk
                expected = _content_length(resp.headers)
                if expected is not None and position < expected + _range_start(kwargs):
                    raise _ShortRead()
                return
            except oci.exceptions.ServiceError as exc:
                if exc.status in (412,):
                    raise SourceError(
                        f"{obj}: the object changed while it was being read (ETag mismatch)"
                    ) from None
                if exc.status == 416 and position:
                    return  # resumed exactly at the end
                if exc.status not in (408, 429) and exc.status < 500:
                    raise SourceError(
                        f"{obj}: GET failed with HTTP {exc.status} {exc.code}"
                    ) from None
                reason = f"HTTP {exc.status}"
            except _ShortRead:
                reason = "connection closed before the end of the object"
            except Exception as exc:  # urllib3/requests errors mid-stream
                reason = type(exc).__name__
            failures += 1
            if failures >= _RESUME_ATTEMPTS:
                raise SourceError(
                    f"{obj}: read failed at byte {position} after {failures} attempts ({reason})"
                )
            time.sleep(min(8.0, 0.25 * 2**failures))


_SMALL_ATTEMPTS = 3  # markers and dead letters: a short retry for 429/5xx/network blips


def _small_object_call(call: Any, obj: ObjectRef, what: str) -> Any:
    """Run one small-object request with a short retry; failures become `SourceError`
    naming `what` (e.g. "writing dead letter <name>") and the HTTP status. 404 and 412
    (not there; a condition failed) are answers, raised as the SDK's ServiceError."""
    import oci

    for attempt in range(1, _SMALL_ATTEMPTS + 1):
        try:
            return call()
        except oci.exceptions.ServiceError as exc:
            if exc.status in (404, 412):
                raise
            if (exc.status not in (408, 429) and exc.status < 500) or attempt == _SMALL_ATTEMPTS:
                raise SourceError(f"{obj}: {what} failed with HTTP {exc.status}") from None
        except Exception as exc:  # network errors from requests/urllib3
            if attempt == _SMALL_ATTEMPTS:
                raise SourceError(f"{obj}: {what} failed ({type(exc).__name__})") from None
        time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def put_small_object(
    client: Any,
    obj: ObjectRef,
    name: str,
    body: bytes,
    content_type: str,
    what: str,
    **conditions: str,
) -> None:
    """PutObject `name` in `obj`'s bucket (dead letters, ledger markers). `conditions` are
    `if_match` / `if_none_match`; a failed condition raises the SDK's ServiceError (412).
    A 404 on a write means a missing bucket or permission: a `SourceError` saying so."""
    import oci

    try:
        _put(client, obj, name, body, content_type, what, conditions)
    except oci.exceptions.ServiceError as exc:
        if exc.status != 404:
            raise
        raise SourceError(
            f"{obj}: {what} failed with HTTP 404 (no such bucket, or no permission to write "
            "objects in it)"
        ) from None


def _put(
    client: Any,
    obj: ObjectRef,
    name: str,
    body: bytes,
    content_type: str,
    what: str,
    conditions: dict[str, str],
) -> None:
    _small_object_call(
        lambda: client.put_object(
            obj.namespace, obj.bucket, name, body, content_type=content_type, **conditions
        ),
        obj,
        what,
    )


def get_small_object_with_etag(
    client: Any, obj: ObjectRef, name: str, what: str
) -> tuple[bytes, str] | None:
    """GetObject `name` from `obj`'s bucket whole, with its ETag; None when it does not
    exist."""
    import oci

    try:
        resp = _small_object_call(
            lambda: client.get_object(obj.namespace, obj.bucket, name), obj, what
        )
    except oci.exceptions.ServiceError as exc:
        if exc.status == 404:
            return None
        raise SourceError(f"{obj}: {what} failed with HTTP {exc.status}") from None
    return bytes(resp.data.content), resp.headers.get("etag", "")


def get_small_object(client: Any, obj: ObjectRef, name: str, what: str) -> bytes | None:
    """GetObject `name` from `obj`'s bucket whole; None when it does not exist."""
    found = get_small_object_with_etag(client, obj, name, what)
    return None if found is None else found[0]


class _ShortRead(Exception):
    pass


def _content_length(headers: Any) -> int | None:
    value = headers.get("content-length") or headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _range_start(kwargs: dict[str, Any]) -> int:
    rng = kwargs.get("range")
    return int(rng[6:-1]) if rng else 0


def parse_source(text: str) -> tuple[ObjectRef, bool]:
    """`oci://ns/bucket/name` or a local path -> (ref, is_prefix). A trailing `/` on an
    oci:// source means every object under that prefix."""
    if text.startswith("oci://"):
        rest = text[len("oci://") :]
        parts = rest.split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SourceError(f"{text}: expected oci://<namespace>/<bucket>/<object or prefix/>")
        name = parts[2] if len(parts) == 3 else ""
        return ObjectRef(name, parts[0], parts[1]), name == "" or name.endswith("/")
    return ObjectRef(text), False

"""Object Storage objects as a stream of chunks, through the real OCI SDK.

`read` streams one GET. If the connection breaks mid-object it resumes with a ranged GET
from the last byte received, pinned to the object's ETag (`if-match`) so a replaced object
is never stitched together from two versions. Opening a GET goes through the one retry
policy (`retry.READ_POLICY`); a stream that breaks is re-opened at once, and after
`MAX_STALLS` breaks in a row that brought no byte the read fails with a `SourceError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, NoReturn

from auditship.deadline import Deadline
from auditship.errors import ObjectGoneError, SourceError
from auditship.model import ObjectRef
from auditship.objectstore import TransientStorageError, classify
from auditship.retry import READ_POLICY, RetriesExhaustedError, call_with_retry
from auditship.sources.local import CHUNK_BYTES
from auditship.timeouts import bounded, watch_client

MAX_STALLS = 5
# Opening a GET, and each chunk of its body, must be done within this: a stalled or
# trickling connection is cut (timeouts.bounded) and the read resumes where it was.
READ_SECONDS = 60.0


class ObjectStorageReader:
    """Reads objects with an `oci.object_storage.ObjectStorageClient` (any auth)."""

    def __init__(
        self, client: Any, chunk_bytes: int = CHUNK_BYTES, timeout: float = READ_SECONDS
    ) -> None:
        self._client = watch_client(client)
        self._chunk = chunk_bytes
        self._timeout = timeout

    def head(self, obj: ObjectRef) -> ObjectRef:
        import oci

        try:
            with bounded(self._timeout):
                resp = self._client.head_object(obj.namespace, obj.bucket, obj.name)
        except oci.exceptions.ServiceError as exc:
            if exc.status == 404:
                self._gone_or_forbidden(obj)
            raise SourceError(f"{obj}: HEAD failed with HTTP {exc.status} {exc.code}") from None
        except Exception as exc:  # network errors from requests/urllib3
            raise SourceError(f"{obj}: HEAD failed ({type(exc).__name__})") from None
        etag = resp.headers.get("etag", "") or resp.headers.get("ETag", "")
        return replace(obj, etag=obj.etag or etag)

    def _gone_or_forbidden(self, obj: ObjectRef) -> NoReturn:
        """Object Storage answers 404 both for a missing object and for one these
        credentials may not read. Listing its name tells them apart: a bucket that can be
        listed without it means the object is gone (final); anything else is an error that
        fails the call loudly (a lost grant must not pass for deleted objects)."""
        import oci

        try:
            with bounded(self._timeout):
                listing = self._client.list_objects(
                    obj.namespace, obj.bucket, prefix=obj.name, limit=1, fields="name"
                )
        except oci.exceptions.ServiceError as exc:
            raise SourceError(
                f"{obj}: HEAD answered 404 and the bucket cannot be listed (HTTP {exc.status} "
                f"{exc.code}): no permission to read it, or no such bucket"
            ) from None
        except Exception as exc:  # network errors from requests/urllib3
            raise SourceError(
                f"{obj}: HEAD answered 404; LIST failed ({type(exc).__name__})"
            ) from None
        if any(o.name == obj.name for o in listing.data.objects):
            raise SourceError(f"{obj}: HEAD answered 404 but the object is listed; try again")
        raise ObjectGoneError(
            f"{obj}: no such object (deleted before it was shipped); nothing to ship"
        )

    def list(self, namespace: str, bucket: str, prefix: str) -> Iterator[ObjectRef]:
        import oci

        start = None
        while True:
            try:
                with bounded(self._timeout):
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

    def _open(self, obj: ObjectRef, position: int) -> Any | None:
        """One GET from `position` (None: resumed exactly at the end)."""
        import oci

        kwargs: dict[str, Any] = {}
        if obj.etag:
            kwargs["if_match"] = obj.etag
        if position:
            kwargs["range"] = f"bytes={position}-"
        try:
            return self._client.get_object(obj.namespace, obj.bucket, obj.name, **kwargs)
        except oci.exceptions.ServiceError as exc:
            if exc.status == 412:
                raise SourceError(
                    f"{obj}: the object changed while it was being read (ETag mismatch)"
                ) from None
            if exc.status == 416 and position:
                return None
            if exc.status == 404:
                raise SourceError(f"{obj}: GET failed with HTTP 404 {exc.code}") from None
            raise classify(exc, obj, "GET") from None
        except Exception as exc:
            raise classify(exc, obj, "GET") from None

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        position = 0
        stalls = 0

        def open_here(budget: float) -> Any | None:
            with bounded(min(self._timeout, budget)):
                return self._open(obj, position)

        while True:
            try:
                resp = call_with_retry(
                    open_here,
                    retry_on=(TransientStorageError,),
                    deadline=Deadline.unlimited(),
                    policy=READ_POLICY,
                    what=f"reading {obj}",
                )
            except RetriesExhaustedError as exc:
                raise SourceError(f"{obj}: read failed at byte {position} ({exc})") from None
            if resp is None:
                return
            start = position
            raw = resp.data.raw
            chunks = raw.stream(self._chunk, decode_content=False)
            try:
                while True:
                    with bounded(self._timeout, getattr(raw, "connection", None)):
                        chunk = next(chunks, None)
                    if chunk is None:
                        break
                    if chunk:
                        position += len(chunk)
                        yield chunk
                expected = _content_length(resp.headers)
                if expected is None or position >= start + expected:
                    return
                reason = "connection closed before the end of the object"
            except Exception as exc:  # urllib3/requests errors mid-stream
                reason = type(exc).__name__
            stalls = 0 if position > start else stalls + 1
            if stalls >= MAX_STALLS:
                raise SourceError(
                    f"{obj}: read failed at byte {position} after {stalls} attempts ({reason})"
                )


def _content_length(headers: Any) -> int | None:
    value = headers.get("content-length") or headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

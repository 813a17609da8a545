"""Small objects in Object Storage: progress markers, leases and dead-letter parts.

Each call goes through the one retry policy (`retry.SMALL_OBJECT_POLICY`): 408, 429, 5xx
and network errors are retried briefly; what is left becomes a `SourceError` naming the
object, what was being done and the HTTP status (never a header or a signature). 404 and
412 are answers, not failures: `get_small_object` returns None for a missing object, and a
failed condition (`if_match` / `if_none_match`) raises the SDK's ServiceError with 412.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from auditship.deadline import Deadline
from auditship.errors import SourceError
from auditship.model import ObjectRef
from auditship.retry import (
    SMALL_OBJECT_POLICY,
    RetriesExhaustedError,
    call_with_retry,
    is_transient_status,
    retry_after_in,
)
from auditship.timeouts import bounded

T = TypeVar("T")

# The whole of one request for a marker, a lease or a part (three tries with the policy):
# small, so the markers written after the pipeline stops fit in the deadline margin.
SMALL_OBJECT_SECONDS = 10.0


class TransientStorageError(Exception):
    """A request worth repeating (408, 429, 5xx, network); `retry_after` as the server
    asked."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def classify(exc: BaseException, obj: ObjectRef, what: str) -> BaseException:
    """The exception to raise for a failed Object Storage call: transient ones become
    `TransientStorageError`, other HTTP errors `SourceError`; 404 and 412 stay as they are."""
    import oci

    if isinstance(exc, oci.exceptions.ServiceError):
        status: int = exc.status
        if status in (404, 412):
            return exc  # type: ignore[no-any-return]  # oci has no type hints: an Exception
        message = f"{obj}: {what} failed with HTTP {status}"
        if is_transient_status(status):
            return TransientStorageError(message, retry_after_in(exc.headers))
        return SourceError(message)
    # requests/urllib3 errors: their text can hold URLs, so only the type is named
    return TransientStorageError(f"{obj}: {what} failed ({type(exc).__name__})")


def storage_call(
    call: Callable[[], T], obj: ObjectRef, what: str, deadline: Deadline | None = None
) -> T:
    """Run one small-object request under the retry policy (see the module docstring)."""

    def attempt(budget: float) -> T:
        try:
            with bounded(min(SMALL_OBJECT_SECONDS, budget)):
                return call()
        except Exception as exc:
            raise classify(exc, obj, what) from None

    try:
        return call_with_retry(
            attempt,
            retry_on=(TransientStorageError,),
            deadline=deadline or Deadline.unlimited(),
            policy=SMALL_OBJECT_POLICY,
            what=what,
        )
    except RetriesExhaustedError as exc:
        raise SourceError(str(exc.last or exc)) from None


def put_small_object(
    client: Any,
    obj: ObjectRef,
    name: str,
    body: bytes,
    content_type: str,
    what: str,
    **conditions: str,
) -> str:
    """PutObject `name` in `obj`'s bucket; returns the new version's ETag. `conditions`
    are `if_match` / `if_none_match`; a failed condition raises the SDK's ServiceError
    (412). A 404 on a write means a missing bucket or permission: a `SourceError`."""
    import oci

    try:
        resp = storage_call(
            lambda: client.put_object(
                obj.namespace, obj.bucket, name, body, content_type=content_type, **conditions
            ),
            obj,
            what,
        )
    except oci.exceptions.ServiceError as exc:
        if exc.status != 404:
            raise
        raise SourceError(
            f"{obj}: {what} failed with HTTP 404 (no such bucket, or no permission to write "
            "objects in it)"
        ) from None
    return str(resp.headers.get("etag", ""))


def get_small_object_with_etag(
    client: Any, obj: ObjectRef, name: str, what: str
) -> tuple[bytes, str] | None:
    """GetObject `name` from `obj`'s bucket whole, with its ETag; None when it does not
    exist."""
    import oci

    def get() -> tuple[bytes, str]:  # the body is read inside the time limit too
        resp = client.get_object(obj.namespace, obj.bucket, name)
        return bytes(resp.data.content), str(resp.headers.get("etag", ""))

    try:
        return storage_call(get, obj, what)
    except oci.exceptions.ServiceError as exc:
        if exc.status == 404:
            return None
        raise SourceError(f"{obj}: {what} failed with HTTP {exc.status}") from None


def get_small_object(client: Any, obj: ObjectRef, name: str, what: str) -> bytes | None:
    """GetObject `name` from `obj`'s bucket whole; None when it does not exist."""
    found = get_small_object_with_etag(client, obj, name, what)
    return None if found is None else found[0]


def list_names(
    client: Any,
    prefix: ObjectRef,
    what: str,
    start: str | None = None,
    page_size: int | None = None,
) -> Iterator[str]:
    """Every object name under `prefix.name` in its bucket (from `start` on, when given:
    names at or after it), page by page (each page under the small-object time limit and
    retry policy; `page_size` names at most, the service's default when None)."""

    def page(after: str | None) -> Any:
        return client.list_objects(
            prefix.namespace, prefix.bucket, prefix=prefix.name, start=after, fields="name",
            limit=page_size,
        )  # fmt: skip

    while True:
        resp = storage_call(lambda: page(start), prefix, what)  # noqa: B023 - called at once
        for o in resp.data.objects:
            yield o.name
        start = resp.data.next_start_with
        if not start:
            return

"""One paged list request of an OCI API, the way every API source asks: under the shared
`Throttle`, with a total time limit per request, retried on 429/5xx/network errors by the
deadline-aware retry helper, and failing with an error that says what was asked and why
(never the request's URL or headers).

`pages(call, what, ...)` yields each page's items in order, following `opc-next-page`.
The client must be built with `skip_deserialization=True`: items stay the service's wire
JSON (camelCase names, unknown fields kept), not the SDK's snake_case models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from auditship.deadline import Deadline
from auditship.errors import CredentialsRejectedError, SourceError
from auditship.retry import (
    MIN_ATTEMPT_SECONDS,
    RetriesExhaustedError,
    RetryPolicy,
    call_with_retry,
    is_transient_status,
    retry_after_in,
)
from auditship.sources.throttle import Throttle
from auditship.timeouts import bounded

# A page of an API source: the service may be slow; a day of a busy compartment is many.
API_POLICY = RetryPolicy(base_seconds=0.5, cap_seconds=30.0, max_attempts=8)
API_REQUEST_SECONDS = 60.0


class TransientApiError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiRefusedError(SourceError):
    """The service refused the request for good (400, 404, ...): retrying will not help."""


def _classify(exc: BaseException, what: str, throttle: Throttle) -> BaseException:
    import oci

    if isinstance(exc, oci.exceptions.ServiceError):
        status, code = exc.status, exc.code
        if status == 429:
            throttle.throttled()
        if is_transient_status(status):
            return TransientApiError(f"{what}: HTTP {status} {code}", retry_after_in(exc.headers))
        if status in (401, 403):
            return CredentialsRejectedError(
                f"{what}: HTTP {status} {code}: check the credentials and the policy"
            )
        if status == 404:
            return ApiRefusedError(
                f"{what}: HTTP 404 {code}: it does not exist, or the policy does not allow "
                "reading it"
            )
        message = str(getattr(exc, "message", "") or "")[:200]
        return ApiRefusedError(f"{what}: HTTP {status} {code}: {message}")
    # requests/urllib3 errors can carry URLs: only the type is named
    return TransientApiError(f"{what}: {type(exc).__name__}")


def pages(
    call: Callable[[str | None], Any],
    what: str,
    *,
    throttle: Throttle,
    deadline: Deadline,
    margin: float = 0.0,
    policy: RetryPolicy = API_POLICY,
    request_seconds: float = API_REQUEST_SECONDS,
) -> Iterator[list[Any]]:
    """Each page of `call(page_token)` (a list-operation of a client built with
    `skip_deserialization=True`), in order. Raises `SourceError` subclasses when a page
    cannot be had."""

    def attempt(token: str | None, _budget: float) -> Any:
        with throttle.slot(deadline):
            # Waiting for a slot took time: what is left is measured again here.
            left = deadline.remaining() - margin
            if left < MIN_ATTEMPT_SECONDS:
                raise SourceError(f"{what}: not asked, no time left: {deadline.why()}")
            try:
                with bounded(min(request_seconds, left)):
                    response = call(token)
            except Exception as exc:
                raise _classify(exc, what, throttle) from None
        throttle.succeeded()
        return response

    token: str | None = None
    while True:
        try:
            response = call_with_retry(
                lambda budget: attempt(token, budget),  # noqa: B023 - called at once
                retry_on=(TransientApiError,),
                deadline=deadline,
                margin=margin,
                policy=policy,
                what=what,
            )
        except RetriesExhaustedError as exc:
            raise SourceError(str(exc)) from None
        data = response.data  # a list, or a collection: {"items": [...]}
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = data["items"]
        if not isinstance(data, list):  # an empty page here would pass for "no events"
            kind = type(data).__name__
            raise SourceError(f"{what}: the answer is not a list of events (a {kind})")
        yield data
        token = response.headers.get("opc-next-page")
        if not token:
            return

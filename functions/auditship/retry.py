"""One retry policy for every request that may fail for a while: sink requests, ranged
reads, marker writes and dead-letter writes.

`call_with_retry(fn, ...)` calls `fn(budget)` until it returns, retrying the exception
types it is given: exponential backoff with full jitter (a random wait between 0 and
`base * 2**attempt`, capped), or the server's `Retry-After` when it named one (capped too),
for at most `max_attempts` attempts, and never past the deadline: an attempt starts only
with at least `MIN_ATTEMPT_SECONDS` left before `deadline - margin`, and a wait that would
end later is not taken. `budget` is the time the attempt may use, so every request is
bounded by the deadline as well as by its own timeout. When retrying stops, it raises
`RetriesExhaustedError` with the last failure's message and why it stopped.

Built on tenacity (stop and wait strategies composed, `upcoming_sleep` for the deadline
check) rather than a fourth hand-written backoff loop. `parse_retry_after` is the one
parser of the `Retry-After` header, in both of its forms.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import tenacity

from auditship.deadline import Deadline
from auditship.errors import AuditShipError

log = logging.getLogger(__name__)

T = TypeVar("T")

# An attempt is not started with less time than this before the deadline margin.
MIN_ATTEMPT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_attempts: int = 8  # per request; the deadline usually ends retries first


SINK_POLICY = RetryPolicy()
# Markers, leases and dead-letter parts: small requests, a short retry for 429/5xx/blips.
SMALL_OBJECT_POLICY = RetryPolicy(base_seconds=0.2, cap_seconds=2.0, max_attempts=3)
# Opening (or re-opening, to resume) a ranged GET of the object being shipped.
READ_POLICY = RetryPolicy(base_seconds=0.25, cap_seconds=8.0, max_attempts=4)


class RetriesExhaustedError(AuditShipError):
    """Retrying stopped (attempts or time ran out); the message names the last failure."""

    def __init__(self, message: str, last: BaseException | None) -> None:
        super().__init__(message)
        self.last = last


def parse_retry_after(value: object, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds ("120") or an HTTP date
    ("Wed, 21 Oct 2026 07:28:00 GMT"); None when absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _OutOfTime(tenacity.stop.stop_base):
    """Stop when the wait ahead would leave less than MIN_ATTEMPT_SECONDS of budget."""

    def __init__(self, budget: Callable[[], float]) -> None:
        self._budget = budget

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._budget() - retry_state.upcoming_sleep < MIN_ATTEMPT_SECONDS


def retry_after_in(headers: Any) -> float | None:
    """`parse_retry_after` of a response's headers, whatever the case of the name (the SDK
    hands a plain dict of what the server sent)."""
    if not headers:
        return None
    try:
        return parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"))
    except AttributeError:
        return None


def is_transient_status(status: int) -> bool:
    """An OCI answer worth repeating: 408, 429 or any 5xx."""
    return status in (408, 429) or status >= 500


def call_with_retry(
    fn: Callable[[float], T],
    *,
    retry_on: tuple[type[BaseException], ...],
    deadline: Deadline,
    margin: float = 0.0,
    policy: RetryPolicy = SINK_POLICY,
    what: str = "request",
    sleep: Callable[[float], None] | None = None,
) -> T:
    """`fn(budget)` until it returns; see the module docstring. Exceptions not in
    `retry_on` propagate at once."""

    def budget() -> float:
        return deadline.remaining() - margin

    if budget() < MIN_ATTEMPT_SECONDS:
        raise RetriesExhaustedError(f"{what}: not sent, no time left: {deadline.why()}", None)

    jitter = tenacity.wait_random_exponential(
        multiplier=policy.base_seconds, max=policy.cap_seconds, exp_base=2
    )

    def wait(state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(failure, "retry_after", None)
        if isinstance(asked, int | float):
            return min(float(asked), policy.cap_seconds)
        return float(jitter(state))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        log.warning("retrying %s in %.1fs after: %s", what, state.upcoming_sleep, failure)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(retry_on),
        wait=wait,
        stop=tenacity.stop_after_attempt(policy.max_attempts) | _OutOfTime(budget),
        sleep=sleep or deadline.sleep,  # a cancelled run does not sleep on
        before_sleep=before_sleep,
        reraise=False,
    )
    try:
        return retrying(lambda: fn(budget()))
    except tenacity.RetryError as exc:
        attempt = exc.last_attempt
        last = attempt.exception()
        if attempt.attempt_number >= policy.max_attempts:
            why = f"gave up after {attempt.attempt_number} attempts"
        else:
            why = f"no time left for another attempt: {deadline.why()}"
        raise RetriesExhaustedError(f"{last} ({why})", last) from None

"""The sender: batches go out one at a time, in order, on a thread of their own, so waiting
on the network never stalls reading and preparing (ISA-L gzips without the GIL there).

Each batch is sent with the one retry policy (`retry.call_with_retry`: backoff with full
jitter, `Retry-After`, stopped in time by the deadline), and comes back as a `Sent`: a
`Delivery` (the sink answered; it may have refused some records), or a `Failure` with its
kind. After a failure that ends the run (credentials, retries exhausted) the batches
behind it are not sent (`NOT_SENT`), so nothing is delivered past an undelivered batch and
the checkpoint stays a single number.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from enum import Enum

from auditship.deadline import Deadline
from auditship.errors import CredentialsRejectedError, PermanentSinkError, RetryableSinkError
from auditship.model import ObjectRef
from auditship.retry import RetriesExhaustedError, RetryPolicy, call_with_retry
from auditship.sinks.base import Delivery, Prepared, Sink

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Batch:
    """Records bound for one request, in order: their positions run from `first`."""

    first: int = -1
    items: list[Prepared] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    size: int = 0  # bytes, separators included


class Failure(Enum):
    REFUSED = "refused"  # the sink will never take this batch (400, 413): dead-letter it
    CREDENTIALS = "credentials"  # nothing will get through: stop the run
    GAVE_UP = "gave up"  # retries or time ran out: stop; a later run resumes
    NOT_SENT = "not sent"  # a batch before it failed and stopped the run


@dataclass(frozen=True, slots=True)
class Sent:
    batch: Batch
    delivery: Delivery | None = None
    failure: Failure | None = None
    message: str = ""


class Sender:
    def __init__(
        self,
        sink: Sink,
        origin: ObjectRef,
        deadline: Deadline,
        *,
        timeout: float,
        margin: float,
        policy: RetryPolicy,
    ) -> None:
        self._sink = sink
        self._origin = origin
        self._deadline = deadline
        self._timeout = timeout
        self._margin = margin
        self._policy = policy
        self._inbox: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._results: queue.Queue[Sent] = queue.Queue()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditship-sender", daemon=True)
        self._thread.start()

    @property
    def stopped(self) -> bool:
        """A batch failed in a way that ends the run; later batches are not sent."""
        return self._stopped.is_set()

    def send(self, batch: Batch, margin: float) -> bool:
        """Queue `batch` behind the one being sent; False when there was no room before
        `margin` before the deadline."""
        return self._deadline.wait(lambda seconds: self._put(batch, seconds), margin) is not None

    def _put(self, batch: Batch | None, seconds: float) -> bool | None:
        try:
            self._inbox.put(batch, timeout=seconds)
            return True
        except queue.Full:
            return None

    def ready(self) -> Sent | None:
        """The next batch's answer if it is in."""
        try:
            return self._results.get_nowait()
        except queue.Empty:
            return None

    def result(self, margin: float) -> Sent | None:
        """The next batch's answer, in order, waiting for it until `margin` before the
        deadline (None: it did not come in time)."""
        return self._deadline.wait(self._get, margin)

    def _get(self, seconds: float) -> Sent | None:
        try:
            return self._results.get(timeout=seconds)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop the thread; one stuck in a request (bounded by its own time limit) is left
        to end by itself."""
        self._stopped.set()
        while True:  # batches still queued are not sent: make room for the stop
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                break
        if self._put(None, 1.0):
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            batch = self._inbox.get()
            if batch is None:
                return
            if self._stopped.is_set():
                self._results.put(Sent(batch, failure=Failure.NOT_SENT))
                continue
            sent = self._send(batch)
            # The result goes out before the flag: whoever sees the flag must find it.
            self._results.put(sent)
            if sent.failure in (Failure.CREDENTIALS, Failure.GAVE_UP):
                self._stopped.set()

    def _send(self, batch: Batch) -> Sent:
        sink, origin, timeout = self._sink, self._origin, self._timeout

        def attempt(budget: float) -> Delivery:
            return sink.send(batch.items, origin, min(timeout, budget))

        try:
            delivery = call_with_retry(
                attempt,
                retry_on=(RetryableSinkError,),
                deadline=self._deadline,
                margin=self._margin,
                policy=self._policy,
                what=f"batch of {len(batch.items)} records",
            )
        except PermanentSinkError as exc:
            return Sent(batch, failure=Failure.REFUSED, message=str(exc))
        except CredentialsRejectedError as exc:
            return Sent(batch, failure=Failure.CREDENTIALS, message=str(exc))
        except RetriesExhaustedError as exc:
            return Sent(batch, failure=Failure.GAVE_UP, message=str(exc))
        except Exception as exc:  # a sink bug must not hang the pipeline
            message = f"unexpected {type(exc).__name__} from {sink.name} sink"
            log.error("%s", message)
            return Sent(batch, failure=Failure.GAVE_UP, message=message)
        return Sent(batch, delivery=delivery)

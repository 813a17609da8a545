"""The time a run has left. Retries, waits and new batches stop in time to report honestly.

A deadline is a monotonic point in time (the function's own deadline), or none (the
operator command), and can be cancelled (SIGINT/SIGTERM): it then comes `grace` seconds
after the cancel, so every loop that asks it stops as it would at the deadline (no new
work within the margin, waits for answers already asked for until half of it), with its
progress saved. `sleep` waits no longer than asked, and wakes up when it is cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.5  # how soon a waiting thread notices a cancellation


@dataclass(frozen=True, slots=True)
class Deadline:
    """A monotonic point in time; `None` at means no limit (operator command)."""

    at: float | None
    _cancelled: threading.Event = field(default_factory=threading.Event, compare=False)
    _cancelled_at: list[float] = field(default_factory=list, compare=False)  # [deadline]

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(None)

    def remaining(self) -> float:
        now = time.monotonic()
        left = float("inf") if self.at is None else self.at - now
        if self._cancelled_at:
            left = min(left, self._cancelled_at[0] - now)
        return left

    def expired(self, margin: float = 0.0) -> bool:
        return self.remaining() <= margin

    def cancel(self, grace: float = 0.0) -> None:
        """Stop the run as if its deadline came in `grace` seconds (a signal asked)."""
        if not self._cancelled_at:
            self._cancelled_at.append(time.monotonic() + grace)
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def why(self) -> str:
        """Why a run stopped early, for its summary."""
        if self.cancelled:
            return "stopped on request (a signal); run again to resume"
        return "stopped before the function deadline; call again to resume"

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the run is cancelled meanwhile."""
        self._cancelled.wait(max(0.0, seconds))

    def wait(self, get: Callable[[float], T | None], margin: float) -> T | None:
        """Wait between threads, within the deadline: `get(seconds)` (a queue's or a
        future's wait, returning None when the time ran out) is asked again until it
        gives something, or until `margin` before the deadline (then None)."""
        while True:
            left = self.remaining() - margin
            if left <= 0:
                return None
            got = get(min(left, POLL_SECONDS))
            if got is not None:
                return got

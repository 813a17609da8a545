"""The time a call has left. Retries and new batches stop in time to report honestly."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Deadline:
    """A monotonic point in time; `None` at means no limit (operator command)."""

    at: float | None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(None)

    def remaining(self) -> float:
        if self.at is None:
            return float("inf")
        return self.at - time.monotonic()

    def expired(self, margin: float = 0.0) -> bool:
        return self.remaining() <= margin

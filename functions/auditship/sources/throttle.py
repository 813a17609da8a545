"""How many API requests run at once: at most `limit`, halved whenever the service says
429 (too many requests) and grown back by one slot per `limit` successes (additive
increase, multiplicative decrease, as TCP does), so a throttled tenancy is asked less
often instead of being retried at full speed by every worker.

Thread-safe; no I/O. `slot()` blocks while the current limit is taken (or until the
deadline passes: the caller's request is then refused by its own time check).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from auditship.deadline import Deadline


class Throttle:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one request at a time")
        self.ceiling = limit
        self._limit = float(limit)
        self._active = 0
        self._changed = threading.Condition()
        self.throttled_times = 0  # 429s seen, for the summary
        self.peak = 0  # the most requests that ran at once

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    @contextmanager
    def slot(self, deadline: Deadline | None = None) -> Iterator[None]:
        with self._changed:
            while self._active >= self.limit:
                left = None if deadline is None else deadline.remaining()
                if left is not None and left <= 0:
                    break  # over the limit, but the request will refuse itself at once
                self._changed.wait(None if left is None else min(left, 1.0))
            self._active += 1
            self.peak = max(self.peak, self._active)
        try:
            yield
        finally:
            with self._changed:
                self._active -= 1
                self._changed.notify()

    def throttled(self) -> None:
        """The service said 429: half as many requests at once from now on."""
        with self._changed:
            self.throttled_times += 1
            self._limit = max(1.0, self._limit / 2)

    def succeeded(self) -> None:
        with self._changed:
            if self._limit < self.ceiling:
                self._limit = min(float(self.ceiling), self._limit + 1.0 / self._limit)
                self._changed.notify_all()

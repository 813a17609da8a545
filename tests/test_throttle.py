"""The throttle alone (`sources.throttle`): the limit's arithmetic, then real threads
holding its slots. Every wait is bounded, so a broken throttle fails instead of hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from auditship.deadline import Deadline
from auditship.sources.throttle import Throttle
from hypothesis import given
from hypothesis import strategies as st

WAIT = 5.0  # seconds: how long a test waits for what must happen soon


def test_a_throttle_takes_at_least_one_request() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Throttle(0)
    assert Throttle(1).limit == 1


@given(st.integers(1, 64), st.lists(st.sampled_from(["429", "ok"]), max_size=200))
def test_the_limit_halves_on_429_and_grows_back_by_small_steps_up_to_the_ceiling(
    ceiling: int, answers: list[str]
) -> None:
    throttle = Throttle(ceiling)
    assert throttle.limit == ceiling
    for answer in answers:
        before = throttle.limit
        if answer == "429":
            throttle.throttled()
            assert throttle.limit == max(1, before // 2)
        else:
            throttle.succeeded()
            assert before <= throttle.limit <= min(before + 1, ceiling)
    assert throttle.throttled_times == answers.count("429")


@given(st.integers(1, 50))
def test_growing_back_is_additive_one_slot_per_limit_successes(half: int) -> None:
    # GIVEN a throttle halved from 2L to L
    throttle = Throttle(2 * half)
    throttle.throttled()
    assert throttle.limit == half
    # THEN L - 1 successes are not yet enough for one more slot, L + 2 are, and no more
    for _ in range(half - 1):
        throttle.succeeded()
    assert throttle.limit == half
    for _ in range(3):
        throttle.succeeded()
    assert throttle.limit == half + 1


@given(st.integers(1, 12), st.integers(1, 6))
def test_after_enough_successes_the_limit_is_back_at_the_ceiling_and_stays_there(
    ceiling: int, halvings: int
) -> None:
    throttle = Throttle(ceiling)
    for _ in range(halvings):
        throttle.throttled()
    assert throttle.limit == max(1, ceiling >> halvings)
    for _ in range(ceiling * ceiling + ceiling):
        throttle.succeeded()
    assert throttle.limit == ceiling
    throttle.succeeded()
    assert throttle.limit == ceiling


# -- threads -----------------------------------------------------------------------------------


class Holders:
    """Threads that each take a slot and hold it until told to let go."""

    def __init__(self, throttle: Throttle, deadline: Deadline | None = None) -> None:
        self.throttle = throttle
        self.deadline = deadline
        self.inside = threading.Semaphore(0)  # released once per thread that got a slot
        self._lock = threading.Lock()
        self.active = 0
        self.threads: list[tuple[threading.Thread, threading.Event]] = []

    def start(self) -> threading.Event:
        let_go = threading.Event()

        def hold() -> None:
            with self.throttle.slot(self.deadline):
                with self._lock:
                    self.active += 1
                self.inside.release()
                let_go.wait(WAIT)
                with self._lock:
                    self.active -= 1

        thread = threading.Thread(target=hold, daemon=True)
        thread.start()
        self.threads.append((thread, let_go))
        return let_go

    def entered(self, count: int, within: float = WAIT) -> bool:
        """Whether `count` more threads got a slot within `within` seconds."""
        until = time.monotonic() + within
        return all(self.inside.acquire(timeout=max(0.0, until - time.monotonic()))
                   for _ in range(count))  # fmt: skip

    def finish(self) -> None:
        for thread, let_go in self.threads:
            let_go.set()
            thread.join(WAIT)
            assert not thread.is_alive()


@contextmanager
def holders(throttle: Throttle, deadline: Deadline | None = None) -> Iterator[Holders]:
    group = Holders(throttle, deadline)
    try:
        yield group
    finally:
        group.finish()


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_never_more_requests_at_once_than_the_limit(limit: int) -> None:
    throttle = Throttle(limit)
    lock = threading.Lock()
    active, most = 0, 0

    def worker() -> None:
        nonlocal active, most
        for _ in range(15):
            with throttle.slot():
                with lock:
                    active += 1
                    most = max(most, active)
                time.sleep(0.001)
                with lock:
                    active -= 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(4 * limit + 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    assert 1 <= most <= limit
    assert most <= throttle.peak <= limit


def test_a_full_throttle_lets_exactly_the_limit_in_and_records_the_peak() -> None:
    throttle = Throttle(3)
    with holders(throttle) as group:
        for _ in range(5):
            group.start()
        # THEN three get a slot, and the others wait
        assert group.entered(3)
        assert not group.entered(1, within=0.1)
        assert group.active == 3
        assert throttle.peak == 3
        # WHEN one lets go, exactly one waiter gets in
        group.threads[0][1].set()
        assert group.entered(1)
        assert not group.entered(1, within=0.1)
        assert throttle.peak == 3
    # AND when all are done every slot is free again
    with holders(throttle) as group:
        for _ in range(3):
            group.start()
        assert group.entered(3)
    assert throttle.peak == 3


def test_a_waiter_gets_in_when_a_slot_is_released() -> None:
    throttle = Throttle(1)
    with holders(throttle) as group:
        first = group.start()
        assert group.entered(1)
        group.start()
        assert not group.entered(1, within=0.1)
        first.set()
        assert group.entered(1)


def test_after_a_429_the_held_slots_must_drain_below_the_new_limit() -> None:
    throttle = Throttle(4)
    with holders(throttle) as group:
        for _ in range(4):
            group.start()
        assert group.entered(4)
        throttle.throttled()  # the limit is 2 now; four are still running
        group.start()
        for i in range(2):  # 3, then 2 running: not below the limit yet
            group.threads[i][1].set()
            assert not group.entered(1, within=0.1)
        group.threads[2][1].set()  # 1 running: the waiter gets in
        assert group.entered(1)


def test_a_waiter_gets_in_when_the_limit_grows_back() -> None:
    throttle = Throttle(2)
    throttle.throttled()
    with holders(throttle) as group:
        group.start()
        assert group.entered(1)
        group.start()
        assert not group.entered(1, within=0.1)
        throttle.succeeded()  # 1 -> 2: room for the waiter, while the first still runs
        assert throttle.limit == 2
        assert group.entered(1)
        assert group.active == 2


def test_a_waiter_with_an_expired_deadline_does_not_wait() -> None:
    throttle = Throttle(1)
    with holders(throttle) as group:
        group.start()
        assert group.entered(1)
        late = Holders(throttle, Deadline.after(0))
        late.start()
        try:
            # The slot is given over the limit: the request then refuses itself at once.
            assert late.entered(1, within=2.0)
        finally:
            late.finish()


def test_a_waiter_stops_waiting_when_its_deadline_passes() -> None:
    throttle = Throttle(1)
    with holders(throttle) as group:
        group.start()
        assert group.entered(1)
        late = Holders(throttle, Deadline.after(0.2))
        started = time.monotonic()
        late.start()
        try:
            assert not late.entered(1, within=0.1)
            assert late.entered(1, within=2.0)
            assert time.monotonic() - started >= 0.15
        finally:
            late.finish()


def test_a_waiter_without_a_time_limit_stops_waiting_when_the_run_is_cancelled() -> None:
    throttle = Throttle(1)
    with holders(throttle) as group:
        group.start()
        assert group.entered(1)
        deadline = Deadline.unlimited()
        late = Holders(throttle, deadline)
        late.start()
        try:
            assert not late.entered(1, within=0.1)
            deadline.cancel()
            assert late.entered(1, within=3.0)  # it looks again at least once a second
        finally:
            late.finish()

"""The one retry helper: attempts, backoff, Retry-After in both forms, the deadline."""

from __future__ import annotations

import email.utils
import time

import pytest
from auditship.deadline import Deadline
from auditship.retry import (
    RetriesExhaustedError,
    RetryPolicy,
    call_with_retry,
    parse_retry_after,
)
from hypothesis import given
from hypothesis import strategies as st


class Busy(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("busy")
        self.retry_after = retry_after


class Failing:
    """Fails `times` times with `error`, then answers."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.error, self.budgets = times, error, []

    def __call__(self, budget: float) -> str:
        self.budgets.append(budget)
        if len(self.budgets) <= self.times:
            raise self.error
        return "ok"


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = time.time()
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    for unreadable in (None, "", "soon", "Mon, 99 Foo 2026"):
        assert parse_retry_after(unreadable) is None


@given(st.text(max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    parsed = parse_retry_after(value)
    assert parsed is None or parsed >= 0


def test_retries_until_it_answers_with_full_jitter_within_the_cap() -> None:
    slept: list[float] = []
    fn = Failing(4, Busy())
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=3.0, max_attempts=8)
    got = call_with_retry(
        fn, retry_on=(Busy,), deadline=Deadline.unlimited(), policy=policy, sleep=slept.append
    )
    assert got == "ok"
    assert len(slept) == 4
    assert all(0 <= s <= 3.0 for s in slept)


def test_retry_after_is_honoured_and_capped() -> None:
    slept: list[float] = []
    policy = RetryPolicy(base_seconds=0.01, cap_seconds=5.0, max_attempts=4)
    call_with_retry(
        Failing(2, Busy(retry_after=2.0)), retry_on=(Busy,), deadline=Deadline.unlimited(),
        policy=policy, sleep=slept.append,
    )  # fmt: skip
    call_with_retry(
        Failing(1, Busy(retry_after=600.0)), retry_on=(Busy,), deadline=Deadline.unlimited(),
        policy=policy, sleep=slept.append,
    )  # fmt: skip
    assert slept == [2.0, 2.0, 5.0]


def test_gives_up_after_the_attempts_and_says_so() -> None:
    fn = Failing(10, Busy())
    policy = RetryPolicy(base_seconds=0.0, cap_seconds=0.0, max_attempts=3)
    with pytest.raises(RetriesExhaustedError, match="gave up after 3 attempts") as info:
        call_with_retry(fn, retry_on=(Busy,), deadline=Deadline.unlimited(), policy=policy)
    assert isinstance(info.value.last, Busy)
    assert len(fn.budgets) == 3


class FakeClock:
    """The deadline's clock, moved on by the retry helper's sleeps (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        slept.append(seconds)
        self.now += seconds


slept: list[float] = []


def test_never_sleeps_past_the_deadline_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("auditship.deadline.time", clock)
    slept.clear()
    fn = Failing(10, Busy(retry_after=20.0))
    deadline = Deadline.after(30.0)
    with pytest.raises(RetriesExhaustedError, match="no time left"):
        call_with_retry(
            fn, retry_on=(Busy,), deadline=deadline, margin=5.0,
            policy=RetryPolicy(cap_seconds=60.0), sleep=clock.sleep,
        )  # fmt: skip
    # a 20 s wait would end 5 s before the margin: taken once; a second would pass it
    assert slept == [20.0]
    assert all(b <= 25.0 for b in fn.budgets), "each attempt is bounded by the deadline"


def test_no_attempt_without_time_left() -> None:
    fn = Failing(0, Busy())
    with pytest.raises(RetriesExhaustedError, match="no time left"):
        call_with_retry(fn, retry_on=(Busy,), deadline=Deadline.after(2.0), margin=1.5)
    assert fn.budgets == []


def test_other_errors_are_not_retried() -> None:
    fn = Failing(1, ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        call_with_retry(fn, retry_on=(Busy,), deadline=Deadline.unlimited())
    assert len(fn.budgets) == 1

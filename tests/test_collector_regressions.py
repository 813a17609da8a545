"""Regressions found in review of the API collector: each test failed before its fix."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from auditship.collector import CollectOptions, Collector, CollectorBusyError
from auditship.deadline import Deadline
from auditship.errors import SourceError
from auditship.pipeline import ShipOptions
from auditship.sources import api_requests
from auditship.sources.api_records import ResumeGuard
from auditship.sources.throttle import Throttle
from auditship.state.cursor_store import StateLocation
from auditship.state.ledger import LocalUnitLedger, Progress


class _NoSource:
    name = "audit"


class _BookThatFails:
    def read(self) -> bytes | None:
        raise SourceError("reading the cursors: HTTP 503 (gave up after 3 attempts)")

    def write(self, body: bytes) -> None:
        pass


class _EmptyBook:
    def read(self) -> bytes | None:
        return None

    def write(self, body: bytes) -> None:
        pass


def _collector(tmp: Path, book: Any) -> Collector:
    return Collector(
        _NoSource(), None, state=StateLocation(folder=str(tmp)),  # type: ignore[arg-type]
        ledger=LocalUnitLedger(str(tmp)), book=book, sink=None, normalizer=None,  # type: ignore[arg-type]
        dead_letters=None, deadline=Deadline.unlimited(), options=ShipOptions(),  # type: ignore[arg-type]
        collect=CollectOptions(), throttle=Throttle(1),
    )  # fmt: skip


def test_a_book_that_cannot_be_read_now_frees_the_lease(tmp_path: Path) -> None:
    with pytest.raises(SourceError), _collector(tmp_path, _BookThatFails()):
        pass
    assert not [t for t in threading.enumerate() if t.name == "auditship-book"]
    with _collector(tmp_path, _EmptyBook()):  # the next run is not refused
        pass


def test_a_second_run_of_the_same_source_is_refused_while_one_holds_it(tmp_path: Path) -> None:
    with (
        _collector(tmp_path, _EmptyBook()),
        pytest.raises(CollectorBusyError),
        _collector(tmp_path, _EmptyBook()),
    ):
        pass


class _Answer:
    def __init__(self, data: Any) -> None:
        self.data = data
        self.headers: dict[str, str] = {}


def test_a_request_that_waited_for_a_slot_past_the_deadline_is_not_sent() -> None:
    throttle, deadline, margin = Throttle(1), Deadline.after(2.5), 1.0
    held, release = threading.Event(), threading.Event()

    def hog() -> None:
        with throttle.slot(deadline):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hog)
    thread.start()
    held.wait()
    sent: list[float] = []

    def call(_token: str | None) -> _Answer:
        sent.append(deadline.remaining())
        return _Answer([])

    threading.Timer(2.0, release.set).start()  # the slot frees only within the margin
    with pytest.raises(SourceError, match="no time left"):
        list(api_requests.pages(call, "x", throttle=throttle, deadline=deadline, margin=margin))
    thread.join()
    assert sent == []


@pytest.mark.parametrize("data", [None, "oops", {"no": "items"}, {"items": "x"}])
def test_a_page_that_is_not_a_list_of_events_fails_the_window(data: Any) -> None:
    with pytest.raises(SourceError, match="not a list"):
        list(api_requests.pages(lambda _t: _Answer(data), "x", throttle=Throttle(1),
                                deadline=Deadline.unlimited()))  # fmt: skip


def _fingerprint(ids: list[str]) -> str:
    guard = ResumeGuard(Progress())
    for ident in ids:
        guard.see(ident)
    return guard.stamp(Progress(len(ids))).fingerprint


def test_a_checkpoint_at_the_resume_point_keeps_the_earlier_runs_fingerprint() -> None:
    earlier = Progress(2, fingerprint=_fingerprint(["a", "b"]))  # run 1 handled a, b
    guard = ResumeGuard(earlier)
    guard.see("a")
    guard.see("c")  # the API answers a, c now; a checkpoint before the third is pulled
    assert guard.stamp(Progress(2)).fingerprint == earlier.fingerprint

"""ship_object end to end: real gzip objects, a loopback Logz.io listener, the real oci SDK
against a loopback Object Storage. Every record ends up delivered or dead-lettered."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from auditgen import records, render
from auditship.deadline import Deadline
from auditship.delivery.deadletter import (
    DeadLetterWriter,
    LocalDeadLetterStore,
    ObjectStorageDeadLetterStore,
)
from auditship.model import ObjectRef, Summary
from auditship.pipeline import ShipOptions
from auditship.retry import RetryPolicy
from auditship.shipping import ship_object
from auditship.sinks.logzio import LogzioSink
from auditship.sources.local import LocalReader
from auditship.sources.object_storage import ObjectStorageReader
from auditship.state.accounting import Accounting
from auditship.state.ledger import NullLedger, ObjectStorageLedger
from auditship.transforms.normalize import Normalizer
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST_RETRY = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, max_attempts=8)


def make_object(tmp_path: Path, n: int = 300, layout: str = "connector", seed: int = 1) -> tuple[
    Path, list[dict[str, Any]]
]:  # fmt: skip
    gen = records(seed=seed, tricky_ratio=0.2)
    recs = [next(gen) for _ in range(n)]
    import random

    path = tmp_path / f"obj-{layout}-{seed}.log.gz"
    path.write_bytes(gzip.compress(render(recs, layout, random.Random(seed))))
    return path, recs


def ship_local(
    path: Path,
    listener: FakeLogzioListener,
    tmp_path: Path,
    *,
    max_batch_bytes: int = 64 * 1024,
    deadline: Deadline | None = None,
    margin: float = 0.0,
) -> Summary:
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=max_batch_bytes)
    try:
        return ship_object(
            ObjectRef(str(path)),
            reader=LocalReader(),
            sink=sink,
            normalizer=Normalizer(),
            dead_letters=LocalDeadLetterStore(str(tmp_path / "dlq")),
            ledger=NullLedger(),
            deadline=deadline or Deadline.unlimited(),
            options=ShipOptions(retry=FAST_RETRY, deadline_margin_seconds=margin),
        )
    finally:
        sink.close()


def dead_letters(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(folder.glob("**/*.ndjson")):
        out.extend(json.loads(line) for line in f.read_text().splitlines())
    return out


def assert_accounted(summary: Summary) -> None:
    assert summary.records == (
        summary.shipped + summary.rejected + summary.filtered + summary.skipped
    ), summary


def test_every_record_arrives_once_in_order(listener: FakeLogzioListener, tmp_path: Path) -> None:
    path, recs = make_object(tmp_path, 400)
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete
    assert summary.shipped == 400
    assert summary.batches > 1
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs]
    assert all(r["type"] == "oci-audit" for r in listener.accepted)
    assert all(
        r["@timestamp"] == src["time"] for r, src in zip(listener.accepted, recs, strict=True)
    )
    assert all(len(r.body_length.__str__()) for r in listener.requests)
    assert max(r.uncompressed_length for r in listener.requests) <= 64 * 1024
    assert_accounted(summary)


def test_transient_failures_are_retried_without_loss_or_duplicates(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    path, recs = make_object(tmp_path, 300)
    listener.script([503, (429, {"Retry-After": "0"}), "reset", 500, "ok", 502])
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete, summary.errors
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(st.sampled_from([500, 502, 503, 429, "reset", "ok"]), max_size=12))
def test_any_transient_failure_sequence_loses_nothing(tmp_path: Path, script: list[Any]) -> None:
    path, recs = make_object(tmp_path, 120, seed=3)
    with FakeLogzioListener(tokens={TOKEN}) as listener:
        listener.script(script)
        summary = ship_local(path, listener, tmp_path, max_batch_bytes=32 * 1024)
    delivered = [r["id"] for r in listener.accepted]
    assert len(delivered) == len(set(delivered)), "nothing is delivered twice"
    assert delivered == [r["id"] for r in recs[: len(delivered)]], "delivered in order"
    longest_outage = max(
        (len(run) for run in "".join("x" if a != "ok" else " " for a in script).split()),
        default=0,
    )
    if longest_outage < FAST_RETRY.max_attempts:
        assert summary.complete
        assert len(delivered) == len(recs)
    else:  # the retry budget ran out: reported, and the rest is left for a re-run
        assert not summary.complete
        assert "gave up" in summary.errors[0]


def test_partial_400_dead_letters_the_batch_with_reason(tmp_path: Path) -> None:
    path, recs = make_object(tmp_path, 50)
    with FakeLogzioListener(tokens={TOKEN}, max_line_bytes=2070) as small_lines:
        summary = ship_local(path, small_lines, tmp_path, max_batch_bytes=1024 * 1024)
    assert summary.complete
    assert_accounted(summary)
    letters = dead_letters(tmp_path / "dlq")
    assert summary.rejected > 0
    assert {d["stage"] for d in letters} == {"sink"}
    assert all("Logz.io answered 400" in d["reason"] for d in letters)
    # nothing lost: what Logz.io took plus what was dead-lettered covers every record
    got = {r["id"] for r in small_lines.accepted} | {json.loads(d["raw"])["id"] for d in letters}
    assert got == {r["id"] for r in recs}


def test_bad_bytes_are_dead_lettered_and_the_rest_ships(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    gen = records(seed=9)
    good = [next(gen) for _ in range(5)]
    body = (
        b"".join(orjson.dumps(r) for r in good[:2])
        + b"{oops}\n"
        + b"\n".join(orjson.dumps(r) for r in good[2:])
    )
    path = tmp_path / "mixed.log.gz"
    path.write_bytes(gzip.compress(body))
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete
    assert (summary.shipped, summary.rejected) == (5, 1)
    [letter] = dead_letters(tmp_path / "dlq")
    assert letter["raw"] == "{oops}"
    assert letter["object"] == str(path)
    assert letter["offset"] == body.index(b"{oops}")
    assert "invalid JSON" in letter["reason"]


def test_truncated_gzip_ships_what_came_before_and_records_the_fault(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    path, recs = make_object(tmp_path, 400, layout="ndjson")
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) * 2 // 3])
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete  # retrying cannot fix the bytes; everything decodable is handled
    assert 0 < summary.shipped < 400
    assert_accounted(summary)
    letters = dead_letters(tmp_path / "dlq")
    stages = [d["stage"] for d in letters]
    assert "decode" in stages
    decode = letters[stages.index("decode")]
    assert "truncated gzip" in decode["reason"]
    assert str(path) in decode["reason"]
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs[: summary.shipped]]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_damaged_member_is_dead_lettered_and_the_members_after_it_ship(
    listener: FakeLogzioListener, tmp_path: Path, workers: int
) -> None:
    """Three gzip members of whole records; the middle one is damaged. Every record of the
    first and last member arrives, in order; what the middle member decoded to before the
    damage is shipped or dead-lettered, and the damage is one decode dead letter naming
    the member's byte range (its records cannot be counted, the range can)."""
    gen = records(seed=21)
    groups = [[next(gen) for _ in range(60)] for _ in range(3)]
    members = [bytearray(gzip.compress(b"".join(orjson.dumps(r) for r in g))) for g in groups]
    members[1][len(members[1]) // 2] ^= 0x55
    path = tmp_path / "damaged.log.gz"
    path.write_bytes(b"".join(bytes(m) for m in members))
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=64 * 1024)
    try:
        summary = ship_object(
            ObjectRef(str(path)),
            reader=LocalReader(),
            sink=sink,
            normalizer=Normalizer(),
            dead_letters=LocalDeadLetterStore(str(tmp_path / "dlq")),
            ledger=NullLedger(),
            deadline=Deadline.unlimited(),
            options=ShipOptions(retry=FAST_RETRY, workers=workers),
        )
    finally:
        sink.close()
    assert summary.complete  # retrying reads the same bytes: it is all handled
    assert_accounted(summary)
    shipped = [r["id"] for r in listener.accepted]
    assert shipped[:60] == [r["id"] for r in groups[0]]
    assert shipped[-60:] == [r["id"] for r in groups[2]]
    letters = dead_letters(tmp_path / "dlq")
    [fault] = [d for d in letters if d["stage"] == "decode"]
    start = len(members[0])
    assert f"compressed bytes {start}..{start + len(members[1])}" in fault["reason"]
    assert "corrupt gzip data" in fault["reason"]
    assert any(str(path) in e for e in summary.errors)


def test_a_record_cut_by_gzip_damage_is_a_reject_before_the_fault(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    """A large member damaged near its end: what it decoded to before the damage ships,
    the record the damage cut is a `repair` reject, then comes the `decode` fault, then
    the next member, all in object order."""
    gen = records(seed=22)
    big = [next(gen) for _ in range(4000)]
    last = [next(gen) for _ in range(50)]
    first = bytearray(gzip.compress(b"\n".join(orjson.dumps(r) for r in big) + b"\n"))
    first[len(first) * 3 // 4] ^= 0x55
    path = tmp_path / "cut.log.gz"
    path.write_bytes(bytes(first) + gzip.compress(b"\n".join(orjson.dumps(r) for r in last)))
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete
    assert_accounted(summary)
    shipped = [r["id"] for r in listener.accepted]
    assert shipped[-50:] == [r["id"] for r in last]
    head = shipped[:-50]
    assert 0 < len(head) < 4000
    assert head == [r["id"] for r in big[: len(head)]]
    letters = sorted(dead_letters(tmp_path / "dlq"), key=lambda d: d["index"])
    stages = [d["stage"] for d in letters]
    assert stages[-1] == "decode"
    assert letters[-1]["index"] == summary.records - 51  # just before the last member
    assert "repair" in stages  # the record the damage cut (and anything garbled)


def test_many_gzip_faults_are_all_dead_lettered_but_only_a_few_named(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    gen = records(seed=23)
    parts = [gzip.compress(orjson.dumps(next(gen))) + b"XX" for _ in range(10)]
    path = tmp_path / "many.log.gz"
    path.write_bytes(b"".join(parts))
    summary = ship_local(path, listener, tmp_path)
    assert (summary.shipped, summary.rejected) == (10, 10)
    assert len([d for d in dead_letters(tmp_path / "dlq") if d["stage"] == "decode"]) == 10
    assert len(summary.errors) == 4
    assert "every fault is in the dead letters" in summary.errors[-1]


def test_rejected_token_stops_and_reports_incomplete(tmp_path: Path) -> None:
    path, _ = make_object(tmp_path, 50)
    with FakeLogzioListener(tokens={"other"}) as strict:
        summary = ship_local(path, strict, tmp_path)
    assert not summary.complete
    assert summary.credentials_rejected
    assert any("rejected the shipping token" in e for e in summary.errors)
    assert TOKEN not in json.dumps(summary.to_json_dict())


# -- Object Storage: ledger, checkpoints, ranged resume -------------------------------------
def os_ship(
    obj: ObjectRef,
    client: Any,
    listener: FakeLogzioListener,
    *,
    deadline: Deadline | None = None,
    force: bool = False,
    max_batch_bytes: int = 32 * 1024,
    retry: RetryPolicy = FAST_RETRY,
) -> Summary:
    reader = ObjectStorageReader(client, chunk_bytes=16 * 1024)
    obj = reader.head(obj)
    sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=max_batch_bytes)
    try:
        return ship_object(
            obj,
            reader=reader,
            sink=sink,
            normalizer=Normalizer(),
            dead_letters=ObjectStorageDeadLetterStore(client, "dead-letter/"),
            ledger=ObjectStorageLedger(client, "shipped/"),
            deadline=deadline or Deadline.unlimited(),
            options=ShipOptions(retry=retry, deadline_margin_seconds=0.0, force=force),
        )
    finally:
        sink.close()


def put_object(store: FakeObjectStorage, tmp_path: Path, n: int, seed: int = 1) -> tuple[
    ObjectRef, list[dict[str, Any]]
]:  # fmt: skip
    path, recs = make_object(tmp_path, n, seed=seed)
    name = "audit/ocid1.serviceconnector.oc1..x/20261101T000000Z_20261101T000700Z.0.log.gz"
    store.put(NAMESPACE, BUCKET, name, path.read_bytes())
    return ObjectRef(name, NAMESPACE, BUCKET), recs


def test_second_event_for_a_shipped_object_ships_nothing(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener, tmp_path: Path
) -> None:
    obj, _ = put_object(object_storage, tmp_path, 200)
    first = os_ship(obj, os_client, listener)
    assert first.complete
    assert first.shipped == 200
    second = os_ship(obj, os_client, listener)
    assert second.shipped == 0
    assert "already shipped" in second.errors[0]
    assert len(listener.accepted) == 200
    done = [n for n in object_storage.names(NAMESPACE, BUCKET, "shipped/") if n.endswith(".done")]
    assert len(done) == 1
    forced = os_ship(obj, os_client, listener, force=True)
    assert forced.shipped == 200


def test_rerun_after_outage_resumes_without_resending(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    obj, recs = put_object(object_storage, tmp_path, 300)
    # GIVEN a listener that fails for good after two batches
    with FakeLogzioListener(tokens={TOKEN}) as failing:
        failing.script(["ok", "ok", *[503] * 50])
        first = os_ship(obj, os_client, failing, retry=RetryPolicy(0.001, 0.002, max_attempts=3))
    # THEN the call reports incomplete and records how far it got
    assert not first.complete
    delivered_first = [r["id"] for r in failing.accepted]
    assert 0 < len(delivered_first) < 300
    progress = [n for n in object_storage.names(NAMESPACE, BUCKET, "shipped/") if "progress" in n]
    assert len(progress) == 1
    # WHEN the object is shipped again to a healthy listener
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = os_ship(obj, os_client, healthy)
    # THEN the rest arrives and nothing is sent twice
    assert second.complete
    assert second.skipped == len(delivered_first)
    assert delivered_first + [r["id"] for r in healthy.accepted] == [r["id"] for r in recs]


def _dead_letter_raws(store: FakeObjectStorage) -> list[str]:
    """The `raw` of every dead letter in the bucket, part by part."""
    raws = []
    for key in store.names(NAMESPACE, BUCKET, "dead-letter/"):
        body = store.get(NAMESPACE, BUCKET, key) or b""
        raws.extend(json.loads(x)["raw"] for x in body.splitlines())
    return raws


def _ship_bad_lines_across_an_outage(
    store: FakeObjectStorage, client: Any, seed: int, every: int, name: str
) -> tuple[Summary, Summary, list[dict[str, Any]], list[Any]]:
    """300 records with `{oops i}` after every `every`-th; a first call stops at an outage
    after two batches, a second completes. Returns both summaries, the records and the ids
    delivered over both calls."""
    gen = records(seed=seed)
    recs = [next(gen) for _ in range(300)]
    lines = []
    for i, rec in enumerate(recs):
        lines.append(orjson.dumps(rec))
        if i % every == every - 1:
            lines.append(b"{oops %d}" % i)
    name = f"audit/ocid1.serviceconnector.oc1..x/{name}"
    store.put(NAMESPACE, BUCKET, name, gzip.compress(b"\n".join(lines) + b"\n"))
    obj = ObjectRef(name, NAMESPACE, BUCKET)
    with FakeLogzioListener(tokens={TOKEN}) as failing:
        failing.script(["ok", "ok", *[503] * 50])
        first = os_ship(obj, client, failing, retry=RetryPolicy(0.001, 0.002, max_attempts=3))
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = os_ship(obj, client, healthy)
    shipped = [r["id"] for r in failing.accepted] + [r["id"] for r in healthy.accepted]
    return first, second, recs, shipped


def test_a_resumed_run_does_not_write_dead_letters_twice(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    """A call that stops early has already dead-lettered some bad lines past its checkpoint;
    the progress marker lists them, so the resumed call skips them instead of writing (and
    a later replay shipping) them twice."""
    first, second, recs, shipped = _ship_bad_lines_across_an_outage(
        object_storage, os_client, seed=31, every=10, name="bad-lines.log.gz"
    )
    assert not first.complete
    assert first.rejected > 0
    assert second.complete
    letters = _dead_letter_raws(object_storage)
    assert sorted(letters) == sorted(f"{{oops {i}}}" for i in range(9, 300, 10))
    assert first.rejected + second.rejected == 30
    assert shipped == [r["id"] for r in recs]


def test_dead_letter_positions_kept_for_the_marker_stay_bounded(
    object_storage: FakeObjectStorage,
    os_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With more rejects than a marker lists, the run keeps only the positions it could
    still list (here 4, so it trims past 8): records still arrive exactly once, and every
    bad line is dead-lettered (those past the listed ones may be written twice, as the
    README says)."""
    import auditship.state.accounting
    import auditship.state.ledger

    monkeypatch.setattr(auditship.state.accounting, "MAX_LISTED_DEAD_LETTERS", 4)
    monkeypatch.setattr(auditship.state.ledger, "MAX_LISTED_DEAD_LETTERS", 4)
    # parts of ~2 letters, so positions pile up during the run (4 MiB parts otherwise)
    monkeypatch.setattr(DeadLetterWriter.__init__, "__defaults__", (200, None))
    peak = [0]
    written_now = Accounting._written_now

    def counting(self: Accounting, positions: list[int]) -> None:
        written_now(self, positions)
        peak[0] = max(peak[0], self.letter_positions_held)

    monkeypatch.setattr(Accounting, "_written_now", counting)
    first, second, recs, shipped = _ship_bad_lines_across_an_outage(
        object_storage, os_client, seed=33, every=5, name="many-bad-lines.log.gz"
    )
    assert not first.complete
    assert second.complete
    letters = set(_dead_letter_raws(object_storage))
    assert letters == {f"{{oops {i}}}" for i in range(4, 300, 5)}
    assert shipped == [r["id"] for r in recs]
    # 60 rejects, but the positions held stayed near the cap (found by review: the trim
    # only ran once nothing was in flight, i.e. at the end)
    assert 0 < peak[0] <= 4 * 5 + 4


def test_a_resumed_run_does_not_report_damage_an_earlier_run_reported(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    gen = records(seed=32)
    first_part = [next(gen) for _ in range(20)]
    second_part = [next(gen) for _ in range(300)]
    blob = (
        gzip.compress(b"\n".join(orjson.dumps(r) for r in first_part))
        + b"not gzip"
        + gzip.compress(b"\n".join(orjson.dumps(r) for r in second_part))
    )
    name = "audit/ocid1.serviceconnector.oc1..x/damaged.log.gz"
    object_storage.put(NAMESPACE, BUCKET, name, blob)
    obj = ObjectRef(name, NAMESPACE, BUCKET)
    with FakeLogzioListener(tokens={TOKEN}) as failing:
        failing.script(["ok", "ok", "ok", *[503] * 50])
        first = os_ship(obj, os_client, failing, retry=RetryPolicy(0.001, 0.002, max_attempts=3))
    assert not first.complete
    assert any("not gzip" in e for e in first.errors)
    assert len(failing.accepted) > 20  # the checkpoint is past the damage
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = os_ship(obj, os_client, healthy)
    assert second.complete
    assert second.errors == []
    assert second.rejected == 0
    shipped = [r["id"] for r in failing.accepted] + [r["id"] for r in healthy.accepted]
    assert shipped == [r["id"] for r in first_part + second_part]


def test_deadline_stops_early_and_checkpoints(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener, tmp_path: Path
) -> None:
    obj, recs = put_object(object_storage, tmp_path, 200)
    summary = os_ship(obj, os_client, listener, deadline=Deadline.after(0))
    assert not summary.complete
    assert any("deadline" in e for e in summary.errors)
    rest = os_ship(obj, os_client, listener)
    assert rest.complete
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs]


def test_broken_download_resumes_with_a_ranged_get(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener, tmp_path: Path
) -> None:
    obj, recs = put_object(object_storage, tmp_path, 300)
    # HEAD, done-marker GET, lease PUT, done-marker GET again (under the lease), checkpoint
    # GET; then the object GET is cut short and its first retry gets a 503
    object_storage.script(["ok"] * 5 + [("truncate", 5000), 503])
    summary = os_ship(obj, os_client, listener)
    assert summary.complete, summary.errors
    assert [r["id"] for r in listener.accepted] == [r["id"] for r in recs]
    ranges = [r.range for r in object_storage.requests if r.method == "GET" and r.range]
    assert any(r and r.startswith("bytes=") for r in ranges)


def test_rejects_land_in_the_bucket_dead_letter_prefix(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener
) -> None:
    name = "audit/bad.log.gz"
    object_storage.put(NAMESPACE, BUCKET, name, gzip.compress(b'{"a":1}{not json}\n{"b":2}'))
    summary = os_ship(ObjectRef(name, NAMESPACE, BUCKET), os_client, listener)
    assert summary.complete
    assert (summary.shipped, summary.rejected) == (2, 1)
    [letter_name] = object_storage.names(NAMESPACE, BUCKET, "dead-letter/")
    assert letter_name.startswith(f"dead-letter/{name}/")
    letter = json.loads(object_storage.get(NAMESPACE, BUCKET, letter_name) or b"")
    assert letter["raw"] == "{not json}"
    assert letter["offset"] == 7


def test_concurrent_invocation_for_the_same_object_ships_nothing(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener, tmp_path: Path
) -> None:
    obj, _ = put_object(object_storage, tmp_path, 100)
    obj = ObjectStorageReader(os_client).head(obj)
    # GIVEN another invocation holds the object's lease
    other = ObjectStorageLedger(os_client, "shipped/")
    assert other.acquire(obj, 60) is None
    # WHEN a duplicate event arrives meanwhile
    summary = os_ship(obj, os_client, listener)
    # THEN it ships nothing and says why (a failure, so it is retried later)
    assert not summary.complete
    assert "another invocation is shipping this object" in summary.errors[0]
    assert listener.accepted == []
    # and once the holder is done (or its lease expires), a retry ships everything
    other.release(obj)
    assert os_ship(obj, os_client, listener).shipped == 100


def test_an_expired_lease_is_taken_over(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    obj, _ = put_object(object_storage, tmp_path, 5)
    first = ObjectStorageLedger(os_client, "shipped/")
    second = ObjectStorageLedger(os_client, "shipped/")
    assert first.acquire(obj, 60) is None
    assert second.acquire(obj, 60) is not None  # held
    assert first.acquire(obj, -1) is not None  # still held by its own live lease
    first.release(obj)
    assert second.acquire(obj, 60) is None  # released: taken over with if-match


def test_missing_object_is_a_clear_error(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener
) -> None:
    from auditship.errors import SourceError

    with pytest.raises(SourceError, match="404"):
        ObjectStorageReader(os_client).head(ObjectRef("nope", NAMESPACE, BUCKET))


# -- failure paths found in review ------------------------------------------------------------
class _BrokenStore:
    """A dead-letter store whose writes fail (Object Storage refusing, say)."""

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        from auditship.errors import SourceError

        raise SourceError(f"{obj}: writing dead letter failed with HTTP 503")


def test_a_failed_dead_letter_write_keeps_the_checkpoint_before_those_records(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    obj, recs = put_object(object_storage, tmp_path, 50)
    obj = ObjectStorageReader(os_client).head(obj)
    ledger = ObjectStorageLedger(os_client, "shipped/")

    def run(listener: FakeLogzioListener, store: Any) -> Summary:
        sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=32 * 1024)
        try:
            return ship_object(
                obj, reader=ObjectStorageReader(os_client), sink=sink, normalizer=Normalizer(),
                dead_letters=store, ledger=ledger, deadline=Deadline.unlimited(),
                options=ShipOptions(retry=FAST_RETRY, deadline_margin_seconds=0.0),
            )  # fmt: skip
        finally:
            sink.close()

    # GIVEN every batch is refused for good (413) AND the dead-letter store is down
    with FakeLogzioListener(tokens={TOKEN}, max_body_bytes=100) as refusing:
        first = run(refusing, _BrokenStore())
    assert not first.complete
    # WHEN it runs again with both healthy
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = run(healthy, ObjectStorageDeadLetterStore(os_client, "dead-letter/"))
        # THEN no record was skipped on the strength of an unwritten dead letter
        assert second.complete
        assert second.skipped == 0
        assert [r["id"] for r in healthy.accepted] == [r["id"] for r in recs]


class _FailsOnce:
    """Dead-letter store whose first part write fails (a transient 503), then works."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failures = 1

    def put(self, obj: ObjectRef, key: str, body: bytes) -> str:
        from auditship.errors import SourceError

        if self.failures:
            self.failures -= 1
            raise SourceError(f"{obj}: writing dead letter failed with HTTP 503")
        return self.inner.put(obj, key, body)


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_dead_letter_write_failing_inside_a_refused_batch_loses_nothing(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path, fast_path: bool
) -> None:
    """A refused batch larger than one dead-letter part: the first part write fails after
    part of the batch was handed to the writer. Every record must still end up delivered
    or dead-lettered (found by review: the rest of the batch was neither)."""
    lines = [orjson.dumps({"id": i, "pad": "x" * 100_000}) for i in range(120)]
    name = "audit/big-records.log"
    object_storage.put(NAMESPACE, BUCKET, name, b"\n".join(lines) + b"\n")
    obj = ObjectStorageReader(os_client).head(ObjectRef(name, NAMESPACE, BUCKET))
    ledger = ObjectStorageLedger(os_client, "shipped/")
    store = ObjectStorageDeadLetterStore(os_client, "dead-letter/")

    def run(listener: FakeLogzioListener, dead_letters: Any) -> Summary:
        sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=6 * 1024 * 1024)
        try:
            return ship_object(
                obj, reader=ObjectStorageReader(os_client), sink=sink, normalizer=Normalizer(),
                dead_letters=dead_letters, ledger=ledger, deadline=Deadline.unlimited(),
                options=ShipOptions(retry=FAST_RETRY, deadline_margin_seconds=0.0,
                                    fast_path=fast_path),
            )  # fmt: skip
        finally:
            sink.close()

    # GIVEN the first batch (~6 MB) is refused for good (413) and the first part write fails
    with FakeLogzioListener(tokens={TOKEN}, max_body_bytes=5 * 1024 * 1024) as listener:
        first = run(listener, _FailsOnce(store))
        delivered = [r["id"] for r in listener.accepted]
    assert not first.complete
    # WHEN it runs again with everything healthy
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = run(healthy, store)
        delivered += [r["id"] for r in healthy.accepted]
    assert second.complete
    # THEN every record was delivered or dead-lettered
    dead = {orjson.loads(raw)["id"] for raw in _dead_letter_raws(object_storage)}
    assert set(range(120)) - dead - set(delivered) == set()


def test_a_read_failure_checkpoints_what_was_delivered(
    object_storage: FakeObjectStorage, os_client: Any, tmp_path: Path
) -> None:
    # more than one 2 MiB window, so windows complete before the read fails (what is held
    # past the last complete window is read again by the resume)
    obj, recs = put_object(object_storage, tmp_path, 2000)
    size = len(object_storage.get(NAMESPACE, BUCKET, obj.name) or b"")
    # HEAD, done GET, lease PUT, done GET, checkpoint GET; the object GET is cut short and
    # every resume attempt fails
    object_storage.script(["ok"] * 5 + [("truncate", size * 3 // 4)] + [503] * 4)
    with FakeLogzioListener(tokens={TOKEN}) as first_listener:
        first = os_ship(obj, os_client, first_listener)
    assert not first.complete
    delivered = [r["id"] for r in first_listener.accepted]
    assert delivered
    with FakeLogzioListener(tokens={TOKEN}) as second_listener:
        second = os_ship(obj, os_client, second_listener)
    assert second.complete
    assert second.skipped == len(delivered)
    assert delivered + [r["id"] for r in second_listener.accepted] == [r["id"] for r in recs]


def test_no_reader_thread_is_left_behind_after_a_sink_failure(tmp_path: Path) -> None:
    import threading

    path, _ = make_object(tmp_path, 400)
    with FakeLogzioListener(tokens={"other"}) as strict:
        summary = ship_local(path, strict, tmp_path, max_batch_bytes=8 * 1024)
    assert not summary.complete
    assert not [t for t in threading.enumerate() if "_read_ahead" in t.name]


def ship_lines(
    lines: list[bytes], tmp_path: Path, max_batch: int, fast_path: bool
) -> tuple[Summary, FakeLogzioListener]:
    path = tmp_path / f"lines-{fast_path}-{max_batch}-{len(lines)}.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with FakeLogzioListener(tokens={TOKEN}) as listener:
        sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=max_batch)
        try:
            summary = ship_object(
                ObjectRef(str(path)),
                reader=LocalReader(),
                sink=sink,
                normalizer=Normalizer(),
                dead_letters=LocalDeadLetterStore(str(tmp_path / "dlq")),
                ledger=NullLedger(),
                deadline=Deadline.unlimited(),
                options=ShipOptions(retry=FAST_RETRY, fast_path=fast_path, force=True),
            )
        finally:
            sink.close()
    return summary, listener


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_request_fills_to_the_exact_byte(fast_path: bool, tmp_path: Path) -> None:
    lines = [orjson.dumps({"id": i % 10, "pad": "p" * 100}) for i in range(12)]
    _, probe = ship_lines(lines, tmp_path, 1 << 20, fast_path)
    [size] = {len(orjson.dumps(r)) for r in probe.accepted}
    # GIVEN a limit of exactly three lines and their two separators
    summary, listener = ship_lines(lines, tmp_path, 3 * size + 2, fast_path)
    # THEN every request carries three lines
    assert summary.complete
    assert [r.line_count for r in listener.requests] == [3, 3, 3, 3]
    # AND one byte less leaves room for two
    _, tighter = ship_lines(lines, tmp_path, 3 * size + 1, fast_path)
    assert [r.line_count for r in tighter.requests] == [2] * 6


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pads=st.lists(st.integers(0, 2300), min_size=1, max_size=120),  # every line fits
    junk_every=st.sampled_from([0, 7]),
    max_batch=st.integers(2500, 20_000),
    fast_path=st.booleans(),
)
def test_batches_are_full_and_within_the_limit(
    pads: list[int], junk_every: int, max_batch: int, fast_path: bool, tmp_path: Path
) -> None:
    """Whichever path prepares the records, and whether a window holds rejects (records
    one by one) or not (in bulk): each request is as full as the limit allows, in order."""
    lines = []
    for i, pad in enumerate(pads):
        lines.append(orjson.dumps({"id": i, "time": "2026-11-30T10:00:00Z", "pad": "p" * pad}))
        if junk_every and i % junk_every == 0:
            lines.append(b"not json")
    summary, listener = ship_lines(lines, tmp_path, max_batch, fast_path)
    assert summary.complete
    assert [r["id"] for r in listener.accepted] == list(range(len(pads)))
    sizes = [len(orjson.dumps(r)) for r in listener.accepted]
    at = 0
    bodies = []
    for req in listener.requests:
        batch = sizes[at : at + req.line_count]
        at += req.line_count
        assert req.uncompressed_length == sum(batch) + len(batch) - 1
        bodies.append(batch)
    for body, following in itertools.pairwise(bodies):
        total = sum(body) + len(body) - 1
        assert total <= max_batch or len(body) == 1
        assert total + 1 + following[0] > max_batch  # the next line did not fit


@pytest.mark.parametrize(("first_fast", "second_fast"), [(False, True), (True, False)])
def test_a_run_resumed_on_the_other_preparation_path_loses_and_repeats_nothing(
    object_storage: FakeObjectStorage,
    os_client: Any,
    tmp_path: Path,
    first_fast: bool,
    second_fast: bool,
) -> None:
    """Checkpoints count positions; FAST_PATH=off (or a laptop without the C extension)
    between two runs must not shift them, junk or not (found by review: it did)."""
    junk = b'{"t":"}\n{"}{}\n{"open":[{"a":1}\n'
    lines = [orjson.dumps({"id": i, "pad": "y" * 50}) for i in range(200)]
    name = "audit/junk-then-records.log"
    object_storage.put(NAMESPACE, BUCKET, name, junk + b"\n".join(lines) + b"\n")
    obj = ObjectStorageReader(os_client).head(ObjectRef(name, NAMESPACE, BUCKET))
    ledger = ObjectStorageLedger(os_client, "shipped/")

    def run(listener: FakeLogzioListener, fast: bool) -> Summary:
        sink = LogzioSink(listener.url, TOKEN, max_batch_bytes=2000)
        try:
            return ship_object(
                obj, reader=ObjectStorageReader(os_client), sink=sink, normalizer=Normalizer(),
                dead_letters=ObjectStorageDeadLetterStore(os_client, "dead-letter/"),
                ledger=ledger, deadline=Deadline.unlimited(),
                options=ShipOptions(retry=FAST_RETRY, deadline_margin_seconds=0.0,
                                    fast_path=fast),
            )  # fmt: skip
        finally:
            sink.close()

    # GIVEN the listener fails for good after a few batches
    with FakeLogzioListener(tokens={TOKEN}) as failing:
        failing.script(["ok", "ok", "ok", *[503] * 100])
        first = run(failing, first_fast)
        delivered = [r["id"] for r in failing.accepted]
    assert not first.complete
    assert delivered
    # WHEN the resume runs on the other path
    with FakeLogzioListener(tokens={TOKEN}) as healthy:
        second = run(healthy, second_fast)
        delivered += [r["id"] for r in healthy.accepted]
    # THEN every record arrived exactly once
    assert second.complete
    assert delivered == list(range(200))


def test_megabytes_of_zero_bytes_make_one_small_letter_and_spare_the_records(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    """Found by an attacker's test: 64 MiB of zero bytes inside a 65 KB gzip object became
    ~385 MB of dead letters, and the record before them was swallowed into a letter."""
    gen = records(seed=41)
    before, after = next(gen), next(gen)
    body = orjson.dumps(before) + b"\0" * (64 << 20) + b"\n" + orjson.dumps(after) + b"\n"
    path = tmp_path / "zeros.log.gz"
    path.write_bytes(gzip.compress(body, 9))
    summary = ship_local(path, listener, tmp_path)
    assert summary.complete
    assert (summary.shipped, summary.rejected) == (2, 1)
    assert [r["id"] for r in listener.accepted] == [before["id"], after["id"]]
    [letter] = dead_letters(tmp_path / "dlq")
    assert letter["length"] == 64 << 20
    assert len(letter["raw_base64"]) < 1.5 * 1024 * 1024  # the first MiB, base64
    parts = list((tmp_path / "dlq").glob("**/*.ndjson"))
    assert sum(p.stat().st_size for p in parts) < 2 * 1024 * 1024


def test_credentials_in_bytes_that_are_not_json_are_scrubbed_from_the_letter(
    listener: FakeLogzioListener, tmp_path: Path
) -> None:
    gen = records(seed=42)
    good = orjson.dumps(next(gen))
    broken = (
        b'{"data":{"identity":{"credentials":"ST$secret-token"},"request":{"headers":'
        b'{"Authorization":["Signature keyId=\\"ocid1.key\\",signature=\\"abc\\""]}},,}'
    )
    path = tmp_path / "broken.log.gz"
    path.write_bytes(gzip.compress(good + b"\n" + broken + b"\n" + good + b"\n"))
    summary = ship_local(path, listener, tmp_path)
    assert (summary.shipped, summary.rejected) == (2, 1)
    [letter] = dead_letters(tmp_path / "dlq")
    assert "ST$secret-token" not in letter["raw"]
    assert "signature=" not in letter["raw"]
    assert letter["raw"].count("[REDACTED]") == 2


@pytest.mark.parametrize("fast_path", [True, False])
def test_integers_beyond_64_bits_arrive_with_their_exact_digits(
    tmp_path: Path, fast_path: bool
) -> None:
    """They became floats on both paths (orjson and yyjson read them as doubles)."""
    lines = [
        b'{"id":"a","n":123456789012345678901234567890,"m":-9223372036854775809,"k":1}',
        b'{"id":"b","data":{"big":[18446744073709551616,2]},"x":"\\u00e9"}',
        b'{"id":"c","n":12}',
    ]
    summary, listener = ship_lines(lines, tmp_path, 1 << 20, fast_path)
    assert summary.complete
    assert (summary.shipped, summary.rejected) == (3, 0)
    a, b, c = listener.accepted
    assert (a["n"], a["m"], a["k"]) == (123456789012345678901234567890, -9223372036854775809, 1)
    assert b["data"]["big"] == [18446744073709551616, 2]
    assert b["x"] == "é"
    assert c["n"] == 12

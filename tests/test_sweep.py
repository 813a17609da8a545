"""The reconciliation sweep (issue 14): the pure planning (verdicts from two listings in
step, groups for detached invocations) as properties, then sweeps through the real oci SDK
against loopback Object Storage and Functions, from the function handler (fdk fixtures)
and from the operator command."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.delivery.deadletter import ObjectStorageDeadLetterStore
from auditship.entrypoints import cli, sweeping
from auditship.entrypoints.events import parse_invocation
from auditship.entrypoints.wiring import build_sink, normalizer_for, ship_options_for
from auditship.errors import ConfigError, PayloadError, SourceError
from auditship.model import ObjectRef, Summary
from auditship.shipping import Runtime
from auditship.sources.object_storage import ObjectStorageReader
from auditship.state.ledger import ObjectStorageLedger, marker_name
from auditship.sweep import (
    Dispatcher,
    Listed,
    SweepRequest,
    Swept,
    Verdict,
    in_marker_order,
    parse_sweep_request,
    past_prefix,
    sweep_verdicts,
)
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.functions import FakeFunctions
from hypothesis import given
from hypothesis import strategies as st
from test_handler import invoke, load_function

FN_ID = "ocid1.fnfunc.oc1.iad.logzioshipper"
PREFIX = "audit/c/"
HOUR_AGO = timedelta(hours=1)

# -- the pure parts -----------------------------------------------------------------------

# Characters on both sides of "@" (which ends an object's name in its marker's name), and
# "@" itself, so names that are prefixes of each other sort differently from their markers.
NAME_CHARS = "ab.@/-0AZ~"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=5)
etags = st.text(alphabet="xy:_-", max_size=3)  # ":" and "_" map to the same marker ETag


@st.composite
def listings(draw: st.DrawFn) -> tuple[list[Listed], list[str], str, set[str], datetime]:
    """Sorted objects, a sorted ledger listing that holds the done markers of some (and
    stale, progress, lease and unrelated names), the ledger prefix, own names, a cutoff."""
    cutoff = datetime(2026, 11, 1, tzinfo=UTC)
    ledger = draw(st.sampled_from(["", "shipped/", "a"]))
    object_names = sorted(draw(st.sets(names, max_size=12)))
    objects = [
        Listed(
            name,
            draw(etags),
            draw(st.sampled_from([None, cutoff - HOUR_AGO, cutoff, cutoff + HOUR_AGO])),
        )
        for name in object_names
    ]
    ledger_names: set[str] = set()
    for obj in objects:
        for suffix in draw(st.sets(st.sampled_from(["done", "progress", "lease"]))):
            ledger_names.add(marker_name(ledger, obj.name, obj.etag, suffix))
        if draw(st.booleans()):  # the marker of an earlier version (overwritten since)
            ledger_names.add(marker_name(ledger, obj.name, obj.etag + "old", "done"))
    ledger_names |= {ledger + n for n in draw(st.sets(st.text(NAME_CHARS + "e.dn", max_size=9)))}
    own = draw(st.sets(st.sampled_from(object_names))) if object_names else set()
    return objects, sorted(ledger_names), ledger, own, cutoff


@given(listings())
def test_every_listed_object_gets_exactly_the_verdict_the_naive_set_computation_gives(
    case: tuple[list[Listed], list[str], str, set[str], datetime],
) -> None:
    objects, ledger_names, ledger, own, cutoff = case
    got = list(
        sweep_verdicts(
            objects, ledger_names, ledger_prefix=ledger, is_own=own.__contains__, cutoff=cutoff
        )
    )
    markers = set(ledger_names)

    def naive(obj: Listed) -> Verdict:
        if obj.name in own:
            return Verdict.OWN
        if marker_name(ledger, obj.name, obj.etag, "done") in markers:
            return Verdict.DONE
        if obj.changed is not None and obj.changed > cutoff:
            return Verdict.TOO_YOUNG
        return Verdict.TO_SHIP

    assert sorted(o.name for o, _ in got) == [o.name for o in objects]  # each exactly once
    assert {o.name: v for o, v in got} == {o.name: naive(o) for o in objects}


@given(st.lists(names, unique=True, max_size=30), st.sampled_from(["", "shipped/"]))
def test_objects_come_in_their_markers_order_holding_only_prefixes_of_the_last_one(
    object_names: list[str], ledger: str
) -> None:
    pulled: list[str] = []

    def listing() -> Iterator[Listed]:
        for name in sorted(object_names):
            pulled.append(name)
            yield Listed(name, "e")

    out = []
    for marker, obj in in_marker_order(listing(), ledger, lambda _: False):
        assert marker is not None
        # Held back only while the name listed last starts with it.
        assert all(p.startswith(obj.name) for p in pulled[pulled.index(obj.name) + 1 : -1])
        out.append(marker)
    assert out == sorted(out)
    assert len(out) == len(object_names)


def test_the_object_listing_streams_and_the_ledger_listing_is_read_only_as_far_as_needed() -> None:
    pulled = {"objects": 0, "markers": 0}

    def objects() -> Iterator[Listed]:
        for i in range(1_000_000):
            pulled["objects"] += 1
            yield Listed(f"o{i:07d}", "e")

    def markers() -> Iterator[str]:
        for i in range(0, 1_000_000, 2):
            pulled["markers"] += 1
            yield marker_name("shipped/", f"o{i:07d}", "e", "done")

    verdicts = sweep_verdicts(objects(), markers(), ledger_prefix="shipped/",
                              is_own=lambda _: False, cutoff=datetime.now(UTC))  # fmt: skip
    first = [next(verdicts) for _ in range(10)]
    assert [v for _, v in first] == [Verdict.DONE, Verdict.TO_SHIP] * 5
    assert pulled["objects"] <= 12
    assert pulled["markers"] <= 7


@given(
    prefix=st.text(alphabet="a/" + chr(0xD7FF) + chr(0x10FFFF), max_size=4),
    name=st.text(alphabet="a/0" + chr(0xD7FF) + chr(0xE000) + chr(0x10FFFF), max_size=6),
)
def test_a_listing_resumed_past_a_prefix_skips_exactly_the_names_under_it(
    prefix: str, name: str
) -> None:
    after = past_prefix(prefix)
    if after is None:  # nothing sorts after the names under it
        assert all(c == chr(0x10FFFF) for c in prefix)
        return
    if name.startswith(prefix):
        assert name < after
    elif name > prefix:
        assert name >= after


@given(
    count=st.integers(0, 60),
    group=st.integers(1, 7),
    can_fan_out=st.booleans(),
    inline_ok=st.booleans(),
)
def test_every_object_to_ship_is_shipped_or_handed_over_once_in_groups(
    count: int, group: int, can_fan_out: bool, inline_ok: bool
) -> None:
    shipped: list[list[ObjectRef]] = []
    invoked: list[list[ObjectRef]] = []

    def ship(refs: list[ObjectRef]) -> Summary:
        shipped.append(refs)
        return Summary(objects=len(refs))

    swept = Swept(SweepRequest(NAMESPACE, BUCKET, PREFIX), timedelta(minutes=15))
    dispatcher = Dispatcher(swept, group, ship, invoked.append if can_fan_out else None)
    refs = [ObjectRef(f"{PREFIX}{i}", NAMESPACE, BUCKET, "e") for i in range(count)]
    for ref in refs:
        dispatcher.add(ref)
    dispatcher.finish(inline_ok)
    assert [r for g in shipped + invoked for r in g] == refs  # all one way, in order
    assert all(0 < len(g) <= group for g in shipped + invoked)
    inline = not can_fan_out or (count <= group and inline_ok)
    assert (swept.shipped_inline, swept.fanned_out) == ((count, 0) if inline else (0, count))
    assert swept.invocations == len(invoked) == (0 if inline else -(-count // group))


def test_a_group_that_cannot_be_handed_over_fails_the_sweep_and_names_its_objects() -> None:
    swept = Swept(SweepRequest(NAMESPACE, BUCKET, PREFIX), timedelta(minutes=15))

    def refuse(refs: list[ObjectRef]) -> None:
        raise SourceError("invoking the function failed with HTTP 404 NotAuthorizedOrNotFound")

    dispatcher = Dispatcher(swept, 1, lambda refs: Summary(), refuse)
    for i in range(3):
        dispatcher.add(ObjectRef(f"{PREFIX}{i}", NAMESPACE, BUCKET, "e"))
    dispatcher.finish(inline_ok=True)
    assert (swept.invocations, swept.failed_invocations) == (0, 3)
    assert not swept.summary.complete
    assert f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}0" in swept.summary.errors[0]


def test_a_sink_that_refuses_our_credentials_stops_the_sweep() -> None:
    swept = Swept(SweepRequest(NAMESPACE, BUCKET, PREFIX), timedelta(minutes=15))
    shipped: list[list[ObjectRef]] = []

    def ship(refs: list[ObjectRef]) -> Summary:
        shipped.append(refs)
        return Summary(objects=len(refs), complete=False, credentials_rejected=True)

    dispatcher = Dispatcher(swept, 2, ship, None)
    for i in range(2):
        dispatcher.add(ObjectRef(f"{PREFIX}{i}", NAMESPACE, BUCKET, "e"))
    assert dispatcher.halted
    dispatcher.finish(inline_ok=True)
    assert len(shipped) == 1
    assert not swept.summary.complete


def test_sweep_payloads_parse_and_bad_ones_say_why() -> None:
    request = parse_sweep_request({"sweep": f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}",
                                   "older_than": "1h"})  # fmt: skip
    assert request == SweepRequest(NAMESPACE, BUCKET, PREFIX, timedelta(hours=1))
    invocation = parse_invocation(json.dumps({"sweep": f"oci://{NAMESPACE}/{BUCKET}"}).encode())
    assert invocation.sweep == SweepRequest(NAMESPACE, BUCKET, "", None)
    assert not invocation.objects
    replay = parse_invocation(json.dumps({"prefix": f"oci://{NAMESPACE}/{BUCKET}/x/"}).encode())
    assert replay.sweep is None  # only "sweep" makes a sweep
    for bad in (
        {"sweep": f"oci://{NAMESPACE}/{BUCKET}/", "force": True},
        {"sweep": "/local/folder"},
        {"sweep": f"oci://{NAMESPACE}/{BUCKET}/", "older_than": "soon"},
        {"sweep": f"oci://{NAMESPACE}/{BUCKET}/", "older_than": "0s"},
        {"sweep": f"oci://{NAMESPACE}/{BUCKET}/", "older_than": 900},
        {"sweep": 1},
    ):
        with pytest.raises(PayloadError):
            parse_invocation(json.dumps(bad).encode())


def test_a_fan_out_payload_is_what_the_shipper_takes_as_object_create_events() -> None:
    group = [ObjectRef(f"{PREFIX}{i}", NAMESPACE, BUCKET, f"etag-{i}") for i in range(3)]
    assert parse_invocation(sweeping.group_payload(group)).objects == group


# -- through the SDK against loopback Object Storage ----------------------------------------


def audit_object(tag: str, records: int = 2) -> bytes:
    lines = [
        json.dumps({"id": f"{tag}#{i}", "time": "2026-11-01T00:00:00.000Z"}) for i in range(records)
    ]
    return gzip.compress(("\n".join(lines) + "\n").encode())


def put_old(storage: FakeObjectStorage, name: str, body: bytes | None = None) -> str:
    """An object written an hour ago."""
    etag = storage.put(NAMESPACE, BUCKET, name, body if body is not None else audit_object(name))
    backdate(storage, name)
    return etag


def backdate(storage: FakeObjectStorage, name: str) -> None:
    """The fake stamps writes with the current time; its stored version is edited."""
    stored = storage.stat(NAMESPACE, BUCKET, name)
    assert stored is not None
    stored.time_created = stored.time_modified = datetime.now(UTC) - HOUR_AGO


def shipped_objects(listener: FakeLogzioListener) -> Counter[str]:
    """How many times each object's records arrived (each object holds two)."""
    counts = Counter(r["id"].split("#")[0] for r in listener.accepted)
    return Counter({name: n // 2 for name, n in counts.items()})


class Stage:
    """A runtime over loopback Object Storage and Logz.io, as the handler builds it."""

    def __init__(self, storage: FakeObjectStorage, client: Any, listener: FakeLogzioListener,
                 **config: str) -> None:  # fmt: skip
        self.storage, self.client, self.listener = storage, client, listener
        self.settings = Settings.from_mapping(
            {"LOGZIO_URL": listener.url, "LOGZIO_TOKEN": TOKEN, "DEADLINE_MARGIN_SECONDS": "5"}
            | config
        )
        reader = ObjectStorageReader(client)
        self.runtime = Runtime(
            reader=reader,
            sink=build_sink("logzio", self.settings),
            normalizer=normalizer_for(self.settings),
            dead_letters=ObjectStorageDeadLetterStore(client, self.settings.dead_letter_prefix),
            ledger=ObjectStorageLedger(client, self.settings.ledger_prefix),
            options=ship_options_for(self.settings),
            lister=reader.list,
            own_prefixes=(self.settings.dead_letter_prefix, self.settings.ledger_prefix),
        )

    def sweep(self, prefix: str = PREFIX, page_size: int = 1000, **kw: Any) -> Swept:
        request = SweepRequest(NAMESPACE, BUCKET, prefix, kw.pop("older_than", None))
        return sweeping.sweep(
            request, self.runtime, settings=self.settings, storage=self.client,
            deadline=Deadline.after(120), page_size=page_size, **kw,
        )  # fmt: skip

    def lists(self) -> list[Any]:
        return [r for r in self.storage.requests if r.method == "GET" and r.object_name is None]

    def object_reads(self) -> list[Any]:
        return [r for r in self.storage.requests if r.object_name is not None]


@pytest.fixture
def stage(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener
) -> Iterator[Stage]:
    object_storage.create_bucket(NAMESPACE, BUCKET)
    built = Stage(object_storage, os_client, listener)
    yield built
    built.runtime.sink.close()


def test_a_sweep_ships_exactly_what_has_no_done_marker_and_a_second_finds_nothing(
    stage: Stage,
) -> None:
    # GIVEN objects an earlier event shipped, objects whose events were lost, one young
    # object (its event may be on its way) and one outside the prefix
    for i in range(3):
        put_old(stage.storage, f"{PREFIX}shipped-{i}.log.gz")
    assert stage.sweep().counts.to_json_dict()["to_ship"] == 3  # as their events did
    lost = [put_old(stage.storage, f"{PREFIX}lost-{i}.log.gz") for i in range(2)]
    stage.storage.put(NAMESPACE, BUCKET, f"{PREFIX}young.log.gz", audit_object("young"))
    put_old(stage.storage, "elsewhere/x.log.gz")
    stage.storage.clear()
    # WHEN the prefix is swept
    swept = stage.sweep()
    # THEN only the lost ones are shipped, once, and the counts say why
    assert swept.to_json_dict()["sweep"] | {"fanned_out": None} == {
        "prefix": f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}", "start": None, "older_than": "900s",
        "listed": 6, "own": 0, "done": 3, "too_young": 1, "to_ship": 2,
        "skipped_prefixes": [], "shipped_inline": 2, "fanned_out": None,
        "continued_from": None,
    }  # fmt: skip
    assert swept.summary.complete
    assert swept.summary.shipped == 4
    assert shipped_objects(stage.listener) == Counter(
        [f"{PREFIX}shipped-{i}.log.gz" for i in range(3)]
        + [f"{PREFIX}lost-{i}.log.gz" for i in range(2)]
    )
    # and done markers were looked up in the ledger listing, not object by object: the
    # only requests for single objects are for the two shipped (HEAD, done marker, lease,
    # GET, done marker written)
    read = {r.object_name for r in stage.object_reads()}
    assert read
    assert all("/lost-" in name for name in read), read
    assert {r.headers.get("if-match") for r in stage.object_reads() if r.method == "GET"
            and r.object_name and r.object_name.startswith(PREFIX)} == set(lost)  # fmt: skip
    # WHEN it is swept again right after THEN there is nothing to do
    again = stage.sweep()
    assert again.counts.to_json_dict() | {"listed": 0} == {
        "listed": 0, "own": 0, "done": 5, "too_young": 1, "to_ship": 0,
    }  # fmt: skip
    assert again.summary.objects == 0
    assert len(stage.listener.accepted) == 10


def test_an_overwritten_object_is_swept_again_for_its_new_etag(stage: Stage) -> None:
    name = f"{PREFIX}rewritten.log.gz"
    put_old(stage.storage, name, audit_object("v1"))
    assert stage.sweep().summary.shipped == 2
    # the object is written again under the same name; its event is lost
    put_old(stage.storage, name, audit_object("v2"))
    swept = stage.sweep()
    assert swept.counts.verdicts[Verdict.TO_SHIP] == 1
    assert Counter(r["id"] for r in stage.listener.accepted) == Counter(
        ["v1#0", "v1#1", "v2#0", "v2#1"]
    )
    assert stage.sweep().counts.verdicts[Verdict.DONE] == 1


def test_names_that_sort_apart_from_their_markers_are_matched_over_several_pages(
    stage: Stage,
) -> None:
    # "a" is listed before "a.gz" and "a-1", but its marker "a@<etag>.done" sorts after
    # theirs ("." and "-" sort before "@"); "a@b" holds the separator itself
    names = [f"{PREFIX}{n}" for n in ("a", "a-1", "a.gz", "a.gz.1", "a/b", "a@b", "a0", "b")]
    for name in names:
        put_old(stage.storage, name)
    first = stage.sweep(page_size=3)
    assert first.counts.verdicts[Verdict.TO_SHIP] == len(names)
    put_old(stage.storage, f"{PREFIX}a.gz")  # overwritten: its marker is stale now
    stage.storage.clear()
    second = stage.sweep(page_size=3)
    assert second.counts.to_json_dict() == {
        "listed": 8, "own": 0, "done": 7, "too_young": 0, "to_ship": 1,
    }  # fmt: skip
    # several pages of objects (8 / 3) and of ledger names (8 done, 9 lease markers / 3)
    object_pages = [r for r in stage.lists() if r.query.get("prefix") == PREFIX]
    ledger_pages = [r for r in stage.lists() if r.query.get("prefix") == "shipped/" + PREFIX]
    assert len(object_pages) == 3
    assert len(ledger_pages) >= 5
    assert all(r.query["limit"] == "3" for r in object_pages + ledger_pages)
    assert shipped_objects(stage.listener)[f"{PREFIX}a.gz"] == 2


def test_our_own_prefixes_and_bookkeeping_are_never_swept(
    object_storage: FakeObjectStorage, os_client: Any, listener: FakeLogzioListener
) -> None:
    object_storage.create_bucket(NAMESPACE, BUCKET)
    stage = Stage(object_storage, os_client, listener,
                  STATE_DIR=f"oci://{NAMESPACE}/{BUCKET}/collector-state/")  # fmt: skip
    put_old(object_storage, f"{PREFIX}0.log.gz", gzip.compress(b'{"id":"x#0"}\n{bad}\n'))
    stage.sweep()  # ships it, writes its markers, lease and a dead letter
    assert object_storage.names(NAMESPACE, BUCKET, "dead-letter/")
    ours = [
        "collector-state/audit/book.json",
        "collector-state/audit/plans/20261101T000000Z-3.json",
        "other-ledger/audit/x.log.gz@0a1b.done",  # another function's ledger prefix
        "other-dlq/audit/x.log.gz/20261101T000000Z-0123abcd-0001.ndjson",
    ]
    for name in ours:
        put_old(object_storage, name)
    for name in object_storage.names(NAMESPACE, BUCKET):
        backdate(object_storage, name)
    listener.accepted.clear()
    object_storage.clear()
    swept = stage.sweep(prefix="", page_size=2)  # the whole bucket
    counts = swept.counts.to_json_dict()
    assert counts["to_ship"] == 0
    assert counts["own"] == 2  # the other function's marker and dead letter, by name
    assert counts["done"] == 1
    assert set(swept.skipped_prefixes) == {"shipped/", "dead-letter/", "collector-state/"}
    assert not listener.accepted
    # the listing stepped over our prefixes instead of paging through them
    starts = [r.query.get("start", "") for r in stage.lists() if r.query.get("prefix") == ""]
    assert {"dead-letter0", "shipped0", "collector-state0"} <= set(starts)
    # a sweep inside one of our prefixes is refused
    for inside in ("shipped/audit/", "dead-letter/", "collector-state/x"):
        with pytest.raises(ConfigError):
            stage.sweep(prefix=inside)
    stage.runtime.sink.close()


def test_young_objects_wait_for_their_event(stage: Stage) -> None:
    for i in range(3):
        stage.storage.put(NAMESPACE, BUCKET, f"{PREFIX}{i}.log.gz", audit_object(str(i)))
    swept = stage.sweep()
    assert swept.counts.verdicts[Verdict.TOO_YOUNG] == 3
    assert not stage.listener.accepted
    # a shorter grace, later: they are old enough now
    swept = stage.sweep(older_than=timedelta(minutes=1), now=datetime.now(UTC) + HOUR_AGO)
    assert swept.counts.verdicts[Verdict.TO_SHIP] == 3
    assert len(stage.listener.accepted) == 6


def test_a_sweep_of_a_missing_bucket_fails_with_what_to_check(stage: Stage) -> None:
    request = SweepRequest(NAMESPACE, "no-such-bucket", PREFIX)
    swept = sweeping.sweep(request, stage.runtime, settings=stage.settings,
                           storage=stage.client, deadline=Deadline.after(60))  # fmt: skip
    assert not swept.summary.complete
    assert "no such bucket" in swept.summary.errors[0]


# -- the function: fdk fixtures, loopback Functions for the fan-out --------------------------


class FunctionStage:
    def __init__(self, storage: FakeObjectStorage, functions: FakeFunctions,
                 listener: FakeLogzioListener) -> None:  # fmt: skip
        self.storage, self.functions, self.listener = storage, functions, listener
        self.handler = load_function("logzio-shipper").handler
        self.part_answers: list[tuple[int, Any]] = []
        functions.runner = self.run_part

    def run_part(self, _function_id: str, body: bytes) -> bytes:
        """A detached invocation, run as the Functions service would: the same handler."""
        status, answer = invoke(self.handler, body, seconds=120)
        self.part_answers.append((status, answer))
        return b""

    def sweep(self, **payload: Any) -> tuple[int, Any]:
        body = {"sweep": f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}", **payload}
        return invoke(self.handler, body, seconds=120)


@pytest.fixture
def function(
    monkeypatch: pytest.MonkeyPatch,
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
) -> Iterator[FunctionStage]:
    with FakeFunctions([FN_ID]) as functions:
        object_storage.create_bucket(NAMESPACE, BUCKET)
        env = {
            "FN_FN_ID": FN_ID,
            "LOGZIO_URL": listener.url,
            "LOGZIO_TOKEN": TOKEN,
            "OCI_OBJECTSTORAGE_ENDPOINT": object_storage.url,
            "OCI_FUNCTIONS_ENDPOINT": functions.url,
            "DEADLINE_MARGIN_SECONDS": "5",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield FunctionStage(object_storage, functions, listener)
        assert functions.wait_idle(60)
        assert not functions.run_errors, functions.run_errors


def test_a_small_backlog_is_shipped_by_the_sweep_invocation_itself(
    function: FunctionStage,
) -> None:
    for i in range(3):
        put_old(function.storage, f"{PREFIX}{i}.log.gz")
    status, summary = function.sweep(older_than="30m")
    assert status == 200, summary
    assert summary["sweep"]["to_ship"] == summary["sweep"]["shipped_inline"] == 3
    assert summary["sweep"]["older_than"] == "1800s"
    assert summary["shipped"] == 6
    assert summary["sweep"]["fanned_out"] == {"invocations": 0, "objects": 0,
                                              "failed_invocations": 0}  # fmt: skip
    assert not function.functions.requests  # the endpoint is not even looked up


def test_a_large_backlog_fans_out_in_groups_of_object_create_events(
    function: FunctionStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_FANOUT_OBJECTS", "2")
    etags = {f"{PREFIX}{i}.log.gz": put_old(function.storage, f"{PREFIX}{i}.log.gz")
             for i in range(5)}  # fmt: skip
    status, summary = function.sweep()
    assert status == 200, summary
    assert summary["sweep"]["fanned_out"] == {"invocations": 3, "objects": 5,
                                              "failed_invocations": 0}  # fmt: skip
    assert summary["sweep"]["shipped_inline"] == summary["objects"] == 0
    invocations = function.functions.invocations
    assert [i.invoke_type for i in invocations] == ["detached"] * 3
    assert {i.function_id for i in invocations} == {FN_ID}
    names = sorted(etags)

    def event(name: str) -> dict[str, Any]:
        return {
            "cloudEventsVersion": "0.1",
            "eventType": "com.oraclecloud.objectstorage.createobject",
            "source": "oci-audit-ship-sweep",
            "data": {
                "resourceName": name,
                "additionalDetails": {
                    "namespace": NAMESPACE, "bucketName": BUCKET, "eTag": etags[name],
                },
            },
        }  # fmt: skip

    assert [json.loads(i.body) for i in invocations] == [
        [event(names[0]), event(names[1])], [event(names[2]), event(names[3])], [event(names[4])]
    ]  # fmt: skip
    assert function.functions.wait_idle(120)
    assert [s for s, _ in function.part_answers] == [200] * 3, function.part_answers
    assert shipped_objects(function.listener) == Counter(dict.fromkeys(names, 1))
    # the next scheduled sweep finds nothing to do
    function.functions.clear()
    status, summary = function.sweep()
    assert status == 200, summary
    assert summary["sweep"]["done"] == 5
    assert summary["sweep"]["to_ship"] == 0
    assert not function.functions.invocations


def test_a_sweep_out_of_time_lists_on_in_a_detached_sweep(
    function: FunctionStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every run has time for one object only: each continues from the next name
    monkeypatch.setattr(sweeping, "LISTING_RESERVE_SECONDS", 10_000.0)
    names = [f"{PREFIX}{i}.log.gz" for i in range(3)]
    for name in names:
        put_old(function.storage, name)
    status, summary = function.sweep(older_than="15m")
    assert status == 200, summary
    assert summary["sweep"]["listed"] == 1
    assert summary["sweep"]["continued_from"] == names[1]
    assert function.functions.wait_idle(120)
    bodies = [json.loads(i.body) for i in function.functions.invocations]
    assert bodies == [
        {"sweep": f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}", "older_than": "900s", "start": name}
        for name in names[1:]
    ]
    assert [s for s, _ in function.part_answers] == [200, 200], function.part_answers
    assert shipped_objects(function.listener) == Counter(dict.fromkeys(names, 1))


def test_a_fan_out_that_cannot_invoke_fails_the_sweep_invocation(
    function: FunctionStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_FANOUT_OBJECTS", "1")
    monkeypatch.setenv("FN_FN_ID", "ocid1.fnfunc.oc1.iad.deleted")
    for i in range(2):
        put_old(function.storage, f"{PREFIX}{i}.log.gz")
    status, summary = function.sweep()
    assert status == 502
    line = json.loads(summary) if isinstance(summary, str) else summary
    assert "invoke endpoint failed with HTTP 404" in json.dumps(line)


def test_a_bad_sweep_payload_fails_the_invocation_with_why(function: FunctionStage) -> None:
    status, answer = function.sweep(older_than="yesterday")
    assert status == 502
    assert "yesterday" in json.dumps(answer)


# -- the operator command ----------------------------------------------------------------


def test_the_operator_command_sweeps_a_prefix(
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
    oci_config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    object_storage.create_bucket(NAMESPACE, BUCKET)
    for i in range(25):  # more than one group: shipped a group at a time, here
        put_old(object_storage, f"{PREFIX}{i:02d}.log.gz")
    object_storage.put(NAMESPACE, BUCKET, f"{PREFIX}young.log.gz", audit_object("young"))
    argv = [
        "--sweep", f"oci://{NAMESPACE}/{BUCKET}/{PREFIX}", "--older-than", "10m",
        "--to", "logzio", "--logzio-url", listener.url, "--logzio-token", TOKEN,
        "--config-file", str(oci_config_file),
        "--objectstorage-endpoint", object_storage.url, "--progress", "never",
    ]  # fmt: skip

    def run() -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        code = cli.run(argv, env={})
        err = capsys.readouterr().err.strip().splitlines()
        return code, json.loads(err[-1])

    code, summary = run()
    assert code == 0, summary
    assert summary["sweep"]["to_ship"] == summary["sweep"]["shipped_inline"] == 25
    assert summary["sweep"]["too_young"] == 1
    assert summary["shipped"] == 50
    assert TOKEN not in json.dumps(summary)
    code, summary = run()
    assert code == 0, summary
    assert (summary["sweep"]["done"], summary["sweep"]["to_ship"]) == (25, 0)
    assert len(listener.accepted) == 50
    # a sweep takes no sources; --older-than is for a sweep; a grace period is a duration
    for usage in ([*argv, f"oci://{NAMESPACE}/{BUCKET}/x"], [*argv, "--force"],
                  [f"oci://{NAMESPACE}/{BUCKET}/x", "--older-than", "1m"]):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            cli.run(usage, env={})
        assert exited.value.code == cli.EXIT_USAGE
    bad = [a if a != "10m" else "later" for a in argv]
    assert cli.run(bad, env={}) == cli.EXIT_USAGE

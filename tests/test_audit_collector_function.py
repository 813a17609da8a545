"""The audit-collector function through fdk's own fixtures: resource-principal auth, the
real oci SDK against loopback Identity, Audit API, Object Storage (state) and Functions
(its own detached invocations: the fan-out), shipping to a loopback Logz.io listener."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.audit_api import FakeAuditApi, make_event
from fakes.functions import FakeFunctions
from fakes.identity import FakeIdentity
from fakes.oci_auth import TEST_TENANCY
from test_handler import invoke, load_function

FN_ID = "ocid1.fnfunc.oc1.iad.auditcollector"
REGIONS = ("us-ashburn-1", "eu-frankfurt-1")
APP = "ocid1.compartment.oc1..app"
NET = "ocid1.compartment.oc1..net"
STATE = f"oci://{NAMESPACE}/{BUCKET}/shipped/collectors/"


def now() -> datetime:
    """The time a test runs at (not when the module was imported: a long test run
    drifts, and the runs under test ask for times relative to their own now)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


class Stage:
    def __init__(self, audit: FakeAuditApi, functions: FakeFunctions,
                 storage: FakeObjectStorage, listener: FakeLogzioListener) -> None:  # fmt: skip
        self.audit, self.functions, self.storage, self.listener = (
            audit, functions, storage, listener,
        )  # fmt: skip
        self.handler = load_function("audit-collector").handler
        self.part_answers: list[tuple[int, Any]] = []

    def run_part(self, _function_id: str, body: bytes) -> bytes:
        """The detached invocation, run as the Functions service would: the same handler."""
        status, answer = invoke(self.handler, body, seconds=120)
        self.part_answers.append((status, answer))
        return b""

    def seed(self, days: int, per_day: int = 6) -> list[str]:
        ids, current = [], now()
        for region in REGIONS:
            for compartment in (TEST_TENANCY, APP, NET):
                for i in range(days * per_day):
                    at = current - timedelta(days=days, hours=-(i * 24 // per_day), minutes=-7)
                    if at >= current - timedelta(minutes=45):
                        continue
                    event = make_event(
                        event_time=at, compartment_id=compartment, region=region,
                        tenancy_id=TEST_TENANCY, seed=f"{region}{compartment}{i}",
                    )  # fmt: skip
                    ids.append(self.audit.add_event(region, compartment, event)["eventId"])
        return ids

    def shipped(self) -> Counter[str]:
        return Counter(r["id"] for r in self.listener.accepted)


@pytest.fixture
def stage(
    monkeypatch: pytest.MonkeyPatch,
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
    listener: FakeLogzioListener,
) -> Iterator[Stage]:
    subscriptions = [(REGIONS[0], "IAD", "READY", True), (REGIONS[1], "FRA", "READY", False)]
    with (
        FakeIdentity(TEST_TENANCY, subscriptions) as identity,
        FakeAuditApi(REGIONS[0], regions=REGIONS, page_size=5) as audit,
        FakeFunctions([FN_ID]) as functions,
    ):
        identity.add_compartment(APP, name="app")
        identity.add_compartment(NET, APP, name="net")
        object_storage.create_bucket(NAMESPACE, BUCKET)
        env = {
            "FN_FN_ID": FN_ID,
            "SINK": "logzio",
            "STATE_DIR": STATE,
            "LOGZIO_URL": listener.url,
            "LOGZIO_TOKEN": TOKEN,
            "OCI_OBJECTSTORAGE_ENDPOINT": object_storage.url,
            "OCI_IDENTITY_ENDPOINT": identity.url,
            "OCI_AUDIT_ENDPOINT": audit.url + "/{region}",
            "OCI_FUNCTIONS_ENDPOINT": functions.url,
            "DEADLINE_MARGIN_SECONDS": "5",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        built = Stage(audit, functions, object_storage, listener)
        functions.runner = built.run_part
        yield built
        assert functions.wait_idle(60)
        assert not functions.run_errors, functions.run_errors
        assert not audit.errors
        assert not identity.errors


def test_a_scheduled_run_without_a_checkpoint_says_what_to_do(stage: Stage) -> None:
    status, answer = invoke(stage.handler, {})
    assert status == 502
    assert "since" in json.dumps(answer)


def test_a_short_backfill_runs_inline_then_the_schedule_catches_up(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = stage.seed(days=1)
    status, summary = invoke(stage.handler, {"audit": {"since": "2d", "until": "30m"}})
    assert status == 200, summary
    assert stage.shipped() == Counter(ids)
    assert summary["regions"] == 2
    assert summary["compartments"] == 3
    assert not stage.functions.invocations  # inline: no fan-out
    # processed inside the first run's last ten minutes, visible only after it asked
    at = now() - timedelta(minutes=34)
    late = make_event(event_time=at, compartment_id=NET, region=REGIONS[1],
                      tenancy_id=TEST_TENANCY, seed="late")  # fmt: skip
    stage.audit.add_event(REGIONS[1], NET, late)
    status, summary = invoke(stage.handler, {})  # what the schedule sends
    assert status == 200, summary
    assert stage.shipped() == Counter([*ids, late["eventId"]])


def test_a_long_backfill_fans_out_and_the_catch_up_walks_over_the_parts(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECT_INLINE_WINDOWS", "10")  # 2 regions x 3 compartments x 6 days
    monkeypatch.setenv("COLLECT_FANOUT_WINDOWS", "2")
    ids = stage.seed(days=5)
    status, summary = invoke(stage.handler, {"audit": {"since": "6d"}})
    assert status == 200, summary
    fanned = summary["fanned_out"]
    assert fanned["parts"] == fanned["invoked"] == len(stage.functions.invocations) > 6
    assert all(i.invoke_type == "detached" for i in stage.functions.invocations)
    assert stage.functions.wait_idle(120)
    assert all(status == 200 for status, _ in stage.part_answers), stage.part_answers
    assert stage.shipped() == Counter(ids)  # every event once, collected by the parts
    assert stage.storage.names(NAMESPACE, BUCKET, "shipped/collectors/audit/plans/")
    # The schedule's next run: the cursors walk over the windows the parts finished.
    stage.functions.clear()
    status, summary = invoke(stage.handler, {})
    assert status == 200, summary
    assert not stage.functions.invocations
    assert summary["windows"]["planned"] <= 2 * 6  # the cursors walked over the parts' windows
    assert summary["shipped"] == 0
    # Repeating the backfill request: every window is done, nothing is invoked or sent.
    status, summary = invoke(stage.handler, {"audit": {"since": "6d"}})
    assert status == 200, summary
    assert summary["shipped"] == 0
    assert not stage.functions.invocations
    assert stage.shipped() == Counter(ids)


def test_a_failed_part_can_be_invoked_again_alone(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLLECT_INLINE_WINDOWS", "10")
    monkeypatch.setenv("COLLECT_FANOUT_WINDOWS", "40")  # one part per region and compartment
    monkeypatch.setenv("COLLECT_RETRIES", "1")
    ids = stage.seed(days=3)
    stage.audit.fail_compartments.add(NET)
    status, summary = invoke(stage.handler, {"audit": {"since": "4d"}})
    assert status == 200, summary
    assert stage.functions.wait_idle(120)
    failed = [i for i, (status, _) in enumerate(stage.part_answers) if status != 200]
    assert len(failed) == len(REGIONS)  # NET's part in each region
    stage.audit.fail_compartments.clear()
    for invocation in [stage.functions.invocations[i] for i in range(len(stage.part_answers))]:
        if NET.encode() in invocation.body:
            status, answer = invoke(stage.handler, invocation.body, seconds=120)
            assert status == 200, answer
    assert stage.shipped() == Counter(ids)


def test_a_catch_up_after_a_fan_out_sends_nothing_twice(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edges of windows in fan-out payloads were cut to milliseconds, so their done markers
    had another version; and the last partial windows were asked again with other bounds."""
    monkeypatch.setenv("COLLECT_INLINE_WINDOWS", "10")
    monkeypatch.setenv("COLLECT_FANOUT_WINDOWS", "2")
    ids = stage.seed(days=5)
    status, summary = invoke(stage.handler, {"audit": {"since": "5d", "until": "40m"}})
    assert status == 200, summary
    assert stage.functions.wait_idle(120)
    assert stage.shipped() == Counter(ids)
    stage.functions.clear()
    status, summary = invoke(stage.handler, {"audit": {"until": "25m"}})  # the schedule, later
    assert status == 200, summary
    assert stage.shipped() == Counter(ids), json.dumps(summary["windows"])

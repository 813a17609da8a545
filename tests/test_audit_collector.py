"""The Audit API source end to end: the operator command (`oci-audit-ship audit:`) against
loopback stand-ins of Identity and the Audit API, through the real `oci` SDK, shipping to
the Logz.io and PutLogs stand-ins. Nothing of ours is mocked."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from auditship.entrypoints import cli
from conftest import TOKEN
from fakes import FakeLogzioListener
from fakes.audit_api import FakeAuditApi, make_event
from fakes.identity import FakeIdentity
from fakes.logging_ingestion import FakeLoggingIngestion
from fakes.oci_auth import TEST_TENANCY

REGIONS = ("us-ashburn-1", "eu-frankfurt-1", "ap-tokyo-1")
APP = "ocid1.compartment.oc1..app"
APP_DEV = "ocid1.compartment.oc1..appdev"
APP_DEV_DEEP = "ocid1.compartment.oc1..appdevdeep"
NET = "ocid1.compartment.oc1..net"
HIDDEN = "ocid1.compartment.oc1..hidden"
GONE = "ocid1.compartment.oc1..gone"
ALL = (TEST_TENANCY, APP, NET, APP_DEV, APP_DEV_DEEP)
LOG_ID = "ocid1.log.oc1..collected"


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


NOW = minute(datetime.now(UTC))
DAY0 = NOW - timedelta(days=2)  # the first run collects [DAY0, DAY0 + 1d)


@dataclass
class World:
    identity: FakeIdentity
    audit: FakeAuditApi
    listener: FakeLogzioListener
    config: Path
    tmp: Path

    def add(self, region: str, compartment: str, at: datetime, processed: datetime | None = None,
            **kw: Any) -> dict[str, Any]:  # fmt: skip
        event = make_event(
            event_time=at, compartment_id=compartment, region=region, tenancy_id=TEST_TENANCY,
            seed=f"{region}{compartment}{at.isoformat()}{kw}", **kw,
        )  # fmt: skip
        return self.audit.add_event(region, compartment, event, processed=processed)

    def argv(self, source: str = "audit:", *more: str, to: str = "logzio") -> list[str]:
        return [
            source, "--to", to, "--config-file", str(self.config),
            "--logzio-url", self.listener.url, "--logzio-token", TOKEN,
            "--identity-endpoint", self.identity.url,
            "--audit-endpoint", self.audit.url + "/{region}",
            "--state-dir", str(self.tmp / "state"),
            "--dead-letter-dir", str(self.tmp / "dead-letter"),
            "--progress", "never", *more,
        ]  # fmt: skip

    def collect(self, capsys: pytest.CaptureFixture[str], *args: str, source: str = "audit:",
                to: str = "logzio") -> tuple[int, dict[str, Any]]:  # fmt: skip
        capsys.readouterr()
        code = cli.run(self.argv(source, *args, to=to), env={})
        err = capsys.readouterr().err.strip().splitlines()
        summary = json.loads(err[-1]) if err and err[-1].startswith("{") else {"stderr": err}
        return code, summary

    def shipped_ids(self) -> Counter[str]:
        return Counter(r["id"] for r in self.listener.accepted)


@pytest.fixture
def world(oci_config_file: Path, tmp_path: Path) -> Iterator[World]:
    subscriptions = [
        (REGIONS[0], "IAD", "READY", True),
        (REGIONS[1], "FRA", "READY", False),
        (REGIONS[2], "NRT", "READY", False),
        ("sa-saopaulo-1", "GRU", "IN_PROGRESS", False),  # being subscribed: not asked
    ]
    with (
        FakeIdentity(TEST_TENANCY, subscriptions, page_size=2) as identity,
        FakeAuditApi(REGIONS[0], regions=REGIONS, page_size=7) as audit,
        FakeLogzioListener(tokens={TOKEN}) as listener,
    ):
        identity.add_compartment(APP, name="app")
        identity.add_compartment(NET, name="net")
        identity.add_compartment(APP_DEV, APP, name="dev")
        identity.add_compartment(APP_DEV_DEEP, APP_DEV, name="deep")
        identity.add_compartment(HIDDEN, APP, name="hidden", accessible=False)
        identity.add_compartment(GONE, name="gone", lifecycle_state="DELETED")
        yield World(identity, audit, listener, oci_config_file, tmp_path)
        assert not identity.errors
        assert not audit.errors
        assert not listener.errors


def seed_first_day(world: World) -> list[str]:
    """Events over DAY0 in every region and compartment (some empty), several pages."""
    ids = []
    for r, region in enumerate(REGIONS):
        for c, compartment in enumerate(ALL):
            count = (r * 5 + c * 3) % 11  # 0 for the root in the first region: empty
            for i in range(count):
                at = DAY0 + timedelta(hours=1 + i * 2, minutes=c)
                ids.append(world.add(region, compartment, at)["eventId"])
    for i in range(12):  # a burst in one window: more than one page (7 a page here)
        at = DAY0 + timedelta(minutes=30, seconds=i)
        ids.append(world.add(REGIONS[0], APP, at, event_name=f"Burst{i}")["eventId"])
    return ids


def test_a_first_run_collects_every_region_and_compartment_once(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed_first_day(world)
    world.add(REGIONS[0], HIDDEN, DAY0 + timedelta(hours=3))  # not accessible: never asked
    until = DAY0 + timedelta(days=1)
    code, summary = world.collect(capsys, "--since", DAY0.isoformat(), "--until", until.isoformat())
    assert code == 0, summary
    assert world.shipped_ids() == Counter(ids)  # each once
    assert summary["shipped"] == len(ids)
    assert summary["complete"]
    assert (summary["regions"], summary["compartments"]) == (3, 5)
    asked = {(q.region, q.compartment_id) for q in world.audit.requests}
    assert asked == {(r, c) for r in REGIONS for c in ALL}  # the root too; not hidden/gone
    assert any(q.page for q in world.audit.requests)  # multi-page answers were followed
    # the records look like the _Audit log's
    record = next(r for r in world.listener.accepted if r["id"] == ids[0])
    assert record["oracle"]["loggroupid"] == "_Audit"
    assert record["oracle"]["tenantid"] == TEST_TENANCY
    assert record["specversion"] == "1.0"
    assert record["dataschema"] == "2.0"
    assert record["type"] == "oci-audit"
    assert record["eventType"].startswith("com.oraclecloud.")
    assert record["@timestamp"][:19] == record["time"][:19]
    assert "compartmentId" in record["data"]
    assert "identity" in record["data"]


def test_without_since_and_without_a_checkpoint_is_a_usage_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = world.collect(capsys)
    assert code == 3
    assert "--since" in " ".join(summary["stderr"])


def test_a_catch_up_run_resumes_from_the_checkpoint_without_duplicates(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_first_day(world)
    first_until = NOW - timedelta(hours=6)
    code, _ = world.collect(capsys, "--since", DAY0.isoformat(), "--until", first_until.isoformat())
    assert code == 0
    before = world.shipped_ids()
    # After the first run: new events, and one processed before its end that became
    # visible only now (inside the overlap).
    late = world.add(REGIONS[1], APP_DEV, first_until - timedelta(minutes=4))
    new = [
        world.add(REGIONS[2], NET, NOW - timedelta(hours=2, minutes=i))["eventId"] for i in range(5)
    ]
    code, summary = world.collect(capsys)  # no --since: from the checkpoint to now - lag
    assert code == 0, summary
    after = world.shipped_ids() - before
    assert after == Counter([late["eventId"], *new]), after
    assert max(world.shipped_ids().values()) == 1
    # and once more: nothing new, nothing sent
    code, summary = world.collect(capsys)
    assert code == 0
    assert summary["shipped"] == 0


def test_the_overlap_drops_events_an_earlier_run_shipped(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    first_until = NOW - timedelta(hours=1)
    tail = [world.add(REGIONS[0], APP, first_until - timedelta(minutes=m)) for m in (1, 3, 8)]
    code, _ = world.collect(capsys, "--since", "3h", "--until", first_until.isoformat())
    assert code == 0
    code, summary = world.collect(capsys)
    assert code == 0
    assert summary["duplicates"] == 3  # asked again in the overlap, dropped by id
    assert world.shipped_ids() == Counter(e["eventId"] for e in tail)


def test_a_subtree_source_collects_that_compartment_and_below(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's second command: a subtree, a duration, to a custom log."""
    for compartment in ALL:
        world.add(REGIONS[0], compartment, DAY0 + timedelta(hours=1))
    with FakeLoggingIngestion(log_ids={LOG_ID}) as ingestion:
        code, summary = world.collect(
            capsys, "--since", "30d", "--regions", REGIONS[0], "--log-id", LOG_ID,
            "--logging-endpoint", ingestion.url, source=f"audit:{APP}", to="oci-logging",
        )  # fmt: skip
        entries = ingestion.entries(LOG_ID)
    assert code == 0, summary
    compartments = {json.loads(e.data)["data"]["compartmentId"] for e in entries}
    assert compartments == {APP, APP_DEV, APP_DEV_DEEP}
    assert summary["regions"] == 1
    assert summary["compartments"] == 3


def test_a_region_not_subscribed_is_a_usage_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = world.collect(capsys, "--since", "1h", "--regions", "sa-saopaulo-1")
    assert code == 3
    assert "sa-saopaulo-1" in " ".join(summary["stderr"])


def test_seconds_in_since_are_asked_as_whole_minutes_and_trimmed_client_side(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    since = DAY0 + timedelta(minutes=10, seconds=30)
    before = world.add(REGIONS[0], APP, DAY0 + timedelta(minutes=10, seconds=10))
    inside = world.add(REGIONS[0], APP, DAY0 + timedelta(minutes=10, seconds=45))
    code, summary = world.collect(
        capsys, "--since", since.isoformat(), "--until", (DAY0 + timedelta(hours=1)).isoformat(),
        "--regions", REGIONS[0],
    )  # fmt: skip
    assert code == 0, summary
    assert world.shipped_ids() == Counter([inside["eventId"]])
    assert summary["outside_range"] == 1
    assert before["eventId"] not in world.shipped_ids()
    assert all(q.start.second == 0 for q in world.audit.requests)


def test_a_compartment_that_keeps_failing_does_not_stop_the_others(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed_first_day(world)
    world.audit.fail_compartments.add(NET)
    until = (DAY0 + timedelta(days=1)).isoformat()
    code, summary = world.collect(
        capsys, "--since", DAY0.isoformat(), "--until", until, "--retries", "2"
    )
    assert code == 2, summary
    assert not summary["complete"]
    failed = summary["windows"]["failed"]
    assert failed >= len(REGIONS)
    assert len(summary["errors"]) == failed
    assert all(NET in e for e in summary["errors"]), summary["errors"]
    failing = {e["eventId"] for r in REGIONS for e in world.audit.events(r, NET)}
    assert set(world.shipped_ids()) == set(ids) - failing
    # healed: the next run (from the checkpoint) gets the rest, nothing twice
    world.audit.fail_compartments.clear()
    code, summary = world.collect(capsys, "--until", until)
    assert code == 0, summary
    assert world.shipped_ids() == Counter(ids)


def test_throttling_slows_down_and_loses_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = seed_first_day(world)
    world.audit.throttle_every = 4
    world.audit.retry_after = 0
    until = (DAY0 + timedelta(days=1)).isoformat()
    code, summary = world.collect(capsys, "--since", DAY0.isoformat(), "--until", until)
    assert code == 0, summary
    assert summary["throttled"] > 0
    assert world.shipped_ids() == Counter(ids)


def test_a_run_stopped_by_the_sink_resumes_where_it_stopped(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Logz.io listener refuses for a while: windows stop with progress saved; the next
    run resumes each from its progress marker: nothing lost, nothing sent twice."""
    ids = seed_first_day(world)
    world.listener.script([500] * 40)
    until = (DAY0 + timedelta(days=1)).isoformat()
    code, summary = world.collect(
        capsys, "--since", DAY0.isoformat(), "--until", until, "--concurrency", "2"
    )
    assert code == 2, summary
    world.listener.script([])
    for _ in range(3):
        code, summary = world.collect(capsys, "--until", until)
        if code == 0:
            break
    assert code == 0, summary
    assert world.shipped_ids() == Counter(ids)


def test_to_an_oci_logging_custom_log(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed_first_day(world)
    with FakeLoggingIngestion(log_ids={LOG_ID}) as ingestion:
        until = (DAY0 + timedelta(days=1)).isoformat()
        code, summary = world.collect(
            capsys, "--since", DAY0.isoformat(), "--until", until,
            "--log-id", LOG_ID, "--logging-endpoint", ingestion.url, to="oci-logging",
        )  # fmt: skip
        assert code == 0, summary
        entries = ingestion.entries(LOG_ID)
    assert sorted(e.id for e in entries) == sorted(ids)  # entry id = eventId
    entry = entries[0]
    body = json.loads(entry.data)
    assert body["id"] == entry.id
    assert entry.time is not None
    assert entry.type.startswith("com.oraclecloud.")


def test_a_run_killed_with_sigkill_resumes_and_loses_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kill -9` in the middle of a backfill: nothing is written on the way out. The next
    run (without --since) resumes from the cursors, the done markers and the progress
    markers: every event arrives; only what was in flight may arrive twice."""
    import os
    import signal
    import subprocess
    import sys
    import time

    ids = seed_first_day(world)
    for region in REGIONS:  # and a busy compartment: many pages, several batches
        for i in range(300):
            at = DAY0 + timedelta(hours=2, seconds=i * 7)
            ids.append(world.add(region, APP_DEV_DEEP, at, event_name=f"Busy{i}")["eventId"])
    world.audit.latency = 0.05
    until = (DAY0 + timedelta(days=1)).isoformat()
    argv = world.argv("audit:", "--since", DAY0.isoformat(), "--until", until,
                      "--concurrency", "2", "--window", "2h")  # fmt: skip
    env = {**os.environ, "CHECKPOINT_SECONDS": "0.2", "LOGZIO_MAX_BATCH_BYTES": "20000"}
    script = Path(__file__).resolve().parent.parent / "scripts" / "ship.py"
    proc = subprocess.Popen([sys.executable, str(script), *argv], env=env,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(world.listener.accepted) < len(ids) // 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before = len(world.listener.accepted)
    assert 0 < before < len(ids), "the kill came too late to test anything"
    world.audit.latency = 0.0
    code, summary = world.collect(capsys, "--until", until, "--window", "2h")
    assert code == 0, summary
    shipped = world.shipped_ids()
    assert set(shipped) == set(ids)  # nothing lost
    # resumed, not started over: windows done before the kill are not asked again
    assert summary["shipped"] < len(ids)
    resent = sum(shipped.values()) - len(ids)
    assert resent < before, (resent, before)  # only what was unconfirmed came again


# -- found in review ---------------------------------------------------------------------------

MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def _catch_up_after(world: World, capsys: Any, end: datetime) -> dict[str, Any]:
    """Run 1 to `end`, then an event processed in its last ten minutes shows up late, then
    a catch-up 15 minutes later: the late event must arrive (once)."""
    code, summary = world.collect(
        capsys, "--since", (end - timedelta(hours=3)).isoformat(), "--until", end.isoformat(),
        "--regions", REGIONS[0], source=f"audit:{APP}",
    )  # fmt: skip
    assert code == 0, summary
    late = world.add(REGIONS[0], APP, end - timedelta(minutes=4))
    code, summary = world.collect(
        capsys, "--until", (end + timedelta(minutes=15)).isoformat(), "--regions", REGIONS[0],
        source=f"audit:{APP}",
    )  # fmt: skip
    assert code == 0, summary
    assert world.shipped_ids()[late["eventId"]] == 1, summary
    return summary


def test_the_overlap_is_asked_again_when_the_last_run_ended_on_the_grid(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The re-asked tail had the name of the earlier run's tail, whose done marker exists."""
    world.add(REGIONS[0], APP, MIDNIGHT - timedelta(hours=1))
    _catch_up_after(world, capsys, MIDNIGHT)


def test_a_grid_line_inside_the_tail_does_not_shrink_the_overlap(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = _catch_up_after(world, capsys, MIDNIGHT + timedelta(minutes=5))
    assert summary["duplicates"] == 0


def test_windows_done_past_a_failed_one_are_not_asked_again_with_other_bounds(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [
        world.add(REGIONS[0], APP_DEV_DEEP, MIDNIGHT + delta)["eventId"]
        for delta in (timedelta(hours=-1), timedelta(hours=1), timedelta(hours=2, minutes=55))
    ]
    world.audit.script([500, 500])  # the oldest window, both attempts
    source = f"audit:{APP_DEV_DEEP}"
    code, _ = world.collect(
        capsys, "--since", (MIDNIGHT - timedelta(hours=2)).isoformat(),
        "--until", (MIDNIGHT + timedelta(hours=3)).isoformat(), "--regions", REGIONS[0],
        "--concurrency", "1", "--retries", "2", source=source,
    )  # fmt: skip
    assert code == 2
    code, summary = world.collect(
        capsys, "--until", (MIDNIGHT + timedelta(hours=4)).isoformat(), "--regions", REGIONS[0],
        source=source,
    )  # fmt: skip
    assert code == 0, summary
    assert world.shipped_ids() == Counter(ids)

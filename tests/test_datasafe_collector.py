"""The Data Safe source end to end: `oci-audit-ship datasafe:` and the datasafe-collector
function against loopback stand-ins of Identity and Data Safe (through the real `oci` SDK),
shipping to the PutLogs and Logz.io stand-ins. Plus the record mapping, pure."""

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
from auditship.sources.data_safe import datasafe_record, extended_attributes
from conftest import BUCKET, NAMESPACE, TOKEN
from fakes import FakeLogzioListener, FakeObjectStorage
from fakes.data_safe import FakeDataSafe, make_audit_event
from fakes.identity import FakeIdentity
from fakes.logging_ingestion import FakeLoggingIngestion
from fakes.oci_auth import TEST_TENANCY
from hypothesis import given
from hypothesis import strategies as st
from test_handler import invoke, load_function

REGIONS = ("us-ashburn-1", "eu-frankfurt-1")
DBS = "ocid1.compartment.oc1..databases"
PROD = "ocid1.compartment.oc1..prod"
LOCKED = "ocid1.compartment.oc1..locked"
LOG_ID = "ocid1.log.oc1..datasafe"


def now() -> datetime:
    """The time a test runs at (not when the module was imported: a long test run
    drifts, and the runs under test ask for times relative to their own now)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass
class World:
    identity: FakeIdentity
    datasafe: FakeDataSafe
    ingestion: FakeLoggingIngestion
    listener: FakeLogzioListener
    config: Path
    tmp: Path

    def add(self, region: str, compartment: str, happened: datetime,
            collected: datetime | None = None, **kw: Any) -> dict[str, Any]:  # fmt: skip
        event = make_audit_event(
            audit_event_time=happened, time_collected=collected or happened + timedelta(minutes=2),
            compartment_id=compartment, region=region,
            seed=f"{region}{compartment}{happened.isoformat()}{kw}", **kw,
        )  # fmt: skip
        self.datasafe.add_event(region, compartment, event)
        return event

    def collect(
        self,
        capsys: pytest.CaptureFixture[str],
        *args: str,
        to: str = "oci-logging",
        env: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        argv = [
            f"datasafe:{TEST_TENANCY}", "--to", to, "--config-file", str(self.config),
            "--log-id", LOG_ID, "--logging-endpoint", self.ingestion.url,
            "--logzio-url", self.listener.url, "--logzio-token", TOKEN,
            "--identity-endpoint", self.identity.url,
            "--datasafe-endpoint", self.datasafe.url + "/{region}",
            "--state-dir", str(self.tmp / "state"),
            "--dead-letter-dir", str(self.tmp / "dead-letter"), "--progress", "never", *args,
        ]  # fmt: skip
        capsys.readouterr()
        code = cli.run(argv, env=env or {})
        err = capsys.readouterr().err.strip().splitlines()
        summary = json.loads(err[-1]) if err and err[-1].startswith("{") else {"stderr": err}
        return code, summary

    def entry_ids(self) -> Counter[str]:
        return Counter(e.id for e in self.ingestion.entries(LOG_ID))


@pytest.fixture
def world(oci_config_file: Path, tmp_path: Path) -> Iterator[World]:
    subscriptions = [(REGIONS[0], "IAD", "READY", True), (REGIONS[1], "FRA", "READY", False)]
    with (
        FakeIdentity(TEST_TENANCY, subscriptions) as identity,
        FakeLoggingIngestion(log_ids={LOG_ID}) as ingestion,
        FakeLogzioListener(tokens={TOKEN}) as listener,
    ):
        identity.add_compartment(DBS, name="databases")
        identity.add_compartment(PROD, DBS, name="prod")
        identity.add_compartment(LOCKED, DBS, name="locked", accessible=False)
        with FakeDataSafe(REGIONS[0], regions=REGIONS, identity=identity, page_size=4) as ds:
            yield World(identity, ds, ingestion, listener, oci_config_file, tmp_path)
            assert not ds.errors


def seed(world: World) -> list[dict[str, Any]]:
    events, current = [], now()
    for region in REGIONS:
        for compartment in (TEST_TENANCY, DBS, PROD):
            for i in range(5):
                at = current - timedelta(days=3, hours=-i * 5)
                events.append(world.add(region, compartment, at, database_vault=i % 2 == 0))
    return events


def test_first_and_incremental_runs_deliver_every_event_once_late_ones_included(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    events = seed(world)
    code, summary = world.collect(capsys, "--since", "7d", "--until", "1h")
    assert code == 0, summary
    assert world.entry_ids() == Counter(e["id"] for e in events)
    assert summary["regions"] == 2
    # one query per region and window covers the subtree: subtree + ACCESSIBLE
    asked = world.datasafe.requests
    assert {(r.compartment_id, r.subtree, r.access_level) for r in asked} == {
        (TEST_TENANCY, True, "ACCESSIBLE")
    }
    assert all("timeCollected ge" in (r.scim_query or "") for r in asked)
    # A database that was offline uploads yesterday's events now: collected late.
    late = world.add(
        REGIONS[1], PROD, now() - timedelta(days=1), collected=now() - timedelta(minutes=40)
    )
    fresh = world.add(REGIONS[0], DBS, now() - timedelta(minutes=50), database_vault=True)
    code, summary = world.collect(capsys)  # from the checkpoint
    assert code == 0, summary
    assert world.entry_ids() == Counter([*(e["id"] for e in events), late["id"], fresh["id"]])


def test_the_entries_carry_the_event_id_time_and_the_mapped_record(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = world.add(REGIONS[0], PROD, now() - timedelta(hours=5), database_vault=True)
    # Not a Database Vault event whatever the catalog picks (its seed follows the clock,
    # and one catalog entry is audited by ORA_DV_AUDPOL: the test failed on such days).
    not_dv = {"auditPolicies": "ORA_LOGON_FAILURES"}
    plain = world.add(REGIONS[0], PROD, now() - timedelta(hours=4), overrides=not_dv)
    code, summary = world.collect(capsys, "--since", "1d", "--until", "1h")
    assert code == 0, summary
    entries = {e.id: e for e in world.ingestion.entries(LOG_ID)}
    entry = entries[vault["id"]]
    assert entry.time is not None
    assert entry.time[:19] == vault["auditEventTime"][:19]
    assert entry.type == "oci-datasafe"
    body = json.loads(entry.data)
    assert body["extendedEventAttributes"] == vault["extendedEventAttributes"]  # kept as is
    assert body["extendedAttributes"] == extended_attributes(vault["extendedEventAttributes"])
    dv = body["databaseVault"]
    assert dv["action"] == body["extendedAttributes"]["DV_ACTION_NAME"]
    assert dv["ruleSet"] == body["extendedAttributes"]["DV_RULE_SET_NAME"]
    assert dv["returnCode"] == body["extendedAttributes"]["DV_RETURN_CODE"]
    assert "databaseVault" not in json.loads(entries[plain["id"]].data)
    assert "auditEventTime" in body
    assert "timeCollected" in body  # camelCase kept


def test_to_logzio_with_the_event_time_and_a_type_of_its_own(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    events = seed(world)
    code, summary = world.collect(capsys, "--since", "7d", "--until", "1h", to="logzio")
    assert code == 0, summary
    got = {r["id"]: r for r in world.listener.accepted}
    assert set(got) == {e["id"] for e in events}
    record = got[events[0]["id"]]
    assert record["type"] == "oci-datasafe"
    assert record["@timestamp"][:19] == events[0]["auditEventTime"][:19]


def test_bind_values_are_redacted_only_when_asked(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "#1(8):s3cr3t!! #2(3):SYS"
    sql = "ALTER USER x IDENTIFIED BY :1"
    overrides = {"commandParam": secret, "commandText": sql}
    event = world.add(REGIONS[0], PROD, now() - timedelta(hours=3), overrides=overrides)
    code, _ = world.collect(capsys, "--since", "1d", "--until", "1h")
    assert code == 0
    assert json.loads(world.ingestion.entries(LOG_ID)[0].data)["commandParam"] == secret
    world.ingestion.clear()
    code, _ = world.collect(
        capsys, "--since", "1d", "--until", "1h", "--force", env={"DATASAFE_REDACT": "binds"}
    )
    assert code == 0
    body = json.loads(world.ingestion.entries(LOG_ID)[0].data)
    assert body["id"] == event["id"]
    assert body["commandParam"] == "[REDACTED]"
    assert body["commandText"].startswith("ALTER USER")


def test_throttling_and_paging_lose_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    events = seed(world)
    world.datasafe.throttle_every = 3
    world.datasafe.retry_after = 0
    code, summary = world.collect(capsys, "--since", "7d", "--until", "1h")
    assert code == 0, summary
    assert summary["throttled"] > 0
    assert world.entry_ids() == Counter(e["id"] for e in events)


# -- the record mapping, pure ---------------------------------------------------------------

_KEY = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"), min_size=1, max_size=12)
_VALUE = st.text(min_size=0, max_size=30).filter(lambda v: "::" not in v and not v.endswith(":"))


@given(st.dictionaries(_KEY, _VALUE, min_size=1, max_size=8))
def test_extended_attributes_split_on_double_colons_then_the_first_equals(
    pairs: dict[str, str],
) -> None:
    text = "::".join(f"{k}={v}" for k, v in pairs.items())
    assert extended_attributes(text) == pairs


def test_a_database_vault_event_gets_the_marker_and_stable_names() -> None:
    raw = {
        "id": "ocid1.datasafeauditevent.oc1..x",
        "auditPolicies": "ORA_DV_AUDPOL",
        "auditType": "DATABASE_VAULT",
        "auditEventTime": "2026-11-30T10:00:00.000Z",
        "extendedEventAttributes": (
            "PROXY_SESSIONID=0::AUTHENTICATION_TYPE=(TYPE=(DATABASE));(CLIENT ADDRESS="
            "((PROTOCOL=tcp)(HOST=10.0.0.5)));::DV_ACTION_NAME=Realm Violation Audit::"
            "DV_RULE_SET_NAME=Allow Sessions::DV_RETURN_CODE=1031::DV_ACTION_OBJECT_NAME="
            'HR Realm::DV_COMMENT=a=b;c "quoted" é::DV_FACTOR_CONTEXT=<Factor name="x"/>'
        ),
    }
    record = datasafe_record(raw, "oci-datasafe")
    assert record["extendedAttributes"]["AUTHENTICATION_TYPE"] == (
        "(TYPE=(DATABASE));(CLIENT ADDRESS=((PROTOCOL=tcp)(HOST=10.0.0.5)));"
    )
    assert record["databaseVault"] == {
        "action": "Realm Violation Audit",
        "ruleSet": "Allow Sessions",
        "returnCode": "1031",
        "object": "HR Realm",
        "comment": 'a=b;c "quoted" é',
        "factorContext": '<Factor name="x"/>',
    }
    assert record["type"] == "oci-datasafe"
    assert record["extendedEventAttributes"] == raw["extendedEventAttributes"]


# -- the function ---------------------------------------------------------------------------


def test_the_function_collects_on_schedule_with_state_in_the_bucket(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    resource_principal: dict[str, str],
    object_storage: FakeObjectStorage,
) -> None:
    object_storage.create_bucket(NAMESPACE, BUCKET)
    env = {
        "SINK": "oci-logging",
        "OCI_LOG_ID": LOG_ID,
        "OCI_LOGGING_INGESTION_ENDPOINT": world.ingestion.url,
        "STATE_DIR": f"oci://{NAMESPACE}/{BUCKET}/shipped/collectors/",
        "OCI_OBJECTSTORAGE_ENDPOINT": object_storage.url,
        "OCI_IDENTITY_ENDPOINT": world.identity.url,
        "OCI_DATASAFE_ENDPOINT": world.datasafe.url + "/{region}",
        "DEADLINE_MARGIN_SECONDS": "5",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler = load_function("datasafe-collector").handler
    events = seed(world)
    status, answer = invoke(handler, {})
    assert status == 502  # no checkpoint yet: says to give a start
    assert "since" in json.dumps(answer)
    status, summary = invoke(handler, {"datasafe": {"since": "7d", "until": "2h"}})
    assert status == 200, summary
    late = world.add(
        REGIONS[0], PROD, now() - timedelta(days=2), collected=now() - timedelta(minutes=90)
    )
    status, summary = invoke(handler, {})  # the schedule
    assert status == 200, summary
    assert world.entry_ids() == Counter([*(e["id"] for e in events), late["id"]])
    assert object_storage.names(NAMESPACE, BUCKET, "shipped/collectors/datasafe/")

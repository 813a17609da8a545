"""The Identity, Audit and Functions fakes, driven by the real `oci` SDK."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import oci
import pytest
import requests
from fakes import FakeAuditApi, FakeFunctions, FakeIdentity
from fakes.audit_api import make_event
from fakes.identity import RegionSubscription
from fakes.oci_auth import TEST_TENANCY, make_client

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 4, 8, 10, 0, tzinfo=UTC)
COMP_A = "ocid1.compartment.oc1..aaaaaaaacompa"
COMP_B = "ocid1.compartment.oc1..aaaaaaaacompb"
FN_ID = "ocid1.fnfunc.oc1.iad.aaaaaaaashipper"


def all_results(call: object, *args: object, **kwargs: object) -> list[Any]:
    return oci.pagination.list_call_get_all_results(call, *args, **kwargs).data


# --------------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------------


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity(
        TEST_TENANCY,
        regions=[
            RegionSubscription("us-ashburn-1", "IAD", "READY", True),
            ("eu-frankfurt-1", "FRA", "READY", False),
            ("ap-tokyo-1", "NRT", "IN_PROGRESS", False),
        ],
        page_size=3,
    )
    fake.add_compartment("ocid1.compartment.oc1..prod", name="prod")
    fake.add_compartment("ocid1.compartment.oc1..prod-app", "ocid1.compartment.oc1..prod", "app")
    fake.add_compartment("ocid1.compartment.oc1..prod-db", "ocid1.compartment.oc1..prod", "db")
    fake.add_compartment("ocid1.compartment.oc1..dev", name="dev")
    fake.add_compartment("ocid1.compartment.oc1..sandbox", name="sandbox", accessible=False)
    fake.add_compartment("ocid1.compartment.oc1..old", name="old", lifecycle_state="DELETED")
    fake.add_compartment(
        "ocid1.compartment.oc1..prod-app-eu", "ocid1.compartment.oc1..prod-app", "app-eu"
    )
    with fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def identity_client(identity: FakeIdentity) -> oci.identity.IdentityClient:
    return make_client(oci.identity.IdentityClient, identity.url)


def test_identity_tenancy_and_region_subscriptions(
    identity: FakeIdentity, identity_client: oci.identity.IdentityClient
) -> None:
    tenancy = identity_client.get_tenancy(TEST_TENANCY).data
    assert (tenancy.id, tenancy.name, tenancy.home_region_key) == (TEST_TENANCY, "acme", "IAD")
    subs = identity_client.list_region_subscriptions(TEST_TENANCY)
    assert subs.headers["opc-request-id"]
    assert [(s.region_name, s.region_key, s.status, s.is_home_region) for s in subs.data] == [
        ("us-ashburn-1", "IAD", "READY", True),
        ("eu-frankfurt-1", "FRA", "READY", False),
        ("ap-tokyo-1", "NRT", "IN_PROGRESS", False),
    ]
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity_client.list_region_subscriptions("ocid1.tenancy.oc1..other")
    assert (info.value.status, info.value.code) == (404, "NotAuthorizedOrNotFound")


def test_identity_lists_the_whole_tree_over_several_pages(
    identity: FakeIdentity, identity_client: oci.identity.IdentityClient
) -> None:
    found = all_results(
        identity_client.list_compartments,
        TEST_TENANCY,
        compartment_id_in_subtree=True,
        access_level="ANY",
    )
    assert [c.name for c in found] == ["prod", "app", "db", "dev", "sandbox", "old", "app-eu"]
    assert TEST_TENANCY not in {c.id for c in found}
    app_eu = found[-1]
    assert app_eu.compartment_id == "ocid1.compartment.oc1..prod-app"
    assert app_eu.lifecycle_state == "ACTIVE"
    assert app_eu.is_accessible is True
    assert app_eu.time_created == datetime(2020, 1, 1, 0, 6, tzinfo=UTC)
    calls = [r for r in identity.requests if r.operation == "ListCompartments"]
    assert [r.items for r in calls] == [3, 3, 1]
    assert calls[0].query["compartmentIdInSubtree"] == "true"
    assert "page" not in calls[0].query
    assert calls[1].query["page"] == calls[0].next_page
    # limit overrides the page size
    one_page = identity_client.list_compartments(
        TEST_TENANCY, compartment_id_in_subtree=True, limit=50
    )
    assert len(one_page.data) == 7
    assert one_page.next_page is None


def test_identity_direct_children_filters_and_rules(
    identity: FakeIdentity, identity_client: oci.identity.IdentityClient
) -> None:
    top = all_results(identity_client.list_compartments, TEST_TENANCY)
    assert [c.name for c in top] == ["prod", "dev", "sandbox", "old"]
    children = identity_client.list_compartments("ocid1.compartment.oc1..prod").data
    assert [c.name for c in children] == ["app", "db"]
    accessible_active = all_results(
        identity_client.list_compartments,
        TEST_TENANCY,
        compartment_id_in_subtree=True,
        access_level="ACCESSIBLE",
        lifecycle_state="ACTIVE",
    )
    assert [c.name for c in accessible_active] == ["prod", "app", "db", "dev", "app-eu"]
    by_name = identity_client.list_compartments(TEST_TENANCY, sort_by="NAME").data
    assert [c.name for c in by_name] == ["dev", "old", "prod"]  # first page, NAME ascending
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity_client.list_compartments(
            "ocid1.compartment.oc1..prod", compartment_id_in_subtree=True
        )
    assert (info.value.status, info.value.code) == (400, "InvalidParameter")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity_client.list_compartments(TEST_TENANCY, page="not-a-token")
    assert (info.value.status, info.value.code) == (400, "InvalidParameter")
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity_client.list_compartments("ocid1.compartment.oc1..nope")
    assert info.value.status == 404
    # a token minted for one query is refused for another
    first = identity_client.list_compartments(TEST_TENANCY, compartment_id_in_subtree=True)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        identity_client.list_compartments(TEST_TENANCY, page=first.next_page)
    assert info.value.status == 400


def test_identity_unsigned_and_scripted(identity: FakeIdentity) -> None:
    resp = requests.get(
        f"{identity.url}/20160918/compartments?compartmentId={TEST_TENANCY}", timeout=5
    )
    assert resp.status_code == 401
    assert resp.json()["code"] == "NotAuthenticated"
    assert resp.headers["opc-request-id"]
    client = make_client(oci.identity.IdentityClient, identity.url)
    identity.script([(429, {"retry-after": "3"}), "reset"])
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.get_tenancy(TEST_TENANCY)
    assert (info.value.status, info.value.code) == (429, "TooManyRequests")
    assert info.value.headers["retry-after"] == "3"
    with pytest.raises(oci.exceptions.RequestException):
        client.get_tenancy(TEST_TENANCY)
    assert client.get_tenancy(TEST_TENANCY).data.id == TEST_TENANCY
    assert identity.count("GetTenancy") == 3


# --------------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------------


@pytest.fixture
def audit() -> Iterator[FakeAuditApi]:
    with FakeAuditApi("us-ashburn-1", compartments=[COMP_A, COMP_B], page_size=4) as fake:
        yield fake
    assert fake.errors == []


def audit_client(
    fake: FakeAuditApi, region: str | None = None, **kwargs: object
) -> oci.audit.AuditClient:
    endpoint = fake.url if region is None else f"{fake.url}/{region}"
    return make_client(oci.audit.AuditClient, endpoint, **kwargs)


def add_events(fake: FakeAuditApi, region: str, compartment: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        when = T0 + timedelta(seconds=37 * i)
        event = make_event(
            event_time=when, compartment_id=compartment, region=region, seed=f"{region}{i}"
        )
        fake.add_event(region, compartment, event, processed=when + timedelta(seconds=5))
        ids.append(event["eventId"])
    return ids


def test_audit_pages_in_processing_order(audit: FakeAuditApi) -> None:
    ids = add_events(audit, "us-ashburn-1", COMP_A, 10)
    client = audit_client(audit, "us-ashburn-1")
    events = all_results(client.list_events, COMP_A, T0, T0 + timedelta(hours=1))
    assert [e.event_id for e in events] == ids
    first = events[0]
    assert first.cloud_events_version == "0.1"
    assert first.event_type_version == "2.0"
    assert first.data.compartment_id == COMP_A
    assert first.data.identity.principal_name
    assert first.data.additional_details["bytesTransferred"] > 2**64
    reqs = audit.requests_for(compartment_id=COMP_A)
    assert [r.events for r in reqs] == [4, 4, 2]
    assert [r.region for r in reqs] == ["us-ashburn-1"] * 3
    assert reqs[0].start == T0
    assert reqs[0].end == T0 + timedelta(hours=1)
    assert reqs[0].page is None
    assert reqs[1].page == reqs[0].next_page
    assert reqs[2].next_page is None
    # the window filters on processing time: [start, end)
    window = all_results(
        client.list_events,
        COMP_A,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3),
    )
    # events processed at T0+5s+37i: i=2..4 fall in [60 s, 180 s)
    assert [e.event_id for e in window] == ids[2:5]


def test_audit_skip_deserialization_returns_wire_json(audit: FakeAuditApi) -> None:
    ids = add_events(audit, "us-ashburn-1", COMP_A, 3)
    client = audit_client(audit, "us-ashburn-1", skip_deserialization=True)
    resp = client.list_events(COMP_A, T0, T0 + timedelta(minutes=10))
    raw = resp.data  # the wire JSON, parsed into plain lists and dicts
    assert [e["eventId"] for e in raw] == ids
    assert set(raw[0]) == {
        "eventType",
        "cloudEventsVersion",
        "eventTypeVersion",
        "source",
        "eventId",
        "eventTime",
        "contentType",
        "data",
    }
    assert raw[0]["data"]["response"]["status"] in {"200", "204", "400", "404", "409"}
    assert (
        raw[0]["eventType"] == f"com.oraclecloud.{raw[0]['source']}.{raw[0]['data']['eventName']}"
    )


def test_audit_routes_regions_by_path_prefix(audit: FakeAuditApi) -> None:
    iad = add_events(audit, "us-ashburn-1", COMP_A, 2)
    fra = add_events(audit, "eu-frankfurt-1", COMP_A, 3)
    end = T0 + timedelta(hours=1)
    got_fra = all_results(audit_client(audit, "eu-frankfurt-1").list_events, COMP_A, T0, end)
    got_default = audit_client(audit).list_events(COMP_A, T0, end).data
    assert [e.event_id for e in got_fra] == fra
    assert [e.event_id for e in got_default] == iad
    assert [r.region for r in audit.requests] == ["eu-frankfurt-1", "us-ashburn-1"]
    assert audit.requests[0].path == "/eu-frankfurt-1/20190901/auditEvents"
    assert audit.requests[1].path == "/20190901/auditEvents"


def test_audit_time_rules(audit: FakeAuditApi) -> None:
    client = audit_client(audit, "us-ashburn-1")
    cases = [
        (T0 + timedelta(seconds=30), T0 + timedelta(hours=1), "startTime"),
        (T0, T0 + timedelta(hours=1, milliseconds=5), "endTime"),
        (T0, T0, "endTime must be after"),
    ]
    for start, end, needle in cases:
        with pytest.raises(oci.exceptions.ServiceError) as info:
            client.list_events(COMP_A, start, end)
        assert (info.value.status, info.value.code) == (400, "InvalidParameter")
        assert needle in info.value.message
    raw = requests.get(
        f"{audit.url}/20190901/auditEvents",
        params={"compartmentId": COMP_A, "startTime": "2026-04-08T10:00:00Z"},
        headers={"authorization": "Signature x"},
        timeout=5,
    )
    assert raw.status_code == 400
    assert raw.json()["code"] == "MissingParameter"
    assert "endTime" in raw.json()["message"]
    limited = FakeAuditApi(max_window=timedelta(hours=1))
    with limited:
        short = audit_client(limited).list_events(COMP_A, T0, T0 + timedelta(hours=1))
        assert short.status == 200
        assert short.data == []
        with pytest.raises(oci.exceptions.ServiceError) as info:
            audit_client(limited).list_events(COMP_A, T0, T0 + timedelta(hours=2))
        assert info.value.status == 400
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.list_events(COMP_A, T0, T0 + timedelta(hours=1), page="forged.token")
    assert info.value.status == 400


def test_audit_faults_unknown_failing_throttled(audit: FakeAuditApi) -> None:
    client = audit_client(audit, "us-ashburn-1")
    end = T0 + timedelta(hours=1)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client.list_events("ocid1.compartment.oc1..unknown", T0, end)
    assert (info.value.status, info.value.code) == (404, "NotAuthorizedOrNotFound")
    audit.fail_compartments.add(COMP_B)
    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            client.list_events(COMP_B, T0, end)
        assert (info.value.status, info.value.code) == (500, "InternalServerError")
    audit.throttle(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as info:
            client.list_events(COMP_A, T0, end)
        assert (info.value.status, info.value.code) == (429, "TooManyRequests")
        assert info.value.headers["retry-after"] == "7"
    assert client.list_events(COMP_A, T0, end).status == 200
    audit.script(["reset"])
    with pytest.raises(oci.exceptions.RequestException):
        client.list_events(COMP_A, T0, end)
    assert [r.status for r in audit.requests] == [404, 500, 500, 429, 429, 200, None]
    unsigned = requests.get(f"{audit.url}/20190901/auditEvents", timeout=5)
    assert unsigned.status_code == 401
    assert unsigned.headers["opc-request-id"]


def test_audit_throttle_every_and_parallelism() -> None:
    with FakeAuditApi(latency=0.3, throttle_every=5) as fake:
        clients = [audit_client(fake, "us-ashburn-1") for _ in range(10)]
        barrier = threading.Barrier(10)

        def one(client: oci.audit.AuditClient) -> int:
            barrier.wait(5)
            try:
                client.list_events(COMP_A, T0, T0 + timedelta(hours=1))
            except oci.exceptions.ServiceError as exc:
                return int(exc.status)
            return 200

        began = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(one, clients))
        assert time.monotonic() - began < 2.5  # 10 x 0.3 s in parallel: 3 s in series
        assert sorted(statuses) == [200] * 8 + [429] * 2
        assert fake.max_in_flight >= 5
        assert fake.in_flight == 0
    assert fake.errors == []


def test_audit_populate_is_lazy_deterministic_and_paged() -> None:
    start, end = T0, T0 + timedelta(hours=2)
    with FakeAuditApi(page_size=50) as fake:
        total = fake.populate(
            ["us-ashburn-1", "eu-frankfurt-1"], {COMP_A: "prod", COMP_B: "dev"}, start, end, 60
        )
        assert total == 2 * 2 * 120
        client = audit_client(fake, "eu-frankfurt-1")
        got = all_results(client.list_events, COMP_B, start, end)
        again = all_results(client.list_events, COMP_B, start, end)
        assert len(got) == 120 == fake.count_events("eu-frankfurt-1", COMP_B, start, end)
        assert [e.event_id for e in got] == [e.event_id for e in again]
        assert len({e.event_id for e in got}) == 120
        assert {e.data.compartment_name for e in got} == {"dev"}
        expected = fake.events("eu-frankfurt-1", COMP_B, start, end)
        assert [e["eventId"] for e in expected] == [e.event_id for e in got]
        # half-open windows tile: two halves give the whole
        mid = T0 + timedelta(minutes=61)
        halves = fake.count_events("eu-frankfurt-1", COMP_B, start, mid) + fake.count_events(
            "eu-frankfurt-1", COMP_B, mid, end
        )
        assert halves == 120
        # other regions get other events
        iad = fake.events("us-ashburn-1", COMP_B, start, end)
        assert {e["eventId"] for e in iad}.isdisjoint(e.event_id for e in got)
        # stored and generated events merge in processing order
        extra = make_event(event_time=T0 + timedelta(minutes=30), compartment_id=COMP_B, seed=1)
        fake.add_event("eu-frankfurt-1", COMP_B, extra)
        merged = fake.events("eu-frankfurt-1", COMP_B, start, end)
        assert len(merged) == 121
        assert extra["eventId"] in {e["eventId"] for e in merged}
        assert [r.events for r in fake.requests][:3] == [50, 50, 20]
    assert fake.errors == []


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


def test_functions_get_function_and_sync_invoke() -> None:
    def runner(function_id: str, body: bytes) -> bytes:
        return json.dumps({"fn": function_id, "echo": body.decode()}).encode()

    with FakeFunctions({FN_ID: {"displayName": "logzio-shipper"}}, runner=runner) as fake:
        mgmt = make_client(oci.functions.FunctionsManagementClient, fake.url)
        fn = mgmt.get_function(FN_ID).data
        assert (fn.id, fn.display_name, fn.lifecycle_state) == (FN_ID, "logzio-shipper", "ACTIVE")
        assert (fn.memory_in_mbs, fn.timeout_in_seconds, fn.invoke_endpoint) == (
            256,
            300,
            fake.url,
        )
        assert fn.source_details.source_type == "CONTAINER_IMAGE"
        legacy = requests.get(
            f"{fake.url}/20181201/functions/{FN_ID}",
            headers={"authorization": "Signature x"},
            timeout=5,
        ).json()
        assert legacy["image"].startswith("iad.ocir.io/")
        assert "sourceDetails" not in legacy
        with pytest.raises(oci.exceptions.ServiceError) as info:
            mgmt.get_function("ocid1.fnfunc.oc1.iad.nope")
        assert (info.value.status, info.value.code) == (404, "NotAuthorizedOrNotFound")

        invoke = make_client(oci.functions.FunctionsInvokeClient, fn.invoke_endpoint)
        resp = invoke.invoke_function(FN_ID, invoke_function_body=b"hello", fn_invoke_type="sync")
        assert resp.status == 200
        assert json.loads(resp.data.content) == {"fn": FN_ID, "echo": "hello"}
        assert resp.headers["opc-request-id"]
        assert resp.headers["fn-call-id"]
        assert [i.invoke_type for i in fake.invocations] == ["sync"]
        assert fake.requests[-1].path == f"/20260325/functions/{FN_ID}/actions/invoke"
    assert fake.errors == []


def test_functions_detached_invoke_records_and_runs_in_background() -> None:
    started, release = threading.Event(), threading.Event()
    seen: list[tuple[str, bytes]] = []

    def runner(function_id: str, body: bytes) -> None:
        started.set()
        release.wait(5)
        seen.append((function_id, body))
        if body == b"boom":
            raise RuntimeError("runner failed")

    with FakeFunctions([FN_ID], runner=runner) as fake:
        invoke = make_client(oci.functions.FunctionsInvokeClient, fake.url)
        payload = json.dumps({"bucket": "audit", "object": "a/b.log.gz"}).encode()
        resp = invoke.invoke_function(
            FN_ID, invoke_function_body=payload, fn_invoke_type="detached", fn_intent="cloudevent"
        )
        assert resp.status == 202
        assert resp.data.content == b""
        assert started.wait(2)  # the call returned while the run is still going
        assert not fake.wait_idle(0.05)
        release.set()
        assert fake.wait_idle(2)
        assert seen == [(FN_ID, payload)]
        inv = fake.invocations[0]
        assert (inv.function_id, inv.invoke_type, inv.intent, inv.body) == (
            FN_ID,
            "detached",
            "cloudevent",
            payload,
        )
        invoke.invoke_function(FN_ID, invoke_function_body=b"boom", fn_invoke_type="detached")
        assert fake.wait_idle(2)
        assert len(fake.run_errors) == 1
        assert "runner failed" in fake.run_errors[0].traceback

        with pytest.raises(oci.exceptions.ServiceError) as info:
            invoke.invoke_function("ocid1.fnfunc.oc1.iad.nope", fn_invoke_type="detached")
        assert info.value.status == 404
        fake.script([(429, {"retry-after": "2"})])
        with pytest.raises(oci.exceptions.ServiceError) as info:
            invoke.invoke_function(FN_ID, invoke_function_body=b"x", fn_invoke_type="detached")
        assert info.value.status == 429
        assert len(fake.invocations) == 2  # refused calls are not invocations
        unsigned = requests.post(f"{fake.url}/20260325/functions/{FN_ID}/actions/invoke", timeout=5)
        assert unsigned.status_code == 401
    assert fake.errors == []
